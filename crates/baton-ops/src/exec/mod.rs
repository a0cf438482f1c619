//! `exec`: a stage done by a worker process in any language, one long-lived
//! process per replica, fed items on its stdin and answering on its stdout.
//!
//! # The worker's contract
//!
//! baton starts `command` (program and arguments) once per replica, lazily,
//! on the replica's first item, in `cwd` (default: the pipeline file's
//! folder; a program given as a relative path with a `/`, like
//! `./worker.py`, is found from there too), with the variables of `env`
//! added to baton's environment. Then, for each item, one request and one
//! answer, strictly in turn:
//!
//! - **`protocol = "jsonl"`** (the default). The request is the item's
//!   record as one line of JSON (`{"path": "a.png", "size": 1234}`; a
//!   payload is not sent, only noted as `"_payload": "bytes[1234]"`). The
//!   answer is one line:
//!   - a JSON object: the output item's fields (any payload is dropped);
//!   - `null`: no output (the item is filtered out);
//!   - an array of objects: one output item per object (a flat map; `[]` is
//!     no output).
//!
//!   Anything else (a line that is not JSON, a number) fails the item, with
//!   the line quoted in the error. The answer must be exactly one line:
//!   write logs to stderr, never to stdout.
//! - **`protocol = "bytes"`**. The request is the item's payload, which
//!   must be bytes: a 4-byte big-endian length, then that many bytes. The
//!   answer has the same framing; the output item has the input's fields
//!   and the answer's bytes as its payload.
//!
//! Every line the worker writes on stderr is copied to baton's stderr,
//! prefixed with `[exec <program> #<replica>]`.
//!
//! When the worker's stdin closes (end of input, or the stage is dropped),
//! it should exit; one still running half a second later is killed.
//!
//! # Failures
//!
//! - A worker that dies (exits, crashes, closes its stdout) while an item
//!   is in progress fails that item, with its exit status and its last line
//!   on stderr in the message; the next item gets a fresh worker. A worker
//!   found dead between items is replaced without failing any item.
//! - A worker that dies three times in a row without answering an item (a
//!   crash on start-up, a missing module) makes the replica give up: that
//!   item and every later one fail with "the worker keeps dying".
//! - With `timeout_ms`, a worker that has not answered an item in time is
//!   killed and the item fails; the next item gets a fresh worker. The time
//!   runs from the moment the request is sent, so a fresh worker's first
//!   item also counts its start-up: allow for it.
//! - A worker that answers more than once for an item is out of step: it is
//!   restarted before the next item is sent.
//!
//! # A worker in Python
//!
//! ```python
//! import json, sys
//!
//! for line in sys.stdin:                # one item per line; ends when baton closes stdin
//!     item = json.loads(line)
//!     if item.get("level") == "debug":
//!         print("null", flush=True)     # drop the item
//!         continue
//!     item["words"] = len(item["line"].split())
//!     print(json.dumps(item), flush=True)  # exactly one line per item; flush!
//! ```
//!
//! With `protocol = "bytes"`:
//!
//! ```python
//! import struct, sys
//!
//! stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
//! while (head := stdin.read(4)):
//!     data = stdin.read(struct.unpack(">I", head)[0])
//!     answer = data[::-1]              # the work
//!     stdout.write(struct.pack(">I", len(answer)) + answer)
//!     stdout.flush()
//! ```
//!
//! # Examples
//!
//! `cat` echoes every request, so it is a worker that changes nothing:
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

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use baton_engine::Stage;

use crate::item::Item;
use crate::registry::{
    BuiltOp, BuiltStage, Modes, OpDef, OpError, OpKind, ParamDef, ParamType, Params,
};
use protocol::Protocol;
use stage::ExecStage;

/// Every exec stage.
pub(crate) const DEFS: &[OpDef] = &[DEF];

const DEF: OpDef = OpDef {
    name: "exec",
    kind: OpKind::Transform,
    summary: "sends each item to a worker process (one per replica) on its stdin and reads the result from its stdout",
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
            "\"jsonl\": records as JSON lines; \"bytes\": payloads framed by a 4-byte big-endian length",
        ),
        ParamDef::optional(
            "env",
            ParamType::StrTable,
            "environment variables added for the worker",
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
        ),
    ],
    modes: Modes::ANY_BLOCKING,
    build,
};

/// How to start a worker: the same for every replica of the stage.
#[derive(Debug)]
struct WorkerSpec {
    /// The program, found from `cwd` when it is a relative path.
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
    protocol: Protocol,
    timeout: Option<Duration>,
    /// The program's file name, for stderr prefixes.
    label: String,
    /// The command as written, for messages.
    command_line: String,
}

fn build(params: &Params) -> Result<BuiltOp, OpError> {
    let command = Params::need("command", params.str_list("command")?)?;
    let Some((program, args)) = command.split_first() else {
        return Err(OpError::param(
            "command",
            "is empty: give the program and its arguments, e.g. [\"python3\", \"worker.py\"]",
        ));
    };
    if program.is_empty() {
        return Err(OpError::param("command", "the program's name is empty"));
    }
    let protocol_name = params.str("protocol")?.unwrap_or("jsonl");
    let protocol = Protocol::parse(protocol_name).ok_or_else(|| {
        OpError::param(
            "protocol",
            format!("unknown protocol \"{protocol_name}\"; expected \"jsonl\" or \"bytes\""),
        )
    })?;
    let cwd = match params.path("cwd")? {
        Some(cwd) if !cwd.is_dir() => {
            return Err(OpError::param(
                "cwd",
                format!("`{}` is not a folder", cwd.display()),
            ))
        }
        Some(cwd) => cwd,
        None => params.base_dir().to_path_buf(),
    };
    let timeout = match params.int("timeout_ms")? {
        None => None,
        Some(ms) if ms > 0 => Some(Duration::from_millis(ms as u64)),
        Some(ms) => {
            return Err(OpError::param(
                "timeout_ms",
                format!("must be a positive number of milliseconds, not {ms}"),
            ))
        }
    };
    let spec = Arc::new(WorkerSpec {
        program: resolve(program, &cwd),
        args: args.to_vec(),
        env: params.str_table("env")?.unwrap_or_default(),
        cwd,
        protocol,
        timeout,
        label: Path::new(program).file_name().map_or_else(
            || program.clone(),
            |name| name.to_string_lossy().into_owned(),
        ),
        command_line: command.join(" "),
    });
    let replicas = Arc::new(AtomicUsize::new(0));
    Ok(BuiltOp::Stage(BuiltStage::replicas(move || {
        let replica = replicas.fetch_add(1, Ordering::Relaxed);
        Ok(Box::new(ExecStage::new(Arc::clone(&spec), replica)) as Box<dyn Stage<Item, Item>>)
    })))
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
