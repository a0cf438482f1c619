//! Filters in Rhai's syntax, compiled into column-wise evaluation.
//!
//! [`Predicate::compile`] parses an expression with Rhai's own parser and
//! turns the part of the language a filter mostly uses (fields, `record["a
//! b"]`, literals, `== != < <= > >=`, `&& || !`, `+ - * / %`, unary `-`,
//! and a string's `contains`, `starts_with`, `ends_with` with a literal)
//! into a tree that [`Predicate::evaluate`] runs over whole columns with
//! Arrow's kernels: one pass per operator over a batch instead of one
//! interpreter call per row.
//!
//! It gives what baton's interpreted filter gives row by row (a property
//! test of baton-ops checks it on random records):
//!
//! * a null value, or a field the batch lacks, is Rhai's `()`: compared
//!   with a value it is unequal (`==` false, `!=` true, `<` and the others
//!   false); `() == ()` is true and `() < ()` false;
//! * an operation that would fail in Rhai because a field is missing
//!   (arithmetic on `()`, `!()`, `() && x`) drops the row;
//! * `&&` and `||` short-circuit, so `a != () && a > 5` never fails.
//!
//! What it does not compile (other functions, mixed types such as a text
//! column compared with a number, a result that is not a boolean) is
//! refused with [`RecordsError::NotCompilable`], and so is an evaluation
//! that fails (an overflow, a division by zero): the caller then evaluates
//! the rows one by one with Rhai itself, which knows what to do.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Datum, Float64Array, Int64Array, RecordBatch, Scalar,
    StringArray,
};
use arrow_buffer::BooleanBuffer;
use arrow_schema::DataType;
use rhai::{Expr, Stmt};

use crate::error::RecordsError;

mod prune;

pub use self::prune::{Bound, ColumnRange};

/// The variable holding the whole record, in baton's filters.
const RECORD: &str = "record";

