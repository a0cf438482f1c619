//! Random pipelines over `u64` items, described as data so that the same
//! description both builds a [`Pipeline`] and computes, plainly and
//! sequentially, what that pipeline must give: the items with the sequence
//! number each carries, and the items a fallible stage rejects.

use baton_engine::{Mode, OnError, Pipeline};

use super::spin;

/// What a stage does to an item.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    /// One of four injective arithmetic maps.
    Map { kind: u8, k: u64 },
    /// Keeps an item unless its hash is `r` modulo `m`.
    Filter { m: u64, r: u64 },
    /// 0, 1 or 2 copies of an item, by its hash.
    FlatMap { salt: u64 },
    /// `batch(size)`, then an unbatch: the builder's own, or a flat_map in the stage's mode.
    Batch { size: usize, builtin_unbatch: bool },
    /// Looks at every item.
    Inspect,
}

/// How a stage runs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ModeSpec {
    SerialInOrder,
    Serial,
    Parallel(usize),
    Blocking(usize),
    SerialBlocking,
    /// Parallel, its replicas tuned while it runs.
    Auto,
    /// Blocking, its replicas tuned while it runs.
    AutoBlocking,
}

impl ModeSpec {
    pub(crate) fn mode(self) -> Mode {
        match self {
            ModeSpec::SerialInOrder => Mode::serial_in_order(),
            ModeSpec::Serial => Mode::serial(),
            ModeSpec::Parallel(r) => Mode::parallel(r),
            ModeSpec::Blocking(r) => Mode::parallel(r).blocking(),
            ModeSpec::SerialBlocking => Mode::serial().blocking(),
            ModeSpec::Auto => Mode::auto(),
            ModeSpec::AutoBlocking => Mode::auto().blocking(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct StageSpec {
    pub(crate) op: Op,
    pub(crate) mode: ModeSpec,
    pub(crate) buffer: Option<usize>,
}

/// A stage that rejects the items whose value is `r` modulo `m`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fallible {
    /// Its place: before `stages[at]` (after the last one when `at == stages.len()`).
    pub(crate) at: usize,
    pub(crate) m: u64,
    pub(crate) r: u64,
    pub(crate) mode: ModeSpec,
    pub(crate) policy: OnError,
}

impl Fallible {
    pub(crate) const NAME: &'static str = "fallible";

    pub(crate) fn fails(&self, x: u64) -> bool {
        x % self.m == self.r
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Model {
    pub(crate) stages: Vec<StageSpec>,
    /// Rounds of spinning per item and stage.
    pub(crate) cost: u32,
    pub(crate) fallible: Option<Fallible>,
}

/// What a pipeline must give: `(seq, value)` in order, and the rejected ones.
#[derive(Debug, Default)]
pub(crate) struct Expected {
    pub(crate) out: Vec<(u64, u64)>,
    pub(crate) failed: Vec<(u64, u64)>,
}

impl Expected {
    pub(crate) fn values(&self) -> Vec<u64> {
        self.out.iter().map(|(_, v)| *v).collect()
    }
}

/// A good 64-bit mix (splitmix64's finaliser), so filters and copies look random.
pub(crate) fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn map(kind: u8, k: u64, x: u64) -> u64 {
    match kind % 4 {
        0 => x.wrapping_add(k),
        1 => x ^ k,
        2 => x.wrapping_mul(k | 1),
        _ => x.rotate_left((k % 63) as u32 + 1),
    }
}

fn keep(m: u64, r: u64, x: u64) -> bool {
    mix(x) % m != r
}

fn copies(salt: u64, x: u64) -> Vec<u64> {
    let n = mix(x ^ salt) % 3;
    (0..n).map(|i| x.wrapping_mul(3).wrapping_add(i)).collect()
}

impl Op {
    /// What a stage doing this makes of `items`. Without `flush`, a partial
    /// last batch is held back (the stage never sees the end of the stream).
    fn apply(self, items: Vec<(u64, u64)>, flush: bool) -> Vec<(u64, u64)> {
        match self {
            Op::Map { kind, k } => items
                .into_iter()
                .map(|(s, v)| (s, map(kind, k, v)))
                .collect(),
            Op::Filter { m, r } => items.into_iter().filter(|(_, v)| keep(m, r, *v)).collect(),
            Op::FlatMap { salt } => items
                .into_iter()
                .flat_map(|(s, v)| copies(salt, v).into_iter().map(move |c| (s, c)))
                .collect(),
            // A batch carries the number of its first item; unbatched, so do its items.
            Op::Batch { size, .. } => items
                .chunks(size)
                .filter(|batch| flush || batch.len() == size)
                .flat_map(|batch| batch.iter().map(|(_, v)| (batch[0].0, *v)))
                .collect(),
            Op::Inspect => items,
        }
    }
}

impl Model {
    /// The result over the source `0..n`, computed plainly. Without `flush`,
    /// a partial last batch is dropped: the result is then a prefix of what
    /// an endless source gives.
    pub(crate) fn expected(&self, n: u64, flush: bool) -> Expected {
        let mut items: Vec<(u64, u64)> = (0..n).map(|i| (i, i)).collect();
        let mut failed = Vec::new();
        let mut reject = |items: &mut Vec<(u64, u64)>, at: usize| {
            if let Some(f) = self.fallible.filter(|f| f.at == at) {
                failed.extend(items.iter().copied().filter(|(_, v)| f.fails(*v)));
                items.retain(|(_, v)| !f.fails(*v));
            }
        };
        for (i, stage) in self.stages.iter().enumerate() {
            reject(&mut items, i);
            items = stage.op.apply(items, flush);
        }
        reject(&mut items, self.stages.len());
        Expected { out: items, failed }
    }

    /// What an in-order sink gets when the fallible stage fails fast: every
    /// item before the first one it rejects (in the order the stage's input
    /// comes in), through the stages after it, which never see the end of
    /// the stream (a partial batch stays held); and that first rejected
    /// `(seq, value)`, if any (the run then fails).
    pub(crate) fn expected_until_failure(&self, n: u64) -> (Vec<u64>, Option<(u64, u64)>) {
        let mut items: Vec<(u64, u64)> = (0..n).map(|i| (i, i)).collect();
        let mut first = None;
        for at in 0..=self.stages.len() {
            if let Some(f) = self.fallible.filter(|f| f.at == at) {
                if let Some(p) = items.iter().position(|(_, v)| f.fails(*v)) {
                    first = Some(items[p]);
                    items.truncate(p);
                }
            }
            if let Some(stage) = self.stages.get(at) {
                items = stage.op.apply(items, first.is_none());
            }
        }
        (items.into_iter().map(|(_, v)| v).collect(), first)
    }

    /// The first `k` items an endless source `0..` gives.
    pub(crate) fn expected_prefix(&self, k: usize) -> Vec<u64> {
        let mut n = 4 * k as u64 + 64;
        loop {
            let values = self.expected(n, false).values();
            if values.len() >= k {
                return values[..k].to_vec();
            }
            assert!(
                n < 1 << 24,
                "the model gives too few items for an endless source"
            );
            n *= 2;
        }
    }

    /// Adds the model's stages to `pipeline` (set its config first: the
    /// builder's unbatch sizes itself by it).
    pub(crate) fn build(&self, mut pipeline: Pipeline<u64>) -> Pipeline<u64> {
        for (i, stage) in self.stages.iter().enumerate() {
            pipeline = self.add_fallible(pipeline, i);
            pipeline = self.add_stage(pipeline, i, *stage);
        }
        self.add_fallible(pipeline, self.stages.len())
    }

    fn add_fallible(&self, pipeline: Pipeline<u64>, at: usize) -> Pipeline<u64> {
        let Some(f) = self.fallible.filter(|f| f.at == at) else {
            return pipeline;
        };
        let cost = self.cost;
        pipeline
            .stage(Fallible::NAME, f.mode.mode())
            .on_error(f.policy)
            .try_map(move |x| {
                std::hint::black_box(spin(cost));
                if f.fails(x) {
                    Err(format!("bad {x}").into())
                } else {
                    Ok(x)
                }
            })
    }

    fn add_stage(&self, pipeline: Pipeline<u64>, i: usize, stage: StageSpec) -> Pipeline<u64> {
        let cost = self.cost;
        let name = format!("s{i}");
        let open = |pipeline: Pipeline<u64>, mode: Mode| {
            let builder = pipeline.stage(&name, mode);
            match stage.buffer {
                Some(items) => builder.buffer(items),
                None => builder,
            }
        };
        let mode = stage.mode.mode();
        match stage.op {
            Op::Map { kind, k } => open(pipeline, mode).map(move |x| {
                std::hint::black_box(spin(cost));
                map(kind, k, x)
            }),
            Op::Filter { m, r } => open(pipeline, mode).filter(move |x| {
                std::hint::black_box(spin(cost));
                keep(m, r, *x)
            }),
            Op::FlatMap { salt } => open(pipeline, mode).flat_map(move |x| {
                std::hint::black_box(spin(cost));
                copies(salt, x)
            }),
            Op::Batch {
                size,
                builtin_unbatch,
            } => {
                let batches = open(pipeline, Mode::serial_in_order()).batch(size);
                if builtin_unbatch {
                    batches.unbatch()
                } else {
                    batches
                        .stage(&format!("u{i}"), mode)
                        .flat_map(|batch: Vec<u64>| batch)
                }
            }
            Op::Inspect => open(pipeline, mode).inspect(move |_| {
                std::hint::black_box(spin(cost));
            }),
        }
    }
}
