//! `csv`: every item as a row of a CSV file, written as `<path>.partial`
//! and renamed to `path` when the run finishes (see `staged`).
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, Item, OpKind, Params};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let params = Params::new(toml::from_str(r#"path = "a.csv""#).unwrap(), dir.path());
//! let op = baton_ops::find_kind("csv", OpKind::Sink).unwrap();
//! let BuiltOp::Sink(make) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut sink = make().unwrap();
//! sink.write(Item::record(serde_json::json!({"name": "Smith, J", "age": 42}))).unwrap();
//! sink.finish().unwrap();
//! assert_eq!(std::fs::read_to_string(dir.path().join("a.csv")).unwrap(), "age,name\n42,\"Smith, J\"\n");
//! ```

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use serde_json::Value;

use super::error::SinkError;
use super::sink;
use super::staged::Staged;
use crate::item::{Item, Payload};
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef, ParamType,
};
use crate::sources::delimiter_byte;
use crate::warnings::StageWarnings;
use arrow_array::{new_null_array, ArrayRef, RecordBatch, RecordBatchOptions, StringArray};
use arrow_schema::{DataType, Field, Schema};
use baton_engine::{BoxError, Sink};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub(crate) const DEF: OpDef = OpDef {
    name: "csv",
    kind: OpKind::Sink,
    summary: "writes every item as a row of a CSV file with a header (made with its folders; replaced when the run finishes, `<path>.partial` until then)",
    params: &[
        ParamDef::required("path", ParamType::Str, "the file, relative to the pipeline file")
            .output(),
        ParamDef::optional(
            "fields",
            ParamType::StrList,
            "the columns, in order (default: the first item's fields); other fields are left out",
        ),
        ParamDef::with_default(
            "delimiter",
            ParamType::Str,
            "\",\"",
            "the character between values (one ASCII character)",
        ),
    ],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<CsvSinkConfig>,
};

/// The parameters of the `csv` sink: every item as a row of a CSV file
/// with a header, written as `<path>.partial` and renamed to `path` when
/// the run finishes.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, CsvSinkConfig, OpConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let dir = tempfile::tempdir().unwrap();
/// let config = CsvSinkConfig {
///     path: "out/a.tsv".into(),
///     fields: Some(vec!["name".into(), "age".into()]),
///     delimiter: "\t".into(),
/// };
/// let BuiltOp::Sink(make) = config.build(&BuildContext::new(dir.path())).unwrap() else { unreachable!() };
/// let mut sink = make().unwrap();
/// sink.write(Item::record(serde_json::json!({"name": "Smith, J", "age": 42, "id": 7}))).unwrap();
/// sink.finish().unwrap();
/// let text = std::fs::read_to_string(dir.path().join("out/a.tsv")).unwrap();
/// assert_eq!(text, "name\tage\nSmith, J\t42\n");
///
/// // Only `path` is required.
/// let config: CsvSinkConfig = serde_json::from_str(r#"{"path": "a.csv"}"#).unwrap();
/// assert_eq!((config.fields, config.delimiter.as_str()), (None, ","));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvSinkConfig {
    /// The file, relative to the pipeline file.
    pub path: PathBuf,
    /// The columns, in order (default: the first item's fields); other
    /// fields are left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// The character between values (one ASCII character).
    #[serde(default = "comma")]
    pub delimiter: String,
}

fn comma() -> String {
    ",".to_string()
}

impl OpConfig for CsvSinkConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let path = context.path(&self.path);
        let columns = self.fields.clone();
        if columns.as_ref().is_some_and(Vec::is_empty) {
            return Err(OpError::param("fields", "name at least one field"));
        }
        let delimiter = delimiter_byte(&self.delimiter)?;
        let warnings = context.warnings().clone();
        Ok(sink(move || {
            CsvFile::create(path, columns, delimiter, &warnings)
        }))
    }
}

/// The sink.
#[derive(Debug)]
struct CsvFile {
    file: Staged,
    /// `None` once finished.
    out: Option<::csv::Writer<BufWriter<File>>>,
    /// `None` until the first item when not given.
    columns: Option<Vec<String>>,
    delimiter: u8,
}

impl CsvFile {
    fn create(
        path: PathBuf,
        columns: Option<Vec<String>>,
        delimiter: u8,
        warnings: &StageWarnings,
    ) -> Result<Self, SinkError> {
        let (file, out) = Staged::create(path, warnings)?;
        let out = ::csv::WriterBuilder::new()
            .delimiter(delimiter)
            .from_writer(out);
        let mut sink = Self {
            file,
            out: Some(out),
            columns: None,
            delimiter,
        };
        if let Some(columns) = columns {
            sink.header(columns)?;
        }
        Ok(sink)
    }

    fn header(&mut self, columns: Vec<String>) -> Result<(), SinkError> {
        self.row(&columns)?;
        self.columns = Some(columns);
        Ok(())
    }

    fn row(&mut self, cells: &[String]) -> Result<(), SinkError> {
        let result = match self.out.as_mut() {
            Some(out) => out.write_record(cells).map_err(std::io::Error::from),
            None => Err(std::io::Error::other("written after it was finished")),
        };
        result.map_err(|error| self.error(error))
    }

    fn error(&self, error: std::io::Error) -> SinkError {
        SinkError::File {
            path: self.file.written().display().to_string(),
            error,
        }
    }
}

/// A field's value as CSV text: strings as they are, null and a missing
/// field empty, anything else as compact JSON.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

