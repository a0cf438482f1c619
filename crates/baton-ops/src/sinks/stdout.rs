//! `stdout`: every item as one line of JSON on standard output.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, OpKind, Params};
//!
//! let op = baton_ops::find_kind("stdout", OpKind::Sink).unwrap();
//! let BuiltOp::Sink(make) = (op.build)(&Params::default()).unwrap() else { unreachable!() };
//! let mut sink = make().unwrap();
//! sink.finish().unwrap();
//! ```

use std::io::{BufWriter, Write};
use std::sync::{Arc, PoisonError, RwLock};

use super::error::SinkError;
use super::sink;
use crate::item::Item;
use crate::registry::{build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind};
use baton_engine::{BoxError, Sink};
use serde::{Deserialize, Serialize};

pub(crate) const DEF: OpDef = OpDef {
    name: "stdout",
    kind: OpKind::Sink,
    summary:
        "writes every item as a line of JSON to standard output (a payload is noted as `_payload`)",
    params: &[],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<StdoutConfig>,
};

/// The parameters of `stdout`: none. It writes every item as a line of
/// JSON to standard output (a payload noted as `_payload`), through
/// [`around_stdout_writes`]' hook.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, OpConfig, StdoutConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let BuiltOp::Sink(make) = StdoutConfig {}.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let mut sink = make().unwrap();
/// sink.write(Item::with_field("n", 1)).unwrap();
/// assert!(sink.finish().is_ok()); // prints {"n":1}
///
/// // It takes no parameter: any is refused.
/// assert_eq!(serde_json::from_str::<StdoutConfig>("{}").unwrap(), StdoutConfig {});
/// assert!(serde_json::from_str::<StdoutConfig>(r#"{"path": "x"}"#).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutConfig {}

impl OpConfig for StdoutConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        Ok(sink(|| {
            Ok(JsonLines {
                out: BufWriter::with_capacity(1 << 16, Stdout),
                name: "stdout",
            })
        }))
    }
}

/// What every write to standard output goes through.
type Around = Arc<dyn Fn(&mut dyn FnMut()) + Send + Sync>;

static AROUND: RwLock<Option<Around>> = RwLock::new(None);

/// Runs every write of the `stdout` sink inside `around`: a program that
/// draws on the same terminal (a live view's progress bars) clears what
/// it drew, lets the write happen, and draws again, so that neither
/// overwrites the other. One call per buffer of lines, not per line.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let writes = Arc::new(AtomicUsize::new(0));
/// let counted = Arc::clone(&writes);
/// baton_ops::around_stdout_writes(move |write| {
///     counted.fetch_add(1, Ordering::Relaxed);
///     write();
/// });
/// ```
pub fn around_stdout_writes(around: impl Fn(&mut dyn FnMut()) + Send + Sync + 'static) {
    *AROUND.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(around));
}

/// Standard output, written through [`around_stdout_writes`]' hook.
#[derive(Debug)]
struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf).map(|()| buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let around = AROUND
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut result = Ok(());
        let mut write = || {
            let mut out = std::io::stdout().lock();
            result = out.write_all(buf).and_then(|()| out.flush());
        };
        match around {
            Some(around) => around(&mut write),
            None => write(),
        }
        result
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Items as JSON lines to a writer, flushed after every chunk (so lines
/// that trickle in show at once, and a fast run writes large blocks) and at
/// the end.
#[derive(Debug)]
pub(crate) struct JsonLines<W: Write> {
    pub(crate) out: W,
    /// What `out` is, for errors.
    pub(crate) name: &'static str,
}

impl<W: Write> JsonLines<W> {
    fn error(&self, error: std::io::Error) -> SinkError {
        SinkError::File {
            path: self.name.to_string(),
            error,
        }
    }
}

impl<W: Write + Send + 'static> Sink<Item> for JsonLines<W> {
    fn write(&mut self, item: Item) -> Result<(), BoxError> {
        if let crate::item::Payload::Records(batch) = &item.payload {
            super::write_json_rows(batch, &mut self.out).map_err(|e| self.error(e))?;
            return Ok(());
        }
        serde_json::to_writer(&mut self.out, &item.to_json())
            .map_err(std::io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        self.out.flush().map_err(|e| self.error(e))?;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        self.out.flush().map_err(|e| self.error(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Payload;

    #[test]
    fn writes_one_json_line_per_item() {
        let mut sink = JsonLines {
            out: Vec::new(),
            name: "test",
        };
        let mut blob = Item::with_field("n", 2);
        blob.payload = Payload::Bytes(vec![0; 3]);
        sink.write(Item::with_field("n", 1)).unwrap();
        sink.write(blob).unwrap();
        sink.finish().unwrap();
        assert_eq!(
            String::from_utf8(sink.out).unwrap(),
            "{\"n\":1}\n{\"_payload\":\"bytes[3]\",\"n\":2}\n"
        );
    }
}
