//! `exec`: a stage done by a worker process in any language, one long-lived
//! process per replica, fed items on its stdin and answering on its stdout.
//!
//! This is the worker protocol in full; `docs/EXEC-PROTOCOL.md` sums it up.
//!
//! # The worker's contract
//!
//! baton starts `command` (program and arguments) once per replica, lazily,
//! on the replica's first item, in `cwd` (default: the pipeline file's
//! folder; a program given as a relative path with a `/`, like
//! `./worker.py`, is found from there too), with the environment described
//! under [Environment](#environment). Then, for each item, one request and
//! one answer. Each request has an id, a number that starts at 1 and grows
//! by one with each request of the replica (32 bits: it wraps after
//! 4294967295); the answer carries it back, so that an answer is never
//! taken for another request's.
//!
//! ## Many requests in flight
//!
//! A replica writes up to `in_flight` requests (64 by default) before it
//! reads their answers, on a thread of its own, while another reads the
//! answers: a worker may read ahead, answer in batches, or answer only
//! after reading many requests, and neither pipe blocks for good. Answers
//! are tied to their requests by id: a frame's header always carries it; a
//! `jsonl` answer that carries none is taken as the answer to the oldest
//! request waiting (workers answer in order). A worker may answer out of
//! order only if every answer carries its id. Whatever the order of the
//! answers, the outputs keep the order of the items.
//!
//! The stage takes whole chunks from the engine. A chunk's last answers
//! are waited for before its outputs go on, so a chunk must be worth
//! many round trips: `jsonl` and `bytes` ask for chunks of `in_flight`
//! items at first, then of about 50 ms of the worker's time at the pace
//! it answers (up to 16 × `in_flight`: slow items come a few at a time,
//! so a run of a few thousand has chunks for many replicas); `arrow`
//! asks for 4 × `batch_rows`.
//!
//! On auto (`replicas = "auto"`), a replica tells the
//! tuner what its worker spends on a core (it only waits on the pipe
//! itself), what the worker's start cost, and the memory it holds
//! ([`baton_engine::OffThreadCpu`]).
//!
//! ## `protocol = "jsonl"` (the default)
//!
//! The request is the item's record as one line of JSON, with the id added
//! as the field `_request` (`{"_request": 12, "path": "a.png", "size":
//! 1234}`; a payload is not sent, only noted as `"_payload":
//! "bytes[1234]"`). A record that already has a field `_request` fails
//! (rename it before the stage). The answer is one line:
//!
//! - a JSON object: the output item's fields; the item's payload, which
//!   the worker never sees, stays with it (on every output of an array);
//! - `null`: no output (the item is filtered out);
//! - an array of objects: one output item per object (a flat map; `[]` is
//!   no output);
//! - an envelope, `{"_request": 12, "_items": ...}` with one of the three
//!   above as `_items`: the same outputs, tied to the request.
//!
//! Anything else (a line that is not JSON, a number, an envelope with
//! other fields) fails the item, with the line quoted in the error. The
//! answer must be exactly one line: write logs to stderr, never to stdout.
//!
//! **Ids.** An object that carries `_request` (the answer, an object of its
//! array, or the envelope) must carry the request's own id; baton removes
//! the field from the outputs. A worker that updates the record it was sent
//! and prints it echoes the id without a line of code for it. An answer
//! with another id is out of step (an answer too many, or a late one): the
//! item fails and the worker is restarted. An answer that carries no id
//! (`null`, `[]`, a record built from scratch) is taken as the answer to
//! the request waiting, so that the simplest worker works; but then baton
//! cannot tell a late extra answer from the right one. With
//! `require_ids = true`, every answer must be tied to its request (an
//! object with the id, an array whose every object has it, or an
//! envelope): one that is not fails the item and the worker is restarted.
//! Use it when a wrong pairing would cost more than a worker that echoes.
//!
//! ## `protocol = "bytes"`
//!
//! The request is the item's payload, which must be bytes, in a frame: an
//! 8-byte header (the id, then the length, each 4 bytes big-endian), then
//! that many bytes. The answer is a frame of the same shape whose header
//! carries the request's id; the output item has the input's fields and
//! the answer's bytes as its payload. An answer with another id is out of
//! step, as above.
//!
//! ## `protocol = "arrow"`
//!
//! The stage takes chunks of records (Arrow record batches, as the `csv`
//! and `jsonl` sources make them) whole: a chunk is one request. Other
//! items are gathered, up to `batch_rows` (4096) at a time, into one
//! record batch: their fields become columns (types inferred as for JSON
//! lines), and their bytes payloads, if any has one, the binary column
//! `_payload` (null for the others; another kind of payload fails the
//! item). The request is a frame as for `bytes` (an 8-byte header: the id,
//! the length, each 4 bytes big-endian) holding an Arrow IPC stream: the
//! schema, one record batch, the end of the stream.
//!
//! The answer is a frame with the request's id, holding an IPC stream of
//! any number of record batches, of any schema and any number of rows (a
//! filter, a flat map, new columns): each batch with rows is one output
//! (a chunk of records, made of the first item of the request); a stream
//! with no batch is no output. The answer replaces the request: a column
//! the worker does not return, `_payload` included, is gone (as it is from
//! a `select`), never kept in secret. An answer that is not an IPC stream
//! fails the request's items (`not an Arrow IPC stream`), and the worker,
//! whose frames are still in step, goes on. A failed request fails all
//! its items; with `on_error` retries, each is sent again alone.
//!
//! A Python worker with `pyarrow` works on a whole batch at once;
//! `examples/exec/baton_exec.py` holds the loop:
//!
//! ```python
//! import pyarrow.compute as pc
//! from baton_exec import serve_arrow
//!
//! def work(batch):                       # a pyarrow.RecordBatch
//!     even = batch.filter(pc.equal(pc.bit_wise_and(batch["value"], 1), 0))
//!     return even.append_column("doubled", pc.multiply(even["value"], 2))
//!
//! serve_arrow(work)
//! ```
//!
//! ## Limits
//! ## stderr and the end of input
//!
//! Every line the worker writes on stderr is copied to baton's stderr,
//! prefixed with `[exec <program> #<replica>]`.
//!
//! When the worker's stdin closes (end of input, or the stage is dropped),
//! it should exit; one still running half a second later is killed.
//!
//! # Signals and process groups
//!
//! Each worker leads a process group of its own, so Ctrl-C on baton's
//! terminal reaches baton and not the workers: the first Ctrl-C drains
//! (the workers finish the items they were sent, then their stdin closes),
//! the second aborts. baton sends a worker no SIGINT or SIGTERM: to end
//! it, baton closes its stdin, waits half a second, then sends SIGKILL to
//! the worker's whole group, even when the worker itself exited in time:
//! processes the worker started are ended with it. A process that leaves
//! the group (`setsid`, `setpgid`) is on its own. A worker that has to
//! clean up does so when its input ends.
//!
//! When the run ends while a worker has an item (the run failed, or was
//! aborted: not on a drain), the replica stops waiting at once, with or
//! without `timeout_ms`: the worker's group is killed and the item fails
//! with "the run ended". A worker that ignores signals and never answers
//! cannot hold an aborted run.
//!
//! # Environment
//!
//! By default the worker inherits baton's whole environment, **secrets
//! included** (tokens, cloud credentials), with the variables of `env` set
//! over it. To keep them from a worker:
//!
//! - `env_allow = ["PATH", "HOME", "LANG"]` passes only the variables
//!   named (those baton has), plus `env`;
//! - `env_clear = true` passes none, only `env`.
//!
//! With either, a program named without a `/` (`python3`) is looked up on
//! the worker's own `PATH`: allow `PATH` (or set it in `env`); without one
//! the system's default path (`/bin:/usr/bin`) is searched.
//!
//! # Failures
//!
//! - A worker that dies (exits, crashes, closes its stdout) while it has
//!   items fails the oldest one waiting, with its exit status and its last
//!   line on stderr in the message; the next items get a fresh worker. A
//!   worker found dead between chunks is replaced without failing any item.
//! - The other items in flight when a worker dies, times out, writes an
//!   answer too long or falls out of step have no answer: each fails too,
//!   with "was ended while it had this item in flight" and the cause, and
//!   `on_error` decides for each. None is sent again behind the stage's
//!   back, so none is done twice; with `retry`, each is sent again, alone,
//!   to a fresh worker (the innocent pass, the item that kills the worker
//!   fails again), and `skip` names each in the dead letters.
//! - A worker that dies three times in a row without answering an item (a
//!   crash on start-up, a missing module) makes the replica give up: that
//!   item and every later one fail with "the worker keeps dying".
//! - A worker whose answer is not JSON, is out of step (above), is too
//!   long, or that writes on stdout between items, is restarted before the
//!   next item is sent: only a fresh worker is surely in step.
//!
//! Every error names the stage and the item's sequence number (the engine
//! adds them), and the `on_error` policy of the stage decides what follows.
//!
//! # A worker in Python
//!
//! ```python
//! import json, sys
//!
//! for line in sys.stdin:                # one item per line; ends when baton closes stdin
//!     item = json.loads(line)           # holds `_request`, the request's id
//!     if item.get("level") == "debug":
//!         print("null", flush=True)     # drop the item
//!         continue
//!     item["words"] = len(item["line"].split())
//!     print(json.dumps(item), flush=True)  # one line per item, `_request` echoed; flush!
//! ```
//!
//! A worker may read many lines before it answers, and may answer them in
//! any order as long as each answer echoes its `_request`.
//!
//! A worker that builds new records echoes the id itself (required with
//! `require_ids = true`), and ties "no output" to the request with an
//! envelope:
//!
//! ```python
//! import json, sys
//!
//! for line in sys.stdin:
//!     item = json.loads(line)
//!     rid = item["_request"]
//!     if item["value"] % 7 == 0:
//!         print(json.dumps({"_request": rid, "_items": []}), flush=True)
//!     else:
//!         print(json.dumps({"_request": rid, "square": item["value"] ** 2}), flush=True)
//! ```
//!
//! With `protocol = "bytes"`:
//!
//! ```python
//! import struct, sys
//!
//! stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
//! while (head := stdin.read(8)):         # ends when baton closes stdin
//!     rid, size = struct.unpack(">II", head)
//!     data = stdin.read(size)
//!     answer = data[::-1]                # the work
//!     stdout.write(struct.pack(">II", rid, len(answer)) + answer)
//!     stdout.flush()
//! ```
//!
//! # Examples
//!
//! `cat` echoes every request (its id too), so it is a worker that changes
//! nothing:
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, Item, Params};
//!
//! let params = Params::new(toml::from_str(r#"command = ["cat"]"#).unwrap(), ".");
//! let op = baton_ops::find("exec").unwrap();
//! let BuiltOp::Stage(built) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut stage = built.replica().unwrap();
//! let mut out = Vec::new();
//! stage.process(Item::with_field("n", 7), &mut out).unwrap();
//! assert_eq!(out, vec![Item::with_field("n", 7)]);
//! ```

