//! `arrow`: the rows of Arrow IPC files (`.arrow`, Feather v2, or IPC
//! streams) as chunks of records in columns.
//!
//! A file in the IPC file format has a footer listing its record batches:
//! the source reads it and gives one small item per batch, and the stage
//! `NAME.parse` placed after it reads the batches in parallel, in the files'
//! order. A stream has no footer and is read by the source itself, batch
//! after batch (the parse stage passes them on). Which format a file is in
//! comes from its first bytes (the file format starts with `ARROW1`) unless
//! `format` says. `columns` reads only those columns, in that order.
//! Compressed buffers (lz4, zstd) are read.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, OpKind, Params};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let batch = baton_records::RecordBatch::try_from_iter([
//!     ("name", Arc::new(arrow_array::StringArray::from(vec!["Smith, J", "Lee"])) as _),
//!     ("age", Arc::new(arrow_array::Int64Array::from(vec![42, 7])) as _),
//! ]).unwrap();
//! let file = std::fs::File::create(dir.path().join("a.arrow")).unwrap();
//! let mut writer = arrow_ipc::writer::FileWriter::try_new(file, &batch.schema()).unwrap();
//! writer.write(&batch).unwrap();
//! writer.finish().unwrap();
//!
//! let params = Params::new(toml::from_str(r#"path = "*.arrow""#).unwrap(), dir.path());
//! let op = baton_ops::find_kind("arrow", OpKind::Source).unwrap();
//! let BuiltOp::Source(source) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut read = source.parse.unwrap().replica().unwrap();
//! let mut records = Vec::new();
//! for batch in source.items {
//!     read.process(batch.unwrap(), &mut records).unwrap();
//! }
//! let rows: Vec<_> = records.iter().flat_map(|chunk| chunk.rows()).collect();
//! assert_eq!(rows[0].get("name").unwrap(), "Smith, J");
//! assert_eq!(rows[1].get("age").unwrap(), 7);
//! ```

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use arrow_ipc::reader::{FileReader, StreamReader};
use arrow_schema::Schema;
use baton_engine::{BoxError, Stage};

use serde::{Deserialize, Serialize};

use super::error::SourceError;
use crate::item::{Item, Payload};
use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltSource, BuiltStage, Modes, OpConfig, OpDef, OpError,
    OpKind, ParamDef, ParamType, Paths,
};

pub(crate) const DEF: OpDef = OpDef {
    name: "arrow",
    kind: OpKind::Source,
    summary: "the rows of Arrow IPC files (.arrow, Feather v2) or streams as chunks of typed columns; a file's record batches read in parallel by the stage NAME.parse",
    params: &[
        ParamDef::required(
            "path",
            ParamType::Paths,
            "the files: a path or a glob, or an array of them, relative to the pipeline file",
        )
        .input(),
        ParamDef::optional(
            "format",
            ParamType::Str,
            "\"file\" or \"stream\" (default: each file's own, from its first bytes)",
        ),
        ParamDef::optional(
            "columns",
            ParamType::StrList,
            "read only these columns, in this order (a column a file lacks is an error naming the file)",
        ),
    ],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<ArrowSourceConfig>,
};

/// The parameters of the source `arrow`: the rows of Arrow IPC files
/// (`.arrow`, Feather v2) or streams as chunks of typed columns, a file's
/// record batches read in parallel by the stage `NAME.parse`.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use baton_engine::Stage;
/// use baton_ops::config::{ArrowFormat, ArrowSourceConfig, BuildContext, OpConfig};
/// use baton_ops::BuiltOp;
///
/// let dir = tempfile::tempdir().unwrap();
/// let batch = baton_records::RecordBatch::try_from_iter([
///     ("name", Arc::new(arrow_array::StringArray::from(vec!["Smith, J", "Lee"])) as _),
///     ("age", Arc::new(arrow_array::Int64Array::from(vec![42, 7])) as _),
/// ]).unwrap();
/// let file = std::fs::File::create(dir.path().join("a.arrows")).unwrap();
/// let mut writer = arrow_ipc::writer::StreamWriter::try_new(file, &batch.schema()).unwrap();
/// writer.write(&batch).unwrap();
/// writer.finish().unwrap();
///
/// let config = ArrowSourceConfig {
///     path: "*.arrows".into(),
///     format: Some(ArrowFormat::Stream),
///     columns: Some(vec!["age".into()]),
/// };
/// let BuiltOp::Source(source) = config.build(&BuildContext::new(dir.path())).unwrap() else { unreachable!() };
/// let mut read = source.parse.unwrap().replica().unwrap();
/// let mut records = Vec::new();
/// for batch in source.items {
///     read.process(batch.unwrap(), &mut records).unwrap();
/// }
/// let rows: Vec<_> = records.iter().flat_map(|chunk| chunk.rows()).collect();
/// assert_eq!(rows[1].get("age").unwrap(), 7);
/// assert_eq!(rows[1].get("name"), None);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrowSourceConfig {
    /// The files: a path or a glob, or an array of them, relative to the
    /// pipeline file.
    pub path: Paths,
    /// The file format or the stream format (default: each file's own, from
    /// its first bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ArrowFormat>,
    /// Read only these columns, in this order (a column a file lacks is an
    /// error naming the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
}

