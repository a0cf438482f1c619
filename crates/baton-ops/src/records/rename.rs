//! `rename`: renames fields (`fields = { old = "new" }`).
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, Item, Params};
//!
//! let params = Params::new(toml::from_str(r#"fields = { msg = "message" }"#).unwrap(), ".");
//! let op = baton_ops::find("rename").unwrap();
//! let BuiltOp::Stage(built) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut out = Vec::new();
//! built.replica().unwrap().process(Item::with_field("msg", "hi"), &mut out).unwrap();
//! assert_eq!(out[0], Item::with_field("message", "hi"));
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::record_replicas;
use crate::item::{Item, Payload};
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef, ParamType,
};
use baton_engine::{BoxError, Stage};
use baton_records::RecordBatch;

pub(crate) const DEF: OpDef = OpDef {
    name: "rename",
    kind: OpKind::Transform,
    summary: "renames fields; a missing one is skipped, all move at once (so two may swap)",
    params: &[ParamDef::required(
        "fields",
        ParamType::StrTable,
        "old name = \"new name\"",
    )],
    modes: Modes::ANY,
    build: build_from::<RenameConfig>,
};

/// The parameters of `rename`: each field named by a key of `fields` gets
/// its value's name; a missing one is skipped, all move at once (so two
/// may swap).
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, OpConfig, RenameConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let fields = [("a", "b"), ("b", "a")].map(|(old, new)| (old.to_string(), new.to_string()));
/// let config = RenameConfig { fields: fields.into_iter().collect() };
/// let BuiltOp::Stage(built) = config.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let mut out = Vec::new();
/// let item = Item::record(serde_json::json!({"a": 1, "b": 2}));
/// built.replica().unwrap().process(item, &mut out).unwrap();
/// assert_eq!(out, [Item::record(serde_json::json!({"a": 2, "b": 1}))]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameConfig {
    /// Old name = "new name".
    pub fields: BTreeMap<String, String>,
}

impl OpConfig for RenameConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let mut targets: BTreeMap<&str, &str> = BTreeMap::new();
        for (old, new) in &self.fields {
            if let Some(first) = targets.insert(new, old) {
                return Err(OpError::param(
                    "fields",
                    format!("`{first}` and `{old}` are both renamed to `{new}`"),
                ));
            }
        }
        let moves = self
            .fields
            .iter()
            .map(|(old, new)| (old.clone(), new.clone()))
            .collect();
        Ok(record_replicas(Rename { moves }))
    }
}

/// The stage.
#[derive(Clone, Debug)]
struct Rename {
    /// (old, new) pairs.
    moves: Vec<(String, String)>,
}

impl Rename {
    /// A chunk of records with its columns renamed: no value is copied. A
    /// column renamed onto another's name replaces it, as in a record.
    fn rename_columns(&self, batch: &RecordBatch) -> Result<RecordBatch, BoxError> {
        let schema = batch.schema();
        let new_name = |name: &str| {
            self.moves
                .iter()
                .find(|(old, _)| old == name)
                .map(|(_, new)| new)
        };
        let replaced: Vec<&String> = schema
            .fields()
            .iter()
            .filter_map(|field| new_name(field.name()))
            .collect();
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            match new_name(field.name()) {
                Some(new) => fields.push(field.as_ref().clone().with_name(new)),
                None if replaced.contains(&field.name()) => continue,
                None => fields.push(field.as_ref().clone()),
            }
            columns.push(std::sync::Arc::clone(column));
        }
        Ok(RecordBatch::try_new(
            std::sync::Arc::new(arrow_schema::Schema::new(fields)),
            columns,
        )?)
    }
}

impl Stage<Item, Item> for Rename {
    fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        if let Payload::Records(batch) = &item.payload {
            out.push(Item::records(self.rename_columns(batch)?));
            return Ok(());
        }
        let moved: Vec<(&String, serde_json::Value)> = self
            .moves
            .iter()
            .filter_map(|(old, new)| item.fields.remove(old).map(|value| (new, value)))
            .collect();
        for (new, value) in moved {
            item.fields.insert(new.clone(), value);
        }
        out.push(item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{build_error, params, run_stage};
    use serde_json::{json, Value};

    #[test]
    fn renames_swaps_and_skips_missing_fields() {
        let item = Item::record(json!({"a": 1, "b": 2, "c": 3}));
        let (out, _) = run_stage(
            &DEF,
            &params(
                &DEF,
                "fields = { a = \"b\", b = \"a\", c = \"d\", zz = \"y\" }",
                ".".as_ref(),
            ),
            vec![item],
        );
        assert_eq!(
            Value::Object(out[0].as_ref().unwrap()[0].fields.clone()),
            json!({"a": 2, "b": 1, "d": 3})
        );
    }

    #[test]
    fn two_fields_renamed_to_one_is_refused() {
        let error = build_error(
            &DEF,
            &params(&DEF, "fields = { a = \"x\", b = \"x\" }", ".".as_ref()),
        );
        assert_eq!(error.param.as_deref(), Some("fields"));
        assert!(error.message.contains("both renamed to `x`"), "{error}");
    }
}
