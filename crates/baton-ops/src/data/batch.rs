//! `batch` and `unbatch`: `size` items into one item whose payload is the
//! batch ([`Payload::Batch`], with the field `size`), and a batch back into
//! its items.
//!
//! With `stack = true`, `batch` stacks instead, as a training loop wants
//! its batches: the items' tensors, all of one shape, become one tensor
//! with a first dimension of the batch's size, and each field becomes an
//! array of the items' values in order (`label: [9, 2, ...]`; `null` where
//! an item lacks it). An item whose payload is not a tensor, or whose shape
//! differs from the batch's first item, fails alone, named by its shape.
//! `unbatch` undoes either: a stacked batch gives one item per row of its
//! tensor, with the row's value of each field (a field set on the batch
//! as a whole goes to every item).
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
use serde::{Deserialize, Serialize};

use super::at_least_one;
use crate::item::{Item, Payload};
use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltStage, Modes, OpConfig, OpDef, OpError, OpKind,
    ParamDef, ParamType,
};

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
        ParamDef::with_default(
            "stack",
            ParamType::Bool,
            "false",
            "stack the items' tensors (all of one shape) into one tensor [size, ...] and each field into an array, as a training loop takes a batch",
        ),
    ],
    modes: Modes::SERIAL,
    build: build_from::<BatchConfig>,
};

pub(super) const UNBATCH: OpDef = OpDef {
    name: "unbatch",
    kind: OpKind::Transform,
    summary: "turns every batch back into its items; a stacked batch (`stack = true`) into items of one tensor row and one value of each field",
    params: &[],
    modes: Modes::ANY,
    build: build_from::<UnbatchConfig>,
};

/// The parameters of `batch`: groups `size` items into one item whose
/// payload is the batch (or, with `stack`, one stacked tensor and an array
/// per field).
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BatchConfig, BuildContext, OpConfig};
/// use baton_ops::{BuiltOp, Item, Payload};
///
/// let config = BatchConfig { size: 2, drop_remainder: true, stack: false };
/// let BuiltOp::Stage(built) = config.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let mut batch = built.replica().unwrap();
/// let mut out = Vec::new();
/// for n in 0..3 {
///     batch.process(Item::with_field("n", n), &mut out).unwrap();
/// }
/// batch.finish(&mut out).unwrap(); // the short last batch is dropped
/// assert_eq!(out.len(), 1);
/// assert!(matches!(&out[0].payload, Payload::Batch(items) if items.len() == 2));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Items per batch (at least 1).
    pub size: usize,
    /// Drop a short last batch.
    #[serde(default)]
    pub drop_remainder: bool,
    /// Stack the items' tensors (all of one shape) into one tensor
    /// `[size, ...]` and each field into an array, as a training loop takes
    /// a batch.
    #[serde(default)]
    pub stack: bool,
}

impl OpConfig for BatchConfig {
    const DEF: &'static OpDef = &BATCH;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let size = at_least_one("size", self.size)?;
        let BatchConfig {
            drop_remainder: exact,
            stack,
            ..
        } = *self;
        Ok(BuiltOp::Stage(BuiltStage::replicas(move || {
            Ok(Batch {
                size,
                exact,
                stack,
                items: Vec::new(),
            })
        })))
    }
}

/// The parameters of `unbatch` (it has none): turns every batch back into
/// its items.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, OpConfig, UnbatchConfig};
/// use baton_ops::{BuiltOp, Item, Payload};
///
/// let BuiltOp::Stage(built) = UnbatchConfig {}.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let items = vec![Item::with_field("n", 0), Item::with_field("n", 1)];
/// let mut batch = Item::with_field("size", 2);
/// batch.payload = Payload::Batch(items.clone());
/// let mut out = Vec::new();
/// built.replica().unwrap().process(batch, &mut out).unwrap();
/// assert_eq!(out, items);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnbatchConfig {}