/// The Arrow IPC format a file is in.
///
/// # Examples
///
/// ```
/// use baton_ops::config::ArrowFormat;
/// assert_eq!(serde_json::from_str::<ArrowFormat>(r#""stream""#).unwrap(), ArrowFormat::Stream);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrowFormat {
    /// The IPC file format (`.arrow`, Feather v2): a footer lists the
    /// record batches.
    File,
    /// The IPC stream format: batch after batch, no footer.
    Stream,
}

/// What the IPC file format starts (and ends) with.
const MAGIC: &[u8] = b"ARROW1";

impl OpConfig for ArrowSourceConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let files = self.path.files("path", context)?;
        if self.columns.as_ref().is_some_and(Vec::is_empty) {
            return Err(OpError::param("columns", "name at least one column"));
        }
        let reading = Arc::new(Reading {
            format: self.format,
            columns: self.columns.clone(),
            files: Mutex::default(),
        });
        let parse = {
            let reading = Arc::clone(&reading);
            BuiltStage::record_replicas(move || {
                Ok(ReadBatches {
                    reading: Arc::clone(&reading),
                    open: None,
                })
            })
        };
        let items = files
            .into_iter()
            .flat_map(move |path| batches(path, &reading));
        Ok(BuiltOp::Source(BuiltSource {
            items: Box::new(items),
            len: None,
            streaming: false,
            parse: Some(parse),
        }))
    }
}

/// How the files are read, and the files in the file format opened so
/// far: a batch's item names its file by its place here.
#[derive(Debug)]
struct Reading {
    format: Option<ArrowFormat>,
    columns: Option<Vec<String>>,
    files: Mutex<Vec<Arc<OpenFile>>>,
}

/// A file in the file format whose footer has been read.
#[derive(Debug)]
struct OpenFile {
    name: String,
    path: PathBuf,
    projection: Option<Vec<usize>>,
}

/// The fields of a batch's item.
const FILE: &str = "file";
const BATCH: &str = "batch";

