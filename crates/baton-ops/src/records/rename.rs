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

use super::replicas;
use crate::item::Item;
use crate::registry::{BuiltOp, Modes, OpDef, OpError, OpKind, ParamDef, ParamType, Params};
use baton_engine::{BoxError, Stage};

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
    build,
};

/// The stage.
#[derive(Clone, Debug)]
struct Rename {
    /// (old, new) pairs.
    moves: Vec<(String, String)>,
}

fn build(params: &Params) -> Result<BuiltOp, OpError> {
    let moves = Params::need("fields", params.str_table("fields")?)?;
    let mut targets: BTreeMap<&str, &str> = BTreeMap::new();
    for (old, new) in &moves {
        if let Some(first) = targets.insert(new, old) {
            return Err(OpError::param(
                "fields",
                format!("`{first}` and `{old}` are both renamed to `{new}`"),
            ));
        }
    }
    Ok(replicas(Rename { moves }))
}

impl Stage<Item, Item> for Rename {
    fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
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
