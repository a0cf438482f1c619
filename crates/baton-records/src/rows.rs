//! Record batches to rows of JSON-like fields and back: the bridge to the
//! stages that work a record at a time.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema};
use serde_json::{Map, Value};

use crate::error::RecordsError;

/// One row of fields.
pub type Row = Map<String, Value>;

/// The rows of a batch, each a map from field name to value (null values
/// are JSON null).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch, StringArray};
///
/// let batch = RecordBatch::try_from_iter([
///     ("n", Arc::new(Int64Array::from(vec![Some(1), None])) as _),
///     ("s", Arc::new(StringArray::from(vec!["a", "b"])) as _),
/// ]).unwrap();
/// let rows = baton_records::rows::to_rows(&batch);
/// assert_eq!(serde_json::Value::Object(rows[1].clone()), serde_json::json!({"n": null, "s": "b"}));
/// ```
pub fn to_rows(batch: &RecordBatch) -> Vec<Row> {
    let mut rows = vec![Row::new(); batch.num_rows()];
    let schema = batch.schema();
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        let values = column_values(column.as_ref());
        for (row, value) in rows.iter_mut().zip(values) {
            row.insert(field.name().clone(), value);
        }
    }
    rows
}

/// The values of one column as JSON values, as [`to_rows`] gives them.
///
/// # Examples
///
/// ```
/// use arrow_array::Int64Array;
/// let values = baton_records::rows::column_values(&Int64Array::from(vec![Some(1), None]));
/// assert_eq!(values, [serde_json::json!(1), serde_json::Value::Null]);
/// ```
pub fn column_values(column: &dyn Array) -> Vec<Value> {
    macro_rules! primitive {
        ($t:ty) => {{
            let array = column.as_primitive::<$t>();
            (0..array.len())
                .map(|i| {
                    if array.is_null(i) {
                        Value::Null
                    } else {
                        serde_json::json!(array.value(i))
                    }
                })
                .collect()
        }};
    }
    match column.data_type() {
        DataType::Int64 => primitive!(Int64Type),
        DataType::Int32 => primitive!(Int32Type),
        DataType::Int16 => primitive!(Int16Type),
        DataType::Int8 => primitive!(Int8Type),
        DataType::UInt64 => primitive!(UInt64Type),
        DataType::UInt32 => primitive!(UInt32Type),
        DataType::UInt16 => primitive!(UInt16Type),
        DataType::UInt8 => primitive!(UInt8Type),
        DataType::Float64 => primitive!(Float64Type),
        DataType::Float32 => primitive!(Float32Type),
        DataType::Boolean => {
            let array = column.as_boolean();
            array
                .iter()
                .map(|v| v.map_or(Value::Null, Value::Bool))
                .collect()
        }
        DataType::Utf8 => {
            let array = column.as_string::<i32>();
            array
                .iter()
                .map(|v| v.map_or(Value::Null, |s| Value::String(s.to_string())))
                .collect()
        }
        DataType::LargeUtf8 => {
            let array = column.as_string::<i64>();
            array
                .iter()
                .map(|v| v.map_or(Value::Null, |s| Value::String(s.to_string())))
                .collect()
        }
        DataType::Null => vec![Value::Null; column.len()],
        _ => {
            // Nested and other types: through Arrow's JSON writer.
            let field = arrow_schema::Field::new("v", column.data_type().clone(), true);
            let one = RecordBatch::try_new(
                Arc::new(Schema::new(vec![field])),
                vec![arrow_array::make_array(column.to_data())],
            );
            let mut writer = arrow_json::ArrayWriter::new(Vec::new());
            let written = one.map_err(|e| e.to_string()).and_then(|one| {
                writer.write(&one).map_err(|e| e.to_string())?;
                writer.finish().map_err(|e| e.to_string())
            });
            let parsed: Vec<Row> = written
                .ok()
                .and_then(|()| serde_json::from_slice(&writer.into_inner()).ok())
                .unwrap_or_default();
            let mut values: Vec<Value> = parsed
                .into_iter()
                .map(|mut row| row.remove("v").unwrap_or(Value::Null))
                .collect();
            values.resize(column.len(), Value::Null);
            values
        }
    }
}

/// A batch made of rows: columns and their types inferred from all the
/// rows (a field some rows lack is null there; a field of mixed types is
/// text).
///
/// # Errors
///
/// A value Arrow cannot hold in the inferred column.
///
/// # Examples
///
/// ```
/// let rows = vec![
///     serde_json::json!({"n": 1}).as_object().unwrap().clone(),
///     serde_json::json!({"n": 2, "s": "x"}).as_object().unwrap().clone(),
/// ];
/// let batch = baton_records::rows::from_rows(rows).unwrap();
/// assert_eq!((batch.num_rows(), batch.num_columns()), (2, 2));
/// ```
pub fn from_rows(rows: Vec<Row>) -> Result<RecordBatch, RecordsError> {
    if let Some(batch) = scalar_columns(&rows) {
        return Ok(batch);
    }
    let error = |e: arrow_schema::ArrowError| RecordsError::Evaluation(e.to_string());
    let values: Vec<Value> = rows.into_iter().map(Value::Object).collect();
    let schema = arrow_json::reader::infer_json_schema_from_iterator(values.iter().map(Ok))
        .map_err(error)?;
    let schema = Arc::new(schema);
    let mut decoder = arrow_json::ReaderBuilder::new(Arc::clone(&schema))
        .with_coerce_primitive(true)
        .build_decoder()
        .map_err(error)?;
    decoder.serialize(&values).map_err(error)?;
    Ok(decoder
        .flush()
        .map_err(error)?
        .unwrap_or_else(|| RecordBatch::new_empty(schema)))
}

