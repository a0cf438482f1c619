//! `remap`: sets fields to values computed from each record, as Vector's
//! `remap` transform does: `fields = { total = "price * qty", late =
//! "dep_delay > 60", route = 'origin + "-" + dest' }`.
//!
//! Each value is a [Rhai](https://rhai.rs) expression over the record's
//! fields, in the language `filter` uses (fields by name, `record["a b"]`
//! for any field). Every expression reads the record as it came in, not
//! the fields set beside it, so the order of the table does not matter; a
//! field that exists is replaced, a new one is added.
//!
//! A value computed from a missing field, or a null one, is null (as in
//! SQL), and so is a value that is `()`; any other failure is the item's
//! error, naming the field. On chunks of records, an expression within the
//! part of Rhai that compiles (fields, literals, arithmetic, comparisons,
//! `&& || !`, `contains`/`starts_with`/`ends_with`) is computed column by
//! column with Arrow's kernels; any other is run on each row.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, Item, Params};
//!
//! let params = Params::new(toml::from_str(r#"fields = { total = "price * qty", big = "price > 10" }"#).unwrap(), ".");
//! let BuiltOp::Stage(built) = (baton_ops::find("remap").unwrap().build)(&params).unwrap() else { unreachable!() };
//! let mut out = Vec::new();
//! let item = Item::record(serde_json::json!({"price": 12, "qty": 3}));
//! built.replica().unwrap().process(item, &mut out).unwrap();
//! assert_eq!(out[0].get("total").unwrap(), 36);
//! assert_eq!(out[0].get("big").unwrap(), true);
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema};
use baton_engine::{BoxError, Stage};
use baton_records::Predicate;
use rhai::{Dynamic, Engine, Scope, AST};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::RecordError;
use super::filter::{bounded_engine, eval_filling_missing, to_dynamic, words_of, RECORD};
use super::record_replicas;
use crate::item::{Item, Payload};
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef, ParamType,
};

pub(crate) const DEF: OpDef = OpDef {
    name: "remap",
    kind: OpKind::Transform,
    summary: "sets fields to values computed from each record (Rhai expressions over the fields, as in filter), column by column where they compile",
    params: &[ParamDef::required(
        "fields",
        ParamType::StrTable,
        "the fields to set and their expressions, like { total = \"price * qty\", late = \"dep_delay > 60\" }; each reads the record as it came in; a value computed from a missing or null field is null",
    )],
    modes: Modes::ANY,
    build: build_from::<RemapConfig>,
};

/// The parameters of `remap`: each key of `fields` is set to the value of
/// its [Rhai](https://rhai.rs) expression over the record as it came in
/// (see the module for the language and how a missing value counts).
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, OpConfig, RemapConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let fields = [("total", "price * qty"), ("big", "price > 10"), ("late_by", "delay - 60")];
/// let config = RemapConfig { fields: fields.map(|(k, v)| (k.to_string(), v.to_string())).into_iter().collect() };
/// let BuiltOp::Stage(built) = config.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let mut out = Vec::new();
/// let item = Item::record(serde_json::json!({"price": 12, "qty": 3}));
/// built.replica().unwrap().process(item, &mut out).unwrap();
/// assert_eq!(out[0].get("total").unwrap(), 36);
/// assert_eq!(out[0].get("big").unwrap(), true);
/// assert!(out[0].get("late_by").unwrap().is_null(), "`delay` is missing");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemapConfig {
    /// The fields to set and their expressions, like `{ total = "price *
    /// qty", late = "dep_delay > 60" }`; each reads the record as it came
    /// in; a value computed from a missing or null field is null.
    pub fields: BTreeMap<String, String>,
}

impl OpConfig for RemapConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        if self.fields.is_empty() {
            return Err(OpError::param("fields", "names no field to set"));
        }
        let engine = bounded_engine();
        let mut assignments = Vec::with_capacity(self.fields.len());
        for (field, expr) in &self.fields {
            let ast = engine
                .compile_expression(expr)
                .map_err(|e| OpError::param("fields", format!("`{field}`: {e}")))?;
            assignments.push(Assignment {
                compiled: Predicate::compile(expr).ok(),
                words: words_of(expr),
                field: field.clone(),
                ast,
            });
        }
        Ok(record_replicas(Remap {
            engine: Arc::new(engine),
            assignments: Arc::new(assignments),
        }))
    }
}

/// One field to set.
struct Assignment {
    field: String,
    ast: AST,
    /// The expression compiled into column-wise evaluation, when it can be.
    compiled: Option<Predicate>,
    /// The words of its text: the fields it may read.
    words: HashSet<String>,
}

