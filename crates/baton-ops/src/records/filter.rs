//! `filter`: keeps the items for which a boolean expression over their
//! fields is true.
//!
//! The expression is [Rhai](https://rhai.rs): `level == "error"`,
//! `status >= 500 && path != "/health"`, `msg.contains("timeout")`,
//! `latency_ms > 250.0 || retries > 2`. Fields are variables by name (those
//! whose names are identifiers); JSON null is `()`, arrays and objects are
//! Rhai arrays and maps.
//!
//! A field the item does not have is `()`, and an item whose evaluation
//! touches one is kept only if the expression is still plainly true:
//! comparing `()` with a value is false (`!=` is true), and an evaluation
//! that fails, or gives no boolean, because of a missing field drops the
//! item instead of failing it. Any other failure, or a result that is not a
//! boolean, is the item's error.
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, Item, Params};
//!
//! let params = Params::new(toml::from_str(r#"expr = 'status >= 500 && path != "/health"'"#).unwrap(), ".");
//! let op = baton_ops::find("filter").unwrap();
//! let BuiltOp::Stage(built) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut stage = built.replica().unwrap();
//! let mut out = Vec::new();
//! stage.process(Item::record(serde_json::json!({"status": 503, "path": "/api"})), &mut out).unwrap();
//! stage.process(Item::record(serde_json::json!({"status": 503, "path": "/health"})), &mut out).unwrap();
//! stage.process(Item::record(serde_json::json!({"path": "/api"})), &mut out).unwrap();
//! assert_eq!(out.len(), 1);
//! ```

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, Scope, AST};
use serde_json::Value;

use super::error::RecordError;
use super::replicas;
use crate::item::Item;
use crate::registry::{BuiltOp, Modes, OpDef, OpError, OpKind, ParamDef, ParamType, Params};
use baton_engine::{BoxError, Stage};

pub(crate) const DEF: OpDef = OpDef {
    name: "filter",
    kind: OpKind::Transform,
    summary: "keeps the items for which `expr` (a Rhai expression over the fields) is true",
    params: &[ParamDef::required(
        "expr",
        ParamType::Str,
        "a boolean expression over the fields, like `status >= 500 && path != \"/health\"`; a missing field is ()",
    )],
    modes: Modes::ANY,
    build,
};

/// Steps one evaluation may take: far more than any filter needs, and a
/// bound on a runaway one.
const MAX_OPERATIONS: u64 = 1_000_000;

/// The compiled expression, shared by every replica.
struct Program {
    engine: Engine,
    ast: AST,
    /// Every word of the expression's text: only fields named by one can be
    /// variables in it, so only those are handed to it.
    words: HashSet<String>,
}

/// The stage.
#[derive(Clone)]
struct Filter {
    program: Arc<Program>,
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("words", &self.program.words)
            .finish_non_exhaustive()
    }
}

fn build(params: &Params) -> Result<BuiltOp, OpError> {
    let expr = Params::need("expr", params.str("expr")?)?;
    let mut engine = Engine::new();
    engine.set_max_operations(MAX_OPERATIONS);
    // stdout may be the pipeline's output: `print` and `debug` go to stderr.
    engine.on_print(|text| eprintln!("{text}"));
    engine.on_debug(|text, _, position| eprintln!("{position:?}: {text}"));
    let ast = engine
        .compile_expression(expr)
        .map_err(|e| OpError::param("expr", e.to_string()))?;
    let words = expr
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    Ok(replicas(Filter {
        program: Arc::new(Program { engine, ast, words }),
    }))
}

impl Filter {
    /// Whether the expression is true for the item.
    fn test(&self, item: &Item) -> Result<bool, RecordError> {
        let program = &*self.program;
        let mut scope = Scope::new();
        for (name, value) in &item.fields {
            if program.words.contains(name) {
                scope.push_dynamic(name.as_str(), to_dynamic(value));
            }
        }
        let mut missing = false;
        let result = loop {
            match program
                .engine
                .eval_ast_with_scope::<Dynamic>(&mut scope, &program.ast)
            {
                Err(error) => match *error {
                    EvalAltResult::ErrorVariableNotFound(ref name, _) if !scope.contains(name) => {
                        // Evaluation has no side effects: run again with the field as ().
                        scope.push_dynamic(name.as_str(), Dynamic::UNIT);
                        missing = true;
                    }
                    _ => break Err(error),
                },
                Ok(value) => break Ok(value),
            }
        };
        match result {
            Ok(value) => match value.as_bool() {
                Ok(keep) => Ok(keep),
                Err(_) if missing => Ok(false),
                Err(type_name) => Err(RecordError::Filter {
                    message: format!("it gave {type_name}, not true or false"),
                }),
            },
            Err(_) if missing => Ok(false),
            Err(error) => Err(RecordError::Filter {
                message: error.to_string(),
            }),
        }
    }
}