/// A boolean expression over records, compiled once.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch, StringArray};
///
/// let batch = RecordBatch::try_from_iter([
///     ("origin", Arc::new(StringArray::from(vec![Some("JFK"), Some("LGA"), None])) as _),
///     ("delay", Arc::new(Int64Array::from(vec![Some(90), Some(120), Some(70)])) as _),
/// ]).unwrap();
/// let late = baton_records::Predicate::compile(r#"origin == "JFK" && delay > 60"#).unwrap();
/// let kept = late.evaluate(&batch).unwrap();
/// assert_eq!(kept.iter().collect::<Vec<_>>(), [Some(true), Some(false), Some(false)]);
/// assert!(baton_records::Predicate::compile("delay.abs() > 3").is_err());
/// ```
#[derive(Clone, Debug)]
pub struct Predicate {
    root: Node,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Field(String),
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Unit,
    Compare(Compare, Box<Node>, Box<Node>),
    Arith(Arith, Box<Node>, Box<Node>),
    Negate(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Text(TextTest, Box<Node>, String),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Compare {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum TextTest {
    Contains,
    StartsWith,
    EndsWith,
}

fn refuse(what: impl Into<String>) -> RecordsError {
    RecordsError::NotCompilable(what.into())
}

impl Predicate {
    /// Compiles `text`, a Rhai expression.
    ///
    /// # Errors
    ///
    /// [`RecordsError::NotCompilable`] for a syntax error or a part of the
    /// language it does not compile (the caller interprets it instead).
    ///
    /// # Examples
    ///
    /// See [`Predicate`].
    pub fn compile(text: &str) -> Result<Self, RecordsError> {
        let mut engine = rhai::Engine::new_raw();
        engine.set_optimization_level(rhai::OptimizationLevel::None);
        let ast = engine
            .compile_expression(text)
            .map_err(|error| refuse(error.to_string()))?;
        let [Stmt::Expr(expr)] = ast.statements() else {
            return Err(refuse("not one expression"));
        };
        Ok(Self { root: node(expr)? })
    }

    /// Which rows the expression keeps: true where it is true, false where
    /// it is false or fails because of a missing value. The array has no
    /// nulls.
    ///
    /// # Errors
    ///
    /// [`RecordsError::NotCompilable`] when the batch's types make a part
    /// of the expression one it does not compile (a text column compared
    /// with a number); [`RecordsError::Evaluation`] when a kernel fails (an
    /// overflow, a division by zero): evaluate those rows one by one.
    ///
    /// # Examples
    ///
    /// See [`Predicate`].
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<BooleanArray, RecordsError> {
        let rows = batch.num_rows();
        match eval(&self.root, batch)? {
            Value::Bool(truth) => {
                let kept = &truth.value & &!&truth.poison;
                Ok(BooleanArray::new(kept, None))
            }
            Value::Data(data) if data.kind == Kind::Bool => {
                // A boolean column or literal on its own: null is () and
                // drops the row.
                let array = data.array(rows);
                let values = array.as_boolean();
                let kept = match values.nulls() {
                    Some(nulls) => values.values() & nulls.inner(),
                    None => values.values().clone(),
                };
                Ok(BooleanArray::new(kept, None))
            }
            Value::Data(data) if data.kind == Kind::Null => {
                Ok(BooleanArray::new(BooleanBuffer::new_unset(rows), None))
            }
            Value::Data(_) => Err(refuse("the expression does not give a boolean")),
        }
    }

    /// The expression's value on every row, as a column: a number, text or
    /// boolean; null where it reads a missing (null) value, as `()` is in
    /// Rhai. For `remap`, which sets fields to computed values.
    ///
    /// # Errors
    ///
    /// As [`Predicate::evaluate`]: compute those rows one by one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{cast::AsArray, types::Int64Type, Array, Int64Array, RecordBatch};
    ///
    /// let batch = RecordBatch::try_from_iter([
    ///     ("price", Arc::new(Int64Array::from(vec![Some(3), None])) as _),
    /// ]).unwrap();
    /// let total = baton_records::Predicate::compile("price * 2 + 1").unwrap();
    /// let values = total.values(&batch).unwrap();
    /// let values = values.as_primitive::<Int64Type>();
    /// assert_eq!((values.value(0), values.is_null(1)), (7, true));
    /// ```
    pub fn values(&self, batch: &RecordBatch) -> Result<ArrayRef, RecordsError> {
        let rows = batch.num_rows();
        let (array, poison) = match eval(&self.root, batch)? {
            Value::Bool(truth) => (
                Arc::new(BooleanArray::new(truth.value, None)) as ArrayRef,
                Some(truth.poison),
            ),
            Value::Data(data) => (data.array(rows), data.poison),
        };
        match poison {
            Some(poison) if poison.count_set_bits() > 0 => {
                arrow_select::nullif::nullif(array.as_ref(), &BooleanArray::new(poison, None))
                    .map_err(|error| RecordsError::Evaluation(error.to_string()))
            }
            _ => Ok(array),
        }
    }

    /// The fields the expression reads, each once.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = baton_records::Predicate::compile(r#"a > 1 && record["b c"] == "x" || a < 0"#).unwrap();
    /// assert_eq!(p.fields(), ["a", "b c"]);
    /// ```
    pub fn fields(&self) -> Vec<&str> {
        let mut fields = Vec::new();
        collect_fields(&self.root, &mut fields);
        fields
    }

    /// The rows of `batch` the expression keeps, as a batch.
    ///
    /// # Errors
    ///
    /// As [`Predicate::evaluate`].
    ///
    /// # Examples
    ///
    /// See the [crate](crate) example.
    pub fn filter(&self, batch: &RecordBatch) -> Result<RecordBatch, RecordsError> {
        let kept = self.evaluate(batch)?;
        if kept.true_count() == batch.num_rows() {
            return Ok(batch.clone());
        }
        arrow_select::filter::filter_record_batch(batch, &kept)
            .map_err(|error| RecordsError::Evaluation(error.to_string()))
    }
}

/// A method called on `receiver`: a text test with a literal.
fn method(receiver: Node, call: &Expr) -> Result<Node, RecordsError> {
    let Expr::MethodCall(call, _) = call else {
        return Err(refuse("a property"));
    };
    let test = match (call.name.as_str(), call.args.len()) {
        ("contains", 1) => TextTest::Contains,
        ("starts_with", 1) => TextTest::StartsWith,
        ("ends_with", 1) => TextTest::EndsWith,
        (other, _) => return Err(refuse(format!("the method `{other}`"))),
    };
    let Expr::StringConstant(needle, _) = &call.args[0] else {
        return Err(refuse("a method whose argument is not a string literal"));
    };
    Ok(Node::Text(
        test,
        Box::new(receiver),
        needle.as_str().to_string(),
    ))
}

fn collect_fields<'a>(node: &'a Node, fields: &mut Vec<&'a str>) {
    match node {
        Node::Field(name) => {
            if !fields.contains(&name.as_str()) {
                fields.push(name);
            }
        }
        Node::Compare(_, a, b) | Node::Arith(_, a, b) => {
            collect_fields(a, fields);
            collect_fields(b, fields);
        }
        Node::Negate(a) | Node::Not(a) | Node::Text(_, a, _) => collect_fields(a, fields),
        Node::And(all) | Node::Or(all) => all.iter().for_each(|n| collect_fields(n, fields)),
        Node::Int(_) | Node::Float(_) | Node::Str(_) | Node::Bool(_) | Node::Unit => {}
    }
}

/// The compiled form of one Rhai expression.
fn node(expr: &Expr) -> Result<Node, RecordsError> {
    Ok(match expr {
        Expr::BoolConstant(b, _) => Node::Bool(*b),
        Expr::IntegerConstant(n, _) => Node::Int(*n),
        Expr::FloatConstant(f, _) => Node::Float(**f),
        Expr::StringConstant(s, _) => Node::Str(s.as_str().to_string()),
        Expr::Unit(_) => Node::Unit,
        Expr::Variable(name, _, _) => {
            let name = name.1.as_str();
            if name == RECORD {
                return Err(refuse("the whole record"));
            }
            Node::Field(name.to_string())
        }
        Expr::Index(index, _, _) => match (&index.lhs, &index.rhs) {
            (Expr::Variable(name, _, _), Expr::StringConstant(field, _))
                if name.1.as_str() == RECORD =>
            {
                Node::Field(field.as_str().to_string())
            }
            // `record["a"].method(...)`: Rhai chains the call into the index.
            (Expr::Variable(name, _, _), Expr::Dot(dot, _, _)) if name.1.as_str() == RECORD => {
                let Expr::StringConstant(field, _) = &dot.lhs else {
                    return Err(refuse("an index other than record[\"...\"]"));
                };
                method(Node::Field(field.as_str().to_string()), &dot.rhs)?
            }
            _ => return Err(refuse("an index other than record[\"...\"]")),
        },
        Expr::And(operands, _) => Node::And(operands.iter().map(node).collect::<Result<_, _>>()?),
        Expr::Or(operands, _) => Node::Or(operands.iter().map(node).collect::<Result<_, _>>()?),
        Expr::FnCall(call, _) if call.is_operator_call() || call.namespace.is_empty() => {
            let args: Vec<Node> = call.args.iter().map(node).collect::<Result<_, _>>()?;
            let mut args = args.into_iter();
            let (a, b) = (args.next(), args.next());
            let boxed = |n: Option<Node>| Box::new(n.expect("arity checked"));
            match (call.name.as_str(), call.args.len()) {
                ("!", 1) => Node::Not(boxed(a)),
                ("-", 1) => match a.expect("one argument") {
                    Node::Int(n) => Node::Int(n.checked_neg().ok_or_else(|| refuse("overflow"))?),
                    Node::Float(f) => Node::Float(-f),
                    other => Node::Negate(Box::new(other)),
                },
                (op, 2) => {
                    let (a, b) = (boxed(a), boxed(b));
                    match op {
                        "==" => Node::Compare(Compare::Eq, a, b),
                        "!=" => Node::Compare(Compare::Ne, a, b),
                        "<" => Node::Compare(Compare::Lt, a, b),
                        "<=" => Node::Compare(Compare::Le, a, b),
                        ">" => Node::Compare(Compare::Gt, a, b),
                        ">=" => Node::Compare(Compare::Ge, a, b),
                        "+" => Node::Arith(Arith::Add, a, b),
                        "-" => Node::Arith(Arith::Sub, a, b),
                        "*" => Node::Arith(Arith::Mul, a, b),
                        "/" => Node::Arith(Arith::Div, a, b),
                        "%" => Node::Arith(Arith::Rem, a, b),
                        other => return Err(refuse(format!("the function `{other}`"))),
                    }
                }
                (other, _) => return Err(refuse(format!("the function `{other}`"))),
            }
        }
        Expr::Dot(dot, _, _) => method(node(&dot.lhs)?, &dot.rhs)?,
        _ => return Err(refuse("this kind of expression")),
    })
}

/// The kind of a value's column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Str,
    Bool,
    /// Every value is `()`.
    Null,
}

/// A column of values (or one value for all rows), with the rows where
/// computing it failed because of a missing value ("poisoned").
struct Data {
    kind: Kind,
    values: Datum2,
    poison: Option<BooleanBuffer>,
}

enum Datum2 {
    Array(ArrayRef),
    Scalar(ArrayRef),
    Null,
}

impl Data {
    fn scalar(kind: Kind, array: ArrayRef) -> Self {
        Self {
            kind,
            values: Datum2::Scalar(array),
            poison: None,
        }
    }

