//! JSON lines into record batches, a block at a time: each block gets the
//! schema its own lines have (inferred over all of them), so records whose
//! fields vary from line to line keep every field, and consecutive batches
//! may differ in schema (the schema grows as new fields appear).

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::csv::ColumnType;
use crate::error::{RecordsError, Rejected};
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
pub struct JsonLinesFormat {
    /// Fields whose type is given rather than inferred, in the order given.
    types: Vec<(String, ColumnType)>,
}

impl JsonLinesFormat {
    /// The same format, with the type of some fields given instead of
    /// inferred (a schema in the pipeline file): those fields always have
    /// that type, in every block, a null where a line lacks them, and a
    /// value that does not fit is an error naming its file, line and field
    /// (a number fits `string`; a string fits a number type only if it
    /// reads as one).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_records::{Blocks, Boundary, ColumnType, JsonLinesFormat};
    ///
    /// let format = JsonLinesFormat::default().with_types([("zip".to_string(), ColumnType::String)]);
    /// let text = "{\"zip\": 2134}\n";
    /// let block = Blocks::new(text.as_bytes(), Boundary::Lines, 1 << 20).next().unwrap().unwrap();
    /// let batch = format.parse_growing(&block, "a.jsonl", &mut None).unwrap();
    /// assert_eq!(batch.schema().field(0).data_type(), &arrow_schema::DataType::Utf8);
    ///
    /// let text = "{\"n\": 1}\n{\"n\": \"many\"}\n";
    /// let format = JsonLinesFormat::default().with_types([("n".to_string(), ColumnType::Int)]);
    /// let block = Blocks::new(text.as_bytes(), Boundary::Lines, 1 << 20).next().unwrap().unwrap();
    /// let error = format.parse_growing(&block, "a.jsonl", &mut None).unwrap_err().to_string();
    /// assert!(error.starts_with("a.jsonl:2: field `n`"), "{error}");
    /// ```
    pub fn with_types(mut self, types: impl IntoIterator<Item = (String, ColumnType)>) -> Self {
        for (name, kind) in types {
            match self.types.iter_mut().find(|(have, _)| *have == name) {
                Some(given) => given.1 = kind,
                None => self.types.push((name, kind)),
            }
        }
        self
    }

