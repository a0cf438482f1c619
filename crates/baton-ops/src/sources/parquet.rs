//! `parquet`: the rows of Parquet files as chunks of records in columns,
//! row groups decoded in parallel.
//!
//! The source only opens each file and reads its footer (the schema and
//! every row group's statistics), and gives one small item per row group
//! (per slice of `batch_rows` rows of it when the file has an offset index,
//! as baton's and parquet-rs' files do: a slice's reader then skips the
//! pages before it unread; without one, as `pyarrow` writes by default, a
//! row group is one item); the stage `NAME.parse` placed after it decodes
//! them in parallel into Arrow record batches of at most `batch_rows` rows,
//! in the files' order. `columns` decodes only the columns named (in that order); `where`
//! skips the row groups whose statistics prove that no row can make the
//! expression true (a `filter` still does the exact filtering: the rows of
//! the other row groups all come out). A pipeline file's `select` and
//! `filter` right after the source set these two by themselves (see
//! `baton run --dry-run`).
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
//! let file = std::fs::File::create(dir.path().join("a.parquet")).unwrap();
//! let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
//! writer.write(&batch).unwrap();
//! writer.close().unwrap();
//!
//! let params = Params::new(toml::from_str(r#"
//!     path = "*.parquet"
//!     columns = ["age"]
//!     where = "age > 40"
//! "#).unwrap(), dir.path());
//! let op = baton_ops::find_kind("parquet", OpKind::Source).unwrap();
//! let BuiltOp::Source(source) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut decode = source.parse.unwrap().replica().unwrap();
//! let mut records = Vec::new();
//! for row_group in source.items {
//!     decode.process(row_group.unwrap(), &mut records).unwrap();
//! }
//! let rows: Vec<_> = records.iter().flat_map(|chunk| chunk.rows()).collect();
//! // The one row group may hold an age over 40: all its rows come out.
//! assert_eq!(rows.len(), 2);
//! assert_eq!(rows[1].fields, serde_json::json!({"age": 7}).as_object().unwrap().clone());
//! ```

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use baton_engine::{BoxError, Stage};
use baton_records::{Bound, ColumnRange, Predicate, RecordBatch};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::PageIndexPolicy;

use serde::{Deserialize, Serialize};

use super::error::SourceError;
use crate::item::{Item, Payload};
use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltSource, BuiltStage, Modes, OpConfig, OpDef, OpError,
    OpKind, ParamDef, ParamType, Paths,
};

pub(crate) const DEF: OpDef = OpDef {
    name: "parquet",
    kind: OpKind::Source,
    summary: "the rows of Parquet files as chunks of typed columns; row groups decoded in parallel by the stage NAME.parse, only the `columns` named, skipping row groups whose statistics show `where` cannot hold",
    params: &[
        ParamDef::required(
            "path",
            ParamType::Paths,
            "the files: a path or a glob, or an array of them, relative to the pipeline file",
        )
        .input(),
        ParamDef::optional(
            "columns",
            ParamType::StrList,
            "decode only these columns, in this order (a column a file lacks is an error naming the file)",
        ),
        ParamDef::with_default(
            "columns_optional",
            ParamType::Bool,
            "false",
            "a column of `columns` that a file lacks is left out instead (what a non-strict `select` pushed down into the source sets)",
        ),
        ParamDef::optional(
            "where",
            ParamType::Str,
            "a filter expression (as `filter`'s `expr`): row groups whose min/max statistics prove no row makes it true are skipped; the rows of the others all come out, so keep the `filter`",
        ),
        ParamDef::with_default(
            "batch_rows",
            ParamType::Int,
            "65536",
            "at most this many rows in each chunk decoded",
        )
        .between(1, 1 << 30),
    ],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<ParquetSourceConfig>,
};

