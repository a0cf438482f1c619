//! Sizes chunks so that one carries about the configured amount of work:
//! large enough that the engine's per-chunk cost vanishes, small enough that
//! every core gets work and the in-order sink is not kept waiting.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::ChunkFloor;

#[derive(Debug)]
pub(super) struct ChunkSizer {
    /// Cost of one source item through the whole pipeline, in ns, as f64 bits (0: unknown).
    per_item_ns: AtomicU64,
    target_ns: f64,
    /// The fewest items the stages ask for (`StageBuilder::min_chunk` and
    /// `StageBuilder::chunk_floor`): the largest counts.
    floors: Vec<ChunkFloor>,
    max_chunk: usize,
}

impl ChunkSizer {
    pub(super) fn new(target_ns: f64, floors: Vec<ChunkFloor>, max_chunk: usize) -> Self {
        Self {
            per_item_ns: AtomicU64::new(0),
            target_ns,
            floors,
            max_chunk: max_chunk.max(1),
        }
    }

    /// The stages' largest wish now, within the bound.
    fn min_chunk(&self) -> usize {
        let wish = self.floors.iter().map(ChunkFloor::get).max().unwrap_or(1);
        wish.clamp(1, self.max_chunk)
    }

    pub(super) fn next_size(&self) -> usize {
        let min_chunk = self.min_chunk();
        let per_item = f64::from_bits(self.per_item_ns.load(Ordering::Relaxed));
        if per_item <= 0.0 {
            return min_chunk;
        }
        ((self.target_ns / per_item) as usize).clamp(min_chunk, self.max_chunk)
    }

    /// Learns from a chunk that left the pipeline.
    pub(super) fn observe(&self, items: usize, cost_ns: u64) {
        if items == 0 {
            return;
        }
        let sample = (cost_ns as f64 / items as f64).max(0.01);
        let old = f64::from_bits(self.per_item_ns.load(Ordering::Relaxed));
        let new = if old <= 0.0 {
            sample
        } else {
            old * 0.75 + sample * 0.25
        };
        self.per_item_ns.store(new.to_bits(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_one_and_grows_for_cheap_items() {
        let sizer = ChunkSizer::new(100_000.0, Vec::new(), 4096);
        assert_eq!(sizer.next_size(), 1);
        sizer.observe(10, 100);
        assert_eq!(sizer.next_size(), 4096);
    }

    #[test]
    fn a_stages_wish_is_a_floor_within_the_bound() {
        let sizer = ChunkSizer::new(100_000.0, vec![ChunkFloor::new(64)], 4096);
        assert_eq!(sizer.next_size(), 64);
        sizer.observe(1, 1_000_000);
        assert_eq!(sizer.next_size(), 64);
        let big = ChunkSizer::new(100_000.0, vec![ChunkFloor::new(10_000)], 4096);
        assert_eq!(big.next_size(), 4096);
    }

    #[test]
    fn a_floor_changed_while_running_counts_at_the_next_chunk() {
        let floor = ChunkFloor::new(16);
        let sizer = ChunkSizer::new(100_000.0, vec![ChunkFloor::new(8), floor.clone()], 4096);
        sizer.observe(1, 1_000_000);
        assert_eq!(sizer.next_size(), 16);
        floor.set(1000);
        assert_eq!(sizer.next_size(), 1000);
        floor.set(1);
        assert_eq!(sizer.next_size(), 8, "the other stage's wish still counts");
    }

    #[test]
    fn expensive_items_travel_alone() {
        let sizer = ChunkSizer::new(100_000.0, Vec::new(), 4096);
        sizer.observe(1, 1_000_000);
        assert_eq!(sizer.next_size(), 1);
        sizer.observe(2, 20_000);
        assert!(sizer.next_size() >= 1);
    }
}
