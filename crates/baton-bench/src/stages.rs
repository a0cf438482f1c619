//! The stage functions and costs of each workload, shared by the baton and
//! the sequential implementations so that both do identical work.
//!
//! Costs are in [`spin`] iterations, as WORKLOADS.md gives them.

use std::thread;
use std::time::Duration;

use crate::spin::spin;

/// W2: iterations spun by each of its three parallel stages.
///
/// # Examples
///
/// ```
/// use baton_bench::stages::W2_SPIN_PER_STAGE;
/// use baton_bench::workload::Workload;
///
/// // Three stages per item: one core runs 1 / (3 · 2,000 · t_iter) items/s.
/// let ideal = Workload::W2.ideal_items_per_s(1, 1.0).unwrap();
/// assert!((ideal - 1e9 / (3 * W2_SPIN_PER_STAGE) as f64).abs() < 1e-6);
/// ```
pub const W2_SPIN_PER_STAGE: u64 = 2_000;

/// W3: iterations spun by its serial in-order stage (the bottleneck).
///
/// # Examples
///
/// ```
/// use baton_bench::stages::W3_SERIAL_SPIN;
/// use baton_bench::workload::Workload;
///
/// // From two cores on, the serial stage bounds the throughput.
/// let ideal = Workload::W3.ideal_items_per_s(2, 1.0).unwrap();
/// assert!((ideal - 1e9 / W3_SERIAL_SPIN as f64).abs() < 1e-6);
/// ```
pub const W3_SERIAL_SPIN: u64 = 5_000;
/// W3: iterations spun by its parallel stage.
///
/// # Examples
///
/// ```
/// use baton_bench::stages::{W3_PARALLEL_SPIN, W3_SERIAL_SPIN};
/// use baton_bench::workload::Workload;
///
/// // On one core, both stages take their turn.
/// let ideal = Workload::W3.ideal_items_per_s(1, 1.0).unwrap();
/// assert!((ideal - 1e9 / (W3_SERIAL_SPIN + W3_PARALLEL_SPIN) as f64).abs() < 1e-6);
/// ```
pub const W3_PARALLEL_SPIN: u64 = 3_000;

/// W4: how long one fetch blocks before its item can be computed on.
///
/// # Examples
///
/// ```
/// use baton_bench::stages::W4_FETCH_LATENCY;
///
/// assert_eq!(W4_FETCH_LATENCY.as_millis(), 1);
/// ```
pub const W4_FETCH_LATENCY: Duration = Duration::from_millis(1);
/// W4: iterations spun by the fetch stage once its sleep is over.
///
/// # Examples
///
/// ```
/// use baton_bench::spin::spin;
/// use baton_bench::stages::{w4_fetch, FetchLatency, W4_FETCH_SPIN};
///
/// assert_eq!(w4_fetch(7, FetchLatency::Skip), spin(W4_FETCH_SPIN, 7));
/// ```
pub const W4_FETCH_SPIN: u64 = 500;
/// W4: iterations spun by the compute stage after the fetch.
///
/// # Examples
///
/// ```
/// use baton_bench::stages::{W4_COMPUTE_SPIN, W4_FETCH_SPIN};
///
/// // The CPU work per item that W4's ideal throughput is based on.
/// assert_eq!(W4_FETCH_SPIN + W4_COMPUTE_SPIN, 50_500);
/// ```
pub const W4_COMPUTE_SPIN: u64 = 50_000;
/// W4: replicas of the blocking fetch stage, i.e. fetches kept in flight.
///
/// # Examples
///
/// ```
/// use baton_bench::stages::{W4_FETCHES_IN_FLIGHT, W4_FETCH_LATENCY};
///
/// // Enough fetches in flight to feed 64,000 items/s despite the latency.
/// let fetches_per_s = W4_FETCHES_IN_FLIGHT as f64 / W4_FETCH_LATENCY.as_secs_f64();
/// assert_eq!(fetches_per_s, 64_000.0);
/// ```
pub const W4_FETCHES_IN_FLIGHT: usize = 64;