mod error;
mod protocol;
mod stage;
mod worker;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use baton_engine::{ChunkFloor, Stage};
use serde::{Deserialize, Serialize};

use crate::item::Item;
use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltStage, Modes, OpConfig, OpDef, OpError, OpKind,
    ParamDef, ParamType,
};
use protocol::Protocol;
use stage::ExecStage;

/// The `exec` stage's typed parameters (see [`crate::config`]).
pub(crate) mod configs {
    pub use super::{ExecConfig, ExecProtocol};
}

/// The longest answer by default: 64 MiB.
const DEFAULT_MAX_ANSWER: usize = 64 << 20;

/// Requests a replica has on their way to its worker at most, by default.
const DEFAULT_IN_FLIGHT: usize = 64;

/// Rows of items that are not chunks of records in one `arrow` request,
/// at most, by default.
const DEFAULT_BATCH_ROWS: usize = 4096;

/// The most items an `exec` stage asks of a chunk, per request in
/// flight: a chunk's last answers are waited for before the next chunk,
/// so with cheap items a chunk must hold many times the window.
const CHUNK_PER_IN_FLIGHT: usize = 16;

/// The worker's time a chunk of an `exec` stage is sized to take, at
/// least, once its pace is known: the wait for a chunk's last answers (a
/// round trip) is then a small part of it, and slow items (a model, a
/// remote call) come in small chunks, so that a run of a few thousand
/// has enough of them for many replicas, and the tuner sees each one end.
const CHUNK_WORKER_TIME: Duration = Duration::from_millis(50);

