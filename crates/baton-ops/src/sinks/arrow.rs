//! `arrow`: every item as a row of an Arrow IPC file (the file format of
//! `.arrow` and Feather v2 files by default, or the stream format), written
//! as `<path>.partial` and renamed to `path` when the run finishes (see
//! `staged`).
//!
//! The schema is the first chunk of records' (rows are gathered into
//! chunks first); a later chunk is fitted to it only where no value can
//! change (see `chunks`), or else is an error naming the column. Each chunk
//! is one record batch of the file.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, Item, OpKind, Params};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let params = Params::new(toml::from_str(r#"path = "a.arrow""#).unwrap(), dir.path());
//! let op = baton_ops::find_kind("arrow", OpKind::Sink).unwrap();
//! let BuiltOp::Sink(make) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut sink = make().unwrap();
//! sink.write(Item::record(serde_json::json!({"name": "Smith, J", "age": 42}))).unwrap();
//! sink.finish().unwrap();
//!
//! let file = std::fs::File::open(dir.path().join("a.arrow")).unwrap();
//! let mut reader = arrow_ipc::reader::FileReader::try_new(file, None).unwrap();
//! assert_eq!(reader.num_batches(), 1);
//! assert_eq!(reader.next().unwrap().unwrap().num_rows(), 1);
//! ```

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use arrow_array::RecordBatch;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
use arrow_ipc::CompressionType;
use arrow_schema::Schema;
use baton_engine::{BoxError, Sink};
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
    name: "arrow",
    kind: OpKind::Sink,
    summary: "writes every item as a row of an Arrow IPC file (.arrow, Feather v2) or stream, with the first chunk's schema (made with its folders; replaced when the run finishes, `<path>.partial` until then)",
    params: &[
        ParamDef::required("path", ParamType::Str, "the file, relative to the pipeline file")
            .output(),
        ParamDef::with_default(
            "format",
            ParamType::Str,
            "\"file\"",
            "\"file\" (random access, what .arrow and .feather files are) or \"stream\"",
        ),
        ParamDef::with_default(
            "compression",
            ParamType::Str,
            "\"none\"",
            "how buffers are compressed: none, lz4 or zstd",
        ),
    ],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<ArrowSinkConfig>,
};

/// The parameters of the `arrow` sink: every item as a row of an Arrow IPC
/// file or stream, with the first chunk's schema, written as
/// `<path>.partial` and renamed to `path` when the run finishes.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{ArrowSinkCompression, ArrowSinkConfig, ArrowSinkFormat, BuildContext, OpConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let dir = tempfile::tempdir().unwrap();
/// let config = ArrowSinkConfig {
///     path: "a.arrows".into(),
///     format: ArrowSinkFormat::Stream,
///     compression: ArrowSinkCompression::Lz4,
/// };
/// let BuiltOp::Sink(make) = config.build(&BuildContext::new(dir.path())).unwrap() else { unreachable!() };
/// let mut sink = make().unwrap();
/// sink.write(Item::record(serde_json::json!({"name": "Smith, J", "age": 42}))).unwrap();
/// sink.finish().unwrap();
///
/// let file = std::fs::File::open(dir.path().join("a.arrows")).unwrap();
/// let mut reader = arrow_ipc::reader::StreamReader::try_new(file, None).unwrap();
/// assert_eq!(reader.next().unwrap().unwrap().num_rows(), 1);
///
/// // The defaults: the file format, uncompressed.
/// let config: ArrowSinkConfig = serde_json::from_str(r#"{"path": "a.arrow"}"#).unwrap();
/// assert_eq!((config.format, config.compression), (ArrowSinkFormat::File, ArrowSinkCompression::None));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrowSinkConfig {
    /// The file, relative to the pipeline file.
    pub path: PathBuf,
    /// "file" (random access, what .arrow and .feather files are) or
    /// "stream".
    #[serde(default)]
    pub format: ArrowSinkFormat,
    /// How buffers are compressed: none, lz4 or zstd.
    #[serde(default)]
    pub compression: ArrowSinkCompression,
}

