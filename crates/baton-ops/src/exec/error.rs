//! What goes wrong with one item in an `exec` stage.

use std::io;

/// An item the worker did not turn into outputs; the engine adds the
/// stage's name and the item's sequence number.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExecError {
    /// The worker could not be started.
    #[error("cannot start the worker `{command}`: {source}")]
    Start {
        command: String,
        #[source]
        source: io::Error,
    },
    /// The worker died before answering the item.
    #[error("the worker `{command}` (pid {pid}) {death}; it will be restarted for the next item")]
    Died {
        command: String,
        pid: u32,
        death: String,
    },
    /// The worker died too often in a row: the replica gave up on it.
    #[error("the worker `{command}` keeps dying: {deaths} times in a row without answering an item (last: {last}); no more restarts")]
    KeepsDying {
        command: String,
        deaths: u32,
        last: String,
    },
    /// The worker did not answer in time.
    #[error("the worker `{command}` (pid {pid}) did not answer within {ms} ms; it was killed and will be restarted for the next item")]
    Timeout { command: String, pid: u32, ms: u128 },
    /// The `bytes` protocol needs a bytes payload.
    #[error("the `bytes` protocol sends the payload's bytes, but the payload is `{found}`")]
    NotBytes { found: &'static str },
    /// A frame's length does not fit in 4 bytes.
    #[error("the payload is {len} bytes, more than a frame's 4-byte length can say")]
    TooLong { len: usize },
    /// The answer is not JSON.
    #[error("the worker's answer is not JSON ({reason}): `{line}`; a worker writes exactly one line per item on stdout (logs go to stderr)")]
    NotJson { reason: String, line: String },
    /// The answer is JSON but not an object, `null` or an array of objects.
    #[error("the worker's answer must be an object, null or an array of objects, not `{line}`")]
    NotRecords { line: String },
}
