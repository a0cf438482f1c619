//! What can go wrong with records.

/// A problem with records, located where it is.
///
/// # Examples
///
/// ```
/// let error = baton_records::RecordsError::at("a.csv", 3, "a row of 1 value");
/// assert_eq!(error.to_string(), "a.csv:3: a row of 1 value");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordsError {
    /// Input that cannot be read as records, at a file's line.
    #[error("{file}:{line}: {message}")]
    Input {
        /// The file (or stream) it was read from.
        file: String,
        /// The line (from 1) of the record.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// An expression that cannot be compiled into column-wise evaluation.
    #[error("{0}")]
    NotCompilable(String),
    /// An evaluation that failed on a batch.
    #[error("{0}")]
    Evaluation(String),
}

impl RecordsError {
    /// A problem at `line` of `file`.
    ///
    /// # Examples
    ///
    /// See [`RecordsError`].
    pub fn at(file: &str, line: u64, message: impl Into<String>) -> Self {
        Self::Input {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }
}

/// A record a parse left out, while the other records of its block were
/// read: where it is, why, and its text (for the dead letters).
///
/// # Examples
///
/// See [`CsvFormat::parse_rejecting`](crate::CsvFormat::parse_rejecting).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejected {
    /// Why, located at its file and line.
    pub error: RecordsError,
    /// The line (from 1) it starts on.
    pub line: u64,
    /// Its text, without its line end (invalid UTF-8 replaced).
    pub text: String,
}

impl Rejected {
    /// The record at `line` of `file`, left out because of `message`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rejected = baton_records::Rejected::at("a.jsonl", 4, "not JSON", "{oops");
    /// assert_eq!(rejected.error.to_string(), "a.jsonl:4: not JSON");
    /// ```
    pub fn at(file: &str, line: u64, message: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            error: RecordsError::at(file, line, message),
            line,
            text: text.into(),
        }
    }
}
