//! One benchmark run: calibrate, time the workload, read the peak RSS and
//! check the checksum against the sequential reference.

use std::fmt;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::baton::run_baton_reported;
use crate::checksum::format_checksum;
use crate::error::BenchError;
use crate::report::{Measurement, RunReport};
use crate::rss::peak_rss_mb;
use crate::sequential::run_sequential;
use crate::spin::measure_t_iter_ns;
use crate::stages::FetchLatency;
use crate::workload::Workload;

/// Which implementation runs a workload.
///
/// Baton comes in three settings of its replicas: the hand-set ones
/// (`baton`, what [`crate::baton`] gives each workload), every knob on
/// auto (`baton-auto`, the tuner of [`baton_engine::Mode::auto`]), and one
/// count for the workload's tuned stages (`baton-replicas-N`, what a sweep
/// tries).
///
/// # Examples
///
/// ```
/// use baton_bench::run::Implementation;
///
/// assert_eq!(Implementation::Sequential.to_string(), "sequential");
/// assert_eq!(serde_json::to_string(&Implementation::Baton).unwrap(), "\"baton\"");
/// assert_eq!(Implementation::BatonReplicas(16).to_string(), "baton-replicas-16");
/// assert_eq!("baton-auto".parse::<Implementation>(), Ok(Implementation::BatonAuto));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Implementation {
    /// A baton pipeline with the hand-set replicas ([`crate::baton`]).
    Baton,
    /// A baton pipeline whose parallel stages are all on auto.
    BatonAuto,
    /// A baton pipeline whose tuned stages (see [`crate::baton`]) have
    /// this many replicas.
    BatonReplicas(usize),
    /// One thread, every stage of one item before the next
    /// ([`crate::sequential`]).
    Sequential,
}

impl Implementation {
    /// The implementation's name as reports and the command line spell it.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_bench::run::Implementation;
    ///
    /// assert_eq!(Implementation::Baton.name(), "baton");
    /// ```
    pub fn name(self) -> String {
        match self {
            Implementation::Baton => "baton".into(),
            Implementation::BatonAuto => "baton-auto".into(),
            Implementation::BatonReplicas(n) => format!("baton-replicas-{n}"),
            Implementation::Sequential => "sequential".into(),
        }
    }

    /// Whether baton runs it (any setting).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_bench::run::Implementation;
    ///
    /// assert!(Implementation::BatonAuto.is_baton());
    /// assert!(!Implementation::Sequential.is_baton());
    /// ```
    pub fn is_baton(self) -> bool {
        self != Implementation::Sequential
    }
}

impl fmt::Display for Implementation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl std::str::FromStr for Implementation {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "baton" => Ok(Implementation::Baton),
            "baton-auto" => Ok(Implementation::BatonAuto),
            "sequential" => Ok(Implementation::Sequential),
            _ => name
                .strip_prefix("baton-replicas-")
                .and_then(|n| n.parse().ok())
                .filter(|&n| n > 0)
                .map(Implementation::BatonReplicas)
                .ok_or_else(|| {
                    format!(
                        "unknown implementation `{name}`: expected baton, baton-auto, \
                         baton-replicas-N or sequential"
                    )
                }),
        }
    }
}

impl From<Implementation> for String {
    fn from(implementation: Implementation) -> String {
        implementation.name()
    }
}

impl TryFrom<String> for Implementation {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        name.parse()
    }
}

/// What to run: one workload on one implementation.
///
/// # Examples
///
/// ```
/// use baton_bench::run::{Implementation, RunSpec};
/// use baton_bench::workload::Workload;
///
/// let spec = RunSpec {
///     workload: Workload::W2,
///     implementation: Implementation::Baton,
///     items: Workload::W2.default_items(),
///     cores: 2,
/// };
/// assert_eq!(spec.items, 200_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSpec {
    /// The workload.
    pub workload: Workload,
    /// The implementation.
    pub implementation: Implementation,
    /// Number of items the source emits.
    pub items: u64,
    /// Cores the run may use: baton's worker threads and parallel replicas.
    pub cores: usize,
}

/// Runs `spec` once in this process and reports it.
///
/// The steps, in order: measure `t_iter`; time the workload; read the
/// process's peak RSS (so it must be a fresh process for the figure to be
/// this run's alone); then check the checksum. For baton, the sequential
/// reference is computed after the peak RSS is read, without W4's sleeps;
/// the sequential implementation is its own reference, since its values
/// are computed by the same code.
///
/// # Errors
///
/// Fails if the engine fails, the peak RSS cannot be read, or the checksum
/// differs from the sequential reference.
///
/// # Examples
///
/// ```
/// use baton_bench::run::{run_once, Implementation, RunSpec};
/// use baton_bench::workload::Workload;
///
/// let spec = RunSpec {
///     workload: Workload::W1,
///     implementation: Implementation::Baton,
///     items: 1_000,
///     cores: 2,
/// };
/// let report = run_once(spec).unwrap();
/// assert_eq!(report.n, 1_000);
/// assert!(report.t_iter_ns > 0.0);
/// ```
pub fn run_once(spec: RunSpec) -> Result<RunReport, BenchError> {
    run_once_reported(spec).map(|(report, _engine)| report)
}

/// As [`run_once`], with the engine's own report of a baton run (`None`
/// for the sequential implementation): its per-stage stats are what
/// [`baton_engine::StatsSnapshot::what_if`] predicts from.
///
/// # Errors
///
/// As [`run_once`].
///
/// # Examples
///
/// ```
/// use baton_bench::run::{run_once_reported, Implementation, RunSpec};
/// use baton_bench::workload::Workload;
///
/// let spec = RunSpec { workload: Workload::W2, implementation: Implementation::Baton, items: 200, cores: 2 };
/// let (report, engine) = run_once_reported(spec).unwrap();
/// assert_eq!(report.n, 200);
/// assert!(engine.unwrap().stats.source.items == 200);
/// ```
pub fn run_once_reported(
    spec: RunSpec,
) -> Result<(RunReport, Option<baton_engine::RunReport>), BenchError> {
    let RunSpec {
        workload,
        implementation,
        items,
        cores,
    } = spec;
    let t_iter_ns = measure_t_iter_ns();

    let start = Instant::now();
    let (checksum, engine) = match implementation {
        Implementation::Sequential => (run_sequential(workload, items, FetchLatency::Sleep), None),
        baton => run_baton_reported(workload, items, cores, baton)
            .map(|(checksum, report)| (checksum, Some(report)))
            .map_err(|source| BenchError::Pipeline { workload, source })?,
    };
    let seconds = start.elapsed().as_secs_f64();

    let peak_rss_mb = peak_rss_mb().map_err(|source| BenchError::PeakRss {
        workload,
        implementation,
        source,
    })?;

    let expected = match implementation {
        Implementation::Sequential => checksum,
        _ => run_sequential(workload, items, FetchLatency::Skip),
    };
    if checksum != expected {
        return Err(BenchError::ChecksumMismatch {
            workload,
            implementation,
            actual: format_checksum(checksum),
            expected: format_checksum(expected),
        });
    }

    Ok((
        RunReport::from_measurement(&Measurement {
            workload,
            implementation,
            items,
            cores,
            t_iter_ns,
            seconds,
            peak_rss_mb,
            checksum,
        }),
        engine,
    ))
}