/// The stage: its assignments, shared by every replica.
#[derive(Clone)]
struct Remap {
    engine: Arc<Engine>,
    assignments: Arc<Vec<Assignment>>,
}

impl fmt::Debug for Remap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<&str> = self.assignments.iter().map(|a| a.field.as_str()).collect();
        f.debug_struct("Remap").field("fields", &fields).finish()
    }
}

impl Remap {
    /// The value of `assignment` for a record with `fields`.
    fn value(
        &self,
        assignment: &Assignment,
        fields: &Map<String, Value>,
    ) -> Result<Value, RecordError> {
        let mut scope = Scope::new();
        for (name, value) in fields {
            if assignment.words.contains(name) {
                scope.push_dynamic(name.as_str(), to_dynamic(value));
            }
        }
        if assignment.words.contains(RECORD) {
            let record = fields
                .iter()
                .map(|(k, v)| (k.as_str().into(), to_dynamic(v)))
                .collect();
            scope.push_dynamic(RECORD, Dynamic::from_map(record));
        }
        let (result, missing) =
            eval_filling_missing(&self.engine, &assignment.ast, &mut scope, |_| {});
        let failed = |message: String| RecordError::Remap {
            field: assignment.field.clone(),
            message,
        };
        match result {
            Ok(value) if value.is_unit() => Ok(Value::Null),
            Ok(value) => rhai::serde::from_dynamic(&value).map_err(|e| failed(e.to_string())),
            // `()` in arithmetic or a call: a missing value, so none.
            Err(_) if missing || fields_null(assignment, fields) => Ok(Value::Null),
            Err(error) => Err(failed(error.to_string())),
        }
    }

    /// `batch` with the fields set, column by column where the expression
    /// compiles, else row by row.
    fn remap_columns(&self, batch: &RecordBatch) -> Result<RecordBatch, BoxError> {
        let mut rows = None;
        let mut computed: Vec<(&str, ArrayRef)> = Vec::with_capacity(self.assignments.len());
        for assignment in self.assignments.iter() {
            let compiled = assignment
                .compiled
                .as_ref()
                .and_then(|c| c.values(batch).ok());
            let column = match compiled {
                Some(column) => column,
                None => {
                    let rows = rows.get_or_insert_with(|| baton_records::rows::to_rows(batch));
                    let mut values = Vec::with_capacity(rows.len());
                    for row in rows.iter() {
                        let mut fields = row.clone();
                        fields.retain(|_, value| !value.is_null());
                        let mut one = Map::new();
                        one.insert(assignment.field.clone(), self.value(assignment, &fields)?);
                        values.push(one);
                    }
                    baton_records::rows::from_rows(values)?.column(0).clone()
                }
            };
            computed.push((assignment.field.as_str(), column));
        }
        let schema = batch.schema();
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut columns = batch.columns().to_vec();
        for (name, column) in computed {
            let field = Field::new(name, column.data_type().clone(), true);
            match fields.iter().position(|f| f.name() == name) {
                Some(at) => {
                    fields[at] = field;
                    columns[at] = column;
                }
                None => {
                    fields.push(field);
                    columns.push(column);
                }
            }
        }
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?)
    }
}

/// Whether some field the expression names is null in the record: a
/// failure then comes from a missing value, as in the columns.
fn fields_null(assignment: &Assignment, fields: &Map<String, Value>) -> bool {
    assignment
        .words
        .iter()
        .any(|word| matches!(fields.get(word), Some(Value::Null)))
}

