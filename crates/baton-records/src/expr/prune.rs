//! Whether a predicate can hold anywhere in a set of rows known only by
//! each column's range (a Parquet row group's statistics): what lets a
//! reader skip the rows without decoding them.
//!
//! The answer is conservative: `false` only when no row can make the
//! predicate true, under the same rules as [`Predicate::evaluate`] (a null
//! is `()`, unequal to any value; floats in Arrow's total order, where NaN
//! is above every number and a negative NaN below). What is understood:
//! `field <op> literal` (either side), and `&&`, `||` of such comparisons;
//! anything else may hold.

use std::cmp::Ordering;

use super::{Compare, Node, Predicate};

/// The smallest or largest value of a column over some rows (it may be a
/// bound that no value reaches: Parquet truncates long strings).
///
/// # Examples
///
/// See [`ColumnRange`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Bound {
    /// An integer column's.
    Int(i64),
    /// A float column's (NaN is never one).
    Float(f64),
    /// A text column's.
    Str(String),
    /// A boolean column's.
    Bool(bool),
}

/// What is known of one column over some rows; `None` is "unknown".
///
/// # Examples
///
/// ```
/// use baton_records::{Bound, ColumnRange, Predicate};
///
/// let delay = ColumnRange {
///     min: Some(Bound::Int(0)),
///     max: Some(Bound::Int(40)),
///     nulls: Some(0),
///     rows: 1000,
///     ..ColumnRange::default()
/// };
/// let late = Predicate::compile("delay > 60").unwrap();
/// assert!(!late.may_match(|field| (field == "delay").then(|| delay.clone())));
/// let early = Predicate::compile("delay < 10 || origin == \"JFK\"").unwrap();
/// assert!(early.may_match(|field| (field == "delay").then(|| delay.clone())));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnRange {
    /// No value is smaller, if known.
    pub min: Option<Bound>,
    /// No value is larger, if known.
    pub max: Option<Bound>,
    /// How many values are null, if known.
    pub nulls: Option<u64>,
    /// How many values are NaN (float columns), if known.
    pub nans: Option<u64>,
    /// How many rows there are.
    pub rows: u64,
}

impl Predicate {
    /// Whether some row whose columns lie in the ranges `range` gives
    /// (`None` for a column nothing is known of) may make the predicate
    /// true: `false` proves that none does.
    ///
    /// # Examples
    ///
    /// See [`ColumnRange`].
    pub fn may_match(&self, range: impl Fn(&str) -> Option<ColumnRange>) -> bool {
        may_match(&self.root, &range)
    }
}

fn may_match(node: &Node, range: &dyn Fn(&str) -> Option<ColumnRange>) -> bool {
    match node {
        Node::Bool(truth) => *truth,
        Node::And(all) => all.iter().all(|n| may_match(n, range)),
        Node::Or(any) => any.iter().any(|n| may_match(n, range)),
        Node::Compare(op, a, b) => match (a.as_ref(), b.as_ref()) {
            (Node::Field(field), value) if is_literal(value) => {
                range(field).map_or(true, |r| may_compare(*op, &r, value))
            }
            (value, Node::Field(field)) if is_literal(value) => {
                range(field).map_or(true, |r| may_compare(flip(*op), &r, value))
            }
            _ => true,
        },
        _ => true,
    }
}

fn is_literal(node: &Node) -> bool {
    matches!(
        node,
        Node::Int(_) | Node::Float(_) | Node::Str(_) | Node::Bool(_) | Node::Unit
    )
}

/// `a op b` as `b flip(op) a`.
fn flip(op: Compare) -> Compare {
    match op {
        Compare::Lt => Compare::Gt,
        Compare::Le => Compare::Ge,
        Compare::Gt => Compare::Lt,
        Compare::Ge => Compare::Le,
        same => same,
    }
}

