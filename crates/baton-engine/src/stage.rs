//! The one mechanism every operator is written with.
//!
//! # The stage contract
//!
//! * An operator gets a chunk of items (`Vec<In>`) with their sequence
//!   numbers and returns a chunk of outputs with theirs. It may drop items
//!   (filter), make several from one (flat_map) or hold some back (batch); an
//!   output item carries the sequence number of the first input it came from.
//! * A serial stage's replica sees chunks one at a time; a `serial_in_order`
//!   one sees them in source order. A parallel stage's replicas see disjoint
//!   chunks at once.
//! * At the end of the stream a serial replica's `finish` is called once,
//!   after its last chunk, and may emit what it held back. Parallel replicas
//!   are dropped at the end (their `Drop` runs).
//! * A stage that returns `Flow::Finished` takes no more input: the engine
//!   stops the source and discards what reaches the stage from then on
//!   (`take`).
//! * Failures are reported per item, with its sequence number, through
//!   [`call_item`] which applies the stage's error policy; a panic counts as
//!   a failure.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::chunk::{ChunkData, Seqs};
use crate::context::{Cancellation, ReplicaContext};
use crate::error::{BoxError, DeadLetter, ItemFailure, OnError, StageFailure};
use crate::mode::Mode;

/// Whether a stage wants more input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Finished,
}

/// What an operator returns for a chunk.
#[derive(Debug)]
pub(crate) struct Output<T> {
    pub(crate) items: Vec<T>,
    pub(crate) seqs: Seqs,
    pub(crate) flow: Flow,
}

impl<T> Output<T> {
    pub(crate) fn new(items: Vec<T>, seqs: Seqs) -> Self {
        Self {
            items,
            seqs,
            flow: Flow::Continue,
        }
    }

    pub(crate) fn empty() -> Self {
        Self::new(Vec::new(), Seqs::empty())
    }
}

/// A typed stage replica: the trait every operator implements.
pub(crate) trait Operator: Send + 'static {
    type In: Send + 'static;
    type Out: Send + 'static;

    fn process(
        &mut self,
        items: Vec<Self::In>,
        seqs: Seqs,
        ctx: &StageContext,
    ) -> Result<Output<Self::Out>, ItemFailure>;

    /// Called once when the replica is made, before its first chunk.
    fn open(&mut self, _ctx: &ReplicaContext) -> Result<(), StageFailure> {
        Ok(())
    }

    /// Called once at the end of the stream on serial stages.
    fn finish(&mut self, _ctx: &StageContext) -> Result<Output<Self::Out>, ItemFailure> {
        Ok(Output::empty())
    }
}

/// A stage replica with its item types erased, as the executor sees it.
pub(crate) trait Replica: Send {
    fn open(&mut self, _ctx: &ReplicaContext) -> Result<(), StageFailure> {
        Ok(())
    }
    fn process(
        &mut self,
        data: ChunkData,
        ctx: &StageContext,
    ) -> Result<(ChunkData, Flow), ItemFailure>;
    /// Appends what the stage held back to `before`, the output of the last chunk.
    fn finish(&mut self, before: ChunkData, ctx: &StageContext) -> Result<ChunkData, ItemFailure>;
}

impl<O: Operator> Replica for O {
    fn open(&mut self, ctx: &ReplicaContext) -> Result<(), StageFailure> {
        Operator::open(self, ctx)
    }

    fn process(
        &mut self,
        data: ChunkData,
        ctx: &StageContext,
    ) -> Result<(ChunkData, Flow), ItemFailure> {
        if data.items.is_none() {
            return Ok((ChunkData::empty(), Flow::Continue));
        }
        let (items, seqs, spare) = data.into_vec_and_box::<O::In>();
        let out = Operator::process(self, items, seqs, ctx)?;
        Ok((ChunkData::from_vec_in(out.items, out.seqs, spare), out.flow))
    }

