//! `json_parse`: a string field parsed as JSON into the record.
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, Item, Params};
//!
//! let params = Params::new(toml::from_str(r#"field = "line""#).unwrap(), ".");
//! let op = baton_ops::find("json_parse").unwrap();
//! let BuiltOp::Stage(built) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut out = Vec::new();
//! let item = Item::with_field("line", r#"{"level": "error", "code": 7}"#);
//! built.replica().unwrap().process(item, &mut out).unwrap();
//! assert_eq!(out[0].get("level").unwrap(), "error");
//! assert!(out[0].get("line").is_none());
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::RecordError;
use super::{replicas, string_field};
use crate::item::Item;
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef, ParamType,
};
use baton_engine::{BoxError, Stage};

pub(crate) const DEF: OpDef = OpDef {
    name: "json_parse",
    kind: OpKind::Transform,
    summary: "parses a string field as JSON: an object becomes the record's fields, another value the field `into`",
    params: &[
        ParamDef::with_default("field", ParamType::Str, "\"line\"", "the field holding JSON text"),
        ParamDef::with_default(
            "keep",
            ParamType::Bool,
            "false",
            "merge into the record's fields (parsed ones win) instead of replacing them",
        ),
        ParamDef::with_default(
            "into",
            ParamType::Str,
            "\"value\"",
            "the field for a value that is not an object",
        ),
    ],
    modes: Modes::ANY,
    build: build_from::<JsonParseConfig>,
};

/// The parameters of `json_parse`: parses the string field `field` as
/// JSON; an object becomes the record's fields (merged into them with
/// `keep`), another value the field `into`.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, JsonParseConfig, OpConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let config: JsonParseConfig = serde_json::from_str(r#"{"keep": true}"#).unwrap();
/// assert_eq!(config, JsonParseConfig { field: "line".into(), keep: true, into: "value".into() });
/// let BuiltOp::Stage(built) = config.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let mut out = Vec::new();
/// built.replica().unwrap().process(Item::with_field("line", r#"{"code": 7}"#), &mut out).unwrap();
/// assert_eq!(out[0].get("code").unwrap(), 7);
/// assert!(out[0].get("line").is_some(), "kept");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonParseConfig {
    /// The field holding JSON text.
    #[serde(default = "line")]
    pub field: String,
    /// Merge into the record's fields (parsed ones win) instead of
    /// replacing them.
    #[serde(default)]
    pub keep: bool,
    /// The field for a value that is not an object.
    #[serde(default = "value")]
    pub into: String,
}

fn line() -> String {
    "line".to_string()
}

fn value() -> String {
    "value".to_string()
}

impl OpConfig for JsonParseConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        Ok(replicas(JsonParse {
            field: self.field.clone(),
            keep: self.keep,
            into: self.into.clone(),
        }))
    }
}

/// The stage.
#[derive(Clone, Debug)]
struct JsonParse {
    field: String,
    keep: bool,
    into: String,
}

impl Stage<Item, Item> for JsonParse {
    fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        let value: Value =
            serde_json::from_str(string_field(&item, &self.field)?).map_err(|e| {
                RecordError::BadJson {
                    field: self.field.clone(),
                    message: crate::json::error_message(&e),
                }
            })?;
        let fields = match value {
            Value::Object(fields) => fields,
            other => Map::from_iter([(self.into.clone(), other)]),
        };
        if self.keep {
            item.fields.extend(fields);
        } else {
            item.fields = fields;
        }
        out.push(item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Payload;
    use crate::testing::{params, run_stage};
    use serde_json::json;

    fn parse(toml: &str, item: Item) -> Result<Vec<Item>, String> {
        let (mut outputs, _) = run_stage(&DEF, &params(&DEF, toml, ".".as_ref()), vec![item]);
        outputs.remove(0)
    }

    fn line(text: &str) -> Item {
        let mut item = Item::with_field("line", text);
        item.set("line_no", 3);
        item
    }

    #[test]
    fn an_object_replaces_the_fields_and_keeps_the_payload() {
        let mut item = line(r#"{"level": "error", "code": 7}"#);
        item.payload = Payload::Bytes(vec![1]);
        let out = parse("", item).unwrap();
        assert_eq!(
            Value::Object(out[0].fields.clone()),
            json!({"level": "error", "code": 7})
        );
        assert_eq!(out[0].payload, Payload::Bytes(vec![1]));
    }

    #[test]
    fn keep_merges_and_the_parsed_fields_win() {
        let out = parse("keep = true", line(r#"{"line_no": 9, "a": 1}"#)).unwrap();
        assert_eq!(
            Value::Object(out[0].fields.clone()),
            json!({"line": r#"{"line_no": 9, "a": 1}"#, "line_no": 9, "a": 1})
        );
    }

    #[test]
    fn a_non_object_goes_into_its_field() {
        let out = parse("", line("[1, 2]")).unwrap();
        assert_eq!(
            Value::Object(out[0].fields.clone()),
            json!({"value": [1, 2]})
        );
        let out = parse(
            "keep = true\ninto = \"n\"\nfield = \"raw\"",
            Item::with_field("raw", "5"),
        )
        .unwrap();
        assert_eq!(
            Value::Object(out[0].fields.clone()),
            json!({"raw": "5", "n": 5})
        );
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            parse("", line("{oops")).unwrap_err(),
            "field `line` is not valid JSON: key must be a string (column 2)"
        );
        assert_eq!(
            parse("field = \"body\"", line("{}")).unwrap_err(),
            "no field `body`"
        );
        assert_eq!(
            parse("field = \"line_no\"", line("{}")).unwrap_err(),
            "field `line_no` is a number, not a string"
        );
    }
}