    /// The values as an array of `rows` rows.
    fn array(&self, rows: usize) -> ArrayRef {
        match &self.values {
            Datum2::Array(array) => Arc::clone(array),
            Datum2::Scalar(one) => {
                let indices = arrow_array::UInt32Array::from(vec![0u32; rows]);
                arrow_select::take::take(one.as_ref(), &indices, None)
                    .expect("taking row 0 of a one-row array")
            }
            Datum2::Null => arrow_array::new_null_array(&DataType::Null, rows),
        }
    }

    /// Where the values are null (true), over `rows` rows.
    fn nulls(&self, rows: usize) -> BooleanBuffer {
        match &self.values {
            Datum2::Array(array) => match array.logical_nulls() {
                Some(nulls) => !nulls.inner(),
                None => BooleanBuffer::new_unset(rows),
            },
            Datum2::Scalar(one) => {
                if one.is_null(0) {
                    BooleanBuffer::new_set(rows)
                } else {
                    BooleanBuffer::new_unset(rows)
                }
            }
            Datum2::Null => BooleanBuffer::new_set(rows),
        }
    }

    fn datum(&self) -> Box<dyn Datum + '_> {
        match &self.values {
            Datum2::Array(array) => Box::new(array.as_ref()),
            Datum2::Scalar(one) => Box::new(Scalar::new(Arc::clone(one))),
            Datum2::Null => unreachable!("null values are handled before a kernel"),
        }
    }