/// The parameters of the source `parquet`: the rows of Parquet files as
/// chunks of typed columns, row groups decoded in parallel by the stage
/// `NAME.parse`.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use baton_engine::Stage;
/// use baton_ops::config::{BuildContext, OpConfig, ParquetSourceConfig};
/// use baton_ops::BuiltOp;
///
/// let dir = tempfile::tempdir().unwrap();
/// let batch = baton_records::RecordBatch::try_from_iter([
///     ("name", Arc::new(arrow_array::StringArray::from(vec!["Smith, J", "Lee", "Ng"])) as _),
///     ("age", Arc::new(arrow_array::Int64Array::from(vec![42, 7, 30])) as _),
/// ]).unwrap();
/// let file = std::fs::File::create(dir.path().join("a.parquet")).unwrap();
/// let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
/// writer.write(&batch).unwrap();
/// writer.close().unwrap();
///
/// let config = ParquetSourceConfig {
///     path: "*.parquet".into(),
///     columns: Some(vec!["age".into(), "name".into()]),
///     columns_optional: false,
///     r#where: Some("age > 100".into()),
///     batch_rows: 2,
/// };
/// let context = BuildContext::new(dir.path());
/// // No row is over 100, as the row group's statistics show: nothing is read.
/// let BuiltOp::Source(source) = config.build(&context).unwrap() else { unreachable!() };
/// assert_eq!(source.items.count(), 0);
///
/// let config = ParquetSourceConfig { r#where: None, ..config };
/// let BuiltOp::Source(source) = config.build(&context).unwrap() else { unreachable!() };
/// let mut decode = source.parse.unwrap().replica().unwrap();
/// let mut chunks = Vec::new();
/// for row_group in source.items {
///     decode.process(row_group.unwrap(), &mut chunks).unwrap();
/// }
/// assert!(chunks.iter().all(|chunk| chunk.rows().len() <= 2));
/// let rows: Vec<_> = chunks.iter().flat_map(|chunk| chunk.rows()).collect();
/// assert_eq!(rows.len(), 3);
/// assert_eq!(rows[2].get("name").unwrap(), "Ng");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetSourceConfig {
    /// The files: a path or a glob, or an array of them, relative to the
    /// pipeline file.
    pub path: Paths,
    /// Decode only these columns, in this order (a column a file lacks is
    /// an error naming the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// A column of `columns` that a file lacks is left out instead (what a
    /// non-strict `select` pushed down into the source sets).
    #[serde(default)]
    pub columns_optional: bool,
    /// A filter expression (as `filter`'s `expr`): row groups whose min/max
    /// statistics prove no row makes it true are skipped; the rows of the
    /// others all come out, so keep the `filter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#where: Option<String>,
    /// At most this many rows in each chunk decoded.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
}

fn default_batch_rows() -> usize {
    1 << 16
}

impl OpConfig for ParquetSourceConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let files = self.path.files("path", context)?;
        let columns = super::column_names(self.columns.as_deref())?;
        let predicate = self
            .r#where
            .as_deref()
            .map(|text| {
                Predicate::compile(text).map_err(|error| {
                    OpError::param(
                        "where",
                        format!("cannot be checked against row group statistics: {error}"),
                    )
                })
            })
            .transpose()?;
        let reading = Arc::new(Reading {
            batch_rows: super::positive("batch_rows", self.batch_rows)?,
            columns,
            columns_optional: self.columns_optional,
            predicate,
            files: Mutex::default(),
        });
        let parse = {
            let reading = Arc::clone(&reading);
            BuiltStage::record_replicas(move || {
                Ok(DecodeRowGroups {
                    reading: Arc::clone(&reading),
                })
            })
        };
        let items = files
            .into_iter()
            .flat_map(move |path| row_groups(path, &reading));
        Ok(BuiltOp::Source(BuiltSource {
            items: Box::new(items),
            len: None,
            streaming: false,
            parse: Some(parse),
        }))
    }
}

/// How the files are read, and every file opened so far: a row group's
/// item names its file by its place here.
#[derive(Debug)]
struct Reading {
    batch_rows: usize,
    columns: Option<Vec<String>>,
    columns_optional: bool,
    predicate: Option<Predicate>,
    files: Mutex<Vec<Arc<OpenFile>>>,
}

/// A file whose footer has been read.
#[derive(Debug)]
struct OpenFile {
    name: String,
    path: PathBuf,
    metadata: ArrowReaderMetadata,
    projection: ProjectionMask,
    /// The decoded columns' order for `columns`' order, when it differs
    /// from the file's.
    order: Option<Vec<usize>>,
}

/// The fields of a row group's item, and of a slice of one: its first
/// row and how many.
const FILE: &str = "file";
const ROW_GROUP: &str = "row_group";
const FIRST_ROW: &str = "first_row";
const ROWS: &str = "rows";

/// What one item of the source stands for: a row group, or a slice of
/// one (the rows `first..first + rows`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Part {
    group: usize,
    slice: Option<(usize, usize)>,
}

