//! Why a benchmark run can fail.

use std::io;

use baton_engine::PipelineError;

use crate::run::Implementation;
use crate::workload::Workload;

/// A benchmark run that did not produce a trustworthy result.
///
/// # Examples
///
/// ```
/// use baton_bench::error::BenchError;
/// use baton_bench::run::Implementation;
/// use baton_bench::workload::Workload;
///
/// let error = BenchError::ChecksumMismatch {
///     workload: Workload::W2,
///     implementation: Implementation::Baton,
///     actual: "0x01".into(),
///     expected: "0x02".into(),
/// };
/// assert_eq!(
///     error.to_string(),
///     "W2 baton: checksum 0x01 differs from the sequential reference 0x02"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The sink's checksum differs from the sequential reference: an item
    /// was lost, duplicated, reordered or computed wrongly.
    #[error(
        "{workload} {implementation}: checksum {actual} differs from the sequential reference {expected}"
    )]
    ChecksumMismatch {
        /// The workload that ran.
        workload: Workload,
        /// The implementation that produced the wrong checksum.
        implementation: Implementation,
        /// The checksum the run produced, formatted as reports show it.
        actual: String,
        /// The checksum of the sequential reference, formatted likewise.
        expected: String,
    },
    /// The baton engine returned an error instead of a checksum.
    #[error("{workload} baton: the pipeline failed")]
    Pipeline {
        /// The workload that ran.
        workload: Workload,
        /// The engine's error.
        #[source]
        source: PipelineError,
    },
    /// The run's peak RSS could not be read.
    #[error("{workload} {implementation}: cannot read the peak RSS")]
    PeakRss {
        /// The workload that ran.
        workload: Workload,
        /// The implementation that ran.
        implementation: Implementation,
        /// Why `/proc/self/status` could not be read.
        #[source]
        source: io::Error,
    },
}
