//! Sizes chunks so that one carries about the configured amount of work:
//! large enough that the engine's per-chunk cost vanishes, small enough that
//! every core gets work and the in-order sink is not kept waiting.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub(super) struct ChunkSizer {
    /// Cost of one source item through the whole pipeline, in ns, as f64 bits (0: unknown).
    per_item_ns: AtomicU64,
    target_ns: f64,
    max_chunk: usize,
}

impl ChunkSizer {
    pub(super) fn new(target_ns: f64, max_chunk: usize) -> Self {
        Self {
            per_item_ns: AtomicU64::new(0),
            target_ns,
            max_chunk,
        }
    }

    pub(super) fn next_size(&self) -> usize {
        let per_item = f64::from_bits(self.per_item_ns.load(Ordering::Relaxed));
        if per_item <= 0.0 {
            return 1;
        }
        ((self.target_ns / per_item) as usize).clamp(1, self.max_chunk)
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
        let sizer = ChunkSizer::new(100_000.0, 4096);
        assert_eq!(sizer.next_size(), 1);
        sizer.observe(10, 100);
        assert_eq!(sizer.next_size(), 4096);
    }

    #[test]
    fn expensive_items_travel_alone() {
        let sizer = ChunkSizer::new(100_000.0, 4096);
        sizer.observe(1, 1_000_000);
        assert_eq!(sizer.next_size(), 1);
        sizer.observe(2, 20_000);
        assert!(sizer.next_size() >= 1);
    }
}
