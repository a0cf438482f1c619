//! `filter`: keeps the items for which a boolean expression over their
//! fields is true.
//!
//! The expression is [Rhai](https://rhai.rs): `level == "error"`,
//! `status >= 500 && path != "/health"`, `msg.contains("timeout")`,
//! `latency_ms > 250.0 || retries > 2`. Fields are variables by name (those
//! whose names are identifiers); JSON null is `()`, arrays and objects are
//! Rhai arrays and maps.
//!
//! The variable `record` is the whole record, as a map: fields whose names
//! are not identifiers are read through it, `record["user-agent"]`,
//! `record["@timestamp"] > 1700000000`, and a field it does not have is
//! `()` there too. (A field named `record` itself is `record["record"]`.)
//!
//! A field the item does not have is `()`, and an item whose evaluation
//! touches one is kept only if the expression is still plainly true:
//! comparing `()` with a value is false (`!=` is true), and an evaluation
//! that fails, or gives no boolean, because of a missing field drops the
//! item instead of failing it. Any other failure, or a result that is not a
//! boolean, is the item's error.
//!
//! A misspelt field would drop every item without a word, so the stage
//! notes which fields the expression tested that were missing, and which
//! ones items had: a field no item has had is a warning of the stage
//! ([`Warnings`](crate::Warnings)) with the nearest field name items do
//! have; at the end of the run, and while it goes once a thousand items
//! have lacked it.
//!
//! An evaluation is bounded (steps, string, array and map sizes, nesting):
//! a runaway expression fails its item with a clear error instead of
//! hanging the run or eating its memory.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, Item, Params};
//!
//! let params = Params::new(toml::from_str(r#"expr = 'status >= 500 && record["user-agent"] != "probe"'"#).unwrap(), ".");
//! let op = baton_ops::find("filter").unwrap();
//! let BuiltOp::Stage(built) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut stage = built.replica().unwrap();
//! let mut out = Vec::new();
//! stage.process(Item::record(serde_json::json!({"status": 503, "user-agent": "curl"})), &mut out).unwrap();
//! stage.process(Item::record(serde_json::json!({"status": 503, "user-agent": "probe"})), &mut out).unwrap();
//! stage.process(Item::record(serde_json::json!({"user-agent": "curl"})), &mut out).unwrap();
//! assert_eq!(out.len(), 1);
//! ```

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow_array::BooleanArray;
use baton_records::{Predicate, RecordBatch};
use rhai::{Dynamic, Engine, EvalAltResult, Scope, AST};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::RecordError;
use super::record_replicas;
use crate::item::{Item, Payload};
use crate::registry::{
    build_from, nearest, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef,
    ParamType,
};
use crate::warnings::Moment;
use baton_engine::{BoxError, Stage};

pub(crate) const DEF: OpDef = OpDef {
    name: "filter",
    kind: OpKind::Transform,
    summary: "keeps the items for which `expr` (a Rhai expression over the fields) is true",
    params: &[ParamDef::required(
        "expr",
        ParamType::Str,
        "a boolean expression over the fields, like `status >= 500 && path != \"/health\"`; a missing field is (); `record[\"user-agent\"]` reads any field",
    )],
    modes: Modes::ANY,
    build: build_from::<FilterConfig>,
};

/// The parameters of `filter`: keeps the items for which `expr`, a
/// [Rhai](https://rhai.rs) expression over their fields, is true (see the
/// module for the language and how a missing field counts).
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, FilterConfig, OpConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let config = FilterConfig { expr: r#"status >= 500 && path != "/health""#.into() };
/// let BuiltOp::Stage(built) = config.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let mut stage = built.replica().unwrap();
/// let mut out = Vec::new();
/// stage.process(Item::record(serde_json::json!({"status": 503, "path": "/api"})), &mut out).unwrap();
/// stage.process(Item::record(serde_json::json!({"status": 503, "path": "/health"})), &mut out).unwrap();
/// stage.process(Item::record(serde_json::json!({"path": "/api"})), &mut out).unwrap();
/// assert_eq!(out.len(), 1);
///
/// let error = FilterConfig { expr: "status >= && x".into() }.build(&BuildContext::default()).unwrap_err();
/// assert_eq!(error.param.as_deref(), Some("expr"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// A boolean expression over the fields, like `status >= 500 && path !=
    /// "/health"`; a missing field is (); `record["user-agent"]` reads any
    /// field.
    pub expr: String,
}

