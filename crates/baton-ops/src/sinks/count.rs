//! `count`: counts the items and prints `count: N` at the end.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, Item, OpKind, Params};
//!
//! let op = baton_ops::find_kind("count", OpKind::Sink).unwrap();
//! let BuiltOp::Sink(make) = (op.build)(&Params::default()).unwrap() else { unreachable!() };
//! let mut sink = make().unwrap();
//! sink.write(Item::with_field("n", 1)).unwrap();
//! sink.finish().unwrap(); // prints `count: 1`
//! ```

use std::io::Write;

use super::error::SinkError;
use super::sink;
use crate::item::Item;
use crate::registry::{build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind};
use baton_engine::{BoxError, Sink};
use serde::{Deserialize, Serialize};

pub(crate) const DEF: OpDef = OpDef {
    name: "count",
    kind: OpKind::Sink,
    summary: "counts the items and prints `count: N` to standard output at the end",
    params: &[],
    modes: Modes::SERIAL,
    build: build_from::<CountConfig>,
};

/// The parameters of `count`: none. It counts the items (each row of a
/// chunk of records as one) and prints `count: N` to standard output when
/// the run finishes.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, CountConfig, OpConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let BuiltOp::Sink(make) = CountConfig {}.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let mut sink = make().unwrap();
/// sink.write(Item::with_field("n", 1)).unwrap();
/// assert!(sink.finish().is_ok()); // prints `count: 1`
///
/// // It takes no parameter: any is refused.
/// assert_eq!(serde_json::from_str::<CountConfig>("{}").unwrap(), CountConfig {});
/// assert!(serde_json::from_str::<CountConfig>(r#"{"path": "x"}"#).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountConfig {}

impl OpConfig for CountConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        Ok(sink(|| {
            Ok(Count {
                count: 0,
                out: std::io::stdout(),
            })
        }))
    }
}

/// The sink.
#[derive(Debug)]
struct Count<W> {
    count: u64,
    out: W,
}

impl<W: Write + Send + 'static> Sink<Item> for Count<W> {
    fn write(&mut self, item: Item) -> Result<(), BoxError> {
        self.count += match &item.payload {
            crate::item::Payload::Records(batch) => batch.num_rows() as u64,
            _ => 1,
        };
        Ok(())
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        writeln!(self.out, "count: {}", self.count)
            .and_then(|()| self.out.flush())
            .map_err(|error| SinkError::File {
                path: "stdout".to_string(),
                error,
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_the_count_and_nothing_else() {
        let mut sink = Count {
            count: 0,
            out: Vec::new(),
        };
        for _ in 0..3 {
            sink.write(Item::default()).unwrap();
        }
        sink.finish().unwrap();
        assert_eq!(String::from_utf8(sink.out).unwrap(), "count: 3\n");
    }
}
