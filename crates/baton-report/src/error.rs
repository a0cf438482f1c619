//! What can go wrong when a report is saved or loaded.

use std::io;
use std::path::PathBuf;

/// An error saving or loading a [`TraceFile`](crate::TraceFile).
///
/// Every variant names the file; a file that is not a trace also gives the
/// line and column where reading stopped.
///
/// # Examples
///
/// ```
/// use baton_report::{ReportError, TraceFile};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("broken.trace.json");
/// std::fs::write(&path, "{\"traceEvents\": [").unwrap();
/// let err = TraceFile::read(&path).unwrap_err();
/// assert!(matches!(err, ReportError::Parse { .. }));
/// assert!(err.to_string().contains("broken.trace.json"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file could not be created or written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file was read but is not a baton trace file.
    #[error("{}:{line}:{column}: not a baton trace file: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line (from 1) where reading stopped.
        line: usize,
        /// The column (from 1) where reading stopped.
        column: usize,
        /// What serde found wrong.
        #[source]
        source: serde_json::Error,
    },
}