impl OpConfig for FilterConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let expr = self.expr.as_str();
        let engine = bounded_engine();
        let ast = engine
            .compile_expression(expr)
            .map_err(|e| OpError::param("expr", e.to_string()))?;
        let words = words_of(expr);
        let seen = Arc::new(Seen::default());
        let warn = Arc::clone(&seen);
        context.warnings().check(move |moment| warn.warning(moment));
        Ok(record_replicas(Filter {
            program: Arc::new(Program {
                engine,
                compiled: Predicate::compile(expr).ok(),
                ast,
                binds_record: words.contains(RECORD),
                record_keys: record_keys(expr),
                words,
                seen,
            }),
            noted: Noted::default(),
        }))
    }
}

/// The variable holding the whole record.
pub(super) const RECORD: &str = "record";

/// Steps one evaluation may take: far more than any filter needs, and a
/// bound on a runaway one.
const MAX_OPERATIONS: u64 = 1_000_000;
/// The longest string an evaluation may make (a field may be longer: only
/// what the expression builds is measured).
const MAX_STRING: usize = 16 << 20;
/// The most elements of an array or blob, fields' arrays included.
const MAX_ARRAY: usize = 1_000_000;
/// The most entries of a map, `record` and fields' objects included.
const MAX_MAP: usize = 100_000;
/// Nesting of an expression, and of a closure's body in it, and calls in
/// calls: Rhai's own defaults for debug builds, safe on any thread's stack
/// and far deeper than a filter needs.
const MAX_EXPR_DEPTH: usize = 32;
const MAX_CLOSURE_DEPTH: usize = 16;
const MAX_CALL_LEVELS: usize = 8;

/// Items that must lack a field before it is warned of while the run goes.
const WARN_AFTER: u64 = 1000;
/// Items per replica whose field names are noted, to suggest the nearest.
const SAMPLED_ITEMS: usize = 16;

/// The compiled expression, shared by every replica.
struct Program {
    engine: Engine,
    ast: AST,
    /// The expression compiled into column-wise evaluation, for chunks of
    /// records, when it is in the part of Rhai that compiles.
    compiled: Option<Predicate>,
    /// Every word of the expression's text: only fields named by one can be
    /// variables in it, so only those are handed to it.
    words: HashSet<String>,
    /// Whether it names `record`, which then holds the whole record.
    binds_record: bool,
    /// The fields it reads as `record["name"]`.
    record_keys: Vec<String>,
    /// What the replicas have seen, for the warning.
    seen: Arc<Seen>,
}

/// What every replica of the stage has seen of the fields it tests.
#[derive(Debug, Default)]
struct Seen {
    items: AtomicU64,
    fields: Mutex<SeenFields>,
}

#[derive(Debug, Default)]
struct SeenFields {
    /// Fields the expression tested that an item lacked.
    missing: BTreeSet<String>,
    /// Fields of the expression's words that an item had.
    present: HashSet<String>,
    /// Field names of a sample of items, to suggest from.
    names: BTreeSet<String>,
}

impl Seen {
    fn fields(&self) -> std::sync::MutexGuard<'_, SeenFields> {
        // Sets of names stay whole if a holder panicked.
        self.fields.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The warning about the fields tested that no item has had, if any.
    fn warning(&self, moment: Moment) -> Option<String> {
        let items = self.items.load(Ordering::Relaxed);
        if moment == Moment::Running && items < WARN_AFTER {
            return None;
        }
        let fields = self.fields();
        let never: Vec<&String> = fields
            .missing
            .iter()
            .filter(|name| !fields.present.contains(*name))
            .collect();
        if never.is_empty() {
            return None;
        }
        let named: Vec<String> = never.iter().map(|name| format!("`{name}`")).collect();
        let (what, it) = if never.len() == 1 {
            ("the field", "it")
        } else {
            ("the fields", "them")
        };
        let whom = match moment {
            Moment::Running => "no item so far has had".to_string(),
            Moment::Ended => format!("none of the {items} items had"),
        };
        let suggestions: Vec<String> = never
            .iter()
            .filter_map(|name| {
                let near = nearest(name, fields.names.iter().map(String::as_str))?;
                Some(format!("did you mean `{near}`?"))
            })
            .collect();
        let mut message = format!(
            "`expr` tests {what} {}, which {whom}: every test of {it} saw ()",
            named.join(", ")
        );
        if !suggestions.is_empty() {
            message.push_str(&format!(" ({})", suggestions.join(" ")));
        }
        Some(message)
    }
}

/// What one replica has already passed on to [`Seen`], so that it locks
/// only when it learns something new.
#[derive(Clone, Debug, Default)]
struct Noted {
    missing: HashSet<String>,
    present: HashSet<String>,
    sampled: usize,
}

/// The stage.
#[derive(Clone)]
struct Filter {
    program: Arc<Program>,
    noted: Noted,
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("words", &self.program.words)
            .finish_non_exhaustive()
    }
}

