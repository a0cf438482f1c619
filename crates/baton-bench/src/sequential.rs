//! The sequential baseline: one thread running every stage of one item
//! before the next item.
//!
//! With [`FetchLatency::Skip`] it is also the reference that every run's
//! checksum must equal.

use crate::checksum::{fold_checksum, INITIAL_CHECKSUM};
use crate::spin::spin;
use crate::stages::{self, FetchLatency};
use crate::workload::Workload;

/// Runs `workload` over items `0..items` on the calling thread and returns
/// the sink's checksum.
///
/// `latency` says whether W4's fetch and W7's second half really sleep;
/// other workloads ignore it.
///
/// # Examples
///
/// ```
/// use baton_bench::sequential::run_sequential;
/// use baton_bench::stages::FetchLatency;
/// use baton_bench::workload::Workload;
///
/// // W1 with two items: (0+1)*2 = 2, then (1+1)*2 = 4.
/// let checksum = run_sequential(Workload::W1, 2, FetchLatency::Skip);
/// assert_eq!(checksum, (2u64 << 5) ^ 4);
/// ```
pub fn run_sequential(workload: Workload, items: u64, latency: FetchLatency) -> u64 {
    let sources = 0..items;
    match workload {
        Workload::W1 => sources
            .map(|v| stages::w1_double(stages::w1_increment(v)))
            .fold(INITIAL_CHECKSUM, fold_checksum),
        Workload::W2 => sources
            .map(|v| {
                let v = spin(stages::W2_SPIN_PER_STAGE, v);
                let v = spin(stages::W2_SPIN_PER_STAGE, v);
                spin(stages::W2_SPIN_PER_STAGE, v)
            })
            .fold(INITIAL_CHECKSUM, fold_checksum),
        Workload::W3 => sources
            .map(|v| spin(stages::W3_PARALLEL_SPIN, spin(stages::W3_SERIAL_SPIN, v)))
            .fold(INITIAL_CHECKSUM, fold_checksum),
        Workload::W4 => sources
            .map(|v| spin(stages::W4_COMPUTE_SPIN, stages::w4_fetch(v, latency)))
            .fold(INITIAL_CHECKSUM, fold_checksum),
        Workload::W5 => sources
            // Each buffer is dropped before the next is made, so memory stays
            // at one buffer whatever the number of items.
            .map(|i| stages::w5_sum_bytes(&stages::w5_buffer(i)))
            .fold(INITIAL_CHECKSUM, fold_checksum),
        Workload::W6 => sources
            .map(stages::w6_spin)
            .fold(INITIAL_CHECKSUM, fold_checksum),
        Workload::W7 => sources
            .map(|v| spin(stages::W7_AFTER_SPIN, stages::w7_work(v, items, latency)))
            .fold(INITIAL_CHECKSUM, fold_checksum),
    }
}

#[cfg(test)]
mod tests {
    //! Each workload's checksum, recomputed with plain loops written
    //! straight from WORKLOADS.md, using only `spin` from this crate.

    use super::*;

    fn reference(items: u64, stage: impl Fn(u64) -> u64) -> u64 {
        let mut checksum = 0u64;
        for i in 0..items {
            checksum = checksum.rotate_left(5) ^ stage(i);
        }
        checksum
    }

    fn sequential(workload: Workload, items: u64) -> u64 {
        run_sequential(workload, items, FetchLatency::Skip)
    }

    #[test]
    fn w1_matches_a_plain_loop() {
        let expected = reference(1_000, |i| (i + 1).wrapping_mul(2));
        assert_eq!(sequential(Workload::W1, 1_000), expected);
        assert_eq!(sequential(Workload::W1, 0), 0);
    }

    #[test]
    fn w2_matches_a_plain_loop() {
        let expected = reference(50, |i| spin(2_000, spin(2_000, spin(2_000, i))));
        assert_eq!(sequential(Workload::W2, 50), expected);
    }

    #[test]
    fn w3_matches_a_plain_loop() {
        let expected = reference(50, |i| spin(3_000, spin(5_000, i)));
        assert_eq!(sequential(Workload::W3, 50), expected);
    }

    #[test]
    fn w4_matches_a_plain_loop() {
        let expected = reference(20, |i| spin(50_000, spin(500, i)));
        assert_eq!(sequential(Workload::W4, 20), expected);
    }

    #[test]
    fn w4_sleeping_changes_no_value() {
        // Three items: 3 ms of sleep.
        assert_eq!(
            run_sequential(Workload::W4, 3, FetchLatency::Sleep),
            sequential(Workload::W4, 3)
        );
    }

    #[test]
    fn w5_matches_a_plain_loop() {
        let expected = reference(4, |i| {
            let mut sum = 0u64;
            for j in 0..(1u64 << 20) {
                sum = sum.wrapping_add((i + j) % 251);
            }
            sum
        });
        assert_eq!(sequential(Workload::W5, 4), expected);
    }

    #[test]
    fn w6_matches_a_plain_loop() {
        let expected = reference(250, |i| {
            if i % 100 == 0 {
                spin(100_000, i)
            } else {
                spin(2_000, i)
            }
        });
        assert_eq!(sequential(Workload::W6, 250), expected);
    }

    #[test]
    fn w7_matches_a_plain_loop() {
        // 250 items: 0..125 spin 4,000, 125..250 spin 200; then 2,000 each.
        let expected = reference(250, |i| {
            let work = if i < 125 {
                spin(4_000, i)
            } else {
                spin(200, i)
            };
            spin(2_000, work)
        });
        assert_eq!(sequential(Workload::W7, 250), expected);
        assert_eq!(
            run_sequential(Workload::W7, 6, FetchLatency::Sleep),
            sequential(Workload::W7, 6)
        );
    }
}
