//! `parquet`: every item as a row of a Parquet file, written as
//! `<path>.partial` and renamed to `path` when the run finishes (see
//! `staged`).
//!
//! The file's schema is the first chunk of records' (rows are gathered
//! into chunks first); a later chunk is fitted to it only where no value
//! can change (see `chunks`), or else is an error naming the column. Row
//! groups of `row_group_rows` rows are written as they fill: a Parquet file
//! can be read only once its footer is written, at the end.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, Item, OpKind, Params};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let params = Params::new(toml::from_str(r#"path = "a.parquet""#).unwrap(), dir.path());
//! let op = baton_ops::find_kind("parquet", OpKind::Sink).unwrap();
//! let BuiltOp::Sink(make) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut sink = make().unwrap();
//! sink.write(Item::record(serde_json::json!({"name": "Smith, J", "age": 42}))).unwrap();
//! sink.finish().unwrap();
//!
//! let file = std::fs::File::open(dir.path().join("a.parquet")).unwrap();
//! let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024).unwrap();
//! let batch = reader.into_iter().next().unwrap().unwrap();
//! assert_eq!((batch.num_rows(), batch.num_columns()), (1, 2));
//! ```

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::Schema;
use baton_engine::{BoxError, Sink};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};

use super::chunks::Chunks;
use super::error::SinkError;
use super::sink;
use super::staged::Staged;
use crate::item::Item;
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef, ParamType,
};
use crate::warnings::StageWarnings;

pub(crate) const DEF: OpDef = OpDef {
    name: "parquet",
    kind: OpKind::Sink,
    summary: "writes every item as a row of a Parquet file, with the first chunk's schema (made with its folders; replaced when the run finishes, `<path>.partial` until then)",
    params: &[
        ParamDef::required("path", ParamType::Str, "the file, relative to the pipeline file")
            .output(),
        ParamDef::with_default(
            "compression",
            ParamType::Str,
            "\"zstd\"",
            "how column chunks are compressed: zstd, snappy, gzip, lz4 or none",
        ),
        ParamDef::with_default(
            "row_group_rows",
            ParamType::Int,
            "1048576",
            "at most this many rows in a row group (the unit a reader decodes in parallel and skips by its statistics)",
        )
        .between(1, 1 << 40),
    ],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<ParquetSinkConfig>,
};

/// The parameters of the `parquet` sink: every item as a row of a Parquet
/// file, with the first chunk's schema, in row groups of at most
/// `row_group_rows` rows, written as `<path>.partial` and renamed to
/// `path` when the run finishes.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, OpConfig, ParquetSinkCompression, ParquetSinkConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let dir = tempfile::tempdir().unwrap();
/// let config = ParquetSinkConfig {
///     path: "a.parquet".into(),
///     compression: ParquetSinkCompression::Snappy,
///     row_group_rows: 2,
/// };
/// let BuiltOp::Sink(make) = config.build(&BuildContext::new(dir.path())).unwrap() else { unreachable!() };
/// let mut sink = make().unwrap();
/// for n in 0..3 {
///     sink.write(Item::record(serde_json::json!({"n": n}))).unwrap();
/// }
/// sink.finish().unwrap();
///
/// let file = std::fs::File::open(dir.path().join("a.parquet")).unwrap();
/// let reader = parquet::file::serialized_reader::SerializedFileReader::new(file).unwrap();
/// let meta = parquet::file::reader::FileReader::metadata(&reader);
/// assert_eq!((meta.file_metadata().num_rows(), meta.num_row_groups()), (3, 2));
///
/// // The defaults: zstd, row groups of 1048576 rows.
/// let config: ParquetSinkConfig = serde_json::from_str(r#"{"path": "a.parquet"}"#).unwrap();
/// assert_eq!((config.compression, config.row_group_rows), (ParquetSinkCompression::Zstd, 1 << 20));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetSinkConfig {
    /// The file, relative to the pipeline file.
    pub path: PathBuf,
    /// How column chunks are compressed: zstd, snappy, gzip, lz4 or none.
    #[serde(default)]
    pub compression: ParquetSinkCompression,
    /// At most this many rows in a row group (the unit a reader decodes in
    /// parallel and skips by its statistics); positive.
    #[serde(default = "row_group_rows")]
    pub row_group_rows: usize,
}