    /// The same values as floats.
    fn as_float(&self) -> Result<Self, RecordsError> {
        let cast = |array: &ArrayRef| {
            arrow_cast::cast(array.as_ref(), &DataType::Float64)
                .map_err(|e| RecordsError::Evaluation(e.to_string()))
        };
        Ok(Self {
            kind: Kind::Float,
            values: match &self.values {
                Datum2::Array(array) => Datum2::Array(cast(array)?),
                Datum2::Scalar(one) => Datum2::Scalar(cast(one)?),
                Datum2::Null => Datum2::Null,
            },
            poison: self.poison.clone(),
        })
    }
}

/// A truth per row, with the rows where it failed because of a missing
/// value.
struct Truth {
    value: BooleanBuffer,
    poison: BooleanBuffer,
}

enum Value {
    Data(Data),
    Bool(Truth),
}

fn or_poison(a: Option<BooleanBuffer>, b: Option<BooleanBuffer>) -> Option<BooleanBuffer> {
    match (a, b) {
        (Some(a), Some(b)) => Some(&a | &b),
        (a, b) => a.or(b),
    }
}

fn kind_of(data_type: &DataType) -> Result<Kind, RecordsError> {
    Ok(match data_type {
        DataType::Int64 | DataType::Int32 | DataType::Int16 | DataType::Int8 => Kind::Int,
        DataType::UInt32 | DataType::UInt16 | DataType::UInt8 => Kind::Int,
        DataType::Float64 | DataType::Float32 => Kind::Float,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Kind::Str,
        DataType::Boolean => Kind::Bool,
        DataType::Null => Kind::Null,
        other => return Err(refuse(format!("a column of type {other}"))),
    })
}

/// A column as Int64, Float64, Utf8 or Boolean (what the kernels get).
fn normalised(array: &ArrayRef, kind: Kind) -> Result<ArrayRef, RecordsError> {
    let target = match kind {
        Kind::Int => DataType::Int64,
        Kind::Float => DataType::Float64,
        Kind::Str => DataType::Utf8,
        Kind::Bool => DataType::Boolean,
        Kind::Null => return Ok(Arc::clone(array)),
    };
    if array.data_type() == &target {
        return Ok(Arc::clone(array));
    }
    arrow_cast::cast(array.as_ref(), &target).map_err(|e| RecordsError::Evaluation(e.to_string()))
}