impl OpConfig for UnbatchConfig {
    const DEF: &'static OpDef = &UNBATCH;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        Ok(BuiltOp::Stage(BuiltStage::replicas(|| Ok(Unbatch))))
    }
}

/// Items into one item whose payload is the batch.
#[derive(Debug)]
struct Batch {
    size: usize,
    /// Drop a short last batch.
    exact: bool,
    /// Stack tensors and fields instead of keeping the items.
    stack: bool,
    items: Vec<Item>,
}

impl Batch {
    fn emit(&mut self, out: &mut Vec<Item>) {
        let items = std::mem::take(&mut self.items);
        out.push(match self.stack {
            true => stacked(items),
            false => {
                let mut batch = Item::with_field("size", items.len());
                batch.payload = Payload::Batch(items);
                batch
            }
        });
    }
}

/// Items with tensors of one shape as one item: the tensors stacked on a
/// new first dimension, each field an array of the items' values.
fn stacked(items: Vec<Item>) -> Item {
    let mut names: Vec<String> = Vec::new();
    for item in &items {
        for name in item.fields.keys() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    let mut batch = Item::default();
    for name in &names {
        let values: Vec<serde_json::Value> = items
            .iter()
            .map(|item| item.get(name).cloned().unwrap_or(serde_json::Value::Null))
            .collect();
        batch.set(name, values);
    }
    batch.set("size", items.len());
    let mut shape = Vec::new();
    let mut data = Vec::new();
    for item in items {
        if let Payload::Tensor(tensor) = item.payload {
            if shape.is_empty() {
                shape = tensor.shape;
                data.reserve(tensor.data.len() * batch_len(&batch));
            }
            data.extend_from_slice(&tensor.data);
        }
    }
    let rows = batch_len(&batch);
    shape.insert(0, rows);
    batch.payload = Payload::Tensor(crate::item::Tensor { shape, data });
    batch
}

/// The `size` field of a stacked batch.
fn batch_len(batch: &Item) -> usize {
    batch
        .get("size")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0) as usize
}

impl Stage<Item, Item> for Batch {
    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        if self.stack {
            let Payload::Tensor(tensor) = &item.payload else {
                return Err(format!(
                    "batch with stack = true needs a tensor payload, got {} (to_tensor makes one of an image)",
                    item.payload.kind()
                )
                .into());
            };
            if let Some(Payload::Tensor(first)) = self.items.first().map(|i| &i.payload) {
                if first.shape != tensor.shape {
                    return Err(format!(
                        "a tensor of shape {:?} cannot be stacked with the batch's {:?}",
                        tensor.shape, first.shape
                    )
                    .into());
                }
            }
        }
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
            Payload::Tensor(tensor)
                if tensor.shape.first().copied() == item.get("size").and_then(serde_json::Value::as_u64).map(|n| n as usize) =>
            {
                unstack(item.fields, tensor, out);
                Ok(())
            }
            other => Err(format!(
                "unbatch needs a batch (or a stacked one: a tensor [size, ...] with its field `size`), got an item with {} payload",
                other.kind()
            )
            .into()),
        }
    }
}

