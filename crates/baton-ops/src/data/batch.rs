//! `batch` and `unbatch`: `size` items into one item whose payload is the
//! batch ([`Payload::Batch`], with the field `size`), and a batch back into
//! its items.
//!
//! The engine's own `batch` gives a `Vec` of items, which is not an item; a
//! batch here is an item, so any stage (a sink, `exec`) can take it.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, Item, Params, Payload};
//!
//! let params = Params::new(toml::from_str("size = 2").unwrap(), ".");
//! let BuiltOp::Stage(built) = (baton_ops::find("batch").unwrap().build)(&params).unwrap() else { unreachable!() };
//! let mut batch = built.replica().unwrap();
//! let mut out = Vec::new();
//! for n in 0..3 {
//!     batch.process(Item::with_field("n", n), &mut out).unwrap();
//! }
//! batch.finish(&mut out).unwrap(); // the short last batch
//! assert_eq!(out.len(), 2);
//! assert_eq!(out[0].get("size").unwrap(), 2);
//! assert!(matches!(&out[1].payload, Payload::Batch(items) if items.len() == 1));
//! ```

use baton_engine::{BoxError, Stage};

use super::positive;
use crate::item::{Item, Payload};
use crate::registry::{BuiltOp, BuiltStage, Modes, OpDef, OpKind, ParamDef, ParamType};

pub(super) const BATCH: OpDef = OpDef {
    name: "batch",
    kind: OpKind::Transform,
    summary: "groups `size` items into one item whose payload is the batch",
    params: &[
        ParamDef::required("size", ParamType::Int, "items per batch").at_least(1),
        ParamDef::with_default(
            "drop_remainder",
            ParamType::Bool,
            "false",
            "drop a short last batch",
        ),
    ],
    modes: Modes::SERIAL,
    build: |p| {
        let size = positive(p, "size")?;
        let exact = p.bool("drop_remainder")?.unwrap_or(false);
        Ok(BuiltOp::Stage(BuiltStage::replicas(move || {
            Ok(Batch {
                size,
                exact,
                items: Vec::new(),
            })
        })))
    },
};

pub(super) const UNBATCH: OpDef = OpDef {
    name: "unbatch",
    kind: OpKind::Transform,
    summary: "turns every batch back into its items",
    params: &[],
    modes: Modes::ANY,
    build: |_| Ok(BuiltOp::Stage(BuiltStage::replicas(|| Ok(Unbatch)))),
};

/// Items into one item whose payload is the batch.
#[derive(Debug)]
struct Batch {
    size: usize,
    /// Drop a short last batch.
    exact: bool,
    items: Vec<Item>,
}

impl Batch {
    fn emit(&mut self, out: &mut Vec<Item>) {
        let items = std::mem::take(&mut self.items);
        let mut batch = Item::with_field("size", items.len());
        batch.payload = Payload::Batch(items);
        out.push(batch);
    }
}

impl Stage<Item, Item> for Batch {
    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        self.items.push(item);
        if self.items.len() == self.size {
            self.emit(out);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Item>) -> Result<(), BoxError> {
        if !self.items.is_empty() && !self.exact {
            self.emit(out);
        }
        Ok(())
    }
}

/// A batch back into its items.
#[derive(Debug)]
struct Unbatch;

impl Stage<Item, Item> for Unbatch {
    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        match item.payload {
            Payload::Batch(items) => {
                out.extend(items);
                Ok(())
            }
            other => Err(format!(
                "unbatch needs a batch, got an item with {} payload",
                other.kind()
            )
            .into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{params, run_stage};

    fn numbers(n: i64) -> Vec<Item> {
        (0..n).map(|n| Item::with_field("n", n)).collect()
    }

    #[test]
    fn batches_of_size_then_a_short_one_unless_dropped() {
        let (outputs, last) = run_stage(
            &BATCH,
            &params(&BATCH, "size = 2", ".".as_ref()),
            numbers(5),
        );
        let sizes: Vec<usize> = outputs.iter().map(|o| o.as_ref().unwrap().len()).collect();
        assert_eq!(sizes, [0, 1, 0, 1, 0]);
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].get("size").unwrap(), 1);
        let toml = "size = 2\ndrop_remainder = true";
        let (_, last) = run_stage(&BATCH, &params(&BATCH, toml, ".".as_ref()), numbers(5));
        assert!(last.is_empty());
    }

    #[test]
    fn unbatch_gives_the_items_back_and_refuses_what_is_not_a_batch() {
        let mut batch = Item::with_field("size", 3);
        batch.payload = Payload::Batch(numbers(3));
        let items = vec![batch, Item::with_field("n", 9)];
        let (outputs, _) = run_stage(&UNBATCH, &params(&UNBATCH, "", ".".as_ref()), items);
        assert_eq!(outputs[0], Ok(numbers(3)));
        assert_eq!(
            outputs[1],
            Err("unbatch needs a batch, got an item with none payload".to_string())
        );
    }

    #[test]
    fn a_size_of_zero_is_refused() {
        let error = crate::testing::build_error(&BATCH, &params(&BATCH, "size = 0", ".".as_ref()));
        assert_eq!(error.param.as_deref(), Some("size"));
    }
}
