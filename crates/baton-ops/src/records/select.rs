//! `select`: keeps only the named fields.
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, Item, Params};
//!
//! let params = Params::new(toml::from_str(r#"fields = ["a"]"#).unwrap(), ".");
//! let op = baton_ops::find("select").unwrap();
//! let BuiltOp::Stage(built) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut out = Vec::new();
//! let item = Item::record(serde_json::json!({"a": 1, "b": 2}));
//! built.replica().unwrap().process(item, &mut out).unwrap();
//! assert_eq!(out[0], Item::with_field("a", 1));
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Map;

use super::error::RecordError;
use super::record_replicas;
use crate::item::{Item, Payload};
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef, ParamType,
};
use baton_engine::{BoxError, Stage};
use baton_records::RecordBatch;

pub(crate) const DEF: OpDef = OpDef {
    name: "select",
    kind: OpKind::Transform,
    summary: "keeps only the named fields (and the payload)",
    params: &[
        ParamDef::required("fields", ParamType::StrList, "the fields to keep"),
        ParamDef::with_default(
            "strict",
            ParamType::Bool,
            "false",
            "a missing field is an error (otherwise it is skipped)",
        ),
    ],
    modes: Modes::ANY,
    build: build_from::<SelectConfig>,
};

/// The parameters of `select`: keeps only the named fields (and the
/// payload), in the order named; a name given twice is kept once.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, OpConfig, SelectConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let config = SelectConfig { fields: vec!["a".into(), "zz".into()], strict: false };
/// let BuiltOp::Stage(built) = config.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let mut out = Vec::new();
/// let item = Item::record(serde_json::json!({"a": 1, "b": 2}));
/// built.replica().unwrap().process(item.clone(), &mut out).unwrap();
/// assert_eq!(out, [Item::with_field("a", 1)]);
///
/// let strict = SelectConfig { strict: true, ..config };
/// let BuiltOp::Stage(built) = strict.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let error = built.replica().unwrap().process(item, &mut Vec::new()).unwrap_err();
/// assert_eq!(error.to_string(), "no field `zz`");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectConfig {
    /// The fields to keep.
    pub fields: Vec<String>,
    /// A missing field is an error (otherwise it is skipped).
    #[serde(default)]
    pub strict: bool,
}

impl OpConfig for SelectConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let mut fields = self.fields.clone();
        let mut seen = std::collections::HashSet::new();
        fields.retain(|f| seen.insert(f.clone()));
        Ok(record_replicas(Select {
            fields,
            strict: self.strict,
        }))
    }
}

/// The stage.
#[derive(Clone, Debug)]
struct Select {
    fields: Vec<String>,
    strict: bool,
}

impl Select {
    /// The kept columns of a chunk of records, in the order named: no value
    /// is copied.
    fn project(&self, batch: &RecordBatch) -> Result<RecordBatch, BoxError> {
        let schema = batch.schema();
        let mut indices = Vec::with_capacity(self.fields.len());
        for name in &self.fields {
            match schema.index_of(name) {
                Ok(index) => indices.push(index),
                Err(_) if self.strict => {
                    return Err(RecordError::MissingField {
                        field: name.clone(),
                    }
                    .into())
                }
                Err(_) => {}
            }
        }
        Ok(batch.project(&indices)?)
    }
}

impl Stage<Item, Item> for Select {
    fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        if let Payload::Records(batch) = &item.payload {
            out.push(Item::records(self.project(batch)?));
            return Ok(());
        }
        let mut kept = Map::new();
        for name in &self.fields {
            match item.fields.remove(name) {
                Some(value) => {
                    kept.insert(name.clone(), value);
                }
                None if self.strict => {
                    return Err(RecordError::MissingField {
                        field: name.clone(),
                    }
                    .into())
                }
                None => {}
            }
        }
        item.fields = kept;
        out.push(item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{params, run_stage};
    use serde_json::{json, Value};

    #[test]
    fn keeps_the_named_fields_and_skips_missing_ones_unless_strict() {
        let item = Item::record(json!({"a": 1, "b": 2, "c": 3}));
        let (out, _) = run_stage(
            &DEF,
            &params(&DEF, "fields = [\"c\", \"a\", \"zz\", \"a\"]", ".".as_ref()),
            vec![item.clone()],
        );
        assert_eq!(
            Value::Object(out[0].as_ref().unwrap()[0].fields.clone()),
            json!({"a": 1, "c": 3})
        );

        let (out, _) = run_stage(
            &DEF,
            &params(
                &DEF,
                "fields = [\"a\", \"zz\"]\nstrict = true",
                ".".as_ref(),
            ),
            vec![item],
        );
        assert_eq!(out[0].as_ref().unwrap_err(), "no field `zz`");
    }
}
