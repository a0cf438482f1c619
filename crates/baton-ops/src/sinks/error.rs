//! What goes wrong in a sink, naming the file or the item's field at fault.

use std::io;

/// A failed write.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SinkError {
    /// A file (or stdout) could not be written.
    #[error("{path}: {error}")]
    File {
        /// The file, or `stdout`.
        path: String,
        /// Why.
        error: io::Error,
    },
    /// A field the sink needs is not there.
    #[error("no field `{field}`")]
    MissingField {
        /// The field.
        field: String,
    },
    /// The field naming an item's file does not name one inside the folder.
    #[error("field `{field}`: {name} {why}")]
    BadName {
        /// The field.
        field: String,
        /// Its value, as JSON.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The item's payload cannot be written as it is.
    #[error("a `{found}` payload cannot be written to a file: encode it to bytes first")]
    Payload {
        /// The payload's kind.
        found: &'static str,
    },
    /// A chunk of records that does not fit the file's schema (the first
    /// chunk's), and cannot be cast to it without loss.
    #[error("{path}: a chunk of records unlike the first: {why}")]
    Schema {
        /// The file.
        path: String,
        /// How it differs.
        why: String,
    },
    /// A writer of the file's format failed.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// The writer's words.
        message: String,
    },
}