fn row_group_rows() -> usize {
    1 << 20
}

/// How the `parquet` sink compresses its column chunks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParquetSinkCompression {
    /// Zstandard, at its default level.
    #[default]
    Zstd,
    /// Snappy.
    Snappy,
    /// gzip, at its default level.
    Gzip,
    /// LZ4 (the raw block format).
    Lz4,
    /// Not compressed.
    None,
}

impl OpConfig for ParquetSinkConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let path = context.path(&self.path);
        let compression = match self.compression {
            ParquetSinkCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
            ParquetSinkCompression::Snappy => Compression::SNAPPY,
            ParquetSinkCompression::Gzip => Compression::GZIP(GzipLevel::default()),
            ParquetSinkCompression::Lz4 => Compression::LZ4_RAW,
            ParquetSinkCompression::None => Compression::UNCOMPRESSED,
        };
        if self.row_group_rows == 0 {
            return Err(OpError::param("row_group_rows", "must be positive, not 0"));
        }
        let props = WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(self.row_group_rows))
            .build();
        let warnings = context.warnings().clone();
        Ok(sink(move || ParquetFile::create(path, props, &warnings)))
    }
}

/// The sink.
#[derive(Debug)]
struct ParquetFile {
    file: Staged,
    /// The file until the first chunk gives the schema.
    out: Option<BufWriter<File>>,
    writer: Option<ArrowWriter<BufWriter<File>>>,
    props: WriterProperties,
    chunks: Chunks,
}

impl ParquetFile {
    fn create(
        path: PathBuf,
        props: WriterProperties,
        warnings: &StageWarnings,
    ) -> Result<Self, SinkError> {
        let (file, out) = Staged::create(path, warnings)?;
        let chunks = Chunks::new(file.written().display().to_string());
        Ok(Self {
            file,
            out: Some(out),
            writer: None,
            props,
            chunks,
        })
    }

    fn error(&self, error: impl ToString) -> SinkError {
        SinkError::Format {
            path: self.file.written().display().to_string(),
            message: error.to_string(),
        }
    }

    fn writer(
        &mut self,
        schema: &Arc<Schema>,
    ) -> Result<&mut ArrowWriter<BufWriter<File>>, SinkError> {
        if self.writer.is_none() {
            let out = self
                .out
                .take()
                .ok_or_else(|| self.error("written after it was finished"))?;
            let writer = ArrowWriter::try_new(out, Arc::clone(schema), Some(self.props.clone()))
                .map_err(|e| self.error(e))?;
            self.writer = Some(writer);
        }
        Ok(self.writer.as_mut().expect("made above"))
    }

    fn write_chunk(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        let written = self.writer(batch.schema_ref())?.write(batch);
        written.map_err(|e| self.error(e))
    }
}

impl Sink<Item> for ParquetFile {
    fn write(&mut self, item: Item) -> Result<(), BoxError> {
        for batch in self.chunks.push(item)? {
            self.write_chunk(&batch)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        if let Some(batch) = self.chunks.rows_chunk()? {
            self.write_chunk(&batch)?;
        }
        if self.out.is_none() && self.writer.is_none() {
            return Ok(()); // finished already
        }
        // No item at all: a file of no columns and no rows.
        self.writer(&Arc::new(Schema::empty()))?;
        let writer = self.writer.take().expect("made above");
        // Closed before it is renamed: the footer and every byte are in the file.
        writer
            .into_inner()
            .map_err(|e| self.error(e))
            .and_then(|out| out.into_inner().map_err(|e| self.error(e.into_error())))?;
        self.file.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