/// Which Arrow IPC format the `arrow` sink writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrowSinkFormat {
    /// The file format: random access, what `.arrow` and `.feather` (v2)
    /// files are.
    #[default]
    File,
    /// The stream format: read front to back.
    Stream,
}

/// How the `arrow` sink compresses the buffers of its record batches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrowSinkCompression {
    /// Not compressed.
    #[default]
    None,
    /// LZ4 frames.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl OpConfig for ArrowSinkConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let path = context.path(&self.path);
        let format = self.format;
        let compression = match self.compression {
            ArrowSinkCompression::None => None,
            ArrowSinkCompression::Lz4 => Some(CompressionType::LZ4_FRAME),
            ArrowSinkCompression::Zstd => Some(CompressionType::ZSTD),
        };
        let options = IpcWriteOptions::default()
            .try_with_compression(compression)
            .map_err(|e| OpError::param("compression", e.to_string()))?;
        let warnings = context.warnings().clone();
        Ok(sink(move || {
            ArrowFile::create(path, format, options, &warnings)
        }))
    }
}

/// The writer of either format.
enum Writer {
    File(FileWriter<BufWriter<File>>),
    Stream(StreamWriter<BufWriter<File>>),
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Writer::File(_) => "Writer::File",
            Writer::Stream(_) => "Writer::Stream",
        })
    }
}

/// The sink.
#[derive(Debug)]
struct ArrowFile {
    file: Staged,
    format: ArrowSinkFormat,
    options: IpcWriteOptions,
    /// The file until the first chunk gives the schema.
    out: Option<BufWriter<File>>,
    writer: Option<Writer>,
    chunks: Chunks,
}

impl ArrowFile {
    fn create(
        path: PathBuf,
        format: ArrowSinkFormat,
        options: IpcWriteOptions,
        warnings: &StageWarnings,
    ) -> Result<Self, SinkError> {
        let (file, out) = Staged::create(path, warnings)?;
        let chunks = Chunks::new(file.written().display().to_string());
        Ok(Self {
            file,
            format,
            options,
            out: Some(out),
            writer: None,
            chunks,
        })
    }

    fn error(&self, error: impl ToString) -> SinkError {
        SinkError::Format {
            path: self.file.written().display().to_string(),
            message: error.to_string(),
        }
    }

    fn writer(&mut self, schema: &Schema) -> Result<&mut Writer, SinkError> {
        if self.writer.is_none() {
            let out = self
                .out
                .take()
                .ok_or_else(|| self.error("written after it was finished"))?;
            let options = self.options.clone();
            let writer = match self.format {
                ArrowSinkFormat::File => {
                    FileWriter::try_new_with_options(out, schema, options).map(Writer::File)
                }
                ArrowSinkFormat::Stream => {
                    StreamWriter::try_new_with_options(out, schema, options).map(Writer::Stream)
                }
            };
            self.writer = Some(writer.map_err(|e| self.error(e))?);
        }
        Ok(self.writer.as_mut().expect("made above"))
    }

    fn write_chunk(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        let written = match self.writer(batch.schema_ref())? {
            Writer::File(writer) => writer.write(batch),
            Writer::Stream(writer) => writer.write(batch),
        };
        written.map_err(|e| self.error(e))
    }
}

impl Sink<Item> for ArrowFile {
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
        // No item at all: a file of no columns and no batches.
        self.writer(&Schema::empty())?;
        let out = match self.writer.take().expect("made above") {
            Writer::File(mut writer) => writer.finish().and_then(|()| writer.into_inner()),
            Writer::Stream(mut writer) => writer.finish().and_then(|()| writer.into_inner()),
        };
        // Closed before it is renamed: every byte is in the file.
        out.map_err(|e| self.error(e))
            .and_then(|out| out.into_inner().map_err(|e| self.error(e.into_error())))?;
        self.file.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
