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
use crate::registry::{BuiltOp, Modes, OpDef, OpError, OpKind, Params};
use baton_engine::{BoxError, Sink};

pub(crate) const DEF: OpDef = OpDef {
    name: "count",
    kind: OpKind::Sink,
    summary: "counts the items and prints `count: N` to standard output at the end",
    params: &[],
    modes: Modes::SERIAL,
    build,
};

fn build(_: &Params) -> Result<BuiltOp, OpError> {
    Ok(sink(|| {
        Ok(Count {
            count: 0,
            out: std::io::stdout(),
        })
    }))
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