fn eval(node: &Node, batch: &RecordBatch) -> Result<Value, RecordsError> {
    let rows = batch.num_rows();
    Ok(match node {
        Node::Field(name) => match batch.column_by_name(name) {
            None => Value::Data(Data {
                kind: Kind::Null,
                values: Datum2::Null,
                poison: None,
            }),
            Some(column) => {
                let kind = kind_of(column.data_type())?;
                if kind == Kind::Null || column.null_count() == rows {
                    Value::Data(Data {
                        kind: Kind::Null,
                        values: Datum2::Null,
                        poison: None,
                    })
                } else {
                    Value::Data(Data {
                        kind,
                        values: Datum2::Array(normalised(column, kind)?),
                        poison: None,
                    })
                }
            }
        },
        Node::Int(n) => Value::Data(Data::scalar(
            Kind::Int,
            Arc::new(Int64Array::from(vec![*n])),
        )),
        Node::Float(f) => Value::Data(Data::scalar(
            Kind::Float,
            Arc::new(Float64Array::from(vec![*f])),
        )),
        Node::Str(s) => Value::Data(Data::scalar(
            Kind::Str,
            Arc::new(StringArray::from(vec![s.as_str()])),
        )),
        Node::Bool(b) => Value::Data(Data::scalar(
            Kind::Bool,
            Arc::new(BooleanArray::from(vec![*b])),
        )),
        Node::Unit => Value::Data(Data {
            kind: Kind::Null,
            values: Datum2::Null,
            poison: None,
        }),
        Node::Compare(op, a, b) => {
            let a = data(eval(a, batch)?)?;
            let b = data(eval(b, batch)?)?;
            Value::Bool(compare(*op, a, b, rows)?)
        }
        Node::Arith(op, a, b) => {
            let a = data(eval(a, batch)?)?;
            let b = data(eval(b, batch)?)?;
            Value::Data(arith(*op, a, b, rows)?)
        }
        Node::Negate(a) => {
            let a = data(eval(a, batch)?)?;
            match a.kind {
                Kind::Int | Kind::Float => {
                    let array = a.array(rows);
                    let negated = arrow_arith::numeric::neg(array.as_ref())
                        .map_err(|e| RecordsError::Evaluation(e.to_string()))?;
                    let poison = or_poison(a.poison.clone(), Some(a.nulls(rows)));
                    Value::Data(Data {
                        kind: a.kind,
                        values: Datum2::Array(negated),
                        poison,
                    })
                }
                Kind::Null => Value::Data(poisoned(rows)),
                _ => return Err(refuse("`-` of a value that is not a number")),
            }
        }
        Node::Not(a) => {
            let a = truth(eval(a, batch)?, rows)?;
            Value::Bool(Truth {
                value: !&a.value,
                poison: a.poison,
            })
        }
        Node::And(operands) | Node::Or(operands) => {
            let is_and = matches!(node, Node::And(_));
            let mut operands = operands.iter();
            let first = operands.next().ok_or_else(|| refuse("an empty `&&`"))?;
            let mut acc = truth(eval(first, batch)?, rows)?;
            for operand in operands {
                let next = truth(eval(operand, batch)?, rows)?;
                // Where the left side decides, the right one is not
                // evaluated (its failures do not count).
                let goes_on = if is_and {
                    &acc.value & &!&acc.poison
                } else {
                    &!&acc.value & &!&acc.poison
                };
                let poison = &acc.poison | &(&goes_on & &next.poison);
                let value = if is_and {
                    &acc.value & &next.value
                } else {
                    &acc.value | &next.value
                };
                acc = Truth { value, poison };
            }
            Value::Bool(acc)
        }
        Node::Text(test, a, needle) => {
            let a = data(eval(a, batch)?)?;
            match a.kind {
                Kind::Str => {
                    let array = a.array(rows);
                    let haystack = array.as_string::<i32>();
                    let needle = StringArray::new_scalar(needle.as_str());
                    let found = match test {
                        TextTest::Contains => arrow_string::like::contains(haystack, &needle),
                        TextTest::StartsWith => arrow_string::like::starts_with(haystack, &needle),
                        TextTest::EndsWith => arrow_string::like::ends_with(haystack, &needle),
                    }
                    .map_err(|e| RecordsError::Evaluation(e.to_string()))?;
                    let nulls = a.nulls(rows);
                    let poison = match a.poison {
                        Some(p) => &p | &nulls,
                        None => nulls,
                    };
                    Value::Bool(Truth {
                        value: found.values().clone(),
                        poison,
                    })
                }
                Kind::Null => Value::Bool(Truth {
                    value: BooleanBuffer::new_unset(rows),
                    poison: BooleanBuffer::new_set(rows),
                }),
                _ => return Err(refuse("a text test of a value that is not text")),
            }
        }
    })
}