    /// `schema` with the given types in place of the inferred ones, and the
    /// given fields it lacks added.
    fn typed(&self, schema: &SchemaRef) -> SchemaRef {
        if self.types.is_empty() {
            return Arc::clone(schema);
        }
        let mut fields: Vec<arrow_schema::Field> =
            schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        for (name, kind) in &self.types {
            match fields.iter_mut().find(|f| f.name() == name) {
                Some(field) => {
                    *field = field
                        .clone()
                        .with_data_type(kind.data_type())
                        .with_nullable(true);
                }
                None => fields.push(arrow_schema::Field::new(name, kind.data_type(), true)),
            }
        }
        Arc::new(arrow_schema::Schema::new(fields))
    }

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
        let grown = self.typed(&match schema.as_ref() {
            None => batch.schema(),
            Some(known) => merge(known, &batch.schema()),
        });
        if grown == batch.schema() {
            *schema = Some(grown);
            return Ok(batch);
        }
        match decode(&block.bytes, &grown, false) {
            Ok(batch) => {
                *schema = Some(grown);
                Ok(batch)
            }
            Err(_) if !self.types.is_empty() => {
                let (_, rejected) = self.parse_rejecting(block, file, &grown);
                match rejected.into_iter().next() {
                    Some(first) => Err(first.error),
                    None => Ok(batch),
                }
            }
            // Clashing nested values: this block keeps its own columns.
            Err(_) => Ok(batch),
        }
    }

    /// Whether some fields' types are given ([`JsonLinesFormat::with_types`]).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!baton_records::JsonLinesFormat::default().has_types());
    /// ```
    pub fn has_types(&self) -> bool {
        !self.types.is_empty()
    }

    /// As [`JsonLinesFormat::parse_growing`], but a line that cannot be
    /// read (not JSON, not an object, a value that does not fit its
    /// field's given type) is left out and comes back as [`Rejected`]; the
    /// block's other lines are kept and grow the schema.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_records::{Blocks, Boundary, ColumnType, JsonLinesFormat};
    ///
    /// let format = JsonLinesFormat::default().with_types([("n".to_string(), ColumnType::Int)]);
    /// let text = "{\"n\": 1}\n{\"n\": \"many\"}\n[3]\n{\"n\": 4}\n";
    /// let block = Blocks::new(text.as_bytes(), Boundary::Lines, 1 << 20).next().unwrap().unwrap();
    /// let (batch, rejected) = format.parse_growing_rejecting(&block, "a.jsonl", &mut None);
    /// assert_eq!(batch.num_rows(), 2);
    /// assert_eq!(rejected.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 3]);
    /// ```
    pub fn parse_growing_rejecting(
        &self,
        block: &Block,
        file: &str,
        schema: &mut Option<SchemaRef>,
    ) -> (RecordBatch, Vec<Rejected>) {
        if let Ok(batch) = self.parse_growing(block, file, schema) {
            return (batch, Vec::new());
        }
        // The schema of the lines that are objects, grown from the known one.
        let objects: Vec<u8> = block
            .bytes
            .split(|b| *b == b'\n')
            .filter(|line| {
                matches!(
                    serde_json::from_slice::<serde_json::Value>(line),
                    Ok(serde_json::Value::Object(_))
                )
            })
            .flat_map(|line| line.iter().copied().chain([b'\n']))
            .collect();
        let inferred = arrow_json::reader::infer_json_schema(objects.as_slice(), None)
            .map(|(schema, _)| Arc::new(schema));
        let grown = match (schema.as_ref(), inferred) {
            (Some(known), Ok(inferred)) => merge(known, &inferred),
            (Some(known), Err(_)) => Arc::clone(known),
            (None, Ok(inferred)) => inferred,
            (None, Err(_)) => Arc::new(arrow_schema::Schema::empty()),
        };
        let grown = self.typed(&grown);
        let (batch, rejected) = self.parse_rejecting(block, file, &grown);
        *schema = Some(grown);
        (batch, rejected)
    }

    /// The lines of one block read into the columns of `schema` one by
    /// one: those that fit make the batch, each of the others (not JSON,
    /// not an object, a value that does not fit its field's type) comes back
    /// as [`Rejected`] with its located error and its text. Blank lines
    /// are skipped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_schema::{DataType, Field, Schema};
    /// use baton_records::{Blocks, Boundary, JsonLinesFormat};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
    /// let text = "{\"n\": 1}\n{\"n\": \"many\"}\n{\"n\": 3}\n";
    /// let block = Blocks::new(text.as_bytes(), Boundary::Lines, 1 << 20).next().unwrap().unwrap();
    /// let (batch, rejected) = JsonLinesFormat::default().parse_rejecting(&block, "a.jsonl", &schema);
    /// assert_eq!(batch.num_rows(), 2);
    /// assert_eq!((rejected[0].line, rejected[0].text.as_str()), (2, "{\"n\": \"many\"}"));
    /// ```
    pub fn parse_rejecting(
        &self,
        block: &Block,
        file: &str,
        schema: &SchemaRef,
    ) -> (RecordBatch, Vec<Rejected>) {
        let mut kept = Vec::with_capacity(block.bytes.len());
        let mut rejected = Vec::new();
        for (n, line) in block.bytes.split(|b| *b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let line_no = block.first_line + n as u64;
            let text = || {
                String::from_utf8_lossy(line)
                    .trim_end_matches('\r')
                    .to_string()
            };
            let message = match serde_json::from_slice::<serde_json::Value>(line) {
                Err(error) => Some(format!("not JSON: {error}")),
                Ok(serde_json::Value::Object(_)) => match decode(line, schema, false) {
                    Ok(_) => None,
                    Err(error) => Some(field_message(&error.to_string())),
                },
                Ok(other) => Some(format!("expected a JSON object, found {}", kind(&other))),
            };
            match message {
                Some(message) => rejected.push(Rejected::at(file, line_no, message, text())),
                None => {
                    kept.extend_from_slice(line);
                    kept.push(b'\n');
                }
            }
        }
        let batch = decode(&kept, schema, false)
            .unwrap_or_else(|_| RecordBatch::new_empty(Arc::clone(schema)));
        (batch, rejected)
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

/// Arrow's message for a value that does not fit its column, said with
/// the field first: "field `n`: ...".
fn field_message(arrow_message: &str) -> String {
    let message = arrow_message
        .strip_prefix("Json error: ")
        .unwrap_or(arrow_message);
    match message
        .strip_prefix("whilst decoding field '")
        .and_then(|rest| rest.split_once("': "))
    {
        Some((field, why)) => format!("field `{field}`: {why}"),
        None => message.to_string(),
    }
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
