//! A filter over chunks of records, compiled into column-wise evaluation,
//! keeps exactly the rows that the interpreted filter keeps one record at
//! a time (a null value being a field the record lacks).

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use baton_ops::{BuiltOp, Item, Params};
use proptest::prelude::*;
use serde_json::{Map, Value};

#[derive(Clone, Debug)]
struct Row {
    a: Option<i64>,
    b: Option<f64>,
    s: Option<String>,
    t: Option<bool>,
}

fn row() -> impl Strategy<Value = Row> {
    (
        proptest::option::of(-5i64..5),
        proptest::option::of(prop_oneof![Just(-1.5), Just(0.0), Just(2.5), Just(4.0)]),
        proptest::option::of(prop_oneof![
            Just("".to_string()),
            Just("abc".to_string()),
            Just("bcd".to_string()),
            Just("x".to_string()),
            Just("é€".to_string()),
        ]),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(a, b, s, t)| Row { a, b, s, t })
}

/// An expression of the part of Rhai that compiles.
fn expr() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("z".to_string()),
        Just("1".to_string()),
        Just("-2".to_string()),
        Just("2.5".to_string()),
        Just("(a + 1)".to_string()),
        Just("(a * 2)".to_string()),
        Just("(a - b)".to_string()),
        Just("(b / 2.0)".to_string()),
        Just("-a".to_string()),
        Just("record[\"a\"]".to_string()),
    ];
    let op = prop_oneof![
        Just("=="),
        Just("!="),
        Just("<"),
        Just("<="),
        Just(">"),
        Just(">=")
    ];
    let text = prop_oneof![
        Just("s".to_string()),
        Just("\"abc\"".to_string()),
        Just("record[\"s\"]".to_string()),
    ];
    let leaf = prop_oneof![
        (number.clone(), op.clone(), number).prop_map(|(l, o, r)| format!("{l} {o} {r}")),
        (text.clone(), op, text).prop_map(|(l, o, r)| format!("{l} {o} {r}")),
        prop_oneof![
            Just("s.contains(\"b\")"),
            Just("s.starts_with(\"ab\")"),
            Just("record[\"s\"].ends_with(\"d\")"),
            Just("t"),
            Just("t == true"),
            Just("a == ()"),
            Just("s != ()"),
            Just("z == ()"),
            Just("true"),
        ]
        .prop_map(str::to_string),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l} && {r})")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l} || {r})")),
            inner.prop_map(|e| format!("!({e})")),
        ]
    })
}

fn batch(rows: &[Row]) -> RecordBatch {
    RecordBatch::try_from_iter([
        (
            "a",
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.a).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "b",
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.b).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "s",
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.s.clone()).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "t",
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.t).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
    ])
    .unwrap()
}

/// The record of a row: a null value is a field it lacks.
fn record(row: &Row) -> Item {
    let mut fields = Map::new();
    if let Some(a) = row.a {
        fields.insert("a".into(), a.into());
    }
    if let Some(b) = row.b {
        fields.insert("b".into(), b.into());
    }
    if let Some(s) = &row.s {
        fields.insert("s".into(), s.clone().into());
    }
    if let Some(t) = row.t {
        fields.insert("t".into(), t.into());
    }
    Item::record(Value::Object(fields))
}

fn filter(expr: &str) -> Box<dyn baton_engine::Stage<Item, Item>> {
    let mut params = std::collections::BTreeMap::new();
    params.insert("expr".to_string(), toml::Value::String(expr.to_string()));
    let BuiltOp::Stage(built) =
        (baton_ops::find("filter").unwrap().build)(&Params::new(params, ".")).unwrap()
    else {
        unreachable!()
    };
    built.replica().unwrap()
}

/// Without nulls, the same rows as records (nulls dropped) compare equal.
fn comparable(item: &Item) -> Value {
    let mut fields = item.fields.clone();
    fields.retain(|_, v| !v.is_null());
    Value::Object(fields)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn compiled_filters_keep_what_the_interpreter_keeps(
        rows in proptest::collection::vec(row(), 1..40),
        expr in expr(),
    ) {
        // Interpreted: one record at a time. A failing row is the run's
        // error in both (the same error policy then applies).
        let mut one_by_one = filter(&expr);
        let mut interpreted = Vec::new();
        let mut failed = false;
        for row in &rows {
            let mut out = Vec::new();
            if one_by_one.process(record(row), &mut out).is_err() {
                failed = true;
            }
            interpreted.extend(out.iter().map(comparable));
        }
        let mut columns = filter(&expr);
        let mut out = Vec::new();
        let result = columns.process(Item::records(batch(&rows)), &mut out);
        prop_assert_eq!(result.is_err(), failed, "{}", expr);
        if !failed {
            let compiled: Vec<Value> = out.iter().flat_map(Item::rows).map(|i| comparable(&i)).collect();
            prop_assert_eq!(compiled, interpreted, "{}", expr);
        }
    }
}

/// The generated expressions are mostly ones that compile: the test above
/// checks the compiled path, not only the fallback.
#[test]
fn most_generated_expressions_compile() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let rows: Vec<Row> = (0..8)
        .map(|i| Row {
            a: Some(i),
            b: Some(i as f64),
            s: Some("abc".into()),
            t: Some(true),
        })
        .collect();
    let batch = batch(&rows);
    let mut compiled = 0;
    for _ in 0..200 {
        let text = expr().new_tree(&mut runner).unwrap().current();
        if baton_records::Predicate::compile(&text)
            .and_then(|p| p.evaluate(&batch))
            .is_ok()
        {
            compiled += 1;
        }
    }
    assert!(compiled > 150, "only {compiled} of 200 compiled");
}