    fn finish(&mut self, before: ChunkData, ctx: &StageContext) -> Result<ChunkData, ItemFailure> {
        let out = Operator::finish(self, ctx)?;
        if before.items.is_none() {
            return Ok(ChunkData::from_vec(out.items, out.seqs));
        }
        let (mut items, seqs) = before.into_vec::<O::Out>();
        let mut all = crate::chunk::SeqsBuilder::with_capacity(items.len() + out.items.len());
        seqs.iter()
            .chain(out.seqs.iter())
            .for_each(|seq| all.push(seq));
        items.extend(out.items);
        Ok(ChunkData::from_vec(items, all.finish()))
    }
}

/// Makes a new replica of a stage.
pub(crate) type ReplicaFactory = Box<dyn FnMut() -> Result<Box<dyn Replica>, StageFailure> + Send>;

/// A stage as the builder describes it, before the run.
pub(crate) struct StageSpec {
    pub(crate) name: Arc<str>,
    pub(crate) mode: Mode,
    pub(crate) policy: OnError,
    /// Most items queued in front of the stage; the source waits past it.
    pub(crate) buffer: Option<usize>,
    /// Extra in-flight budget this stage brings (`prefetch`).
    pub(crate) extra_in_flight: usize,
    pub(crate) factory: ReplicaFactory,
}

impl std::fmt::Debug for StageSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StageSpec")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .field("policy", &self.policy)
            .field("buffer", &self.buffer)
            .finish_non_exhaustive()
    }
}

/// Per-stage counters, updated once per chunk.
#[derive(Debug, Default)]
pub(crate) struct StageCounters {
    pub(crate) chunks: AtomicU64,
    pub(crate) items_in: AtomicU64,
    pub(crate) items_out: AtomicU64,
    pub(crate) busy_ns: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) retries: AtomicU64,
}

/// What a replica may know of its stage while it runs.
#[derive(Debug, Clone)]
pub(crate) struct StageContext {
    pub(crate) name: Arc<str>,
    pub(crate) policy: OnError,
    pub(crate) dead_letters: Arc<Mutex<Vec<DeadLetter>>>,
    pub(crate) counters: Arc<StageCounters>,
    pub(crate) stopping: Arc<AtomicBool>,
}

impl StageContext {
    /// The context a new replica of this stage is told of.
    pub(crate) fn replica(&self, replica: u32) -> ReplicaContext {
        ReplicaContext::new(
            Arc::clone(&self.name),
            replica,
            Cancellation::from_flag(Arc::clone(&self.stopping)),
        )
    }

    fn dead_letter(&self, seq: u64, failure: StageFailure, item: Option<Box<dyn Any + Send>>) {
        self.counters.skipped.fetch_add(1, Ordering::Relaxed);
        let letter = DeadLetter {
            stage: self.name.to_string(),
            seq,
            failure,
            item,
        };
        self.dead_letters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(letter);
    }

    /// Handles a failure that happened outside [`call_item`] (a panic caught
    /// over a whole chunk): only the fail-fast path gets there.
    pub(crate) fn fail(&self, seq: u64, failure: StageFailure) -> ItemFailure {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        ItemFailure { seq, failure }
    }

    /// Sleeps for a retry backoff, waking early when the run stops.
    fn backoff(&self, wait: Duration) {
        let deadline = std::time::Instant::now() + wait;
        while !self.stopping.load(Ordering::Relaxed) {
            let now = std::time::Instant::now();
            if now >= deadline {
                return;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(5)));
        }
    }
}

/// Runs `f` once on `item`, turning a panic into a failure.
pub(crate) fn attempt<In, R>(
    f: &mut impl FnMut(In) -> Result<R, BoxError>,
    item: In,
) -> Result<R, StageFailure> {
    match catch_unwind(AssertUnwindSafe(|| f(item))) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(StageFailure::Error(error)),
        Err(panic) => Err(StageFailure::from_panic(panic)),
    }
}