/// Whether `column op value` may be true for some row of `range`.
fn may_compare(op: Compare, range: &ColumnRange, value: &Node) -> bool {
    if range.rows == 0 {
        return false;
    }
    let all_null = range.nulls == Some(range.rows);
    let some_null = range.nulls != Some(0);
    if *value == Node::Unit {
        // `()` equals only a null; against it, `<` and the others are false.
        return match op {
            Compare::Eq => some_null,
            Compare::Ne => !all_null,
            _ => false,
        };
    }
    if all_null {
        // A null against a value: only `!=` holds.
        return op == Compare::Ne;
    }
    let float =
        matches!(range.min, Some(Bound::Float(_))) || matches!(range.max, Some(Bound::Float(_)));
    // A NaN is outside the bounds and unequal to every literal.
    let nan_free = !float || range.nans == Some(0);
    let order = |bound: &Option<Bound>| bound.as_ref().and_then(|b| order(b, value));
    let (min, max) = (order(&range.min), order(&range.max));
    match op {
        Compare::Eq => min != Some(Ordering::Greater) && max != Some(Ordering::Less),
        Compare::Ne => {
            some_null
                || !nan_free
                || !(min == Some(Ordering::Equal) && max == Some(Ordering::Equal))
        }
        Compare::Lt => !nan_free || min.map_or(true, |o| o == Ordering::Less),
        Compare::Le => !nan_free || min != Some(Ordering::Greater),
        Compare::Gt => !nan_free || max.map_or(true, |o| o == Ordering::Greater),
        Compare::Ge => !nan_free || max != Some(Ordering::Less),
    }
}