fn poisoned(rows: usize) -> Data {
    Data {
        kind: Kind::Null,
        values: Datum2::Null,
        poison: Some(BooleanBuffer::new_set(rows)),
    }
}

fn data(value: Value) -> Result<Data, RecordsError> {
    match value {
        Value::Data(data) => Ok(data),
        Value::Bool(truth) => Ok(Data {
            kind: Kind::Bool,
            values: Datum2::Array(Arc::new(BooleanArray::new(truth.value, None))),
            poison: Some(truth.poison),
        }),
    }
}

/// A value used as a condition (`&&`, `||`, `!`): a boolean, else the
/// row fails (missing: `()`) or the expression is not compiled.
fn truth(value: Value, rows: usize) -> Result<Truth, RecordsError> {
    match value {
        Value::Bool(truth) => Ok(truth),
        Value::Data(data) => match data.kind {
            Kind::Bool => {
                let array = data.array(rows);
                let values = array.as_boolean();
                let nulls = data.nulls(rows);
                let poison = match data.poison {
                    Some(p) => &p | &nulls,
                    None => nulls,
                };
                Ok(Truth {
                    value: values.values().clone(),
                    poison,
                })
            }
            Kind::Null => Ok(Truth {
                value: BooleanBuffer::new_unset(rows),
                poison: BooleanBuffer::new_set(rows),
            }),
            _ => Err(refuse("a condition that is not a boolean")),
        },
    }
}

/// Makes two numbers the same kind (an int with a float is a float).
fn numeric_pair(a: Data, b: Data) -> Result<(Data, Data), RecordsError> {
    Ok(match (a.kind, b.kind) {
        (Kind::Int, Kind::Float) => (a.as_float()?, b),
        (Kind::Float, Kind::Int) => (a, b.as_float()?),
        _ => (a, b),
    })
}

fn compare(op: Compare, a: Data, b: Data, rows: usize) -> Result<Truth, RecordsError> {
    let poison_in = or_poison(a.poison.clone(), b.poison.clone());
    let (a_null, b_null) = (a.nulls(rows), b.nulls(rows));
    let both_null = &a_null & &b_null;
    let either_null = &a_null | &b_null;
    // The values where both are present, by the kernel.
    let present = if a.kind == Kind::Null || b.kind == Kind::Null {
        BooleanBuffer::new_unset(rows)
    } else {
        let (a, b) = match (a.kind, b.kind) {
            (Kind::Int | Kind::Float, Kind::Int | Kind::Float) => numeric_pair(a, b)?,
            (x, y) if x == y && x != Kind::Bool => (a, b),
            (Kind::Bool, Kind::Bool) if matches!(op, Compare::Eq | Compare::Ne) => (a, b),
            _ => return Err(refuse("a comparison of values of different types")),
        };
        let (l, r) = (a.datum(), b.datum());
        let result = match op {
            Compare::Eq => arrow_ord::cmp::eq(l.as_ref(), r.as_ref()),
            Compare::Ne => arrow_ord::cmp::neq(l.as_ref(), r.as_ref()),
            Compare::Lt => arrow_ord::cmp::lt(l.as_ref(), r.as_ref()),
            Compare::Le => arrow_ord::cmp::lt_eq(l.as_ref(), r.as_ref()),
            Compare::Gt => arrow_ord::cmp::gt(l.as_ref(), r.as_ref()),
            Compare::Ge => arrow_ord::cmp::gt_eq(l.as_ref(), r.as_ref()),
        }
        .map_err(|e| RecordsError::Evaluation(e.to_string()))?;
        let values = result.values().clone();
        if values.len() == rows {
            &values & &!&either_null
        } else {
            // Two scalars: one answer for every row.
            if values.value(0) {
                BooleanBuffer::new_set(rows)
            } else {
                BooleanBuffer::new_unset(rows)
            }
        }
    };
    let (value, poison) = match op {
        Compare::Eq => (&present | &both_null, None),
        Compare::Ne => (&present | &(&either_null & &!&both_null), None),
        // `()` against a value is false, and so is `() < ()`.
        _ => (present, None),
    };
    let poison = or_poison(poison_in, poison).unwrap_or_else(|| BooleanBuffer::new_unset(rows));
    Ok(Truth { value, poison })
}