/// The kind of one column's values, on the fast path of [`from_rows`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Nothing,
    Int,
    Float,
    Bool,
    Text,
}

/// The batch of rows that all have the same fields, each field holding
/// integers, decimals, booleans or text (and nulls), built column by column
/// without going through JSON; `None` for any other rows, which
/// [`from_rows`] reads the general way (with the same result for these).
fn scalar_columns(rows: &[Row]) -> Option<RecordBatch> {
    use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
    let first = rows.first()?;
    if rows
        .iter()
        .any(|row| row.len() != first.len() || !row.keys().eq(first.keys()))
    {
        return None;
    }
    let mut kinds = vec![Scalar::Nothing; first.len()];
    let mut by_column: Vec<Vec<&Value>> = vec![Vec::with_capacity(rows.len()); first.len()];
    for row in rows {
        for ((kind, column), value) in kinds.iter_mut().zip(&mut by_column).zip(row.values()) {
            column.push(value);
            let this = match value {
                Value::Null => continue,
                Value::Bool(_) => Scalar::Bool,
                Value::String(_) => Scalar::Text,
                Value::Number(n) if n.is_i64() => Scalar::Int,
                Value::Number(n) if n.is_f64() => Scalar::Float,
                _ => return None,
            };
            *kind = match (*kind, this) {
                (Scalar::Nothing, this) => this,
                (a, b) if a == b => a,
                (Scalar::Int, Scalar::Float) | (Scalar::Float, Scalar::Int) => Scalar::Float,
                _ => return None,
            };
        }
    }
    let mut fields = Vec::with_capacity(kinds.len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(kinds.len());
    for ((name, kind), column) in first.keys().zip(&kinds).zip(&by_column) {
        let values = column.iter().copied();
        let (data_type, column): (DataType, ArrayRef) = match kind {
            Scalar::Nothing => return None,
            Scalar::Int => (
                DataType::Int64,
                Arc::new(values.map(Value::as_i64).collect::<Int64Array>()),
            ),
            Scalar::Float => (
                DataType::Float64,
                Arc::new(values.map(Value::as_f64).collect::<Float64Array>()),
            ),
            Scalar::Bool => (
                DataType::Boolean,
                Arc::new(values.map(Value::as_bool).collect::<BooleanArray>()),
            ),
            Scalar::Text => (
                DataType::Utf8,
                Arc::new(values.map(Value::as_str).collect::<StringArray>()),
            ),
        };
        fields.push(arrow_schema::Field::new(name, data_type, true));
        columns.push(column);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_go_to_a_batch_and_back() {
        let rows: Vec<Row> = [
            serde_json::json!({"a": 1, "b": "x", "c": true, "d": 1.5}),
            serde_json::json!({"a": null, "b": "y", "c": false, "d": 2.0, "e": [1, 2]}),
        ]
        .iter()
        .map(|v| v.as_object().unwrap().clone())
        .collect();
        let batch = from_rows(rows.clone()).unwrap();
        let back = to_rows(&batch);
        assert_eq!(back[0]["a"], 1);
        assert_eq!(back[1]["e"], serde_json::json!([1, 2]));
        assert_eq!(back[0]["e"], Value::Null);
        assert_eq!(back[1]["d"], 2.0);
    }

    /// The general way, for comparison with the fast path.
    fn through_json(rows: Vec<Row>) -> RecordBatch {
        let values: Vec<Value> = rows.into_iter().map(Value::Object).collect();
        let schema = Arc::new(
            arrow_json::reader::infer_json_schema_from_iterator(values.iter().map(Ok)).unwrap(),
        );
        let mut decoder = arrow_json::ReaderBuilder::new(Arc::clone(&schema))
            .with_coerce_primitive(true)
            .build_decoder()
            .unwrap();
        decoder.serialize(&values).unwrap();
        decoder
            .flush()
            .unwrap()
            .unwrap_or_else(|| RecordBatch::new_empty(schema))
    }

    use proptest::prelude::*;

    proptest::proptest! {
        /// Rows of scalars give the batch the JSON reader gives them.
        #[test]
        fn the_fast_path_gives_what_the_json_reader_gives(
            rows in proptest::collection::vec(
                (
                    proptest::option::of(-5i64..5),
                    proptest::option::of(proptest::prop_oneof![
                        (-5i64..5).prop_map(|n| serde_json::json!(n)),
                        (-5.0f64..5.0).prop_map(|x| serde_json::json!(x)),
                    ]),
                    proptest::option::of(proptest::bool::ANY),
                    proptest::option::of("[a-zé]{0,4}"),
                ),
                1..30,
            )
        ) {
            let rows: Vec<Row> = rows
                .into_iter()
                .map(|(a, b, c, d)| {
                    serde_json::json!({"a": a, "b": b, "c": c, "d": d})
                        .as_object()
                        .unwrap()
                        .clone()
                })
                .collect();
            let general = through_json(rows.clone());
            let fast = from_rows(rows).unwrap();
            prop_assert_eq!(fast, general);
        }
    }
}
