//! A stage's wish for the fewest items in a chunk, which it may change
//! while the pipeline runs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The fewest items a stage wants in a chunk, shared between the stage
/// (which may learn a better value as it runs) and the engine (which reads
/// it each time the source makes a chunk). Clones share the value.
///
/// Set with [`StageBuilder::chunk_floor`](crate::StageBuilder::chunk_floor);
/// [`StageBuilder::min_chunk`](crate::StageBuilder::min_chunk) is the same
/// with a value that never changes. The engine keeps every chunk within
/// [`Config::max_chunk`](crate::Config::max_chunk) whatever the floor says.
///
/// # Examples
///
/// ```
/// let floor = baton_engine::ChunkFloor::new(256);
/// let stage_side = floor.clone();
/// stage_side.set(4096);
/// assert_eq!(floor.get(), 4096);
/// stage_side.set(0);
/// assert_eq!(floor.get(), 1, "a chunk has at least one item");
/// ```
#[derive(Clone, Debug)]
pub struct ChunkFloor(Arc<AtomicUsize>);

impl ChunkFloor {
    /// A floor of `items` (at least 1).
    ///
    /// # Examples
    ///
    /// See [`ChunkFloor`].
    pub fn new(items: usize) -> Self {
        Self(Arc::new(AtomicUsize::new(items.max(1))))
    }

    /// The floor now.
    ///
    /// # Examples
    ///
    /// See [`ChunkFloor`].
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Changes the floor (at least 1); the source's next chunk follows it.
    ///
    /// # Examples
    ///
    /// See [`ChunkFloor`].
    pub fn set(&self, items: usize) {
        self.0.store(items.max(1), Ordering::Relaxed);
    }
}

impl Default for ChunkFloor {
    fn default() -> Self {
        Self::new(1)
    }
}