impl CsvFile {
    /// Writes a chunk of records from its columns: the header's columns
    /// (the chunk's own when it is the first and none were given), a
    /// column the chunk lacks empty.
    fn write_records(&mut self, batch: &RecordBatch) -> Result<(), BoxError> {
        if self.columns.is_none() {
            let schema = batch.schema();
            self.header(schema.fields().iter().map(|f| f.name().clone()).collect())?;
        }
        let columns = self.columns.as_deref().unwrap_or_default();
        let schema = batch.schema();
        let mut fields = Vec::with_capacity(columns.len());
        let mut arrays = Vec::with_capacity(columns.len());
        for name in columns {
            match schema.index_of(name) {
                Ok(index) => {
                    let column = batch.column(index);
                    // Nested values as JSON text, like a record's.
                    if column.data_type().is_nested() {
                        let rows = crate::item::rows_of(&batch.project(&[index])?);
                        let text: Vec<Option<String>> = rows
                            .map(|row| {
                                row.fields.get(name).and_then(|v| match v {
                                    Value::Null => None,
                                    other => Some(other.to_string()),
                                })
                            })
                            .collect();
                        fields.push(Field::new(name, DataType::Utf8, true));
                        arrays.push(Arc::new(StringArray::from(text)) as ArrayRef);
                    } else {
                        fields.push(schema.field(index).clone().with_name(name));
                        arrays.push(Arc::clone(column));
                    }
                }
                Err(_) => {
                    fields.push(Field::new(name, DataType::Utf8, true));
                    arrays.push(new_null_array(&DataType::Utf8, batch.num_rows()));
                }
            }
        }
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        let columns =
            RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options)?;
        let delimiter = self.delimiter;
        let Some(out) = self.out.take() else {
            return Err(self
                .error(std::io::Error::other("written after it was finished"))
                .into());
        };
        // The `csv` crate's writer hands its file over (flushed), Arrow's
        // writes the chunk into it, and the file goes back into a new one.
        let mut file = out.into_inner().map_err(|e| self.error(e.into_error()))?;
        let written = arrow_csv::WriterBuilder::new()
            .with_header(false)
            .with_delimiter(delimiter)
            .build(&mut file)
            .write(&columns)
            .map_err(|e| std::io::Error::other(e.to_string()));
        self.out = Some(
            ::csv::WriterBuilder::new()
                .delimiter(delimiter)
                .from_writer(file),
        );
        written.map_err(|error| self.error(error))?;
        Ok(())
    }
}

impl Sink<Item> for CsvFile {
    fn write(&mut self, item: Item) -> Result<(), BoxError> {
        if let Payload::Records(batch) = &item.payload {
            return self.write_records(batch);
        }
        if self.columns.is_none() {
            self.header(item.fields.keys().cloned().collect())?;
        }
        let columns = self.columns.as_deref().unwrap_or_default();
        let row: Vec<String> = columns.iter().map(|c| cell(item.get(c))).collect();
        self.row(&row)?;
        Ok(())
    }

    /// What is buffered goes to the file after every chunk, so that what
    /// has been written survives a crash.
    fn flush(&mut self) -> Result<(), BoxError> {
        let flushed = self.out.as_mut().map_or(Ok(()), |out| out.flush());
        flushed.map_err(|error| self.error(error))?;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        if let Some(out) = self.out.take() {
            // Closed before it is renamed: every byte is in the file.
            out.into_inner()
                .map_err(|e| e.into_error())
                .and_then(|file| file.into_inner().map_err(|e| e.into_error()))
                .map_err(|error| self.error(error))?;
            self.file.commit()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{params, run_sink};
    use serde_json::json;

    #[test]
    fn writes_the_named_columns_quoting_what_needs_it() {
        let dir = tempfile::tempdir().unwrap();
        let items = vec![
            Item::record(json!({"name": "Smith, J", "n": 1, "tags": ["a"], "x": "left out"})),
            Item::record(json!({"name": "say \"hi\"", "n": null})),
        ];
        let toml = "path = \"out/t.csv\"\nfields = [\"name\", \"n\", \"tags\"]";
        assert!(run_sink(&DEF, &params(&DEF, toml, dir.path()), items).is_empty());
        let text = std::fs::read_to_string(dir.path().join("out/t.csv")).unwrap();
        assert_eq!(
            text,
            "name,n,tags\n\"Smith, J\",1,\"[\"\"a\"\"]\"\n\"say \"\"hi\"\"\",,\n"
        );
    }

    #[test]
    fn without_fields_the_first_items_fields_are_the_columns() {
        let dir = tempfile::tempdir().unwrap();
        let items = vec![
            Item::record(json!({"b": 1, "a": true})),
            Item::record(json!({"a": 2, "c": 3})),
        ];
        let toml = "path = \"t.tsv\"\ndelimiter = \"\\t\"";
        assert!(run_sink(&DEF, &params(&DEF, toml, dir.path()), items).is_empty());
        let text = std::fs::read_to_string(dir.path().join("t.tsv")).unwrap();
        assert_eq!(text, "a\tb\ntrue\t1\n2\t\n");
    }

    #[test]
    fn no_items_with_fields_is_a_header_alone() {
        let dir = tempfile::tempdir().unwrap();
        let toml = "path = \"t.csv\"\nfields = [\"a\", \"b\"]";
        assert!(run_sink(&DEF, &params(&DEF, toml, dir.path()), vec![]).is_empty());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("t.csv")).unwrap(),
            "a,b\n"
        );
    }
}
