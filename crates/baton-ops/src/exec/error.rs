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
    /// The answer is longer than `max_answer_bytes`.
    #[error("the worker `{command}` (pid {pid}) wrote an answer longer than `max_answer_bytes` ({limit} bytes); it was killed and will be restarted for the next item")]
    AnswerTooLong {
        command: String,
        pid: u32,
        limit: usize,
    },
    /// The run ended (failed or aborted) while the worker had the item.
    #[error("the run ended while the worker `{command}` (pid {pid}) had the item; it was killed")]
    Cancelled { command: String, pid: u32 },
    /// The answer carries another request's id.
    #[error("the worker answered request {got} while request {expected} was waiting: it is out of step (an answer too many, or a late one), and is restarted before the next item")]
    OutOfStep { expected: u32, got: String },
    /// With `require_ids`, the answer carries no id.
    #[error("the worker's answer does not carry its request's `_request` ({expected}), which `require_ids` asks for: `{line}`; the worker is restarted before the next item")]
    NoId { expected: u32, line: String },
    /// The record already has the field that carries the request's id.
    #[error("the record has a field `_request`, the name `exec` gives the request's id: rename the field before this stage")]
    IdFieldTaken,
    /// The worker was ended, for another item's sake, while it had this one.
    #[error("the worker `{command}` (pid {pid}) was ended while it had this item in flight, after another item failed: {cause}")]
    Abandoned {
        command: String,
        pid: u32,
        cause: String,
    },
    /// The `arrow` request this row was sent in failed.
    #[error("the batch this row was sent in failed: {cause}")]
    InBatch { cause: String },
    /// The `arrow` protocol sends fields and bytes payloads only.
    #[error("the `arrow` protocol sends fields and bytes payloads (as the binary column `_payload`), but the payload is `{found}`")]
    NotColumnar { found: &'static str },
    /// A row item has a field named as the payload column.
    #[error("the record has a field `_payload`, the column `exec` puts the payload in: rename the field before this stage")]
    PayloadFieldTaken,
    /// The request could not be written as Arrow.
    #[error("the items could not be made into an Arrow record batch: {reason}")]
    ArrowRequest { reason: String },
    /// The answer is not an Arrow IPC stream.
    #[error("the worker's answer is not an Arrow IPC stream of record batches ({reason}); it begins with `{start}`")]
    NotArrow { reason: String, start: String },
    /// An answer with `_items` has other fields.
    #[error("an answer with `_items` may have only `_request` beside it, not `{key}`: `{line}`")]
    BadEnvelope { key: String, line: String },
}

impl ExecError {
    /// Whether the worker that gave this answer may be out of step with
    /// its requests, and must be replaced before the next item.
    pub(crate) fn loses_step(&self) -> bool {
        // A log line on stdout (not JSON) most likely comes before the real
        // answer; an answer with another id, or none where one is required,
        // leaves no way to know which answer is whose.
        matches!(
            self,
            ExecError::NotJson { .. } | ExecError::OutOfStep { .. } | ExecError::NoId { .. }
        )
    }
}