/// How an `exec` stage asks for the size of its chunks: the fewest items
/// the engine puts in one (shared by its replicas), and whether it learns
/// that from the worker's pace, up to `most`.
#[derive(Clone, Debug)]
pub(super) struct ChunkSizing {
    pub(super) floor: ChunkFloor,
    learns: bool,
    most: usize,
}

impl ChunkSizing {
    pub(super) fn fixed(items: usize) -> Self {
        Self {
            floor: ChunkFloor::new(items),
            learns: false,
            most: items,
        }
    }

    /// Starts at one window of requests a chunk; see [`ChunkSizing::learn`].
    pub(super) fn learned(in_flight: usize) -> Self {
        Self {
            floor: ChunkFloor::new(in_flight),
            learns: true,
            most: in_flight.saturating_mul(CHUNK_PER_IN_FLIGHT),
        }
    }

    /// Learns from a call that took `took` for `items` items: the floor
    /// becomes what takes the worker [`CHUNK_WORKER_TIME`] at that pace,
    /// within 1 and the most.
    pub(super) fn learn(&self, items: usize, took: Duration) {
        if !self.learns || items == 0 {
            return;
        }
        let per_item = took.as_secs_f64() / items as f64;
        let wanted = (CHUNK_WORKER_TIME.as_secs_f64() / per_item.max(1e-9)).ceil();
        self.floor.set((wanted as usize).clamp(1, self.most.max(1)));
    }
}

