//! `repeat`: the source's items `epochs` times over, each with the field
//! `epoch` (from 0), as a training loop reads its dataset once per epoch
//! (tf.data's `repeat`, with its `cache` and per-epoch `shuffle`).
//!
//! It goes right after the source, which it wraps (a stage in the middle
//! could not hold an epoch back without the engine's bounds): by default
//! each epoch reads the source anew, so files are re-read and a shuffled
//! file order is shuffled again; with `cache = true` the first epoch's
//! items are kept in memory and the later epochs replay them; with
//! `cache_file = "PATH"` they are kept in that file instead (memory stays
//! flat), and a complete file left by an earlier run is replayed without
//! reading the source at all (delete it when the source changes); with
//! `shuffle = true` the items are kept too (in memory, or in the file),
//! and every epoch, the first included, is a new permutation of all of
//! them, decided by `seed` and the epoch alone (the first epoch starts once
//! the source has ended). Stages
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

use std::path::PathBuf;

use baton_engine::BoxError;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::cache_file::{CacheReader, CacheWriter};
use crate::item::Item;
use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltSource, Modes, OpConfig, OpDef, OpError, OpKind,
    ParamDef, ParamType, Seed,
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
        ParamDef::optional(
            "cache_file",
            ParamType::Str,
            "keep the first epoch's items in this file instead of memory and replay them from it; a complete file from an earlier run is replayed without reading the source (delete it when the source changes)",
        ),
    ],
    modes: Modes::SERIAL,
    build: build_from::<RepeatConfig>,
};

/// The parameters of `repeat`: the source's items `epochs` times, read
/// anew each epoch, or kept (`cache`, `cache_file`), or reshuffled each
/// epoch (`shuffle`, `seed`). It builds a [`Repeat`], which wraps the
/// source.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, OpConfig, RepeatConfig, Seed};
/// use baton_ops::{BuiltOp, BuiltSource, Item};
///
/// let config = RepeatConfig { epochs: 2, shuffle: false, seed: Seed(0), cache: true, cache_file: None };
/// let BuiltOp::Repeat(repeat) = config.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let items = (0..3).map(|n| Ok(Item::with_field("n", n)));
/// let first = BuiltSource { items: Box::new(items), len: Some(3), streaming: false, parse: None };
/// let source = repeat.around(first, Box::new(|| unreachable!("the cache replays epoch 1"))).unwrap();
/// let epochs: Vec<u64> = source.items.map(|i| i.unwrap().get("epoch").unwrap().as_u64().unwrap()).collect();
/// assert_eq!(epochs, [0, 0, 0, 1, 1, 1]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatConfig {
    /// How many times the items come (at least 1).
    pub epochs: u64,
    /// Every epoch a new permutation of all the items, the same for the
    /// same `seed` and epoch (keeps them in memory).
    #[serde(default)]
    pub shuffle: bool,
    /// The seed of the permutations.
    #[serde(default)]
    pub seed: Seed,
    /// Keep the first epoch's items in memory and replay them, instead of
    /// reading the source again.
    #[serde(default)]
    pub cache: bool,
    /// Keep the first epoch's items in this file instead of memory and
    /// replay them from it; a complete file from an earlier run is replayed
    /// without reading the source (delete it when the source changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_file: Option<PathBuf>,
}

