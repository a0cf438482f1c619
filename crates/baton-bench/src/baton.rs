//! The workloads built as baton pipelines.
//!
//! Each pipeline has baton's serial source (items in source order), the
//! workload's stages with the modes WORKLOADS.md gives them, and a serial
//! in-order fold as the sink. The stage functions are the ones the
//! sequential baseline calls.

use baton_engine::{Config, Mode, Pipeline, PipelineError};

use crate::checksum::{fold_checksum, INITIAL_CHECKSUM};
use crate::spin::spin;
use crate::stages::{self, FetchLatency};
use crate::workload::Workload;

/// Runs `workload` over items `0..items` on baton with `threads` worker
/// threads (and `threads` replicas per parallel stage), returning the sink's
/// checksum.
///
/// # Errors
///
/// Returns the engine's error when the pipeline fails.
///
/// # Examples
///
/// ```
/// use baton_bench::baton::run_baton;
/// use baton_bench::sequential::run_sequential;
/// use baton_bench::stages::FetchLatency;
/// use baton_bench::workload::Workload;
///
/// let checksum = run_baton(Workload::W1, 1_000, 2).unwrap();
/// assert_eq!(checksum, run_sequential(Workload::W1, 1_000, FetchLatency::Skip));
/// ```
pub fn run_baton(workload: Workload, items: u64, threads: usize) -> Result<u64, PipelineError> {
    let config = Config::default().threads(threads);
    let parallel = || Mode::parallel(threads);
    match workload {
        Workload::W1 => Pipeline::from_iter(0..items)
            .config(config)
            .map(parallel(), stages::w1_increment)
            .map(parallel(), stages::w1_double)
            .fold(INITIAL_CHECKSUM, fold_checksum),
        Workload::W2 => Pipeline::from_iter(0..items)
            .config(config)
            .map(parallel(), |v: u64| spin(stages::W2_SPIN_PER_STAGE, v))
            .map(parallel(), |v: u64| spin(stages::W2_SPIN_PER_STAGE, v))
            .map(parallel(), |v: u64| spin(stages::W2_SPIN_PER_STAGE, v))
            .fold(INITIAL_CHECKSUM, fold_checksum),
        Workload::W3 => Pipeline::from_iter(0..items)
            .config(config)
            .map(Mode::serial_in_order(), |v: u64| {
                spin(stages::W3_SERIAL_SPIN, v)
            })
            .map(parallel(), |v: u64| spin(stages::W3_PARALLEL_SPIN, v))
            .fold(INITIAL_CHECKSUM, fold_checksum),
        Workload::W4 => Pipeline::from_iter(0..items)
            .config(config)
            .map(
                Mode::parallel(stages::W4_FETCHES_IN_FLIGHT).blocking(),
                |v: u64| stages::w4_fetch(v, FetchLatency::Sleep),
            )
            .map(parallel(), |v: u64| spin(stages::W4_COMPUTE_SPIN, v))
            .fold(INITIAL_CHECKSUM, fold_checksum),
        Workload::W5 => Pipeline::from_iter((0..items).map(stages::w5_buffer))
            .config(config)
            .map(parallel(), |buffer: Vec<u8>| stages::w5_sum_bytes(&buffer))
            .fold(INITIAL_CHECKSUM, fold_checksum),
        Workload::W6 => Pipeline::from_iter(0..items)
            .config(config)
            .map(parallel(), stages::w6_spin)
            .fold(INITIAL_CHECKSUM, fold_checksum),
        Workload::W7 => Pipeline::from_iter(0..items)
            .config(config)
            .map(
                Mode::parallel(stages::W7_WORK_IN_FLIGHT).blocking(),
                move |v: u64| stages::w7_work(v, items, FetchLatency::Sleep),
            )
            .map(parallel(), |v: u64| spin(stages::W7_AFTER_SPIN, v))
            .fold(INITIAL_CHECKSUM, fold_checksum),
    }
}