/// Every exec stage.
pub(crate) const DEFS: &[OpDef] = &[DEF];

const DEF: OpDef = OpDef {
    name: "exec",
    kind: OpKind::Transform,
    summary: "sends each item to a worker process (one per replica) on its stdin and reads the result from its stdout (the protocol: docs/EXEC-PROTOCOL.md)",
    params: &[
        ParamDef::required(
            "command",
            ParamType::StrList,
            "the program and its arguments (`[\"python3\", \"worker.py\"]`)",
        ),
        ParamDef::with_default(
            "protocol",
            ParamType::Str,
            "\"jsonl\"",
            "\"jsonl\": records as JSON lines; \"bytes\": payloads in frames (an 8-byte header: the request's id, the length); \"arrow\": chunks of records as Arrow IPC streams in frames",
        ),
        ParamDef::with_default(
            "in_flight",
            ParamType::Int,
            "64",
            "requests a replica sends its worker before it reads their answers (answers are matched to requests by id)",
        )
        .at_least(1),
        ParamDef::with_default(
            "batch_rows",
            ParamType::Int,
            "4096",
            "arrow: the most rows of items that are not chunks of records sent as one record batch",
        )
        .at_least(1),
        ParamDef::optional(
            "env",
            ParamType::StrTable,
            "environment variables set for the worker (over what it inherits)",
        ),
        ParamDef::optional(
            "env_clear",
            ParamType::Bool,
            "true: the worker inherits none of baton's environment, only `env` (default false: all of it, secrets included)",
        ),
        ParamDef::optional(
            "env_allow",
            ParamType::StrList,
            "the only variables of baton's environment the worker inherits (`[\"PATH\", \"HOME\"]`), besides `env`",
        ),
        ParamDef::optional(
            "cwd",
            ParamType::Str,
            "the worker's working folder, relative to the pipeline file (default: the pipeline file's folder)",
        ),
        ParamDef::optional(
            "timeout_ms",
            ParamType::Int,
            "how long the worker may take over one item before it is killed and restarted",
        )
        .at_least(1),
        ParamDef::with_default(
            "max_answer_bytes",
            ParamType::Int,
            "67108864",
            "the longest answer (a line, or a frame's bytes) a worker may write, 64 MiB by default; a longer one fails the item and the worker is restarted",
        )
        .at_least(1),
        ParamDef::with_default(
            "require_ids",
            ParamType::Bool,
            "false",
            "jsonl: every answer must carry its request's `_request` id (in its object, in every object of its array, or beside `_items`)",
        ),
    ],
    modes: Modes::ANY_BLOCKING,
    build: build_from::<ExecConfig>,
};

