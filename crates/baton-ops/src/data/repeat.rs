//! `repeat`: the source's items `epochs` times over, each with the field
//! `epoch` (from 0), as a training loop reads its dataset once per epoch
//! (tf.data's `repeat`, with its `cache` and per-epoch `shuffle`).
//!
//! It goes right after the source, which it wraps (a stage in the middle
//! could not hold an epoch back without the engine's bounds): by default
//! each epoch reads the source anew, so files are re-read and a shuffled
//! file order is shuffled again; with `cache = true` the first epoch's
//! items are kept in memory and the later epochs replay them; with
//! `shuffle = true` the items are kept too, and every epoch, the first
//! included, is a new permutation of all of them, decided by `seed` and the
//! epoch alone (the first epoch starts once the source has ended). Stages
//! after it that draw at random per item (`crop`, `flip`) see the field
//! `epoch` and draw anew each epoch. A source that parses in parallel gives
//! rows here, parsed as it reads.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, BuiltSource, Item, Params};
//!
//! let params = Params::new(toml::from_str("epochs = 3\nshuffle = true\nseed = 5").unwrap(), ".");
//! let BuiltOp::Repeat(repeat) = (baton_ops::find("repeat").unwrap().build)(&params).unwrap() else { unreachable!() };
//! let make = || -> Result<BuiltSource, baton_engine::BoxError> {
//!     let items = (0..4).map(|n| Ok(Item::with_field("n", n)));
//!     Ok(BuiltSource { items: Box::new(items), len: Some(4), streaming: false, parse: None })
//! };
//! let source = repeat.around(make().unwrap(), Box::new(make)).unwrap();
//! assert_eq!(source.len, Some(12));
//! let items: Vec<Item> = source.items.map(Result::unwrap).collect();
//! let mut first: Vec<i64> = items[..4].iter().map(|i| i.get("n").unwrap().as_i64().unwrap()).collect();
//! assert_eq!(items[11].get("epoch").unwrap(), 2);
//! first.sort();
//! assert_eq!(first, [0, 1, 2, 3]);
//! ```

use baton_engine::BoxError;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::item::Item;
use crate::registry::{
    BuiltOp, BuiltSource, Modes, OpDef, OpError, OpKind, ParamDef, ParamType, Params,
};

pub(super) const DEF: OpDef = OpDef {
    name: "repeat",
    kind: OpKind::Transform,
    summary: "the source's items `epochs` times, each with the field `epoch`; read anew each epoch, or kept in memory (`cache`), or reshuffled each epoch (`shuffle`, seeded); must come right after the source",
    params: &[
        ParamDef::required("epochs", ParamType::Int, "how many times the items come").at_least(1),
        ParamDef::with_default(
            "shuffle",
            ParamType::Bool,
            "false",
            "every epoch a new permutation of all the items, the same for the same `seed` and epoch (keeps them in memory)",
        ),
        ParamDef::with_default("seed", ParamType::Int, "0", "the seed of the permutations"),
        ParamDef::with_default(
            "cache",
            ParamType::Bool,
            "false",
            "keep the first epoch's items in memory and replay them, instead of reading the source again",
        ),
    ],
    modes: Modes::SERIAL,
    build,
};

fn build(params: &Params) -> Result<BuiltOp, OpError> {
    let epochs = params.int_as::<u64>("epochs")?.unwrap_or(1);
    if epochs == 0 {
        return Err(OpError::param("epochs", "must be at least 1"));
    }
    Ok(BuiltOp::Repeat(Repeat {
        epochs,
        shuffle: params.bool("shuffle")?.unwrap_or(false),
        seed: params.seed("seed")?.unwrap_or(0),
        cache: params.bool("cache")?.unwrap_or(false),
    }))
}

/// A built `repeat`: how the source it wraps is repeated.
///
/// # Examples
///
/// See the module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repeat {
    /// How many epochs.
    pub epochs: u64,
    /// A new permutation every epoch.
    pub shuffle: bool,
    /// The permutations' seed.
    pub seed: u64,
    /// Replay the first epoch from memory.
    pub cache: bool,
}

/// Makes the source anew, for an epoch that reads it again.
pub type MakeSource = Box<dyn Fn() -> Result<BuiltSource, BoxError> + Send>;

