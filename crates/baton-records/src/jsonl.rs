//! JSON lines into record batches, a block at a time: each block gets the
//! schema its own lines have (inferred over all of them), so records whose
//! fields vary from line to line keep every field, and consecutive batches
//! may differ in schema (the schema grows as new fields appear).

use std::sync::Arc;

use arrow_array::RecordBatch;

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
        let schema = Arc::new(schema);
        let reader = arrow_json::ReaderBuilder::new(Arc::clone(&schema))
            .with_coerce_primitive(true)
            .with_batch_size(1 << 16)
            .build(bytes)
            .map_err(located)?;
        let batches = reader.collect::<Result<Vec<_>, _>>().map_err(located)?;
        match batches.len() {
            0 => Ok(RecordBatch::new_empty(schema)),
            1 => Ok(batches.into_iter().next().expect("one batch")),
            _ => arrow_select::concat::concat_batches(&schema, &batches).map_err(located),
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