/// A stacked batch back into its items: row `i` of the tensor, and of each
/// field that is an array of one value per item its value `i` (a `null`,
/// which stacking put where an item lacked the field, leaves it out); any
/// other field, set on the batch as a whole, goes to every item.
fn unstack(
    mut fields: serde_json::Map<String, serde_json::Value>,
    tensor: crate::item::Tensor,
    out: &mut Vec<Item>,
) {
    let rows = tensor.shape[0];
    fields.remove("size");
    let shape = tensor.shape[1..].to_vec();
    let per_row = shape.iter().product::<usize>();
    for row in 0..rows {
        let values = tensor
            .data
            .get(row * per_row..(row + 1) * per_row)
            .unwrap_or_default();
        let mut item = Item::default();
        for (name, value) in &fields {
            match value {
                serde_json::Value::Array(values) if values.len() == rows => {
                    if !values[row].is_null() {
                        item.set(name, values[row].clone());
                    }
                }
                other => item.set(name, other.clone()),
            }
        }
        item.payload = Payload::Tensor(crate::item::Tensor {
            shape: shape.clone(),
            data: values.to_vec(),
        });
        out.push(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{params, run_stage};

    /// Item `n` of a stacked batch: a `[1, 2]` tensor, its `label`, and a
    /// `note` on item 1 only.
    fn row(n: usize) -> Item {
        let mut item = Item::with_field("label", n);
        if n == 1 {
            item.set("note", "odd");
        }
        item.payload = Payload::Tensor(crate::item::Tensor {
            shape: vec![1, 2],
            data: vec![n as f32, n as f32 + 0.5],
        });
        item
    }

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
            Err("unbatch needs a batch (or a stacked one: a tensor [size, ...] with its field `size`), got an item with none payload".to_string())
        );
    }

    #[test]
    fn stacked_batches_hold_one_tensor_and_an_array_per_field() {
        let tensor = row;
        let mut wrong = Item::with_field("label", 9);
        wrong.payload = Payload::Tensor(crate::item::Tensor {
            shape: vec![2, 1],
            data: vec![0.0, 0.0],
        });
        let items = vec![
            tensor(0),
            wrong,
            Item::with_field("label", 8),
            tensor(1),
            tensor(2),
        ];
        let params = params(&BATCH, "size = 2\nstack = true", ".".as_ref());
        let (outputs, last) = run_stage(&BATCH, &params, items);
        assert_eq!(
            outputs[1],
            Err("a tensor of shape [2, 1] cannot be stacked with the batch's [1, 2]".to_string())
        );
        assert!(outputs[2]
            .as_ref()
            .unwrap_err()
            .contains("needs a tensor payload, got none"));
        let first = &outputs[3].as_ref().unwrap()[0];
        assert_eq!(first.get("label").unwrap(), &serde_json::json!([0, 1]));
        assert_eq!(
            first.get("note").unwrap(),
            &serde_json::json!([null, "odd"])
        );
        assert_eq!(first.get("size").unwrap(), 2);
        assert_eq!(
            first.payload,
            Payload::Tensor(crate::item::Tensor {
                shape: vec![2, 1, 2],
                data: vec![0.0, 0.5, 1.0, 1.5]
            })
        );
        // The short last batch is stacked too.
        let Payload::Tensor(t) = &last[0].payload else {
            panic!()
        };
        assert_eq!(
            (t.shape.as_slice(), t.data.as_slice()),
            (&[1, 1, 2][..], &[2.0, 2.5][..])
        );
    }

    #[test]
    fn a_size_of_zero_is_refused() {
        let error = crate::testing::build_error(&BATCH, &params(&BATCH, "size = 0", ".".as_ref()));
        assert_eq!(error.param.as_deref(), Some("size"));
    }

    #[test]
    fn unbatch_unstacks_a_stacked_batch_into_the_items_it_was_made_of() {
        let items: Vec<Item> = (0..3).map(row).collect();
        let stack = params(&BATCH, "size = 3\nstack = true", ".".as_ref());
        let (outputs, _) = run_stage(&BATCH, &stack, items.clone());
        let mut batch = outputs[2].as_ref().unwrap()[0].clone();
        batch.set("epoch", 4);
        let mut not_stacked = batch.clone();
        not_stacked.set("size", 2);
        let (outputs, _) = run_stage(
            &UNBATCH,
            &params(&UNBATCH, "", ".".as_ref()),
            vec![batch, not_stacked],
        );
        let back = outputs[0].as_ref().unwrap();
        let want: Vec<Item> = items
            .into_iter()
            .map(|mut item| {
                item.set("epoch", 4);
                item
            })
            .collect();
        assert_eq!(back, &want, "rows, values and the batch's own field");
        assert!(outputs[1]
            .as_ref()
            .unwrap_err()
            .contains("a stacked one: a tensor [size, ...] with its field `size`"));
    }
}