/// The parameters of `exec`: the worker's command, how it is spoken to,
/// its environment and its limits (the protocol: the [module's
/// documentation](self)).
///
/// # Examples
///
/// `cat` echoes every request, its id too: a worker that changes nothing.
///
/// ```
/// use baton_engine::Stage;
/// use baton_ops::config::{BuildContext, ExecConfig, OpConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let exec = ExecConfig {
///     env_clear: Some(true),
///     timeout_ms: Some(10_000),
///     ..ExecConfig::new(["cat"])
/// };
/// let BuiltOp::Stage(built) = exec.build(&BuildContext::new(".")).unwrap() else { unreachable!() };
/// let mut out = Vec::new();
/// built.replica().unwrap().process(Item::with_field("n", 7), &mut out).unwrap();
/// assert_eq!(out, vec![Item::with_field("n", 7)]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecConfig {
    /// The program and its arguments (`["python3", "worker.py"]`).
    pub command: Vec<String>,
    /// "jsonl": records as JSON lines; "bytes": payloads in frames (an
    /// 8-byte header: the request's id, the length); "arrow": chunks of
    /// records as Arrow IPC streams in frames.
    #[serde(default)]
    pub protocol: ExecProtocol,
    /// Requests a replica sends its worker before it reads their answers
    /// (answers are matched to requests by id).
    #[serde(default = "default_in_flight")]
    pub in_flight: usize,
    /// arrow: the most rows of items that are not chunks of records sent
    /// as one record batch.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Environment variables set for the worker (over what it inherits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    /// true: the worker inherits none of baton's environment, only `env`
    /// (default false: all of it, secrets included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_clear: Option<bool>,
    /// The only variables of baton's environment the worker inherits
    /// (`["PATH", "HOME"]`), besides `env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_allow: Option<Vec<String>>,
    /// The worker's working folder, relative to the pipeline file
    /// (default: the pipeline file's folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// How long the worker may take over one item before it is killed and
    /// restarted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The longest answer (a line, or a frame's bytes) a worker may write,
    /// 64 MiB by default; a longer one fails the item and the worker is
    /// restarted.
    #[serde(default = "default_max_answer")]
    pub max_answer_bytes: usize,
    /// jsonl: every answer must carry its request's `_request` id (in its
    /// object, in every object of its array, or beside `_items`).
    #[serde(default)]
    pub require_ids: bool,
}

impl ExecConfig {
    /// The worker `command` (program and arguments), every other
    /// parameter at its default.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_ops::config::{ExecConfig, ExecProtocol};
    /// let exec = ExecConfig::new(["python3", "worker.py"]);
    /// assert_eq!(exec.protocol, ExecProtocol::Jsonl);
    /// assert_eq!((exec.in_flight, exec.batch_rows), (64, 4096));
    /// ```
    pub fn new<S: Into<String>>(command: impl IntoIterator<Item = S>) -> Self {
        Self {
            command: command.into_iter().map(Into::into).collect(),
            protocol: ExecProtocol::default(),
            in_flight: DEFAULT_IN_FLIGHT,
            batch_rows: DEFAULT_BATCH_ROWS,
            env: None,
            env_clear: None,
            env_allow: None,
            cwd: None,
            timeout_ms: None,
            max_answer_bytes: DEFAULT_MAX_ANSWER,
            require_ids: false,
        }
    }
}