impl Stage<Item, Item> for Remap {
    fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        if let Payload::Records(batch) = &item.payload {
            if batch.num_rows() > 0 {
                out.push(Item::records(self.remap_columns(batch)?));
            }
            return Ok(());
        }
        let mut values = Vec::with_capacity(self.assignments.len());
        for assignment in self.assignments.iter() {
            values.push(self.value(assignment, &item.fields)?);
        }
        for (assignment, value) in self.assignments.iter().zip(values) {
            item.fields.insert(assignment.field.clone(), value);
        }
        out.push(item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{build_error, params, run_stage};
    use serde_json::json;

    fn remapped(fields: &str, records: &[Value]) -> Vec<Result<Value, String>> {
        let stage = params(&DEF, &format!("fields = {fields}"), ".".as_ref());
        let items = records.iter().cloned().map(Item::record).collect();
        run_stage(&DEF, &stage, items)
            .0
            .into_iter()
            .map(|outs| outs.map(|mut outs| Value::Object(outs.remove(0).fields)))
            .collect()
    }

    #[test]
    fn sets_and_replaces_fields_from_the_record_as_it_came_in() {
        let out = remapped(
            r#"{ a = "a * 10", b = "a + 1", route = 'from + "-" + to' }"#,
            &[json!({"a": 2, "from": "JFK", "to": "LAX"})],
        );
        assert_eq!(
            out[0].as_ref().unwrap(),
            &json!({"a": 20, "b": 3, "from": "JFK", "to": "LAX", "route": "JFK-LAX"})
        );
    }

    #[test]
    fn a_missing_or_null_field_gives_null_and_another_failure_names_the_field() {
        let out = remapped(
            r#"{ d = "delay * 2", n = "name.len()" }"#,
            &[
                json!({"name": "x"}),
                json!({"delay": null, "name": "yy"}),
                json!({"delay": 3, "name": 5}),
            ],
        );
        assert_eq!(out[0].as_ref().unwrap()["d"], Value::Null);
        assert_eq!(out[1].as_ref().unwrap()["d"], Value::Null);
        assert_eq!(out[1].as_ref().unwrap()["n"], 2);
        let error = out[2].as_ref().unwrap_err();
        assert!(
            error.starts_with("field `n`: its expression failed:"),
            "{error}"
        );
    }

    #[test]
    fn a_bad_expression_is_refused_naming_its_field() {
        let error = build_error(
            &DEF,
            &params(&DEF, r#"fields = { x = "a +" }"#, ".".as_ref()),
        );
        assert_eq!(error.param.as_deref(), Some("fields"));
        assert!(error.message.starts_with("`x`:"), "{}", error.message);
    }

    /// Random records, as rows and as one chunk of columns: both ways give
    /// the same values (the compiled and the row-by-row evaluation agree).
    #[test]
    fn columns_and_rows_agree() {
        use proptest::prelude::*;
        let expressions = [
            "a * 2 + b",
            "a > b || s == \"x\"",
            "a / 2.0",
            "s.contains(\"y\")",
            "a - b * 3 > 0 && !(s == \"z\")",
        ];
        let record = (
            proptest::option::of(-50i64..50),
            proptest::option::of(-50i64..50),
            proptest::option::of(proptest::sample::select(vec!["x", "y", "xy", "z"])),
        )
            .prop_map(|(a, b, s)| json!({"a": a, "b": b, "s": s}));
        let sample = baton_records::rows::from_rows(vec![
            json!({"a": 1, "b": 2, "s": "x"})
                .as_object()
                .unwrap()
                .clone(),
            json!({"a": null, "b": 2, "s": null})
                .as_object()
                .unwrap()
                .clone(),
        ])
        .unwrap();
        let mut runner = proptest::test_runner::TestRunner::default();
        for expr in expressions {
            // The columns really are computed by the compiled expression.
            let compiled = Predicate::compile(expr).unwrap();
            assert!(compiled.values(&sample).is_ok(), "{expr}");
            let fields = format!("{{ v = '{expr}' }}");
            runner
                .run(
                    &proptest::collection::vec(record.clone(), 1..40),
                    |records| {
                        // Nulls as missing fields, as a row item would have them.
                        let rows: Vec<Value> = records
                            .iter()
                            .map(|r| {
                                let mut r = r.as_object().unwrap().clone();
                                r.retain(|_, v| !v.is_null());
                                Value::Object(r)
                            })
                            .collect();
                        let by_rows: Vec<Value> = remapped(&fields, &rows)
                            .into_iter()
                            .map(|r| r.unwrap()["v"].clone())
                            .collect();
                        let stage = params(&DEF, &format!("fields = {fields}"), ".".as_ref());
                        let batch = baton_records::rows::from_rows(
                            records
                                .iter()
                                .map(|r| r.as_object().unwrap().clone())
                                .collect(),
                        )
                        .unwrap();
                        let (out, _) = run_stage(&DEF, &stage, vec![Item::records(batch)]);
                        let chunk = out[0].as_ref().unwrap();
                        let by_columns: Vec<Value> = chunk
                            .iter()
                            .flat_map(Item::rows)
                            .map(|row| row.fields["v"].clone())
                            .collect();
                        let same = by_rows.iter().zip(&by_columns).all(|(r, c)| {
                            r == c || r.as_f64().is_some() && r.as_f64() == c.as_f64()
                        });
                        prop_assert!(
                            same && by_rows.len() == by_columns.len(),
                            "{expr}: {by_rows:?} vs {by_columns:?}"
                        );
                        Ok(())
                    },
                )
                .unwrap();
        }
    }
}