/// A Rhai engine whose every evaluation is bounded (steps, sizes,
/// nesting), printing to stderr: shared with `remap`.
pub(super) fn bounded_engine() -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_string_size(MAX_STRING)
        .set_max_array_size(MAX_ARRAY)
        .set_max_map_size(MAX_MAP)
        .set_max_expr_depths(MAX_EXPR_DEPTH, MAX_CLOSURE_DEPTH)
        .set_max_call_levels(MAX_CALL_LEVELS);
    // stdout may be the pipeline's output: `print` and `debug` are log
    // events (the `baton` command shows them on stderr).
    engine.on_print(|text| tracing::info!(target: "baton::script", "{text}"));
    engine.on_debug(|text, _, position| {
        tracing::info!(target: "baton::script", "{position:?}: {text}");
    });
    engine
}

/// Evaluates `ast` in `scope`; a variable the scope lacks (a missing
/// field) is set to `()` and the evaluation run again (it has no side
/// effects), after `on_missing` is told its name. Also returns whether a
/// field was missing. Shared with `remap`.
pub(super) fn eval_filling_missing(
    engine: &Engine,
    ast: &AST,
    scope: &mut Scope<'_>,
    mut on_missing: impl FnMut(&str),
) -> (Result<Dynamic, Box<EvalAltResult>>, bool) {
    let mut missing = false;
    let result = loop {
        match engine.eval_ast_with_scope::<Dynamic>(scope, ast) {
            Err(error) => match *error {
                EvalAltResult::ErrorVariableNotFound(ref name, _) if !scope.contains(name) => {
                    on_missing(name);
                    scope.push_dynamic(name.as_str(), Dynamic::UNIT);
                    missing = true;
                }
                _ => break Err(error),
            },
            Ok(value) => break Ok(value),
        }
    };
    (result, missing)
}

