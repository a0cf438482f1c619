//! What the unit tests of the built-in stages share: parameters written as
//! TOML with the definition's defaults filled in (as a pipeline file's
//! parser does), and running a built source, stage or sink by hand.

use std::collections::BTreeMap;
use std::path::Path;

use crate::item::Item;
use crate::registry::{BuiltOp, OpDef, OpError, Params};

/// The parameters `toml` (`key = value` lines) for `op`, relative to `dir`,
/// checked against the definition and with its defaults filled in.
pub(crate) fn params(op: &OpDef, toml: &str, dir: &Path) -> Params {
    let table: toml::Table = toml.parse().expect("test parameters are TOML");
    let mut values: BTreeMap<String, toml::Value> = BTreeMap::new();
    for (key, value) in table {
        let def = op
            .param(&key)
            .unwrap_or_else(|| panic!("`{}` has no parameter `{key}`", op.name));
        assert!(def.ty.accepts(&value), "`{key}` is not a {}", def.ty.name());
        values.insert(key, value);
    }
    for def in op.params {
        if let (false, Some(default)) = (values.contains_key(def.name), def.default) {
            values.insert(def.name.to_string(), default_value(default));
        }
    }
    Params::new(values, dir)
}

/// A parameter's default, parsed as the pipeline-file parser does.
pub(crate) fn default_value(default: &str) -> toml::Value {
    format!("v = {default}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| panic!("the default {default} is not TOML"))
}

/// Builds `op` and reads its source to the end; errors as their messages.
pub(crate) fn read_source(op: &OpDef, params: &Params) -> Vec<Result<Item, String>> {
    match (op.build)(params) {
        Ok(BuiltOp::Source(source)) => {
            let Some(parse) = source.parse else {
                return source.items.map(|r| r.map_err(|e| e.to_string())).collect();
            };
            // Through the source's parse stage, as in a pipeline, row by row.
            let mut parse = parse.replica().expect("the parse stage is made");
            let mut rows = Vec::new();
            for block in source.items {
                let mut out = Vec::new();
                match block.and_then(|block| parse.process(block, &mut out)) {
                    Ok(()) => rows.extend(out.iter().flat_map(Item::rows).map(Ok)),
                    Err(error) => rows.push(Err(error.to_string())),
                }
            }
            rows
        }
        Ok(other) => panic!("{} built {other:?}, not a source", op.name),
        Err(error) => panic!("{} did not build: {error}", op.name),
    }
}

/// Builds the stage `op` and passes `items` through one replica of it,
/// then finishes it: the outputs of each item (or its error's message),
/// and what `finish` gave.
pub(crate) fn run_stage(
    op: &OpDef,
    params: &Params,
    items: Vec<Item>,
) -> (Vec<Result<Vec<Item>, String>>, Vec<Item>) {
    let built = match build(op, params) {
        BuiltOp::Stage(built) => built,
        other => panic!("{} built {other:?}, not a stage", op.name),
    };
    let mut stage = built.replica().expect("the stage is made");
    let outputs = items
        .into_iter()
        .map(|item| {
            let mut out = Vec::new();
            stage
                .process(item, &mut out)
                .map(|()| out)
                .map_err(|e| e.to_string())
        })
        .collect();
    let mut last = Vec::new();
    stage.finish(&mut last).expect("the stage finishes");
    (outputs, last)
}

/// Builds the sink `op` and writes `items` to it, then finishes it: the
/// error message of each write that failed.
pub(crate) fn run_sink(op: &OpDef, params: &Params, items: Vec<Item>) -> Vec<String> {
    let factory = match build(op, params) {
        BuiltOp::Sink(factory) => factory,
        other => panic!("{} built {other:?}, not a sink", op.name),
    };
    let mut sink = factory().expect("the sink is made");
    let errors = items
        .into_iter()
        .filter_map(|item| sink.write(item).err().map(|e| e.to_string()))
        .collect();
    sink.finish().expect("the sink finishes");
    errors
}

/// Builds `op`, which must build.
pub(crate) fn build(op: &OpDef, params: &Params) -> BuiltOp {
    (op.build)(params).unwrap_or_else(|e| panic!("{} did not build: {e}", op.name))
}

/// Builds `op`, which must fail.
pub(crate) fn build_error(op: &OpDef, params: &Params) -> OpError {
    match (op.build)(params) {
        Ok(built) => panic!("{} built {built:?}", op.name),
        Err(error) => error,
    }
}

#[test]
fn every_default_is_toml_of_its_parameters_type() {
    for op in crate::registry::all() {
        for def in op.params {
            if let Some(default) = def.default {
                assert!(
                    def.ty.accepts(&default_value(default)),
                    "`{}`.`{}`: {default} is not a {}",
                    op.name,
                    def.name,
                    def.ty.name()
                );
                assert!(
                    !def.required,
                    "`{}`.`{}` is required and defaulted",
                    op.name, def.name
                );
            }
        }
    }
}

#[test]
fn names_are_unique_within_a_kind() {
    let ops = crate::registry::all();
    for (i, a) in ops.iter().enumerate() {
        for b in &ops[i + 1..] {
            assert!(
                a.name != b.name || a.kind != b.kind,
                "two {}s are named `{}`",
                a.kind,
                a.name
            );
        }
    }
}

#[test]
fn no_parameter_is_a_stage_key() {
    use crate::registry::STAGE_KEYS;
    for op in crate::registry::all() {
        for param in op.params {
            assert!(
                !STAGE_KEYS.contains(&param.name),
                "`{}`.`{}` is a key of every stage",
                op.name,
                param.name
            );
        }
    }
}

#[test]
fn every_path_a_source_reads_or_a_sink_writes_says_so() {
    use crate::registry::{OpKind, ParamRole};
    for op in crate::registry::all() {
        let Some(path) = op.param("path") else {
            continue;
        };
        match op.kind {
            OpKind::Source => assert_eq!(path.role, ParamRole::Input, "`{}`", op.name),
            OpKind::Sink => assert!(
                matches!(path.role, ParamRole::Output | ParamRole::OutputFolder),
                "`{}`",
                op.name
            ),
            OpKind::Transform => {}
        }
    }
}

/// Builds the source `op` and reads it through its parse stage: the chunks
/// of records it gives, in order (panics on an error).
pub(crate) fn read_chunks(op: &OpDef, params: &Params) -> Vec<baton_records::RecordBatch> {
    let BuiltOp::Source(source) = build(op, params) else {
        panic!("{} is not a source", op.name)
    };
    let mut parse = source
        .parse
        .map(|p| p.replica().expect("the parse stage is made"));
    let mut chunks = Vec::new();
    for item in source.items {
        let item = item.unwrap_or_else(|e| panic!("{}: {e}", op.name));
        let mut out = Vec::new();
        match &mut parse {
            Some(parse) => parse.process(item, &mut out).expect("parsed"),
            None => out.push(item),
        }
        for item in out {
            match item.payload {
                crate::item::Payload::Records(batch) => chunks.push(batch),
                other => panic!("{} gave a {} payload", op.name, other.kind()),
            }
        }
    }
    chunks
}