/// The items of a file's row groups that `where` does not rule out: the
/// file is opened and its footer read when the first is asked for.
fn row_groups(
    path: PathBuf,
    reading: &Arc<Reading>,
) -> Box<dyn Iterator<Item = Result<Item, BoxError>> + Send> {
    match open(path, reading) {
        Ok((file, parts)) => Box::new(parts.into_iter().map(move |part| {
            let mut item = Item::with_field(FILE, file);
            item.set(ROW_GROUP, part.group);
            if let Some((first, rows)) = part.slice {
                item.set(FIRST_ROW, first);
                item.set(ROWS, rows);
            }
            Ok(item)
        })),
        Err(error) => Box::new(std::iter::once(Err(error.into()))),
    }
}

/// Reads a file's footer, checks the columns asked for, and gives its place
/// among the files and the parts to read: each row group, cut into slices
/// of `batch_rows` rows when the file has an offset index (which lets a
/// slice's reader skip the pages before it without decoding them).
fn open(path: PathBuf, reading: &Reading) -> Result<(usize, Vec<Part>), SourceError> {
    let name = path.display().to_string();
    let file = File::open(&path).map_err(|error| SourceError::File {
        path: name.clone(),
        error,
    })?;
    let options = ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional);
    let metadata = ArrowReaderMetadata::load(&file, options).map_err(|e| SourceError::Format {
        path: name.clone(),
        message: format!("not a Parquet file, or a damaged one: {e}"),
    })?;
    let (projection, order) = projection(&name, &metadata, reading)?;
    let groups = match &reading.predicate {
        Some(predicate) => {
            kept_row_groups(&metadata, predicate).map_err(|e| SourceError::Format {
                path: name.clone(),
                message: format!("cannot read the row groups' statistics: {e}"),
            })?
        }
        None => (0..metadata.metadata().num_row_groups()).collect(),
    };
    let meta = metadata.metadata();
    let indexed = |group: usize| {
        let pages = meta.page_index_for_row_group(group);
        (0..meta.row_group(group).num_columns()).all(|c| pages.offset_index(c).is_some())
    };
    let parts = groups
        .into_iter()
        .flat_map(|group| {
            let rows = usize::try_from(meta.row_group(group).num_rows()).unwrap_or(0);
            let step = reading.batch_rows;
            let slices: Vec<Part> = if rows > step && indexed(group) {
                (0..rows)
                    .step_by(step)
                    .map(|first| Part {
                        group,
                        slice: Some((first, step.min(rows - first))),
                    })
                    .collect()
            } else {
                vec![Part { group, slice: None }]
            };
            slices
        })
        .collect();
    let mut files = reading.files.lock().unwrap_or_else(PoisonError::into_inner);
    files.push(Arc::new(OpenFile {
        name,
        path,
        metadata,
        projection,
        order,
    }));
    Ok((files.len() - 1, parts))
}