/// W5: bytes in the buffer the source emits per item (1 MiB).
///
/// # Examples
///
/// ```
/// use baton_bench::stages::{w5_buffer, W5_BUFFER_LEN};
///
/// assert_eq!(w5_buffer(0).len(), W5_BUFFER_LEN);
/// ```
pub const W5_BUFFER_LEN: usize = 1 << 20;
/// W5: byte `j` of item `i`'s buffer is `(i + j) % W5_BYTE_PERIOD`.
///
/// # Examples
///
/// ```
/// use baton_bench::stages::{w5_buffer, W5_BYTE_PERIOD};
///
/// let buffer = w5_buffer(0);
/// assert_eq!(buffer[W5_BYTE_PERIOD as usize - 1], 250);
/// assert_eq!(buffer[W5_BYTE_PERIOD as usize], 0);
/// ```
pub const W5_BYTE_PERIOD: u64 = 251;

/// W6: iterations spun by an ordinary item.
///
/// # Examples
///
/// ```
/// use baton_bench::spin::spin;
/// use baton_bench::stages::{w6_spin, W6_SPIN};
///
/// assert_eq!(w6_spin(1), spin(W6_SPIN, 1));
/// ```
pub const W6_SPIN: u64 = 2_000;
/// W6: iterations spun by a straggler.
///
/// # Examples
///
/// ```
/// use baton_bench::spin::spin;
/// use baton_bench::stages::{w6_spin, W6_STRAGGLER_SPIN};
///
/// assert_eq!(w6_spin(0), spin(W6_STRAGGLER_SPIN, 0));
/// ```
pub const W6_STRAGGLER_SPIN: u64 = 100_000;
/// W6: every item whose source index is a multiple of this is a straggler.
///
/// # Examples
///
/// ```
/// use baton_bench::stages::{W6_SPIN, W6_STRAGGLER_EVERY, W6_STRAGGLER_SPIN};
///
/// // The mean cost per item that W6's ideal throughput is based on.
/// let per_period = (W6_STRAGGLER_EVERY - 1) * W6_SPIN + W6_STRAGGLER_SPIN;
/// assert_eq!(per_period / W6_STRAGGLER_EVERY, 2_980);
/// ```
pub const W6_STRAGGLER_EVERY: u64 = 100;

/// W1's first stage: `v + 1`, wrapping.
///
/// # Examples
///
/// ```
/// use baton_bench::stages::w1_increment;
///
/// assert_eq!(w1_increment(41), 42);
/// assert_eq!(w1_increment(u64::MAX), 0);
/// ```
#[inline]
pub fn w1_increment(value: u64) -> u64 {
    value.wrapping_add(1)
}

/// W1's second stage: `v * 2`, wrapping.
///
/// # Examples
///
/// ```
/// use baton_bench::stages::w1_double;
///
/// assert_eq!(w1_double(21), 42);
/// assert_eq!(w1_double(1 << 63), 0);
/// ```
#[inline]
pub fn w1_double(value: u64) -> u64 {
    value.wrapping_mul(2)
}

/// Whether W4's fetch stage really blocks for [`W4_FETCH_LATENCY`].
///
/// The sleep changes no value, so the reference checksum is computed with
/// [`FetchLatency::Skip`] while timed runs use [`FetchLatency::Sleep`].
///
/// # Examples
///
/// ```
/// use baton_bench::stages::{w4_fetch, FetchLatency};
///
/// // The sleep costs time but does not change the value.
/// assert_eq!(w4_fetch(3, FetchLatency::Sleep), w4_fetch(3, FetchLatency::Skip));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchLatency {
    /// Block the calling thread for the whole latency, as a real fetch would.
    Sleep,
    /// Return at once; used only where values matter and time does not.
    Skip,
}

/// W4's fetch stage: waits out the fetch latency (without using the CPU)
/// and then spins [`W4_FETCH_SPIN`] on the value.
///
/// # Examples
///
/// ```
/// use std::time::Instant;
///
/// use baton_bench::stages::{w4_fetch, FetchLatency, W4_FETCH_LATENCY};
///
/// let start = Instant::now();
/// w4_fetch(5, FetchLatency::Sleep);
/// assert!(start.elapsed() >= W4_FETCH_LATENCY);
/// ```
pub fn w4_fetch(value: u64, latency: FetchLatency) -> u64 {
    if latency == FetchLatency::Sleep {
        thread::sleep(W4_FETCH_LATENCY);
    }
    spin(W4_FETCH_SPIN, value)
}