fn default_in_flight() -> usize {
    DEFAULT_IN_FLIGHT
}

fn default_batch_rows() -> usize {
    DEFAULT_BATCH_ROWS
}

fn default_max_answer() -> usize {
    DEFAULT_MAX_ANSWER
}

/// How an `exec` stage and its worker speak (see the [module's
/// documentation](self)).
///
/// # Examples
///
/// ```
/// use baton_ops::config::ExecProtocol;
/// let protocol: ExecProtocol = serde_json::from_str(r#""arrow""#).unwrap();
/// assert_eq!(protocol, ExecProtocol::Arrow);
/// let error = serde_json::from_str::<ExecProtocol>(r#""xml""#).unwrap_err();
/// assert!(error.to_string().contains(r#"expected "jsonl", "bytes" or "arrow""#));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum ExecProtocol {
    /// Records as JSON lines, one request per line and one answer per line.
    #[default]
    Jsonl,
    /// Bytes payloads in frames: an 8-byte header (the request's id, the
    /// length), then the bytes.
    Bytes,
    /// Chunks of records as Arrow IPC streams, in frames as for `Bytes`.
    Arrow,
}

impl TryFrom<String> for ExecProtocol {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        match name.as_str() {
            "jsonl" => Ok(ExecProtocol::Jsonl),
            "bytes" => Ok(ExecProtocol::Bytes),
            "arrow" => Ok(ExecProtocol::Arrow),
            other => Err(format!(
                "unknown protocol \"{other}\"; expected \"jsonl\", \"bytes\" or \"arrow\""
            )),
        }
    }
}

impl From<ExecProtocol> for Protocol {
    fn from(protocol: ExecProtocol) -> Self {
        match protocol {
            ExecProtocol::Jsonl => Protocol::Jsonl,
            ExecProtocol::Bytes => Protocol::Bytes,
            ExecProtocol::Arrow => Protocol::Arrow,
        }
    }
}

/// How to start a worker: the same for every replica of the stage.
#[derive(Debug)]
struct WorkerSpec {
    /// The program, found from `cwd` when it is a relative path.
    program: PathBuf,
    args: Vec<String>,
    /// Set over what the worker inherits.
    env: Vec<(String, String)>,
    /// Whether the worker starts from an empty environment.
    env_clear: bool,
    /// What it inherits of baton's environment then.
    env_allow: Vec<String>,
    cwd: PathBuf,
    protocol: Protocol,
    timeout: Option<Duration>,
    /// The longest answer, in bytes.
    max_answer: usize,
    /// Whether a `jsonl` answer must carry its request's id.
    require_ids: bool,
    /// Requests on their way to the worker at most.
    in_flight: usize,
    /// Rows in one `arrow` request of items that are not chunks of records.
    batch_rows: usize,
    /// The program's file name, for stderr prefixes.
    label: String,
    /// The command as written, for messages.
    command_line: String,
}