impl Stage<Item, Item> for Filter {
    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        if self.test(&item)? {
            out.push(item);
        }
        Ok(())
    }
}

/// A JSON value as a Rhai value.
fn to_dynamic(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from(i),
            None => Dynamic::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Array(values) => Dynamic::from_array(values.iter().map(to_dynamic).collect()),
        Value::Object(fields) => Dynamic::from_map(
            fields
                .iter()
                .map(|(k, v)| (k.as_str().into(), to_dynamic(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{build_error, params, run_stage};
    use serde_json::json;

    /// Which of `records` pass `expr`, by index; errors as messages.
    fn passing(expr: &str, records: &[Value]) -> Vec<Result<bool, String>> {
        let toml = format!("expr = {}", toml::Value::String(expr.into()));
        let items = records.iter().cloned().map(Item::record).collect();
        let (outputs, _) = run_stage(&DEF, &params(&DEF, &toml, ".".as_ref()), items);
        outputs
            .into_iter()
            .map(|out| out.map(|o| o.len() == 1))
            .collect()
    }

    #[test]
    fn keeps_what_is_true_and_drops_what_is_false() {
        let records = [
            json!({"level": "error", "status": 503, "path": "/api"}),
            json!({"level": "info", "status": 200, "path": "/api"}),
            json!({"level": "error", "status": 500, "path": "/health"}),
        ];
        assert_eq!(
            passing(r#"level == "error""#, &records),
            vec![Ok(true), Ok(false), Ok(true)]
        );
        assert_eq!(
            passing(r#"status >= 500 && path != "/health""#, &records),
            vec![Ok(true), Ok(false), Ok(false)]
        );
        assert_eq!(
            passing(r#"path.contains("heal") || status == 200"#, &records),
            vec![Ok(false), Ok(true), Ok(true)]
        );
    }

    #[test]
    fn numbers_nulls_arrays_and_maps_are_usable() {
        let records = [
            json!({"ms": 250.5, "tags": ["a", "b"], "user": {"id": 7}, "note": null}),
            json!({"ms": 3, "tags": [], "user": {"id": 8}, "note": "x"}),
        ];
        assert_eq!(passing("ms > 100", &records), vec![Ok(true), Ok(false)]);
        assert_eq!(
            passing(r#""b" in tags"#, &records),
            vec![Ok(true), Ok(false)]
        );
        assert_eq!(passing("user.id == 8", &records), vec![Ok(false), Ok(true)]);
        assert_eq!(passing("note == ()", &records), vec![Ok(true), Ok(false)]);
    }

    #[test]
    fn a_missing_field_is_unit_and_never_fails_the_item() {
        let records = [json!({"level": "error"}), json!({"msg": "timeout"})];
        assert_eq!(
            passing(r#"level == "error""#, &records),
            vec![Ok(true), Ok(false)]
        );
        assert_eq!(
            passing(r#"level != "error""#, &records),
            vec![Ok(false), Ok(true)]
        );
        assert_eq!(
            passing("status >= 500", &records),
            vec![Ok(false), Ok(false)]
        );
        // A method on a missing field fails: the item is dropped, not failed.
        assert_eq!(
            passing(r#"msg.contains("time")"#, &records),
            vec![Ok(false), Ok(true)]
        );
        assert_eq!(passing("level == ()", &records), vec![Ok(false), Ok(true)]);
    }

    #[test]
    fn a_failure_or_a_result_that_is_not_boolean_is_the_items_error() {
        let records = [json!({"level": "error", "n": 1})];
        let not_bool = passing("n + 1", &records);
        assert_eq!(
            not_bool,
            vec![Err(
                "`expr` failed: it gave i64, not true or false".to_string()
            )]
        );
        let failed = passing("level.no_such_method()", &records);
        let message = failed[0].as_ref().unwrap_err();
        assert!(
            message.starts_with("`expr` failed: Function not found"),
            "{message}"
        );
        assert!(message.contains("position"), "{message}");
    }

    #[test]
    fn a_bad_expression_is_refused_with_its_position() {
        let error = build_error(
            &DEF,
            &params(&DEF, r#"expr = "status >= && x""#, ".".as_ref()),
        );
        assert_eq!(error.param.as_deref(), Some("expr"));
        assert!(error.message.contains("position 11"), "{error}");
        // Statements are not expressions.
        let error = build_error(&DEF, &params(&DEF, r#"expr = "let x = 1""#, ".".as_ref()));
        assert_eq!(error.param.as_deref(), Some("expr"));
    }
}