/// How a bound compares with a literal, as the compiled comparison would
/// compare them (an int with a float as floats, floats in total order);
/// `None` for values of kinds it does not compare.
fn order(bound: &Bound, value: &Node) -> Option<Ordering> {
    match (bound, value) {
        (Bound::Int(a), Node::Int(b)) => Some(a.cmp(b)),
        (Bound::Int(a), Node::Float(b)) => Some((*a as f64).total_cmp(b)),
        (Bound::Float(a), Node::Int(b)) => Some(a.total_cmp(&(*b as f64))),
        (Bound::Float(a), Node::Float(b)) => Some(a.total_cmp(b)),
        (Bound::Str(a), Node::Str(b)) => Some(a.as_str().cmp(b.as_str())),
        (Bound::Bool(a), Node::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(min: i64, max: i64, nulls: Option<u64>) -> ColumnRange {
        ColumnRange {
            min: Some(Bound::Int(min)),
            max: Some(Bound::Int(max)),
            nulls,
            nans: None,
            rows: 10,
        }
    }

    fn may(expr: &str, column: ColumnRange) -> bool {
        Predicate::compile(expr)
            .unwrap()
            .may_match(|field| (field == "x").then(|| column.clone()))
    }

    #[test]
    fn comparisons_with_a_literal_on_either_side_prune_out_of_range_groups() {
        let r = || ints(10, 20, Some(0));
        assert!(!may("x > 20", r()));
        assert!(may("x >= 20", r()));
        assert!(!may("x < 10", r()));
        assert!(may("x <= 10", r()));
        assert!(!may("x == 9", r()));
        assert!(may("x == 15", r()));
        assert!(!may("25 < x", r()));
        assert!(may("15 < x", r()));
        assert!(!may("x > 20.5", r()));
        assert!(may("x > 19.5", r()));
        assert!(may("x != 15", r()));
        assert!(!may("x != 7", ints(7, 7, Some(0))));
        assert!(may("x != 7", ints(7, 7, None)), "a null is != 7");
    }

    #[test]
    fn and_needs_every_part_or_needs_one_and_the_unknown_may_hold() {
        let r = || ints(10, 20, Some(0));
        assert!(!may("x > 15 && x < 5", r()));
        assert!(may("x > 15 && x < 12", r()), "each part alone may hold");
        assert!(!may("x > 30 || x < 5", r()));
        assert!(may("x > 30 || y == 1", r()));
        assert!(!may("x > 30 && y == 1", r()));
        assert!(may("x + 1 > 30", r()), "arithmetic is not understood");
        assert!(may("!(x > 30)", r()));
        assert!(may("x > \"a\"", r()), "kinds it does not compare");
        assert!(
            Predicate::compile("y > 3").unwrap().may_match(|_| None),
            "nothing known"
        );
    }

    #[test]
    fn nulls_are_unit_and_unequal_to_values() {
        let all_null = ColumnRange {
            nulls: Some(10),
            rows: 10,
            ..ColumnRange::default()
        };
        assert!(!may("x > 1", all_null.clone()));
        assert!(!may("x == 1", all_null.clone()));
        assert!(may("x != 1", all_null.clone()));
        assert!(may("x == ()", all_null.clone()));
        assert!(!may("x != ()", all_null));
        assert!(!may("x == ()", ints(1, 2, Some(0))));
        assert!(may("x == ()", ints(1, 2, None)));
    }

    #[test]
    fn floats_prune_only_where_no_nan_can_hide() {
        let floats = |nans| ColumnRange {
            min: Some(Bound::Float(1.0)),
            max: Some(Bound::Float(2.0)),
            nulls: Some(0),
            nans,
            rows: 10,
        };
        assert!(may("x > 3.0", floats(None)), "a NaN is above every number");
        assert!(!may("x > 3.0", floats(Some(0))));
        assert!(!may("x == 3", floats(None)), "a NaN equals nothing");
        assert!(!may("x < 1", floats(Some(0))));
        let strings = ColumnRange {
            min: Some(Bound::Str("JFK".into())),
            max: Some(Bound::Str("LGA".into())),
            nulls: Some(0),
            nans: None,
            rows: 3,
        };
        assert!(!may("x == \"EWR\"", strings.clone()));
        assert!(may("x == \"KOA\"", strings));
    }

    /// The exact range of a column of ints and floats with nulls.
    fn range_of(values: &[Option<f64>], float: bool) -> ColumnRange {
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        let bound = |v: f64| {
            if float {
                Bound::Float(v)
            } else {
                Bound::Int(v as i64)
            }
        };
        let min = present.iter().copied().reduce(f64::min);
        let max = present.iter().copied().reduce(f64::max);
        ColumnRange {
            min: min.map(bound),
            max: max.map(bound),
            nulls: Some((values.len() - present.len()) as u64),
            nans: Some(0),
            rows: values.len() as u64,
        }
    }

    fn comparison() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let op = prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]);
        let field = prop::sample::select(vec!["x", "y"]);
        let literal = prop_oneof![
            (-6i64..6).prop_map(|n| n.to_string()),
            (-12i64..12).prop_map(|n| format!("{:.1}", n as f64 / 2.0)),
            Just("()".to_string()),
        ];
        (field, op, literal, any::<bool>()).prop_map(|(f, op, lit, flip)| {
            if flip {
                format!("{lit} {op} {f}")
            } else {
                format!("{f} {op} {lit}")
            }
        })
    }

    proptest::proptest! {
        /// Soundness: whenever the ranges say no row can match, no row of
        /// the batch does.
        #[test]
        fn no_row_matches_where_the_ranges_say_none_can(
            x in proptest::collection::vec(proptest::option::of(-5i64..5), 1..12),
            y in proptest::collection::vec(proptest::option::of(-10i64..10), 12),
            parts in proptest::collection::vec(comparison(), 1..4),
            any_of in proptest::bool::ANY,
        ) {
            use std::sync::Arc;
            use arrow_array::{Float64Array, Int64Array, RecordBatch};
            let rows = x.len();
            let y: Vec<Option<f64>> = y[..rows].iter().map(|v| v.map(|v| v as f64 / 4.0)).collect();
            let batch = RecordBatch::try_from_iter([
                ("x", Arc::new(Int64Array::from(x.clone())) as _),
                ("y", Arc::new(Float64Array::from(y.clone())) as _),
            ]).unwrap();
            let x: Vec<Option<f64>> = x.iter().map(|v| v.map(|v| v as f64)).collect();
            let ranges = [("x", range_of(&x, false)), ("y", range_of(&y, true))];
            let text = parts.join(if any_of { " || " } else { " && " });
            let predicate = Predicate::compile(&text).unwrap();
            let Ok(kept) = predicate.evaluate(&batch) else { return Ok(()) };
            let may = predicate.may_match(|f| ranges.iter().find(|(n, _)| *n == f).map(|(_, r)| r.clone()));
            proptest::prop_assert!(may || kept.true_count() == 0, "{text}: {kept:?}");
        }
    }
}