impl OpConfig for ExecConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let command = &self.command;
        let Some((program, args)) = command.split_first() else {
            return Err(OpError::param(
                "command",
                "is empty: give the program and its arguments, e.g. [\"python3\", \"worker.py\"]",
            ));
        };
        if program.is_empty() {
            return Err(OpError::param("command", "the program's name is empty"));
        }
        let protocol = Protocol::from(self.protocol);
        let cwd = match self.cwd.as_ref().map(|cwd| context.path(cwd)) {
            Some(cwd) if !cwd.is_dir() => {
                return Err(OpError::param(
                    "cwd",
                    format!("`{}` is not a folder", cwd.display()),
                ))
            }
            Some(cwd) => cwd,
            None => context.base_dir().to_path_buf(),
        };
        // `baton check` refuses a value under 1 at its place in the file; a
        // stage built by hand from parameters is checked here.
        let timeout = match self.timeout_ms {
            Some(0) => return Err(OpError::param("timeout_ms", "must be at least 1, not 0")),
            ms => ms.map(Duration::from_millis),
        };
        let max_answer = match self.max_answer_bytes {
            0 => {
                return Err(OpError::param(
                    "max_answer_bytes",
                    "must be at least 1, not 0",
                ))
            }
            bytes => bytes,
        };
        let require_ids = self.require_ids;
        if require_ids && protocol != Protocol::Jsonl {
            return Err(OpError::param(
                "require_ids",
                "is for the `jsonl` protocol: a frame always carries its request's id",
            ));
        }
        let in_flight = match self.in_flight {
            0 => return Err(OpError::param("in_flight", "must be at least 1, not 0")),
            n => n,
        };
        let batch_rows = match self.batch_rows {
            0 => return Err(OpError::param("batch_rows", "must be at least 1, not 0")),
            n => n,
        };
        let env: Vec<(String, String)> = self
            .env
            .iter()
            .flatten()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        for (name, _) in &env {
            check_variable_name("env", name)?;
        }
        let env_allow = self.env_allow.clone();
        for name in env_allow.iter().flatten() {
            check_variable_name("env_allow", name)?;
        }
        let env_clear = match (self.env_clear, &env_allow) {
            (Some(false), Some(_)) => return Err(OpError::param(
                "env_clear",
                "is false, but `env_allow` passes only the variables it names: drop one of the two",
            )),
            (clear, allow) => clear.unwrap_or(false) || allow.is_some(),
        };
        let spec = Arc::new(WorkerSpec {
            program: resolve(program, &cwd),
            args: args.to_vec(),
            env,
            env_clear,
            env_allow: env_allow.unwrap_or_default(),
            cwd,
            protocol,
            timeout,
            max_answer,
            require_ids,
            in_flight,
            batch_rows,
            label: Path::new(program).file_name().map_or_else(
                || program.clone(),
                |name| name.to_string_lossy().into_owned(),
            ),
            command_line: command.join(" "),
        });
        // `arrow` sends a chunk's rows in batches: its chunks hold a few.
        // `jsonl` and `bytes` send an item a request: they start at one
        // window of requests a chunk and learn from the worker's pace (see
        // `ChunkSizing`).
        let sizing = match protocol {
            Protocol::Arrow => ChunkSizing::fixed(batch_rows.saturating_mul(4)),
            Protocol::Jsonl | Protocol::Bytes => ChunkSizing::learned(in_flight),
        };
        let floor = sizing.floor.clone();
        let replicas = Arc::new(AtomicUsize::new(0));
        // Chunks of records come whole: `jsonl` and `bytes` send their rows
        // one by one, `arrow` the whole batch.
        let stage = BuiltStage::record_replicas(move || {
            let replica = replicas.fetch_add(1, Ordering::Relaxed);
            Ok(
                Box::new(ExecStage::new(Arc::clone(&spec), replica, sizing.clone()))
                    as Box<dyn Stage<Item, Item>>,
            )
        });
        let stage = stage.chunk_floor(floor);
        Ok(BuiltOp::Stage(match protocol {
            // Each item is a request of its own, with its own outcome.
            Protocol::Jsonl | Protocol::Bytes => stage.preferring_rows(),
            Protocol::Arrow => stage,
        }))
    }
}

/// A variable's name must be one the environment can hold.
fn check_variable_name(param: &str, name: &str) -> Result<(), OpError> {
    if name.is_empty() || name.contains(['=', '\0']) {
        return Err(OpError::param(
            param,
            format!(
                "`{}` is not a variable's name (one is not empty and has no `=`)",
                name.escape_debug()
            ),
        ));
    }
    Ok(())
}

/// A program named by a relative path (`./worker.py`, `bin/worker`) is
/// found from `cwd`; a bare name (`python3`) on the `PATH`. Resolving it
/// here avoids the platform-specific meaning of a relative program path
/// combined with a working folder.
fn resolve(program: &str, cwd: &Path) -> PathBuf {
    let path = Path::new(program);
    if path.is_relative() && path.components().count() > 1 {
        cwd.join(path)
    } else {
        path.to_path_buf()
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
use tests as tests_support;
#[cfg(test)]
mod flight_tests;
