//! The work unit: a dependent chain of integer operations, and the
//! measurement of its cost per iteration on this machine.

use std::hint::black_box;
use std::time::Instant;

/// Multiplier of the linear congruential step in [`spin`].
const MULTIPLIER: u64 = 6_364_136_223_846_793_005;
/// Increment of the linear congruential step in [`spin`].
const INCREMENT: u64 = 1_442_695_040_888_963_407;

/// Number of iterations timed by [`measure_t_iter_ns`].
///
/// # Examples
///
/// ```
/// use baton_bench::spin::CALIBRATION_ITERATIONS;
///
/// assert_eq!(CALIBRATION_ITERATIONS, 50_000_000);
/// ```
pub const CALIBRATION_ITERATIONS: u64 = 50_000_000;

/// Runs `n` iterations of the work unit on `x` and returns the result.
///
/// Each iteration depends on the one before it, so no compiler can skip or
/// vectorise the chain; all arithmetic wraps at 64 bits. A stage that
/// "spins n" replaces an item's value `v` with `spin(n, v)`.
///
/// # Examples
///
/// ```
/// use baton_bench::spin::spin;
///
/// assert_eq!(spin(0, 42), 42);
/// assert_ne!(spin(1, 42), 42);
/// ```
#[inline]
pub fn spin(n: u64, mut x: u64) -> u64 {
    for _ in 0..n {
        x = x.wrapping_mul(MULTIPLIER).wrapping_add(INCREMENT);
        x ^= x >> 33;
    }
    x
}

/// Measures `t_iter`, the nanoseconds one [`spin`] iteration takes, by timing
/// `spin(50_000_000, 1)` on the calling thread.
///
/// Stage costs are given in iterations, so ideal throughputs are derived
/// from this figure rather than from wall-clock constants.
///
/// # Examples
///
/// ```
/// use baton_bench::spin::measure_t_iter_ns;
///
/// let t_iter_ns = measure_t_iter_ns();
/// assert!(t_iter_ns > 0.0 && t_iter_ns.is_finite());
/// ```
pub fn measure_t_iter_ns() -> f64 {
    let start = Instant::now();
    // black_box keeps the compiler from computing the chain at build time.
    black_box(spin(black_box(CALIBRATION_ITERATIONS), black_box(1)));
    start.elapsed().as_nanos() as f64 / CALIBRATION_ITERATIONS as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One iteration of the work unit, written out from WORKLOADS.md.
    fn step_by_hand(x: u64) -> u64 {
        let y = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        y ^ (y >> 33)
    }

    #[test]
    fn zero_iterations_return_the_input() {
        for x in [0, 1, 42, u64::MAX] {
            assert_eq!(spin(0, x), x);
        }
    }

    #[test]
    fn one_iteration_from_zero_matches_the_definition() {
        // 0 * a + c = c; then c ^ (c >> 33).
        let c: u64 = 1442695040888963407;
        assert_eq!(spin(1, 0), c ^ (c >> 33));
        assert_eq!(spin(1, 0), step_by_hand(0));
    }

    #[test]
    fn several_iterations_chain_the_step() {
        for x in [0, 1, 7, u64::MAX] {
            assert_eq!(spin(2, x), step_by_hand(step_by_hand(x)));
            let mut by_hand = x;
            for _ in 0..1_000 {
                by_hand = step_by_hand(by_hand);
            }
            assert_eq!(spin(1_000, x), by_hand);
        }
    }

    #[test]
    fn spin_composes() {
        assert_eq!(spin(5_000, 9), spin(3_000, spin(2_000, 9)));
    }
}
