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

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::{record_replicas, string_field};
use crate::item::{Item, Payload};
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef, ParamType,
};
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
    build: build_from::<RegexExtractConfig>,
};

/// The parameters of `regex_extract`: matches `pattern` against the string
/// field `field`; its named groups `(?P<name>...)` become fields.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, OpConfig, RegexExtractConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let config = RegexExtractConfig {
///     field: "line".into(),
///     pattern: r"(?P<method>[A-Z]+) (?P<status>\d{3})".into(),
///     keep_unmatched: false,
///     infer_types: true,
/// };
/// let BuiltOp::Stage(built) = config.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let mut stage = built.replica().unwrap();
/// let mut out = Vec::new();
/// stage.process(Item::with_field("line", "GET 404"), &mut out).unwrap();
/// stage.process(Item::with_field("line", "no match"), &mut out).unwrap();
/// assert_eq!(out.len(), 1, "the unmatched item is dropped");
/// assert_eq!(out[0].get("status").unwrap(), 404);
///
/// let bad = RegexExtractConfig { pattern: "(?P<x>".into(), ..config };
/// assert_eq!(bad.build(&BuildContext::default()).unwrap_err().param.as_deref(), Some("pattern"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegexExtractConfig {
    /// The field matched.
    #[serde(default = "line")]
    pub field: String,
    /// A regular expression (Rust `regex` syntax) with named groups, like
    /// `(?P<status>\d{3})`.
    pub pattern: String,
    /// Pass on an item that does not match, unchanged (otherwise it is
    /// dropped).
    #[serde(default)]
    pub keep_unmatched: bool,
    /// Read captured integers, decimals, true and false as such (otherwise
    /// all are strings).
    #[serde(default)]
    pub infer_types: bool,
}

fn line() -> String {
    "line".to_string()
}

impl OpConfig for RegexExtractConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let regex =
            Regex::new(&self.pattern).map_err(|e| OpError::param("pattern", e.to_string()))?;
        let names = regex
            .capture_names()
            .flatten()
            .map(str::to_string)
            .collect();
        Ok(record_replicas(RegexExtract {
            field: self.field.clone(),
            regex,
            names,
            keep_unmatched: self.keep_unmatched,
            infer_types: self.infer_types,
        }))
    }
}

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

impl RegexExtract {
    /// A chunk of records with the groups as columns, matched over the
    /// field's column without making a row of any record; `None` when the
    /// chunk is not one it can do so (the field is not a text column with
    /// a value in every row, a group would replace a column, or types are
    /// to be inferred): its rows are then taken one by one.
    fn extract_columns(&self, batch: &RecordBatch) -> Option<RecordBatch> {
        if self.infer_types {
            return None;
        }
        let schema = batch.schema();
        let texts = batch.column_by_name(&self.field)?;
        if texts.data_type() != &DataType::Utf8 || texts.null_count() > 0 {
            return None;
        }
        if self
            .names
            .iter()
            .any(|name| schema.column_with_name(name).is_some())
        {
            return None;
        }
        let texts = texts.as_string::<i32>();
        let mut groups: Vec<Vec<Option<&str>>> =
            vec![Vec::with_capacity(texts.len()); self.names.len()];
        let mut matched = Vec::with_capacity(texts.len());
        let mut locations = self.regex.capture_locations();
        let indices: Vec<usize> = self
            .names
            .iter()
            .map(|name| {
                self.regex
                    .capture_names()
                    .position(|n| n == Some(name.as_str()))
                    .expect("a name of the pattern")
            })
            .collect();
        for text in texts.iter().map(|t| t.unwrap_or_default()) {
            let hit = self.regex.captures_read(&mut locations, text).is_some();
            matched.push(hit);
            for (column, &group) in groups.iter_mut().zip(&indices) {
                column.push(if hit {
                    locations.get(group).map(|(start, end)| &text[start..end])
                } else {
                    None
                });
            }
        }
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut columns = batch.columns().to_vec();
        for (name, values) in self.names.iter().zip(groups) {
            fields.push(Field::new(name, DataType::Utf8, true));
            columns.push(Arc::new(StringArray::from(values)) as ArrayRef);
        }
        let out = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).ok()?;
        if self.keep_unmatched || matched.iter().all(|m| *m) {
            return Some(out);
        }
        arrow_select::filter::filter_record_batch(&out, &BooleanArray::from(matched)).ok()
    }
}

impl Stage<Item, Item> for RegexExtract {
    fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        if let Payload::Records(batch) = &item.payload {
            match self.extract_columns(batch) {
                Some(extracted) => {
                    if extracted.num_rows() > 0 {
                        out.push(Item::records(extracted));
                    }
                }
                None => {
                    for row in crate::item::rows_of(batch) {
                        self.process(row, out)?;
                    }
                }
            }
            return Ok(());
        }
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

    /// Lines as one chunk of records and as rows, through the stage: the
    /// chunk's column-wise matching gives the rows' fields (a group that
    /// took no part is null in the columns, absent in a row).
    #[test]
    fn a_chunk_of_records_gives_what_its_rows_give() {
        use proptest::prelude::*;
        let line = prop_oneof![
            (
                0u8..255,
                "[A-Z]{1,6}",
                "/[a-z]{0,5}",
                100u16..600,
                proptest::option::of(0u32..5000)
            )
                .prop_map(|(ip, method, path, status, ms)| match ms {
                    Some(ms) => format!("10.0.0.{ip} \"{method} {path}\" {status} {ms}ms"),
                    None => format!("10.0.0.{ip} \"{method} {path}\" {status}"),
                }),
            "[a-z ]{0,12}",
        ];
        let mut runner = proptest::test_runner::TestRunner::default();
        for keep in ["false", "true"] {
            let toml = format!("{ACCESS}\nkeep_unmatched = {keep}");
            runner
                .run(&proptest::collection::vec(line.clone(), 1..30), |lines| {
                    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
                    let by_rows: Vec<Value> = extract(&toml, &refs)
                        .into_iter()
                        .flat_map(Result::unwrap)
                        .collect();
                    let rows: Vec<serde_json::Map<String, Value>> = lines
                        .iter()
                        .map(|l| json!({"line": l}).as_object().unwrap().clone())
                        .collect();
                    let chunk = Item::records(baton_records::rows::from_rows(rows).unwrap());
                    let (outputs, _) =
                        run_stage(&DEF, &params(&DEF, &toml, ".".as_ref()), vec![chunk]);
                    let by_columns: Vec<Value> = outputs[0]
                        .as_ref()
                        .unwrap()
                        .iter()
                        .flat_map(Item::rows)
                        .map(|mut row| {
                            row.fields.retain(|_, v| !v.is_null());
                            Value::Object(row.fields)
                        })
                        .collect();
                    prop_assert_eq!(by_columns, by_rows);
                    Ok(())
                })
                .unwrap();
        }
    }
}
