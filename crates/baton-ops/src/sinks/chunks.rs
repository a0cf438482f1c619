//! What the columnar file sinks (`parquet`, `arrow`) share: every item
//! made a chunk of records under one schema, the first chunk's.
//!
//! Chunks of records go as they are. Items that are rows are gathered and
//! turned into a chunk ([`baton_records::rows::from_rows`]) every
//! [`ROWS`] rows and at the end. A later chunk whose schema differs is
//! fitted to the first one's only where no value can change: a column it
//! lacks is null, a column of nulls only takes the file's type, and a
//! number or text column is widened (int32 to int64, an int or float32 to
//! float64, utf8 to large utf8 ...); any other difference is an error naming
//! the column.

use std::sync::Arc;

use arrow_array::{new_null_array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, SchemaRef};
use baton_records::rows::Row;

use super::error::SinkError;
use crate::item::{Item, Payload};

/// Rows gathered before they are made a chunk.
pub(super) const ROWS: usize = 8192;

/// Items into chunks of one schema.
#[derive(Debug)]
pub(super) struct Chunks {
    /// The file, for errors.
    path: String,
    schema: Option<SchemaRef>,
    rows: Vec<Row>,
}

impl Chunks {
    pub(super) fn new(path: String) -> Self {
        Self {
            path,
            schema: None,
            rows: Vec::new(),
        }
    }

    /// The chunks to write for `item`, in order (none while rows gather).
    pub(super) fn push(&mut self, item: Item) -> Result<Vec<RecordBatch>, SinkError> {
        let mut ready = Vec::new();
        self.gather(item, &mut ready)?;
        Ok(ready)
    }

    fn gather(&mut self, item: Item, ready: &mut Vec<RecordBatch>) -> Result<(), SinkError> {
        match item.payload {
            Payload::Records(batch) => {
                ready.extend(self.rows_chunk()?);
                ready.push(self.fit(batch)?);
            }
            Payload::None => {
                self.rows.push(item.fields);
                if self.rows.len() >= ROWS {
                    ready.extend(self.rows_chunk()?);
                }
            }
            Payload::Batch(items) => {
                for item in items {
                    self.gather(item, ready)?;
                }
            }
            other => {
                return Err(SinkError::Payload {
                    found: other.kind(),
                })
            }
        }
        Ok(())
    }

    /// The rows gathered, as a chunk.
    pub(super) fn rows_chunk(&mut self) -> Result<Option<RecordBatch>, SinkError> {
        if self.rows.is_empty() {
            return Ok(None);
        }
        let rows = std::mem::take(&mut self.rows);
        let batch = baton_records::rows::from_rows(rows).map_err(|e| SinkError::Schema {
            path: self.path.clone(),
            why: e.to_string(),
        })?;
        self.fit(batch).map(Some)
    }

    /// `batch` under the file's schema (its own, when it is the first).
    fn fit(&mut self, batch: RecordBatch) -> Result<RecordBatch, SinkError> {
        let Some(schema) = &self.schema else {
            self.schema = Some(batch.schema());
            return Ok(batch);
        };
        if batch.schema_ref() == schema {
            return Ok(batch);
        }
        let unlike = |why: String| SinkError::Schema {
            path: self.path.clone(),
            why,
        };
        let own = batch.schema();
        if let Some(extra) = own
            .fields()
            .iter()
            .find(|f| schema.index_of(f.name()).is_err())
        {
            let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            return Err(unlike(format!(
                "its column `{}` is not in the file (whose columns are {})",
                extra.name(),
                columns.join(", ")
            )));
        }
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let to = field.data_type();
            let column = match own.index_of(field.name()) {
                Err(_) if !field.is_nullable() => {
                    return Err(unlike(format!(
                        "it lacks the column `{}`, which has no nulls in the file",
                        field.name()
                    )))
                }
                Err(_) => new_null_array(to, batch.num_rows()),
                Ok(index) => {
                    let column = batch.column(index);
                    let from = column.data_type();
                    if from == to {
                        Arc::clone(column)
                    } else if widens(from, to) {
                        arrow_cast::cast(column, to).map_err(|e| unlike(e.to_string()))?
                    } else {
                        return Err(unlike(format!(
                            "its column `{}` is {from}, but {to} in the file",
                            field.name()
                        )));
                    }
                }
            };
            columns.push(column);
        }
        RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| unlike(e.to_string()))
    }
}