/// Every word of an expression's text: only fields named by one can be
/// variables in it.
pub(super) fn words_of(expr: &str) -> HashSet<String> {
    expr.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The names in `record["name"]` (or `record['name']`) of an expression.
fn record_keys(expr: &str) -> Vec<String> {
    let pattern = regex::Regex::new(r#"\brecord\s*\[\s*(?:"([^"\\]*)"|'([^'\\]*)')\s*\]"#)
        .expect("a valid pattern");
    pattern
        .captures_iter(expr)
        .filter_map(|c| c.get(1).or(c.get(2)).map(|m| m.as_str().to_string()))
        .collect()
}

impl Filter {
    /// Whether the expression is true for the item.
    fn test(&mut self, item: &Item) -> Result<bool, RecordError> {
        let program = &*self.program;
        let noted = &mut self.noted;
        program.seen.items.fetch_add(1, Ordering::Relaxed);
        let mut scope = Scope::new();
        for (name, value) in &item.fields {
            if program.words.contains(name) {
                scope.push_dynamic(name.as_str(), to_dynamic(value));
                if !noted.present.contains(name) {
                    noted.present.insert(name.clone());
                    program.seen.fields().present.insert(name.clone());
                }
            }
        }
        if noted.sampled < SAMPLED_ITEMS {
            noted.sampled += 1;
            let mut fields = program.seen.fields();
            fields.names.extend(item.fields.keys().cloned());
        }
        if program.binds_record {
            // Pushed last, so `record` is the record even if a field has its name.
            let record = item
                .fields
                .iter()
                .map(|(k, v)| (k.as_str().into(), to_dynamic(v)))
                .collect();
            scope.push_dynamic(RECORD, Dynamic::from_map(record));
        }
        let (result, mut missing) =
            eval_filling_missing(&program.engine, &program.ast, &mut scope, |name| {
                if !noted.missing.contains(name) {
                    noted.missing.insert(name.to_string());
                    program.seen.fields().missing.insert(name.to_string());
                }
            });
        // A field read through `record["..."]` that the item lacks is as
        // missing as a variable that is not there.
        if !missing && !matches!(&result, Ok(value) if value.is_bool()) {
            missing = program
                .record_keys
                .iter()
                .any(|key| !item.fields.contains_key(key));
        }
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

impl Filter {
    /// The rows of a chunk of records that the expression keeps: compiled
    /// column-wise when it can be, else one row at a time. A null value is
    /// a missing field, as in a record that lacks it.
    fn keep_rows(&mut self, batch: &RecordBatch) -> Result<RecordBatch, BoxError> {
        let program = Arc::clone(&self.program);
        if let Some(compiled) = &program.compiled {
            if let Ok(kept) = compiled.evaluate(batch) {
                self.note_columns(batch, compiled);
                return Ok(arrow_select::filter::filter_record_batch(batch, &kept)?);
            }
        }
        let mut kept = Vec::with_capacity(batch.num_rows());
        for mut row in crate::item::rows_of(batch) {
            row.fields.retain(|_, value| !value.is_null());
            kept.push(self.test(&row)?);
        }
        Ok(arrow_select::filter::filter_record_batch(
            batch,
            &BooleanArray::from(kept),
        )?)
    }

    /// Notes, for the warning of a misspelt field, which fields the
    /// compiled expression tested that the chunk has and lacks.
    fn note_columns(&mut self, batch: &RecordBatch, compiled: &Predicate) {
        let program = &*self.program;
        let noted = &mut self.noted;
        program
            .seen
            .items
            .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
        let schema = batch.schema();
        for field in compiled.fields() {
            let (set, present) = if schema.column_with_name(field).is_some() {
                (&mut noted.present, true)
            } else {
                (&mut noted.missing, false)
            };
            if !set.contains(field) {
                set.insert(field.to_string());
                let mut seen = program.seen.fields();
                if present {
                    seen.present.insert(field.to_string());
                } else {
                    seen.missing.insert(field.to_string());
                }
            }
        }
        if noted.sampled < SAMPLED_ITEMS {
            noted.sampled += 1;
            let mut seen = program.seen.fields();
            seen.names
                .extend(schema.fields().iter().map(|f| f.name().clone()));
        }
    }
}

impl Stage<Item, Item> for Filter {
    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        if let Payload::Records(batch) = &item.payload {
            let kept = self.keep_rows(batch)?;
            if kept.num_rows() > 0 {
                out.push(Item::records(kept));
            }
            return Ok(());
        }
        if self.test(&item)? {
            out.push(item);
        }
        Ok(())
    }
}

/// A JSON value as a Rhai value.
pub(super) fn to_dynamic(value: &Value) -> Dynamic {
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
    use crate::warnings::{Moment, Warnings};
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

    /// Runs `records` through one replica of a filter on `expr` whose
    /// warnings go to the returned collector.
    fn warnings_of(expr: &str, records: &[Value]) -> Warnings {
        let run = Warnings::new();
        let toml = format!("expr = {}", toml::Value::String(expr.into()));
        let params = params(&DEF, &toml, ".".as_ref()).with_warnings(run.stage("keep"));
        let items = records.iter().cloned().map(Item::record).collect();
        run_stage(&DEF, &params, items);
        run
    }

    #[test]
    fn a_field_no_item_has_is_warned_of_once_with_the_nearest_name() {
        let records = [json!({"level": "error"}), json!({"level": "info"})];
        let run = warnings_of(r#"levle == "error" || levle == "warn""#, &records);
        assert!(
            run.read(Moment::Running).is_empty(),
            "two items are too few to say so while running"
        );
        let warnings = run.read(Moment::Ended);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].stage, "keep");
        let message = &warnings[0].message;
        assert!(message.contains("`levle`"), "{message}");
        assert!(message.contains("none of the 2 items"), "{message}");
        assert!(message.contains("did you mean `level`?"), "{message}");
        // A field some item has is no mistake, even if most lack it.
        let records = [json!({"a": 1}), json!({"status": 500}), json!({"a": 2})];
        assert!(warnings_of("status >= 500", &records)
            .read(Moment::Ended)
            .is_empty());
    }

    #[test]
    fn after_many_items_the_warning_comes_while_the_run_goes() {
        let records = vec![json!({"level": "info"}); 1000];
        let run = warnings_of(r#"levle == "error""#, &records);
        let running = run.read(Moment::Running);
        assert_eq!(running.len(), 1, "{running:?}");
        assert!(running[0].message.contains("no item so far"), "{running:?}");
    }

    #[test]
    fn record_holds_every_field_even_those_that_are_not_identifiers() {
        let records = [
            json!({"user-agent": "curl/8", "@timestamp": 10}),
            json!({"user-agent": "firefox", "@timestamp": 20}),
            json!({"@timestamp": 30}),
        ];
        assert_eq!(
            passing(r#"record["user-agent"] == "curl/8""#, &records),
            vec![Ok(true), Ok(false), Ok(false)]
        );
        assert_eq!(
            passing(r#"record["@timestamp"] >= 20"#, &records),
            vec![Ok(false), Ok(true), Ok(true)]
        );
        assert_eq!(
            passing(r#"record["user-agent"] == ()"#, &records),
            vec![Ok(false), Ok(false), Ok(true)]
        );
    }

    #[test]
    fn a_runaway_expression_fails_the_item_instead_of_eating_memory() {
        let records = [json!({"n": 1})];
        let failed = passing(r#""x".pad(50000000, "y") == """#, &records);
        let message = failed[0].as_ref().unwrap_err();
        assert!(message.contains("too large"), "{message}");
        let failed = passing("blob(500000000).len() > 0", &records);
        let message = failed[0].as_ref().unwrap_err();
        assert!(message.contains("too large"), "{message}");
    }
}
