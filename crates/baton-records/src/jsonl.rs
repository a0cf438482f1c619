//! JSON lines into record batches, a block at a time: each block gets the
//! schema its own lines have (inferred over all of them), so records whose
//! fields vary from line to line keep every field, and consecutive batches
//! may differ in schema (the schema grows as new fields appear).

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::error::RecordsError;
use crate::split::Block;

/// How JSON lines are read.
///
/// # Examples
///
/// ```
/// use baton_records::{Blocks, Boundary, JsonLinesFormat};
///
/// let text = "{\"a\": 1}\n\n{\"a\": 2, \"b\": \"x\"}\n";
/// let block = Blocks::new(text.as_bytes(), Boundary::Lines, 1 << 20).next().unwrap().unwrap();
/// let batch = JsonLinesFormat::default().parse(&block, "in.jsonl").unwrap();
/// assert_eq!(batch.num_rows(), 2);
/// assert_eq!(batch.num_columns(), 2);
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct JsonLinesFormat {}

impl JsonLinesFormat {
    /// The lines of one block as a record batch (blank lines skipped); a
    /// field whose values have several types (a number here, text there)
    /// is a text column.
    ///
    /// # Errors
    ///
    /// A line that is not a JSON object, named by file and line.
    ///
    /// # Examples
    ///
    /// See [`JsonLinesFormat`].
    pub fn parse(&self, block: &Block, file: &str) -> Result<RecordBatch, RecordsError> {
        let bytes = block.bytes.as_slice();
        let located =
            |error: arrow_schema::ArrowError| self.locate(block, file, &error.to_string());
        let (schema, _) = arrow_json::reader::infer_json_schema(bytes, None).map_err(located)?;
        decode(bytes, &Arc::new(schema), false).map_err(located)
    }

    /// The lines of one block as a record batch in the columns of
    /// `schema`, the file's schema so far, which grows as new fields
    /// appear: the columns it has are read straight into their types (no
    /// inference pass); a block with a field it lacks, or a value that
    /// does not fit its column, has its own schema inferred and merged in
    /// (an integer column that meets a decimal becomes decimal, other
    /// clashes text). `None` is a file's first block.
    ///
    /// # Errors
    ///
    /// As [`JsonLinesFormat::parse`].
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_records::{Blocks, Boundary, JsonLinesFormat};
    ///
    /// let text = "{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3, \"b\": true}\n";
    /// let format = JsonLinesFormat::default();
    /// let mut schema = None;
    /// let batches: Vec<_> = Blocks::new(text.as_bytes(), Boundary::Lines, 1)
    ///     .map(|block| format.parse_growing(&block.unwrap(), "f", &mut schema).unwrap())
    ///     .collect();
    /// assert_eq!(batches[1].num_columns(), 1);
    /// assert_eq!(batches[2].num_columns(), 2);
    /// assert_eq!(schema.unwrap().fields().len(), 2);
    /// ```
    pub fn parse_growing(
        &self,
        block: &Block,
        file: &str,
        schema: &mut Option<SchemaRef>,
    ) -> Result<RecordBatch, RecordsError> {
        if let Some(known) = schema.as_ref() {
            if let Ok(batch) = decode(&block.bytes, known, true) {
                return Ok(batch);
            }
        }
        let batch = self.parse(block, file)?;
        let grown = match schema.as_ref() {
            None => batch.schema(),
            Some(known) => merge(known, &batch.schema()),
        };
        if grown == batch.schema() {
            *schema = Some(grown);
            return Ok(batch);
        }
        match decode(&block.bytes, &grown, false) {
            Ok(batch) => {
                *schema = Some(grown);
                Ok(batch)
            }
            // Clashing nested values: this block keeps its own columns.
            Err(_) => Ok(batch),
        }
    }

    /// The first line of the block that is not a JSON object, at its line.
    fn locate(&self, block: &Block, file: &str, arrow_message: &str) -> RecordsError {
        for (n, line) in block.bytes.split(|b| *b == b'\n').enumerate() {
            let line_no = block.first_line + n as u64;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<serde_json::Value>(line) {
                Ok(serde_json::Value::Object(_)) => {}
                Ok(other) => {
                    return RecordsError::at(
                        file,
                        line_no,
                        format!("expected a JSON object, found {}", kind(&other)),
                    )
                }
                Err(error) => return RecordsError::at(file, line_no, format!("not JSON: {error}")),
            }
        }
        RecordsError::at(file, block.first_line, arrow_message.to_string())
    }
}

/// `bytes` read into the columns of `schema`; `strict`: a field it lacks
/// is an error (else it is dropped).
fn decode(
    bytes: &[u8],
    schema: &SchemaRef,
    strict: bool,
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let reader = arrow_json::ReaderBuilder::new(Arc::clone(schema))
        .with_coerce_primitive(true)
        .with_strict_mode(strict)
        .with_batch_size(1 << 16)
        .build(bytes)?;
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    match batches.len() {
        0 => Ok(RecordBatch::new_empty(Arc::clone(schema))),
        1 => Ok(batches.into_iter().next().expect("one batch")),
        _ => arrow_select::concat::concat_batches(schema, &batches),
    }
}