impl Repeat {
    /// The source `first` (the first epoch's), repeated; `make` builds it
    /// again for each epoch that reads it anew. A source that parses in a
    /// stage of its own gives rows instead.
    ///
    /// # Errors
    ///
    /// A streaming source (standard input), which cannot be read again, or
    /// a parse stage that cannot be made.
    ///
    /// # Examples
    ///
    /// See the module.
    pub fn around(self, first: BuiltSource, make: MakeSource) -> Result<BuiltSource, BoxError> {
        if first.streaming {
            return Err("repeat cannot replay a source that streams (standard input)".into());
        }
        let first = first.into_rows()?;
        let len = first.len.and_then(|n| n.checked_mul(self.epochs));
        let items: Box<dyn Iterator<Item = Result<Item, BoxError>> + Send> =
            match (self.shuffle, self.cache) {
                (true, _) => Box::new(Shuffled::new(self, first.items)),
                (false, true) => Box::new(Cached {
                    repeat: self,
                    source: Some(first.items),
                    kept: Vec::new(),
                    epoch: 0,
                    at: 0,
                }),
                (false, false) => Box::new(Reread {
                    epochs: self.epochs,
                    make,
                    current: first.items,
                    epoch: 0,
                }),
            };
        Ok(BuiltSource {
            items,
            len,
            streaming: false,
            parse: None,
        })
    }
}

fn tagged(mut item: Item, epoch: u64) -> Item {
    item.set("epoch", epoch);
    item
}

/// Each epoch reads the source anew.
struct Reread {
    epochs: u64,
    make: MakeSource,
    current: Box<dyn Iterator<Item = Result<Item, BoxError>> + Send>,
    epoch: u64,
}

impl Iterator for Reread {
    type Item = Result<Item, BoxError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item.map(|item| tagged(item, self.epoch)));
            }
            self.epoch += 1;
            if self.epoch >= self.epochs {
                return None;
            }
            match (self.make)().and_then(BuiltSource::into_rows) {
                Ok(source) => self.current = source.items,
                Err(error) => {
                    self.epoch = self.epochs;
                    return Some(Err(error));
                }
            }
        }
    }
}

/// The first epoch from the source, kept; the others from memory.
struct Cached {
    repeat: Repeat,
    source: Option<Box<dyn Iterator<Item = Result<Item, BoxError>> + Send>>,
    kept: Vec<Item>,
    epoch: u64,
    at: usize,
}

impl Iterator for Cached {
    type Item = Result<Item, BoxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(source) = self.source.as_mut() {
            match source.next() {
                Some(Ok(item)) => {
                    self.kept.push(item.clone());
                    return Some(Ok(tagged(item, 0)));
                }
                // A bad item is reported once, in the first epoch.
                Some(Err(error)) => return Some(Err(error)),
                None => {
                    self.source = None;
                    self.epoch = 1;
                }
            }
        }
        if self.at == self.kept.len() {
            self.at = 0;
            self.epoch += 1;
        }
        if self.epoch >= self.repeat.epochs || self.kept.is_empty() {
            return None;
        }
        let item = self.kept[self.at].clone();
        self.at += 1;
        Some(Ok(tagged(item, self.epoch)))
    }
}

/// Every item kept, each epoch a permutation of them.
struct Shuffled {
    repeat: Repeat,
    source: Option<Box<dyn Iterator<Item = Result<Item, BoxError>> + Send>>,
    kept: Vec<Item>,
    order: Vec<usize>,
    epoch: u64,
    at: usize,
}

impl Shuffled {
    fn new(
        repeat: Repeat,
        source: Box<dyn Iterator<Item = Result<Item, BoxError>> + Send>,
    ) -> Self {
        Self {
            repeat,
            source: Some(source),
            kept: Vec::new(),
            order: Vec::new(),
            epoch: 0,
            at: 0,
        }
    }

    /// The order of epoch `epoch`: decided by the seed and the epoch only.
    fn permute(&mut self) {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&self.repeat.seed.to_le_bytes());
        key[8..16].copy_from_slice(&self.epoch.to_le_bytes());
        key[16..22].copy_from_slice(b"repeat");
        self.order = (0..self.kept.len()).collect();
        self.order
            .shuffle(&mut rand_chacha::ChaCha8Rng::from_seed(key));
        self.at = 0;
    }
}