impl OpConfig for RepeatConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        if self.epochs == 0 {
            return Err(OpError::param("epochs", "must be at least 1"));
        }
        Ok(BuiltOp::Repeat(Repeat {
            epochs: self.epochs,
            shuffle: self.shuffle,
            seed: self.seed.0,
            cache: self.cache,
            cache_file: self.cache_file.as_ref().map(|path| context.path(path)),
        }))
    }
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
    /// Replay it from this file instead (and from an earlier run's).
    pub cache_file: Option<PathBuf>,
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
        // A complete cache from an earlier run: the source is not read.
        let complete = match &self.cache_file {
            Some(path) if path.exists() => Some(CacheReader::open(path)?),
            _ => None,
        };
        let (source, kept, len) = match complete {
            Some(reader) => {
                let len = reader.len() as u64;
                (None, Kept::File(reader), Some(len))
            }
            None => {
                let first = first.into_rows()?;
                let kept = match &self.cache_file {
                    Some(path) => Kept::Writing(CacheWriter::new(path)),
                    None => Kept::Memory(Vec::new()),
                };
                let len = first.len;
                (Some(first.items), kept, len)
            }
        };
        let len = len.and_then(|n| n.checked_mul(self.epochs));
        let items: Box<dyn Iterator<Item = Result<Item, BoxError>> + Send> =
            match (self.shuffle, self.cache || self.cache_file.is_some()) {
                (true, _) => Box::new(Shuffled::new(self, source, kept)),
                (false, true) => Box::new(Cached {
                    repeat: self,
                    source,
                    kept,
                    epoch: 0,
                    at: 0,
                }),
                (false, false) => Box::new(Reread {
                    epochs: self.epochs,
                    make,
                    current: source.expect("no cache file without caching"),
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

type Items = Box<dyn Iterator<Item = Result<Item, BoxError>> + Send>;

/// The items kept for the later epochs: in memory, or in a cache file
/// (being written while the first epoch reads the source, then read).
enum Kept {
    Memory(Vec<Item>),
    Writing(CacheWriter),
    File(CacheReader),
    /// A cache file that could not be completed (its error was given).
    Failed,
}

impl Kept {
    /// Keeps one item of the first epoch.
    fn push(&mut self, item: &Item) -> Result<(), BoxError> {
        match self {
            Kept::Memory(items) => items.push(item.clone()),
            Kept::Writing(writer) => writer.push(item)?,
            Kept::File(_) | Kept::Failed => {}
        }
        Ok(())
    }

    /// The source has ended: what was written becomes the file to read.
    fn finish(&mut self) -> Result<(), BoxError> {
        if let Kept::Writing(_) = self {
            let Kept::Writing(writer) = std::mem::replace(self, Kept::Failed) else {
                unreachable!("matched above")
            };
            *self = Kept::File(writer.finish()?);
        }
        Ok(())
    }

    fn len(&self) -> usize {
        match self {
            Kept::Memory(items) => items.len(),
            Kept::File(reader) => reader.len(),
            Kept::Writing(_) | Kept::Failed => 0,
        }
    }

    fn get(&mut self, index: usize) -> Result<Item, BoxError> {
        match self {
            Kept::Memory(items) => Ok(items[index].clone()),
            Kept::File(reader) => reader.get(index),
            Kept::Writing(_) | Kept::Failed => Err("no kept items to replay".into()),
        }
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

/// The first epoch from the source, kept; the others from memory or the
/// cache file (all of them from the file, when it was complete already).
struct Cached {
    repeat: Repeat,
    source: Option<Items>,
    kept: Kept,
    epoch: u64,
    at: usize,
}

impl Iterator for Cached {
    type Item = Result<Item, BoxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(source) = self.source.as_mut() {
            match source.next() {
                Some(Ok(item)) => {
                    if let Err(error) = self.kept.push(&item) {
                        return Some(Err(self.stop(error)));
                    }
                    return Some(Ok(tagged(item, 0)));
                }
                // A bad item is reported once, in the first epoch.
                Some(Err(error)) => return Some(Err(error)),
                None => {
                    self.source = None;
                    self.epoch = 1;
                    if let Err(error) = self.kept.finish() {
                        return Some(Err(self.stop(error)));
                    }
                }
            }
        }
        if self.at == self.kept.len() {
            self.at = 0;
            self.epoch += 1;
        }
        if self.epoch >= self.repeat.epochs || self.kept.len() == 0 {
            return None;
        }
        let item = match self.kept.get(self.at) {
            Ok(item) => item,
            Err(error) => return Some(Err(self.stop(error))),
        };
        self.at += 1;
        Some(Ok(tagged(item, self.epoch)))
    }
}

impl Cached {
    /// The cache failed: this error is the last item.
    fn stop(&mut self, error: BoxError) -> BoxError {
        self.source = None;
        self.kept = Kept::Failed;
        self.epoch = self.repeat.epochs;
        error
    }
}

/// Every item kept, each epoch a permutation of them.
struct Shuffled {
    repeat: Repeat,
    source: Option<Items>,
    kept: Kept,
    order: Vec<usize>,
    epoch: u64,
    at: usize,
    failed: bool,
}

impl Shuffled {
    fn new(repeat: Repeat, source: Option<Items>, kept: Kept) -> Self {
        let mut shuffled = Self {
            repeat,
            source,
            kept,
            order: Vec::new(),
            epoch: 0,
            at: 0,
            failed: false,
        };
        if shuffled.source.is_none() {
            shuffled.permute();
        }
        shuffled
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

    fn stop(&mut self, error: BoxError) -> Option<Result<Item, BoxError>> {
        self.failed = true;
        self.source = None;
        Some(Err(error))
    }
}

impl Iterator for Shuffled {
    type Item = Result<Item, BoxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if let Some(source) = self.source.as_mut() {
            loop {
                match source.next() {
                    Some(Ok(item)) => {
                        if let Err(error) = self.kept.push(&item) {
                            return self.stop(error);
                        }
                    }
                    Some(Err(error)) => return Some(Err(error)),
                    None => break,
                }
            }
            self.source = None;
            if let Err(error) = self.kept.finish() {
                return self.stop(error);
            }
            self.permute();
        }
        if self.at == self.order.len() {
            self.epoch += 1;
            if self.epoch >= self.repeat.epochs || self.kept.len() == 0 {
                return None;
            }
            self.permute();
        }
        let item = match self.kept.get(self.order[self.at]) {
            Ok(item) => item,
            Err(error) => return self.stop(error),
        };
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
            cache_file: None,
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

    #[test]
    fn a_cache_file_replays_the_later_epochs_and_serves_a_later_run_without_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache/fmnist.bin");
        for shuffle in [false, true] {
            let _ = std::fs::remove_file(&path);
            let in_memory = run(repeat(3, shuffle, true), 7, None);
            let with_file = Repeat {
                cache_file: Some(path.clone()),
                ..repeat(3, shuffle, false)
            };
            let first = run(with_file.clone(), 7, None);
            assert_eq!(first, in_memory, "shuffle {shuffle}: as from memory");
            assert!(path.exists());
            // The next run: every epoch from the file, the source unread.
            let unread = BuiltSource {
                items: Box::new(std::iter::from_fn(|| panic!("the source was read"))),
                len: None,
                streaming: false,
                parse: None,
            };
            let source = with_file
                .clone()
                .around(unread, Box::new(|| panic!("the source was made")))
                .unwrap();
            assert_eq!(source.len, Some(21));
            let again: Seen = source
                .items
                .map(|i| {
                    let i = i.map_err(|e| e.to_string())?;
                    Ok((
                        i.get("epoch").unwrap().as_u64().unwrap(),
                        i.get("n").unwrap().as_i64().unwrap(),
                    ))
                })
                .collect();
            assert_eq!(again, in_memory.0, "shuffle {shuffle}: from the file");
        }
    }

    #[test]
    fn a_cache_file_that_is_not_one_is_a_located_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.bin");
        std::fs::write(&path, "someone else's file, long enough to check").unwrap();
        let error = Repeat {
            cache_file: Some(path),
            ..repeat(2, false, false)
        }
        .around(numbers(2, None), Box::new(|| Ok(numbers(2, None))))
        .err()
        .unwrap()
        .to_string();
        assert!(error.contains("cache.bin: no cache header"), "{error}");
        assert!(error.contains("delete it"), "{error}");
    }
}