/// The fields of `known`, then the new ones of `more`; a field in both
/// with two types is decimal if both are numbers, else text (nested
/// values that clash keep the first type: the block is read apart).
fn merge(known: &SchemaRef, more: &SchemaRef) -> SchemaRef {
    use arrow_schema::{DataType, Field};
    let mut fields: Vec<Field> = known.fields().iter().map(|f| f.as_ref().clone()).collect();
    for field in more.fields() {
        match fields.iter_mut().find(|f| f.name() == field.name()) {
            None => fields.push(field.as_ref().clone().with_nullable(true)),
            Some(have) if have.data_type() == field.data_type() => {}
            Some(have) => {
                let (a, b) = (have.data_type(), field.data_type());
                let numeric = |t: &DataType| matches!(t, DataType::Int64 | DataType::Float64);
                let merged = if numeric(a) && numeric(b) {
                    DataType::Float64
                } else if *b == DataType::Null {
                    a.clone()
                } else if *a == DataType::Null {
                    b.clone()
                } else if !a.is_nested() && !b.is_nested() {
                    DataType::Utf8
                } else {
                    a.clone()
                };
                *have = have.clone().with_data_type(merged).with_nullable(true);
            }
        }
    }
    Arc::new(arrow_schema::Schema::new(fields))
}

fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::{Blocks, Boundary};
    use arrow_array::cast::AsArray;
    use proptest::prelude::*;

    /// The rows of `text` read in blocks of about `target` bytes, each
    /// with the file's schema so far, null fields dropped.
    fn growing_rows(text: &str, target: usize) -> Vec<serde_json::Value> {
        let format = JsonLinesFormat::default();
        let mut schema = None;
        Blocks::new(text.as_bytes(), Boundary::Lines, target)
            .flat_map(|block| {
                let batch = format
                    .parse_growing(&block.unwrap(), "f", &mut schema)
                    .unwrap();
                crate::rows::to_rows(&batch)
            })
            .map(|mut row| {
                row.retain(|_, v| !v.is_null());
                serde_json::Value::Object(row)
            })
            .collect()
    }

    #[test]
    fn the_schema_grows_and_clashing_types_widen() {
        let text = "{\"a\": 1}\n{\"a\": 2}\n{\"a\": 2.5, \"b\": \"x\"}\n{\"b\": 7}\n";
        assert_eq!(
            growing_rows(text, 1),
            vec![
                serde_json::json!({"a": 1}),
                serde_json::json!({"a": 2}),
                serde_json::json!({"a": 2.5, "b": "x"}),
                serde_json::json!({"b": "7"}),
            ]
        );
        let format = JsonLinesFormat::default();
        let mut schema = None;
        for block in Blocks::new(text.as_bytes(), Boundary::Lines, 1) {
            format
                .parse_growing(&block.unwrap(), "f", &mut schema)
                .unwrap();
        }
        let schema = schema.unwrap();
        let types: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| format!("{}:{}", f.name(), f.data_type()))
            .collect();
        assert_eq!(types, ["a:Float64", "b:Utf8"]);
    }

    proptest! {
        /// Records with any subset of the fields, read in blocks of any
        /// size with the growing schema, give back every value they hold.
        #[test]
        fn blocks_of_any_size_keep_every_value(
            records in proptest::collection::vec(
                (proptest::option::of(-1000i64..1000), proptest::option::of("[a-z\"é]{0,5}"), proptest::option::of(any::<bool>())),
                0..40,
            ),
            target in 1usize..200,
        ) {
            let expected: Vec<serde_json::Value> = records
                .iter()
                .map(|(a, b, c)| {
                    let mut row = serde_json::Map::new();
                    if let Some(a) = a { row.insert("a".into(), (*a).into()); }
                    if let Some(b) = b { row.insert("b".into(), b.clone().into()); }
                    if let Some(c) = c { row.insert("c".into(), (*c).into()); }
                    serde_json::Value::Object(row)
                })
                .collect();
            let text: String = expected.iter().map(|v| format!("{v}\n")).collect();
            prop_assert_eq!(growing_rows(&text, target), expected);
        }
    }

    #[test]
    fn a_field_of_several_types_is_text_and_a_bad_line_is_located() {
        let text = "{\"a\": 1}\n{\"a\": \"x\"}\n";
        let block = Blocks::new(text.as_bytes(), Boundary::Lines, 64)
            .next()
            .unwrap()
            .unwrap();
        let batch = JsonLinesFormat::default().parse(&block, "f").unwrap();
        let a = batch.column(0).as_string::<i32>();
        assert_eq!((a.value(0), a.value(1)), ("1", "x"));

        let bad = "{\"a\": 1}\n[1]\n";
        let block = Blocks::new(bad.as_bytes(), Boundary::Lines, 64)
            .starting_at_line(10)
            .next()
            .unwrap()
            .unwrap();
        let error = JsonLinesFormat::default()
            .parse(&block, "f")
            .unwrap_err()
            .to_string();
        assert_eq!(error, "f:11: expected a JSON object, found an array");
    }
}
