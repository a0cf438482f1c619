//! The workloads built as baton pipelines.
//!
//! Each pipeline has baton's serial source (items in source order), the
//! workload's stages with the modes WORKLOADS.md gives them, and a serial
//! in-order fold as the sink. The stage functions are the ones the
//! sequential baseline calls.
//!
//! A workload's tuned stages are the ones whose replicas matter: the
//! blocking stage of W4 ("fetch") and of W7 ("work"), every parallel stage
//! of the others. [`Implementation::BatonReplicas`] sets their replicas;
//! [`Implementation::BatonAuto`] puts every parallel stage on auto.

use baton_engine::{Config, Mode, Pipeline, PipelineError, RunReport};

use crate::checksum::{fold_checksum, INITIAL_CHECKSUM};
use crate::run::Implementation;
use crate::spin::spin;
use crate::stages::{self, FetchLatency};
use crate::workload::Workload;

/// Runs `workload` over items `0..items` on baton with `threads` worker
/// threads and the replicas `setting` gives (any but
/// [`Implementation::Sequential`], which runs as [`Implementation::Baton`]:
/// `threads` replicas per CPU stage, the hand-set count for a blocking
/// one), returning the sink's checksum.
///
/// # Errors
///
/// Returns the engine's error when the pipeline fails.
///
/// # Examples
///
/// ```
/// use baton_bench::baton::run_baton;
/// use baton_bench::run::Implementation;
/// use baton_bench::sequential::run_sequential;
/// use baton_bench::stages::FetchLatency;
/// use baton_bench::workload::Workload;
///
/// let checksum = run_baton(Workload::W1, 1_000, 2, Implementation::Baton).unwrap();
/// assert_eq!(checksum, run_sequential(Workload::W1, 1_000, FetchLatency::Skip));
/// let auto = run_baton(Workload::W4, 50, 2, Implementation::BatonAuto).unwrap();
/// assert_eq!(auto, run_sequential(Workload::W4, 50, FetchLatency::Skip));
/// ```
pub fn run_baton(
    workload: Workload,
    items: u64,
    threads: usize,
    setting: Implementation,
) -> Result<u64, PipelineError> {
    run_baton_reported(workload, items, threads, setting).map(|(checksum, _report)| checksum)
}

/// As [`run_baton`], with the engine's report of the run beside the
/// checksum (per-stage stats, for what-if predictions).
///
/// # Errors
///
/// Returns the engine's error when the pipeline fails.
///
/// # Examples
///
/// ```
/// use baton_bench::baton::run_baton_reported;
/// use baton_bench::run::Implementation;
/// use baton_bench::workload::Workload;
///
/// let (_, report) = run_baton_reported(Workload::W2, 200, 2, Implementation::Baton).unwrap();
/// assert_eq!(report.stats.stages.len(), 4); // three spin stages and the sink
/// ```
pub fn run_baton_reported(
    workload: Workload,
    items: u64,
    threads: usize,
    setting: Implementation,
) -> Result<(u64, RunReport), PipelineError> {
    let config = Config::default().threads(threads);
    // W4's and W7's tuned stage is their blocking one; their CPU stages
    // keep one replica per thread but on auto.
    let has_blocking = matches!(workload, Workload::W4 | Workload::W7);
    let parallel = || match setting {
        Implementation::BatonAuto => Mode::auto(),
        Implementation::BatonReplicas(n) if !has_blocking => Mode::parallel(n),
        _ => Mode::parallel(threads),
    };
    // A blocking stage, whose hand-set replicas are `hand`.
    let blocking = |hand: usize| match setting {
        Implementation::BatonAuto => Mode::auto().blocking(),
        Implementation::BatonReplicas(n) => Mode::parallel(n).blocking(),
        Implementation::Baton | Implementation::Sequential => Mode::parallel(hand).blocking(),
    };
    match workload {
        Workload::W1 => Pipeline::from_iter(0..items)
            .config(config)
            .map(parallel(), stages::w1_increment)
            .map(parallel(), stages::w1_double)
            .fold_with_report(INITIAL_CHECKSUM, fold_checksum),
        Workload::W2 => Pipeline::from_iter(0..items)
            .config(config)
            .map(parallel(), |v: u64| spin(stages::W2_SPIN_PER_STAGE, v))
            .map(parallel(), |v: u64| spin(stages::W2_SPIN_PER_STAGE, v))
            .map(parallel(), |v: u64| spin(stages::W2_SPIN_PER_STAGE, v))
            .fold_with_report(INITIAL_CHECKSUM, fold_checksum),
        Workload::W3 => Pipeline::from_iter(0..items)
            .config(config)
            .map(Mode::serial_in_order(), |v: u64| {
                spin(stages::W3_SERIAL_SPIN, v)
            })
            .map(parallel(), |v: u64| spin(stages::W3_PARALLEL_SPIN, v))
            .fold_with_report(INITIAL_CHECKSUM, fold_checksum),
        Workload::W4 => Pipeline::from_iter(0..items)
            .config(config)
            .map(blocking(stages::W4_FETCHES_IN_FLIGHT), |v: u64| {
                stages::w4_fetch(v, FetchLatency::Sleep)
            })
            .map(parallel(), |v: u64| spin(stages::W4_COMPUTE_SPIN, v))
            .fold_with_report(INITIAL_CHECKSUM, fold_checksum),
        Workload::W5 => Pipeline::from_iter((0..items).map(stages::w5_buffer))
            .config(config)
            .map(parallel(), |buffer: Vec<u8>| stages::w5_sum_bytes(&buffer))
            .fold_with_report(INITIAL_CHECKSUM, fold_checksum),
        Workload::W6 => Pipeline::from_iter(0..items)
            .config(config)
            .map(parallel(), stages::w6_spin)
            .fold_with_report(INITIAL_CHECKSUM, fold_checksum),
        Workload::W7 => Pipeline::from_iter(0..items)
            .config(config)
            .map(blocking(stages::W7_WORK_IN_FLIGHT), move |v: u64| {
                stages::w7_work(v, items, FetchLatency::Sleep)
            })
            .map(parallel(), |v: u64| spin(stages::W7_AFTER_SPIN, v))
            .fold_with_report(INITIAL_CHECKSUM, fold_checksum),
    }
}

/// The tuned stages of a run of `workload` (see the module's doc) as they
/// appear in its report: the blocking stage of W4 and W7, every parallel
/// stage of the others.
///
/// # Examples
///
/// ```
/// use baton_bench::baton::{run_baton_reported, tuned_stages};
/// use baton_bench::run::Implementation;
/// use baton_bench::workload::Workload;
///
/// let (_, report) = run_baton_reported(Workload::W4, 20, 2, Implementation::Baton).unwrap();
/// assert_eq!(tuned_stages(Workload::W4, &report).len(), 1);
/// ```
pub fn tuned_stages(workload: Workload, report: &RunReport) -> Vec<String> {
    let has_blocking = matches!(workload, Workload::W4 | Workload::W7);
    report
        .stats
        .stages
        .iter()
        .filter(|stage| stage.mode.kind() == baton_engine::ModeKind::Parallel)
        .filter(|stage| !has_blocking || stage.mode.is_blocking())
        .map(|stage| stage.name.clone())
        .collect()
}