/// Whether every value of type `from` is a value of type `to`.
fn widens(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    matches!(
        (from, to),
        (Null, _)
            | (Int8, Int16 | Int32 | Int64 | Float32 | Float64)
            | (Int16, Int32 | Int64 | Float32 | Float64)
            | (Int32, Int64 | Float64)
            | (
                UInt8,
                UInt16 | UInt32 | UInt64 | Int16 | Int32 | Int64 | Float32 | Float64
            )
            | (UInt16, UInt32 | UInt64 | Int32 | Int64 | Float32 | Float64)
            | (UInt32, UInt64 | Int64 | Float64)
            | (Float16 | Float32, Float64)
            | (Utf8 | LargeUtf8 | Utf8View, Utf8 | LargeUtf8 | Utf8View)
            | (
                Binary | LargeBinary | BinaryView,
                Binary | LargeBinary | BinaryView
            )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int32Array, Int64Array, StringArray};
    use serde_json::json;

    fn chunk(columns: Vec<(&str, ArrayRef)>) -> Item {
        let nullable = columns
            .into_iter()
            .map(|(name, column)| (name, column, true));
        Item::records(RecordBatch::try_from_iter_with_nullable(nullable).unwrap())
    }

    #[test]
    fn later_chunks_are_widened_or_refused_naming_the_column() {
        let mut chunks = Chunks::new("out.parquet".into());
        let first = chunk(vec![
            ("n", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            ("s", Arc::new(StringArray::from(vec!["a"])) as ArrayRef),
        ]);
        assert_eq!(chunks.push(first).unwrap().len(), 1);
        let narrower = chunk(vec![("n", Arc::new(Int32Array::from(vec![2])) as ArrayRef)]);
        let fitted = chunks.push(narrower).unwrap().remove(0);
        assert_eq!(fitted.schema(), chunks.schema.clone().unwrap());
        assert!(fitted.column(1).is_null(0));
        let text = chunk(vec![(
            "n",
            Arc::new(StringArray::from(vec!["x"])) as ArrayRef,
        )]);
        let error = chunks.push(text).unwrap_err().to_string();
        assert_eq!(
            error,
            "out.parquet: a chunk of records unlike the first: its column `n` is Utf8, but Int64 in the file"
        );
        let strict = RecordBatch::try_from_iter_with_nullable([
            (
                "s",
                Arc::new(StringArray::from(vec!["a"])) as ArrayRef,
                false,
            ),
            (
                "t",
                Arc::new(StringArray::from(vec!["b"])) as ArrayRef,
                true,
            ),
        ])
        .unwrap();
        let mut chunks_strict = Chunks::new("s.arrow".into());
        chunks_strict.push(Item::records(strict)).unwrap();
        let other = chunk(vec![(
            "t",
            Arc::new(StringArray::from(vec!["c"])) as ArrayRef,
        )]);
        let error = chunks_strict.push(other).unwrap_err().to_string();
        assert!(
            error.contains("lacks the column `s`, which has no nulls in the file"),
            "{error}"
        );
        let extra = chunk(vec![("z", Arc::new(Int64Array::from(vec![1])) as ArrayRef)]);
        let error = chunks.push(extra).unwrap_err().to_string();
        assert!(
            error.contains("its column `z` is not in the file (whose columns are n, s)"),
            "{error}"
        );
    }

    #[test]
    fn rows_are_gathered_into_chunks() {
        let mut chunks = Chunks::new("out.arrow".into());
        for n in 0..ROWS + 3 {
            let ready = chunks.push(Item::record(json!({"n": n}))).unwrap();
            assert_eq!(ready.len(), usize::from(n == ROWS - 1));
        }
        let last = chunks.rows_chunk().unwrap().unwrap();
        assert_eq!(last.num_rows(), 3);
        assert!(chunks.rows_chunk().unwrap().is_none());
        let error = chunks.push(Item {
            payload: Payload::Bytes(vec![1]),
            ..Item::default()
        });
        assert!(matches!(error, Err(SinkError::Payload { found: "bytes" })));
    }
}