/// Calls a user function on one item under the stage's error policy.
///
/// `keep` clones the input; it is set when the stage's input type is `Clone`
/// and the policy needs the item again (retry) or for the dead letters
/// (skip). Returns `Ok(None)` when the item was skipped.
pub(crate) fn call_item<In: Send + 'static, R>(
    ctx: &StageContext,
    keep: Option<fn(&In) -> In>,
    seq: u64,
    item: In,
    f: &mut impl FnMut(In) -> Result<R, BoxError>,
) -> Result<Option<R>, ItemFailure> {
    let (attempts, backoff, skip) = match ctx.policy {
        OnError::Fail => (0, Duration::ZERO, false),
        OnError::Skip => (0, Duration::ZERO, true),
        OnError::Retry { attempts, backoff } => (attempts, backoff, false),
        OnError::RetryThenSkip { attempts, backoff } => (attempts, backoff, true),
    };
    let Some(keep) = keep.filter(|_| attempts > 0 || skip) else {
        return match attempt(f, item) {
            Ok(value) => Ok(Some(value)),
            Err(failure) if skip => {
                skip_item(ctx, seq, failure, None);
                Ok(None)
            }
            Err(failure) => Err(ctx.fail(seq, failure)),
        };
    };
    let mut wait = backoff;
    let mut tries_left = attempts;
    loop {
        let failure = match attempt(f, keep(&item)) {
            Ok(value) => return Ok(Some(value)),
            Err(failure) => failure,
        };
        if tries_left > 0 && !ctx.stopping.load(Ordering::Relaxed) {
            tries_left -= 1;
            ctx.counters.retries.fetch_add(1, Ordering::Relaxed);
            ctx.backoff(wait);
            wait = wait.saturating_mul(2);
            continue;
        }
        if skip {
            ctx.counters.errors.fetch_add(1, Ordering::Relaxed);
            ctx.dead_letter(seq, failure, Some(Box::new(item)));
            return Ok(None);
        }
        return Err(ctx.fail(seq, failure));
    }
}

/// Calls `f` on a borrowed item under the stage's error policy (retries,
/// then skip or fail). Returns the item with `f`'s result, or `None` if it
/// was skipped: the item then goes, whole, to the dead letters.
pub(crate) fn call_item_by_ref<In: Send + 'static, R>(
    ctx: &StageContext,
    seq: u64,
    item: In,
    f: &mut impl FnMut(&In) -> R,
) -> Result<Option<(In, R)>, ItemFailure> {
    let (attempts, backoff, skip) = match ctx.policy {
        OnError::Fail => (0, Duration::ZERO, false),
        OnError::Skip => (0, Duration::ZERO, true),
        OnError::Retry { attempts, backoff } => (attempts, backoff, false),
        OnError::RetryThenSkip { attempts, backoff } => (attempts, backoff, true),
    };
    let mut wait = backoff;
    let mut tries_left = attempts;
    loop {
        let failure = match catch_unwind(AssertUnwindSafe(|| f(&item))) {
            Ok(value) => return Ok(Some((item, value))),
            Err(panic) => StageFailure::from_panic(panic),
        };
        if tries_left > 0 && !ctx.stopping.load(Ordering::Relaxed) {
            tries_left -= 1;
            ctx.counters.retries.fetch_add(1, Ordering::Relaxed);
            ctx.backoff(wait);
            wait = wait.saturating_mul(2);
            continue;
        }
        if skip {
            ctx.counters.errors.fetch_add(1, Ordering::Relaxed);
            ctx.dead_letter(seq, failure, Some(Box::new(item)));
            return Ok(None);
        }
        return Err(ctx.fail(seq, failure));
    }
}

/// Records a skipped item whose failure was not a call (a source's `Err`).
pub(crate) fn skip_item(
    ctx: &StageContext,
    seq: u64,
    failure: StageFailure,
    item: Option<Box<dyn Any + Send>>,
) {
    ctx.counters.errors.fetch_add(1, Ordering::Relaxed);
    ctx.dead_letter(seq, failure, item);
}

/// Runs `body` over a whole chunk with one panic guard, the fast path of the
/// fail-fast policy; `progress` counts the items done so a panic names the
/// item it happened at.
pub(crate) fn guard_chunk<R>(
    ctx: &StageContext,
    seqs: &Seqs,
    body: impl FnOnce(&mut usize) -> R,
) -> Result<R, ItemFailure> {
    let mut progress = 0usize;
    match catch_unwind(AssertUnwindSafe(|| body(&mut progress))) {
        Ok(value) => Ok(value),
        Err(panic) => Err(ctx.fail(seqs.get(progress), StageFailure::from_panic(panic))),
    }
}