/// A file's batches: items naming them (file format), or the batches
/// themselves (stream format). Opened when the first is asked for.
fn batches(
    path: PathBuf,
    reading: &Arc<Reading>,
) -> Box<dyn Iterator<Item = Result<Item, BoxError>> + Send> {
    let name = path.display().to_string();
    let format_error = {
        let name = name.clone();
        move |message: String| SourceError::Format {
            path: name.clone(),
            message,
        }
    };
    let opened = File::open(&path)
        .and_then(|mut file| {
            let mut start = [0; 6];
            let read = file.read(&mut start)?;
            Ok((File::open(&path)?, start[..read] == *MAGIC))
        })
        .map_err(|error| SourceError::File {
            path: name.clone(),
            error,
        });
    let (file, has_magic) = match opened {
        Ok(opened) => opened,
        Err(error) => return Box::new(std::iter::once(Err(error.into()))),
    };
    let format = reading.format.unwrap_or(if has_magic {
        ArrowFormat::File
    } else {
        ArrowFormat::Stream
    });
    match format {
        ArrowFormat::File => {
            let listed = FileReader::try_new(BufReader::new(file), None)
                .map_err(|e| format_error(format!("not an Arrow IPC file, or a damaged one: {e}")))
                .and_then(|reader| {
                    let projection = projection(&name, &reader.schema(), reading)?;
                    Ok((projection, reader.num_batches()))
                });
            let (projection, count) = match listed {
                Ok(listed) => listed,
                Err(error) => return Box::new(std::iter::once(Err(error.into()))),
            };
            let file = {
                let mut files = reading.files.lock().unwrap_or_else(PoisonError::into_inner);
                files.push(Arc::new(OpenFile {
                    name,
                    path,
                    projection,
                }));
                files.len() - 1
            };
            Box::new((0..count).map(move |batch| {
                let mut item = Item::with_field(FILE, file);
                item.set(BATCH, batch);
                Ok(item)
            }))
        }
        ArrowFormat::Stream => {
            let reader = StreamReader::try_new(BufReader::new(file), None)
                .map_err(|e| {
                    format_error(format!("not an Arrow IPC stream, or a damaged one: {e}"))
                })
                .and_then(|reader| {
                    let projection = projection(&name, &reader.schema(), reading)?;
                    Ok((reader, projection))
                });
            let (reader, projection) = match reader {
                Ok(reader) => reader,
                Err(error) => return Box::new(std::iter::once(Err(error.into()))),
            };
            // A stream cannot be read past a bad batch: it ends there.
            let readable = reader.scan(false, |failed, batch| {
                (!std::mem::replace(failed, batch.is_err())).then_some(batch)
            });
            Box::new(readable.map(move |batch| {
                let batch = batch.map_err(|e| format_error(e.to_string()))?;
                let batch = match &projection {
                    Some(columns) => batch
                        .project(columns)
                        .map_err(|e| format_error(e.to_string()))?,
                    None => batch,
                };
                Ok(Item::records(batch))
            }))
        }
    }
}

/// The indices of the columns asked for, checked against the file's.
fn projection(
    name: &str,
    schema: &Schema,
    reading: &Reading,
) -> Result<Option<Vec<usize>>, SourceError> {
    let Some(columns) = &reading.columns else {
        return Ok(None);
    };
    let indices = columns
        .iter()
        .map(|column| {
            schema
                .index_of(column)
                .map_err(|_| SourceError::UnknownColumn {
                    path: name.to_string(),
                    column: column.clone(),
                    columns: schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(indices))
}

/// The parse stage: reads a batch a file's footer lists (and passes on
/// the batches of a stream, read by the source).
struct ReadBatches {
    reading: Arc<Reading>,
    /// The last file read, kept open for its next batch.
    open: Option<(usize, FileReader<BufReader<File>>)>,
}

impl std::fmt::Debug for ReadBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadBatches")
            .field("open", &self.open.as_ref().map(|(file, _)| file))
            .finish_non_exhaustive()
    }
}

impl ReadBatches {
    fn read(&mut self, index: usize, batch: usize, out: &mut Vec<Item>) -> Result<(), BoxError> {
        let file = {
            let files = self
                .reading
                .files
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            files
                .get(index)
                .cloned()
                .ok_or("a batch of a file the source has not read")?
        };
        let error = |message: String| SourceError::Format {
            path: file.name.clone(),
            message: format!("record batch {batch}: {message}"),
        };
        if !matches!(&self.open, Some((open, _)) if *open == index) {
            let opened = File::open(&file.path).map_err(|error| SourceError::File {
                path: file.name.clone(),
                error,
            })?;
            let reader = FileReader::try_new(BufReader::new(opened), file.projection.clone())
                .map_err(|e| error(e.to_string()))?;
            self.open = Some((index, reader));
        }
        let (_, reader) = self.open.as_mut().expect("opened above");
        reader.set_index(batch).map_err(|e| error(e.to_string()))?;
        match reader.next() {
            Some(Ok(batch)) if batch.num_rows() > 0 => out.push(Item::records(batch)),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(error(e.to_string()).into()),
            None => return Err(error("not in the file".into()).into()),
        }
        Ok(())
    }
}

impl Stage<Item, Item> for ReadBatches {
    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        if let Payload::Records(_) = item.payload {
            out.push(item);
            return Ok(());
        }
        let (Some(file), Some(batch)) = (
            item.get(FILE).and_then(serde_json::Value::as_u64),
            item.get(BATCH).and_then(serde_json::Value::as_u64),
        ) else {
            return Err("the parse stage of `arrow` takes the batches its source lists".into());
        };
        self.read(file as usize, batch as usize, out)
    }
}

#[cfg(test)]
mod tests;
