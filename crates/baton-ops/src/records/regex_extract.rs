//! `regex_extract`: named capture groups of a regular expression, matched
//! against a string field, become fields.
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, Item, Params};
//!
//! let params = Params::new(toml::from_str(r#"pattern = '(?P<method>[A-Z]+) (?P<path>\S+)'"#).unwrap(), ".");
//! let op = baton_ops::find("regex_extract").unwrap();
//! let BuiltOp::Stage(built) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut out = Vec::new();
//! built.replica().unwrap().process(Item::with_field("line", "GET /index.html"), &mut out).unwrap();
//! assert_eq!(out[0].get("path").unwrap(), "/index.html");
//! ```

use regex::Regex;

use super::{replicas, string_field};
use crate::item::Item;
use crate::registry::{BuiltOp, Modes, OpDef, OpError, OpKind, ParamDef, ParamType, Params};
use baton_engine::{BoxError, Stage};

pub(crate) const DEF: OpDef = OpDef {
    name: "regex_extract",
    kind: OpKind::Transform,
    summary: "matches a regular expression against a string field; its named groups `(?P<name>...)` become fields",
    params: &[
        ParamDef::with_default("field", ParamType::Str, "\"line\"", "the field matched"),
        ParamDef::required(
            "pattern",
            ParamType::Str,
            "a regular expression (Rust `regex` syntax) with named groups, like `(?P<status>\\d{3})`",
        ),
        ParamDef::with_default(
            "keep_unmatched",
            ParamType::Bool,
            "false",
            "pass on an item that does not match, unchanged (otherwise it is dropped)",
        ),
        ParamDef::with_default(
            "infer_types",
            ParamType::Bool,
            "false",
            "read captured integers, decimals, true and false as such (otherwise all are strings)",
        ),
    ],
    modes: Modes::ANY,
    build,
};

/// The stage.
#[derive(Clone, Debug)]
struct RegexExtract {
    field: String,
    regex: Regex,
    /// The names of the groups.
    names: Vec<String>,
    keep_unmatched: bool,
    infer_types: bool,
}

fn build(params: &Params) -> Result<BuiltOp, OpError> {
    let pattern = Params::need("pattern", params.str("pattern")?)?;
    let regex = Regex::new(pattern).map_err(|e| OpError::param("pattern", e.to_string()))?;
    let names = regex
        .capture_names()
        .flatten()
        .map(str::to_string)
        .collect();
    Ok(replicas(RegexExtract {
        field: params.str("field")?.unwrap_or("line").to_string(),
        regex,
        names,
        keep_unmatched: params.bool("keep_unmatched")?.unwrap_or(false),
        infer_types: params.bool("infer_types")?.unwrap_or(false),
    }))
}

impl Stage<Item, Item> for RegexExtract {
    fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        let text = string_field(&item, &self.field)?;
        let Some(captures) = self.regex.captures(text) else {
            if self.keep_unmatched {
                out.push(item);
            }
            return Ok(());
        };
        // A group that took no part in the match sets no field.
        let found: Vec<(&String, String)> = self
            .names
            .iter()
            .filter_map(|name| captures.name(name).map(|m| (name, m.as_str().to_string())))
            .collect();
        for (name, text) in found {
            if self.infer_types {
                item.set(name, crate::json::infer(&text));
            } else {
                item.set(name, text);
            }
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

    const ACCESS: &str = r#"pattern = '^(?P<ip>\S+) "(?P<method>[A-Z]+) (?P<path>\S+)" (?P<status>\d{3})(?: (?P<ms>\d+)ms)?$'"#;

    fn extract(toml: &str, lines: &[&str]) -> Vec<Result<Vec<Value>, String>> {
        let items = lines.iter().map(|l| Item::with_field("line", *l)).collect();
        let (outputs, _) = run_stage(&DEF, &params(&DEF, toml, ".".as_ref()), items);
        outputs
            .into_iter()
            .map(|out| {
                out.map(|items| items.into_iter().map(|i| Value::Object(i.fields)).collect())
            })
            .collect()
    }

    #[test]
    fn named_groups_become_fields_and_unmatched_items_are_dropped() {
        let out = extract(
            ACCESS,
            &[
                r#"10.0.0.1 "GET /a" 200 12ms"#,
                "garbage",
                r#"::1 "POST /b" 503"#,
            ],
        );
        assert_eq!(
            out[0],
            Ok(vec![
                json!({"line": r#"10.0.0.1 "GET /a" 200 12ms"#, "ip": "10.0.0.1",
                "method": "GET", "path": "/a", "status": "200", "ms": "12"})
            ])
        );
        assert_eq!(out[1], Ok(vec![]));
        let third = &out[2].as_ref().unwrap()[0];
        assert_eq!(third["status"], "503");
        assert!(
            third.get("ms").is_none(),
            "a group that did not match sets nothing"
        );
    }

    #[test]
    fn keep_unmatched_and_infer_types() {
        let toml = format!("{ACCESS}\nkeep_unmatched = true\ninfer_types = true");
        let out = extract(&toml, &[r#"h "GET /" 404 7ms"#, "garbage"]);
        assert_eq!(out[0].as_ref().unwrap()[0]["status"], 404);
        assert_eq!(out[0].as_ref().unwrap()[0]["ms"], 7);
        assert_eq!(out[1], Ok(vec![json!({"line": "garbage"})]));
    }

    #[test]
    fn a_missing_field_is_an_error_naming_it() {
        let items = vec![Item::with_field("msg", "x")];
        let (out, _) = run_stage(&DEF, &params(&DEF, ACCESS, ".".as_ref()), items);
        assert_eq!(out[0].as_ref().unwrap_err(), "no field `line`");
    }

    #[test]
    fn a_bad_pattern_is_refused() {
        let error = build_error(
            &DEF,
            &params(&DEF, r#"pattern = '(?P<x>\d+'"#, ".".as_ref()),
        );
        assert_eq!(error.param.as_deref(), Some("pattern"));
        assert!(error.message.contains("unclosed group"), "{error}");
    }
}