/// W5's source: item `index`'s 1 MiB buffer, whose byte `j` is
/// `(index + j) % 251`.
///
/// # Examples
///
/// ```
/// use baton_bench::stages::w5_buffer;
///
/// let buffer = w5_buffer(250);
/// assert_eq!(buffer.len(), 1 << 20);
/// assert_eq!(&buffer[..3], &[250, 0, 1]);
/// ```
pub fn w5_buffer(index: u64) -> Vec<u8> {
    // Byte by byte, as the workload spec writes it and as the peers do, so
    // that W5's throughput compares across systems (a copied period would
    // make baton's serial source several times cheaper than theirs).
    (0..W5_BUFFER_LEN as u64)
        .map(|j| ((index + j) % W5_BYTE_PERIOD) as u8)
        .collect()
}

/// W5's parallel stage: the sum of the buffer's bytes, modulo 2^64.
///
/// # Examples
///
/// ```
/// use baton_bench::stages::w5_sum_bytes;
///
/// assert_eq!(w5_sum_bytes(&[255, 1, 2]), 258);
/// assert_eq!(w5_sum_bytes(&[]), 0);
/// ```
#[inline]
pub fn w5_sum_bytes(buffer: &[u8]) -> u64 {
    buffer
        .iter()
        .fold(0u64, |sum, &byte| sum.wrapping_add(u64::from(byte)))
}

/// W6's parallel stage: spins [`W6_STRAGGLER_SPIN`] on stragglers (items
/// whose source index is a multiple of [`W6_STRAGGLER_EVERY`]) and
/// [`W6_SPIN`] on every other item.
///
/// W6's source emits the index itself as the value, so the value passed in
/// is also the straggler test's index.
///
/// # Examples
///
/// ```
/// use baton_bench::spin::spin;
/// use baton_bench::stages::w6_spin;
///
/// assert_eq!(w6_spin(99), spin(2_000, 99));
/// assert_eq!(w6_spin(200), spin(100_000, 200));
/// ```
#[inline]
pub fn w6_spin(index_and_value: u64) -> u64 {
    if index_and_value % W6_STRAGGLER_EVERY == 0 {
        spin(W6_STRAGGLER_SPIN, index_and_value)
    } else {
        spin(W6_SPIN, index_and_value)
    }
}

/// W7: iterations spun by its "work" stage on an item of the first half
/// (the CPU-bound phase).
///
/// # Examples
///
/// ```
/// use baton_bench::stages::{W7_AFTER_SPIN, W7_CPU_SPIN, W7_LATENCY_SPIN};
/// use baton_bench::workload::Workload;
///
/// // Half the items cost 4,000 + 2,000, half 200 + 2,000: 4,100 on average.
/// let mean = (W7_CPU_SPIN + W7_AFTER_SPIN + W7_LATENCY_SPIN + W7_AFTER_SPIN) / 2;
/// let ideal = Workload::W7.ideal_items_per_s(1, 1.0).unwrap();
/// assert!((ideal - 1e9 / mean as f64).abs() < 1e-6);
/// ```
pub const W7_CPU_SPIN: u64 = 4_000;
/// W7: how long its "work" stage blocks on an item of the second half (the
/// latency-bound phase), before it spins [`W7_LATENCY_SPIN`].
///
/// # Examples
///
/// ```
/// use baton_bench::stages::W7_LATENCY;
///
/// assert_eq!(W7_LATENCY.as_micros(), 200);
/// ```
pub const W7_LATENCY: Duration = Duration::from_micros(200);
/// W7: iterations spun by its "work" stage after the sleep, in the second
/// half.
///
/// # Examples
///
/// ```
/// use baton_bench::stages::{W7_CPU_SPIN, W7_LATENCY_SPIN};
///
/// assert!(W7_LATENCY_SPIN < W7_CPU_SPIN / 10);
/// ```
pub const W7_LATENCY_SPIN: u64 = 200;
/// W7: iterations spun by the parallel stage after "work".
///
/// # Examples
///
/// ```
/// use baton_bench::stages::W7_AFTER_SPIN;
///
/// assert_eq!(W7_AFTER_SPIN, 2_000);
/// ```
pub const W7_AFTER_SPIN: u64 = 2_000;
/// W7: replicas of its "work" stage as baton-bench sets it by hand (a
/// blocking stage, so that its sleeps hold no CPU worker): enough to hide
/// the second half's latency, at the price of oversubscribing the cores in
/// the first half. Choosing this well as the run goes is what autotuning
/// is for (issue 11).
///
/// # Examples
///
/// ```
/// use baton_bench::stages::{W7_LATENCY, W7_WORK_IN_FLIGHT};
///
/// // Enough sleeps in flight for 320,000 items/s.
/// let per_s = W7_WORK_IN_FLIGHT as f64 / W7_LATENCY.as_secs_f64();
/// assert_eq!(per_s, 320_000.0);
/// ```
pub const W7_WORK_IN_FLIGHT: usize = 64;

