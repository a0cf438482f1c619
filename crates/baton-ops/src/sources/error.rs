//! What goes wrong reading a source: every error names the file (or
//! `stdin`) and, past opening it, the line.

use std::io;

/// A bad item of a source; the engine numbers it and applies the
/// source's error policy.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceError {
    /// The file could not be opened or read as a whole.
    #[error("{path}: {error}")]
    File {
        /// The file.
        path: String,
        /// Why.
        error: io::Error,
    },
    /// Reading failed at a line (a truncated or corrupt compressed file).
    #[error("{path}:{line}: cannot read: {error}")]
    Read {
        /// The file.
        path: String,
        /// The line (1-based) being read.
        line: u64,
        /// Why.
        error: io::Error,
    },
    /// A line was read but is not what the source expects.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The line (1-based).
        line: u64,
        /// What is wrong with it.
        message: String,
    },
    /// A file that is not in the source's format, or is damaged (a
    /// Parquet or Arrow file cut short).
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong, in the format reader's words.
        message: String,
    },
    /// A binary file that goes wrong at a byte (of its decompressed data).
    #[error("{path}: byte {offset}: {message}")]
    At {
        /// The file.
        path: String,
        /// The byte, from 0.
        offset: u64,
        /// What is wrong there.
        message: String,
    },
    /// A column asked for that the file does not have.
    #[error("{path}: no column `{column}` (its columns: {columns})")]
    UnknownColumn {
        /// The file.
        path: String,
        /// The column asked for.
        column: String,
        /// The file's columns, comma-separated.
        columns: String,
    },
}