/// The columns to decode, and their order for `columns`' order.
fn projection(
    name: &str,
    metadata: &ArrowReaderMetadata,
    reading: &Reading,
) -> Result<(ProjectionMask, Option<Vec<usize>>), SourceError> {
    let Some(columns) = &reading.columns else {
        return Ok((ProjectionMask::all(), None));
    };
    let schema = metadata.schema();
    let mut wanted = Vec::with_capacity(columns.len());
    for column in columns {
        match schema.index_of(column) {
            Ok(index) => wanted.push(index),
            Err(_) if reading.columns_optional => {}
            Err(_) => {
                return Err(SourceError::UnknownColumn {
                    path: name.to_string(),
                    column: column.clone(),
                    columns: schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        }
    }
    let mut decoded = wanted.clone();
    decoded.sort_unstable();
    let mask = ProjectionMask::roots(metadata.parquet_schema(), decoded.iter().copied());
    // The reader gives the columns in the file's order.
    let order: Vec<usize> = wanted
        .iter()
        .map(|index| decoded.binary_search(index).unwrap_or_default())
        .collect();
    let in_order = order.iter().enumerate().all(|(i, &at)| i == at);
    Ok((mask, (!in_order).then_some(order)))
}

/// The row groups whose statistics leave `predicate` a chance.
fn kept_row_groups(
    metadata: &ArrowReaderMetadata,
    predicate: &Predicate,
) -> Result<Vec<usize>, parquet::errors::ParquetError> {
    let schema = metadata.schema();
    let groups = metadata.metadata().row_groups();
    let mut ranges: HashMap<&str, Vec<ColumnRange>> = HashMap::new();
    for field in predicate.fields() {
        // A column the file lacks (or a nested one) is left unknown.
        let Ok(column) = StatisticsConverter::try_new(field, schema, metadata.parquet_schema())
        else {
            continue;
        };
        let column = column.with_missing_null_counts_as_zero(false);
        let mins = bounds(&column.row_group_mins(groups)?);
        let maxes = bounds(&column.row_group_maxes(groups)?);
        let nulls = column.row_group_null_counts(groups)?;
        let nans = column.row_group_nan_counts(groups)?;
        let known = |counts: &arrow_array::UInt64Array, i: usize| {
            counts.is_valid(i).then(|| counts.value(i))
        };
        let per_group = groups
            .iter()
            .enumerate()
            .map(|(i, group)| ColumnRange {
                min: mins[i].clone(),
                max: maxes[i].clone(),
                nulls: known(&nulls, i),
                nans: known(&nans, i),
                rows: u64::try_from(group.num_rows()).unwrap_or(u64::MAX),
            })
            .collect();
        ranges.insert(field, per_group);
    }
    Ok((0..groups.len())
        .filter(|&i| predicate.may_match(|field| ranges.get(field).map(|r| r[i].clone())))
        .collect())
}

/// A column of row groups' minima or maxima as bounds a filter compares
/// with (unknown for the types it does not compare).
fn bounds(values: &ArrayRef) -> Vec<Option<Bound>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};
    let unknown = || vec![None; values.len()];
    let cast = |to: &DataType| arrow_cast::cast(values, to).ok();
    match values.data_type() {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => cast(&DataType::Int64).map_or_else(unknown, |a| {
            a.as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(Bound::Int))
                .collect()
        }),
        DataType::Float32 | DataType::Float64 => {
            cast(&DataType::Float64).map_or_else(unknown, |a| {
                a.as_primitive::<Float64Type>()
                    .iter()
                    .map(|v| v.filter(|v| !v.is_nan()).map(Bound::Float))
                    .collect()
            })
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => cast(&DataType::Utf8)
            .map_or_else(unknown, |a| {
                a.as_string::<i32>()
                    .iter()
                    .map(|v| v.map(|s| Bound::Str(s.to_string())))
                    .collect()
            }),
        DataType::Boolean => values
            .as_boolean()
            .iter()
            .map(|v| v.map(Bound::Bool))
            .collect(),
        _ => unknown(),
    }
}

/// The parse stage: a row group into chunks of records.
#[derive(Debug)]
struct DecodeRowGroups {
    reading: Arc<Reading>,
}

impl DecodeRowGroups {
    fn decode(&self, file: &OpenFile, part: Part, out: &mut Vec<Item>) -> Result<(), SourceError> {
        let group = part.group;
        let error = |message: String| SourceError::Format {
            path: file.name.clone(),
            message: format!("row group {group}: {message}"),
        };
        let reader = File::open(&file.path).map_err(|error| SourceError::File {
            path: file.name.clone(),
            error,
        })?;
        let mut builder =
            ParquetRecordBatchReaderBuilder::new_with_metadata(reader, file.metadata.clone())
                .with_row_groups(vec![group])
                .with_projection(file.projection.clone())
                .with_batch_size(self.reading.batch_rows);
        if let Some((first, rows)) = part.slice {
            let selectors = vec![RowSelector::skip(first), RowSelector::select(rows)];
            builder = builder.with_row_selection(RowSelection::from(selectors));
        }
        let batches = builder.build().map_err(|e| error(e.to_string()))?;
        for batch in batches {
            let batch = batch.map_err(|e| error(e.to_string()))?;
            let batch: RecordBatch = match &file.order {
                Some(order) => batch.project(order).map_err(|e| error(e.to_string()))?,
                None => batch,
            };
            if batch.num_rows() > 0 {
                out.push(Item::records(batch));
            }
        }
        Ok(())
    }
}

impl Stage<Item, Item> for DecodeRowGroups {
    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        let (Some(file), Some(group), Payload::None) = (
            item.get(FILE).and_then(serde_json::Value::as_u64),
            item.get(ROW_GROUP).and_then(serde_json::Value::as_u64),
            &item.payload,
        ) else {
            return Err(
                "the parse stage of `parquet` takes the row groups its source lists".into(),
            );
        };
        let file = {
            let files = self
                .reading
                .files
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            files
                .get(file as usize)
                .cloned()
                .ok_or("a row group of a file the source has not read")?
        };
        let slice = match (item.get(FIRST_ROW), item.get(ROWS)) {
            (Some(first), Some(rows)) => first
                .as_u64()
                .zip(rows.as_u64())
                .map(|(first, rows)| (first as usize, rows as usize)),
            _ => None,
        };
        let part = Part {
            group: group as usize,
            slice,
        };
        self.decode(&file, part, out)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