/// W7's "work" stage: items of the first half of `0..items` spin
/// [`W7_CPU_SPIN`]; items of the second half sleep [`W7_LATENCY`] (when
/// `latency` says so) and then spin [`W7_LATENCY_SPIN`].
///
/// W7's source emits the index itself as the value, so the value passed in
/// is also the phase test's index.
///
/// # Examples
///
/// ```
/// use baton_bench::spin::spin;
/// use baton_bench::stages::{w7_work, FetchLatency};
///
/// assert_eq!(w7_work(4, 10, FetchLatency::Skip), spin(4_000, 4));
/// assert_eq!(w7_work(5, 10, FetchLatency::Skip), spin(200, 5));
/// ```
pub fn w7_work(index_and_value: u64, items: u64, latency: FetchLatency) -> u64 {
    if index_and_value < items / 2 {
        return spin(W7_CPU_SPIN, index_and_value);
    }
    if latency == FetchLatency::Sleep {
        thread::sleep(W7_LATENCY);
    }
    spin(W7_LATENCY_SPIN, index_and_value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w5_buffer_follows_the_byte_pattern() {
        for index in [0u64, 1, 250, 251, 252, 12_345, u64::from(u32::MAX)] {
            let buffer = w5_buffer(index);
            assert_eq!(buffer.len(), 1 << 20, "buffer {index}");
            for (j, &byte) in buffer.iter().enumerate() {
                let expected = (index + j as u64) % 251;
                assert_eq!(u64::from(byte), expected, "buffer {index}, byte {j}");
            }
        }
    }

    #[test]
    fn w5_sum_matches_a_plain_sum() {
        let buffer = w5_buffer(3);
        let plain: u64 = buffer.iter().map(|&byte| byte as u64).sum();
        assert_eq!(w5_sum_bytes(&buffer), plain);
        assert_eq!(w5_sum_bytes(&[255, 1, 2]), 258);
        assert_eq!(w5_sum_bytes(&[]), 0);
    }

    #[test]
    fn w6_spins_long_only_on_every_hundredth_index() {
        assert_eq!(w6_spin(0), spin(100_000, 0));
        assert_eq!(w6_spin(1), spin(2_000, 1));
        assert_eq!(w6_spin(99), spin(2_000, 99));
        assert_eq!(w6_spin(200), spin(100_000, 200));
    }

    #[test]
    fn w4_fetch_value_does_not_depend_on_the_sleep() {
        assert_eq!(
            w4_fetch(5, FetchLatency::Sleep),
            w4_fetch(5, FetchLatency::Skip)
        );
        assert_eq!(w4_fetch(5, FetchLatency::Skip), spin(500, 5));
    }

    #[test]
    fn w1_stages_wrap() {
        assert_eq!(w1_increment(u64::MAX), 0);
        assert_eq!(w1_double(1 << 63), 0);
        assert_eq!(w1_double(w1_increment(4)), 10);
    }
}