impl Iterator for Shuffled {
    type Item = Result<Item, BoxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(source) = self.source.as_mut() {
            loop {
                match source.next() {
                    Some(Ok(item)) => self.kept.push(item),
                    Some(Err(error)) => return Some(Err(error)),
                    None => break,
                }
            }
            self.source = None;
            self.permute();
        }
        if self.at == self.order.len() {
            self.epoch += 1;
            if self.epoch >= self.repeat.epochs || self.kept.is_empty() {
                return None;
            }
            self.permute();
        }
        let item = self.kept[self.order[self.at]].clone();
        self.at += 1;
        Some(Ok(tagged(item, self.epoch)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn numbers(n: i64, bad_at: Option<i64>) -> BuiltSource {
        let items = (0..n).map(move |v| match Some(v) == bad_at {
            true => Err(format!("item {v}: bad").into()),
            false => Ok(Item::with_field("n", v)),
        });
        BuiltSource {
            items: Box::new(items),
            len: Some(n as u64),
            streaming: false,
            parse: None,
        }
    }

    /// Each item as (epoch, n), or its error.
    type Seen = Vec<Result<(u64, i64), String>>;

    fn run(repeat: Repeat, n: i64, bad_at: Option<i64>) -> (Seen, usize) {
        let builds = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&builds);
        let make: MakeSource = Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(numbers(n, bad_at))
        });
        let source = repeat.around(numbers(n, bad_at), make).unwrap();
        let items = source
            .items
            .map(|item| {
                item.map(|i| {
                    (
                        i.get("epoch").unwrap().as_u64().unwrap(),
                        i.get("n").unwrap().as_i64().unwrap(),
                    )
                })
                .map_err(|e| e.to_string())
            })
            .collect();
        (items, builds.load(Ordering::SeqCst))
    }

    fn repeat(epochs: u64, shuffle: bool, cache: bool) -> Repeat {
        Repeat {
            epochs,
            shuffle,
            seed: 9,
            cache,
        }
    }

    #[test]
    fn each_epoch_reads_the_source_anew_unless_cached() {
        let (items, builds) = run(repeat(3, false, false), 2, None);
        let want: Seen = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
            .map(Ok)
            .to_vec();
        assert_eq!(items, want);
        assert_eq!(builds, 2, "built again for epochs 1 and 2");
        let (items, builds) = run(repeat(3, false, true), 2, None);
        assert_eq!(items, want);
        assert_eq!(builds, 0, "replayed from memory");
    }

    #[test]
    fn a_bad_item_is_reported_once_when_cached_and_each_epoch_when_read_again() {
        let (items, _) = run(repeat(2, false, true), 3, Some(1));
        assert_eq!(
            items,
            vec![
                Ok((0, 0)),
                Err("item 1: bad".into()),
                Ok((0, 2)),
                Ok((1, 0)),
                Ok((1, 2))
            ]
        );
        let (items, _) = run(repeat(2, false, false), 3, Some(1));
        assert_eq!(items.iter().filter(|i| i.is_err()).count(), 2);
    }

    #[test]
    fn shuffled_epochs_are_permutations_fixed_by_seed_and_epoch() {
        let (items, builds) = run(repeat(4, true, false), 50, None);
        assert_eq!(builds, 0);
        let epochs: Vec<Vec<i64>> = (0..4)
            .map(|e| {
                items
                    .iter()
                    .filter_map(|i| {
                        i.as_ref()
                            .ok()
                            .filter(|(epoch, _)| *epoch == e)
                            .map(|(_, n)| *n)
                    })
                    .collect()
            })
            .collect();
        for epoch in &epochs {
            let mut sorted = epoch.clone();
            sorted.sort();
            assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        }
        assert_ne!(epochs[0], epochs[1]);
        assert_ne!(epochs[1], epochs[2]);
        let (again, _) = run(repeat(4, true, false), 50, None);
        assert_eq!(again, items, "the same seed gives the same epochs");
        let (other, _) = run(
            Repeat {
                seed: 10,
                ..repeat(4, true, false)
            },
            50,
            None,
        );
        assert_ne!(other, items);
    }

    #[test]
    fn standard_input_cannot_be_repeated() {
        let source = BuiltSource {
            streaming: true,
            ..numbers(1, None)
        };
        let error = repeat(2, false, false)
            .around(source, Box::new(|| Ok(numbers(1, None))))
            .err()
            .unwrap();
        assert!(error.to_string().contains("standard input"));
    }
}