fn arith(op: Arith, a: Data, b: Data, rows: usize) -> Result<Data, RecordsError> {
    if a.kind == Kind::Null || b.kind == Kind::Null {
        if matches!(a.kind, Kind::Str | Kind::Bool) || matches!(b.kind, Kind::Str | Kind::Bool) {
            return Err(refuse("arithmetic on a value that is not a number"));
        }
        return Ok(poisoned(rows));
    }
    if !matches!(a.kind, Kind::Int | Kind::Float) || !matches!(b.kind, Kind::Int | Kind::Float) {
        return Err(refuse("arithmetic on a value that is not a number"));
    }
    let (a, b) = numeric_pair(a, b)?;
    let poison = or_poison(
        or_poison(a.poison.clone(), b.poison.clone()),
        Some(&a.nulls(rows) | &b.nulls(rows)),
    );
    let kind = a.kind;
    let (l, r) = (a.datum(), b.datum());
    let result = match op {
        Arith::Add => arrow_arith::numeric::add(l.as_ref(), r.as_ref()),
        Arith::Sub => arrow_arith::numeric::sub(l.as_ref(), r.as_ref()),
        Arith::Mul => arrow_arith::numeric::mul(l.as_ref(), r.as_ref()),
        Arith::Div => arrow_arith::numeric::div(l.as_ref(), r.as_ref()),
        Arith::Rem => arrow_arith::numeric::rem(l.as_ref(), r.as_ref()),
    }
    .map_err(|e| RecordsError::Evaluation(e.to_string()))?;
    let values = if result.len() == rows {
        Datum2::Array(result)
    } else {
        Datum2::Scalar(result)
    };
    Ok(Data {
        kind,
        values,
        poison,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter([
            (
                "s",
                Arc::new(StringArray::from(vec![Some("JFK"), None, Some("LGA")])) as ArrayRef,
            ),
            (
                "n",
                Arc::new(Int64Array::from(vec![Some(1), Some(70), None])) as ArrayRef,
            ),
            (
                "f",
                Arc::new(Float64Array::from(vec![Some(0.5), Some(2.0), Some(-1.0)])) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    fn kept(text: &str) -> Vec<bool> {
        let kept = Predicate::compile(text)
            .unwrap()
            .evaluate(&batch())
            .unwrap();
        kept.iter().map(Option::unwrap).collect()
    }

    #[test]
    fn nulls_compare_as_rhai_unit() {
        assert_eq!(kept("s == \"JFK\""), [true, false, false]);
        assert_eq!(kept("s != \"JFK\""), [false, true, true]);
        assert_eq!(kept("n > 5"), [false, true, false]);
        assert_eq!(kept("n == ()"), [false, false, true]);
        assert_eq!(kept("missing == ()"), [true, true, true]);
        assert_eq!(kept("missing != 3"), [true, true, true]);
    }

    #[test]
    fn arithmetic_on_a_missing_value_drops_the_row_even_under_not() {
        assert_eq!(kept("n + 1 > 1"), [true, true, false]);
        assert_eq!(kept("!(n + 1 > 100)"), [true, true, false]);
        assert_eq!(kept("n * f > 0.4"), [true, true, false]);
    }

    #[test]
    fn and_or_short_circuit() {
        assert_eq!(kept("n != () && n + 1 > 1"), [true, true, false]);
        assert_eq!(kept("n == () || n > 50"), [false, true, true]);
        assert_eq!(kept("s.contains(\"F\") || f < 0.0"), [true, false, true]);
        assert_eq!(
            kept("record[\"s\"].starts_with(\"LG\")"),
            [false, false, true]
        );
    }

    #[test]
    fn what_it_does_not_compile_is_refused() {
        for text in ["n.abs() > 1", "record", "s > 3", "n + 1", "let x = 1"] {
            let refused = Predicate::compile(text).and_then(|p| p.evaluate(&batch()));
            assert!(refused.is_err(), "{text}");
        }
        let overflow = Predicate::compile("n * 9223372036854775807 > 0").unwrap();
        assert!(matches!(
            overflow.evaluate(&batch()),
            Err(RecordsError::Evaluation(_))
        ));
    }
}
