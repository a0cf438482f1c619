//! `npy` and `safetensors`: a prepared dataset as tensor files, where
//! NumPy (`np.load`), PyTorch and the Rust ML crates (candle, burn) read it.
//!
//! Each item's tensor is one row: the file's array has the shape
//! `[items, ...the tensor's shape]`, so every tensor must have the first
//! one's shape (an item that does not fails alone, named by its shape).
//! The fields listed in `fields` go beside it, one value per item: int64
//! when every value is an integer, float64 otherwise. `npy` writes one
//! array per file (`data.npy`, and `data.label.npy` for the field
//! `label`); `safetensors` writes them all in one file, by name. Both
//! formats give the array's shape before its values, which is known only
//! at the end: the rows go, as they come, to an unnamed temporary file in
//! the output's folder (gone with the process, however it ends), so the
//! sink's memory stays flat whatever the dataset's size (the fields are
//! kept in memory: a number per item); when the run ends the file is
//! written as `<path>.partial` and renamed, like the other file sinks.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, Item, Params, Payload, Tensor};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let toml = "path = \"train.npy\"\nfields = [\"label\"]";
//! let params = Params::new(toml::from_str(toml).unwrap(), dir.path());
//! let op = baton_ops::find_kind("npy", baton_ops::OpKind::Sink).unwrap();
//! let BuiltOp::Sink(make) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut sink = make().unwrap();
//! for n in 0..3 {
//!     let mut item = Item::with_field("label", n);
//!     item.payload = Payload::Tensor(Tensor { shape: vec![2], data: vec![n as f32, 0.5] });
//!     sink.write(item).unwrap();
//! }
//! sink.finish().unwrap();
//! let data = std::fs::read(dir.path().join("train.npy")).unwrap();
//! let array = npyz::NpyFile::new(&data[..]).unwrap();
//! assert_eq!(array.shape(), &[3, 2]);
//! assert!(dir.path().join("train.label.npy").exists());
//! ```

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use baton_engine::{BoxError, Sink};
use npyz::WriterBuilder;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::SinkError;
use super::sink;
use super::staged::Staged;
use crate::item::{Item, Payload};
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef, ParamType,
};
use crate::warnings::StageWarnings;

pub(crate) const NPY: OpDef = OpDef {
    name: "npy",
    kind: OpKind::Sink,
    summary: "writes the items' tensors as one NumPy array [items, ...shape] to a .npy file, and each field of `fields` to <stem>.<field>.npy (the rows wait in a temporary file until the run ends, then go to `<path>.partial`, renamed when complete)",
    params: &[
        ParamDef::required("path", ParamType::Str, "the .npy file of the tensors, relative to the pipeline file").output(),
        ParamDef::optional(
            "fields",
            ParamType::StrList,
            "fields written beside it, one number per item (int64 if all are integers, else float64)",
        ),
    ],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<NpyConfig>,
};

pub(crate) const SAFETENSORS: OpDef = OpDef {
    name: "safetensors",
    kind: OpKind::Sink,
    summary: "writes the items' tensors as one tensor [items, ...shape] (named by `tensor`) and each field of `fields` into one .safetensors file (the rows wait in a temporary file until the run ends, then go to `<path>.partial`, renamed when complete)",
    params: &[
        ParamDef::required("path", ParamType::Str, "the .safetensors file, relative to the pipeline file").output(),
        ParamDef::with_default("tensor", ParamType::Str, "\"data\"", "the name of the tensors' tensor in the file"),
        ParamDef::optional(
            "fields",
            ParamType::StrList,
            "fields written as tensors of their own, by their name, one number per item (I64 if all are integers, else F64)",
        ),
        ParamDef::optional(
            "metadata",
            ParamType::StrTable,
            "text put in the file's __metadata__, like { dataset = \"fashion-mnist\", split = \"train\" }",
        ),
    ],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<SafetensorsConfig>,
};

/// Which file format.
#[derive(Clone, Debug)]
enum Format {
    Npy,
    Safetensors {
        name: String,
        metadata: HashMap<String, String>,
    },
}

/// The parameters of `npy`: the items' tensors as one NumPy array
/// `[items, ...shape]` in `path`, and each field of `fields` as an array
/// of its own in `<stem>.<field>.npy`.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, NpyConfig, OpConfig};
/// use baton_ops::{BuiltOp, Item, Payload, Tensor};
///
/// let dir = tempfile::tempdir().unwrap();
/// let config = NpyConfig { path: "train.npy".into(), fields: Some(vec!["label".into()]) };
/// let BuiltOp::Sink(make) = config.build(&BuildContext::new(dir.path())).unwrap() else { unreachable!() };
/// let mut sink = make().unwrap();
/// for n in 0..3 {
///     let mut item = Item::with_field("label", n);
///     item.payload = Payload::Tensor(Tensor { shape: vec![2], data: vec![n as f32, 0.5] });
///     sink.write(item).unwrap();
/// }
/// sink.finish().unwrap();
/// let data = std::fs::read(dir.path().join("train.npy")).unwrap();
/// assert_eq!(npyz::NpyFile::new(&data[..]).unwrap().shape(), &[3, 2]);
/// let labels = std::fs::read(dir.path().join("train.label.npy")).unwrap();
/// assert_eq!(npyz::NpyFile::new(&labels[..]).unwrap().into_vec::<i64>().unwrap(), [0, 1, 2]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NpyConfig {
    /// The .npy file of the tensors, relative to the pipeline file.
    pub path: PathBuf,
    /// Fields written beside it, one number per item (int64 if all are
    /// integers, else float64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

impl OpConfig for NpyConfig {
    const DEF: &'static OpDef = &NPY;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        build(
            context,
            &self.path,
            self.fields.clone().unwrap_or_default(),
            Format::Npy,
        )
    }
}

/// The parameters of `safetensors`: the items' tensors as one tensor
/// `[items, ...shape]` named `tensor`, and each field of `fields` as a
/// tensor of its own, in one .safetensors file.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, OpConfig, SafetensorsConfig};
/// use baton_ops::{BuiltOp, Item, Payload, Tensor};
///
/// let dir = tempfile::tempdir().unwrap();
/// let config = SafetensorsConfig {
///     path: "train.safetensors".into(),
///     tensor: "images".into(),
///     fields: Some(vec!["label".into()]),
///     metadata: Some([("split".to_string(), "train".to_string())].into()),
/// };
/// let BuiltOp::Sink(make) = config.build(&BuildContext::new(dir.path())).unwrap() else { unreachable!() };
/// let mut sink = make().unwrap();
/// for n in 0..3 {
///     let mut item = Item::with_field("label", n);
///     item.payload = Payload::Tensor(Tensor { shape: vec![2], data: vec![n as f32, 0.5] });
///     sink.write(item).unwrap();
/// }
/// sink.finish().unwrap();
/// let bytes = std::fs::read(dir.path().join("train.safetensors")).unwrap();
/// let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
/// assert_eq!(file.tensor("images").unwrap().shape(), [3, 2]);
/// assert_eq!(file.tensor("label").unwrap().shape(), [3]);
///
/// // The defaults: the tensors' tensor is `data`, no fields, no metadata.
/// let config: SafetensorsConfig = serde_json::from_str(r#"{"path": "a.safetensors"}"#).unwrap();
/// assert_eq!((config.tensor.as_str(), config.fields, config.metadata), ("data", None, None));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetensorsConfig {
    /// The .safetensors file, relative to the pipeline file.
    pub path: PathBuf,
    /// The name of the tensors' tensor in the file.
    #[serde(default = "data")]
    pub tensor: String,
    /// Fields written as tensors of their own, by their name, one number
    /// per item (I64 if all are integers, else F64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// Text put in the file's `__metadata__`, like `{ dataset =
    /// "fashion-mnist", split = "train" }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

fn data() -> String {
    "data".to_string()
}

impl OpConfig for SafetensorsConfig {
    const DEF: &'static OpDef = &SAFETENSORS;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let format = Format::Safetensors {
            name: self.tensor.clone(),
            metadata: self
                .metadata
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        };
        build(
            context,
            &self.path,
            self.fields.clone().unwrap_or_default(),
            format,
        )
    }
}

/// Either sink, writing `path` (relative to the context's folder).
fn build(
    context: &BuildContext,
    path: &Path,
    fields: Vec<String>,
    format: Format,
) -> Result<BuiltOp, OpError> {
    let path = context.path(path);
    if let Format::Safetensors { name, .. } = &format {
        if fields.contains(name) {
            return Err(OpError::param(
                "fields",
                format!("`{name}` is the tensors' own name: set `tensor` to another"),
            ));
        }
    }
    let warnings = context.warnings().clone();
    Ok(sink(move || {
        Ok(TensorFile {
            path,
            format,
            warnings,
            shape: None,
            rows: Spill::default(),
            fields: fields.into_iter().map(|f| (f, Vec::new())).collect(),
        })
    }))
}

/// A field's values: integers until a value is not one.
#[derive(Debug)]
enum Column {
    Ints(Vec<i64>),
    Floats(Vec<f64>),
}

/// The rows written so far: their values as little-endian f32, one row
/// after another, in an unnamed temporary file (made with the first row).
#[derive(Debug, Default)]
struct Spill {
    file: Option<std::io::BufWriter<std::fs::File>>,
    rows: usize,
    /// One row's bytes, reused.
    scratch: Vec<u8>,
    /// A write failed part way: the file no longer holds whole rows.
    broken: bool,
}

impl Spill {
    /// Adds a row, making the file (in the folder of `output`) for the first.
    fn push(&mut self, values: &[f32], output: &Path) -> Result<(), SinkError> {
        let failed = |error| SinkError::File {
            path: format!("a temporary file in {}", folder(output).display()),
            error,
        };
        if self.broken {
            return Err(failed(std::io::Error::other(
                "an earlier write to it failed, so it holds no whole rows",
            )));
        }
        if self.file.is_none() {
            std::fs::create_dir_all(folder(output)).map_err(failed)?;
            let file = tempfile::tempfile_in(folder(output)).map_err(failed)?;
            self.file = Some(std::io::BufWriter::with_capacity(1 << 16, file));
        }
        self.scratch.clear();
        for value in values {
            self.scratch.extend_from_slice(&value.to_le_bytes());
        }
        let file = self.file.as_mut().expect("made above");
        if let Err(error) = file.write_all(&self.scratch) {
            self.broken = true;
            return Err(failed(error));
        }
        self.rows += 1;
        Ok(())
    }

    /// The file, from its start, with every row in it (none if no row came).
    fn reopen(&mut self) -> std::io::Result<Option<std::fs::File>> {
        use std::io::Seek;
        let Some(writer) = self.file.take() else {
            return Ok(None);
        };
        let mut file = writer.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        Ok(Some(file))
    }
}

/// The sink.
#[derive(Debug)]
struct TensorFile {
    path: PathBuf,
    format: Format,
    warnings: StageWarnings,
    /// Every tensor's shape: the first one's.
    shape: Option<Vec<usize>>,
    rows: Spill,
    fields: Vec<(String, Vec<Value>)>,
}

impl TensorFile {
    /// The rows' file, from its start, for writing the output.
    fn spilled(&mut self) -> Result<Option<std::fs::File>, BoxError> {
        let path = &self.path;
        self.rows.reopen().map_err(|error| {
            SinkError::File {
                path: format!("a temporary file in {}", folder(path).display()),
                error,
            }
            .into()
        })
    }

    /// The values of one field, by type.
    fn column(name: &str, values: &[Value]) -> Result<Column, BoxError> {
        if values.iter().all(|v| v.as_i64().is_some()) {
            return Ok(Column::Ints(
                values.iter().filter_map(Value::as_i64).collect(),
            ));
        }
        values
            .iter()
            .enumerate()
            .map(|(row, v)| {
                v.as_f64().ok_or_else(|| {
                    format!("field `{name}` of row {row} is {v}, not a number").into()
                })
            })
            .collect::<Result<Vec<f64>, BoxError>>()
            .map(Column::Floats)
    }

    fn write_npy(&mut self, shape: &[u64]) -> Result<(), BoxError> {
        let spilled = self.spilled()?;
        write_staged(&self.path, &self.warnings, |out| {
            let mut writer = npyz::WriteOptions::<f32>::new()
                .default_dtype()
                .shape(shape)
                .writer(out)
                .begin_nd()?;
            if let Some(file) = spilled {
                let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
                let mut left = shape.iter().product::<u64>() as usize * 4;
                let mut block = vec![0u8; 1 << 16];
                while left > 0 {
                    let take = left.min(block.len());
                    std::io::Read::read_exact(&mut reader, &mut block[..take])?;
                    writer.extend(
                        block[..take]
                            .chunks_exact(4)
                            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    )?;
                    left -= take;
                }
            }
            writer.finish()
        })?;
        for (name, values) in &self.fields {
            let path = field_path(&self.path, name);
            let rows = [values.len() as u64];
            write_staged(&path, &self.warnings, |out| {
                match Self::column(name, values) {
                    Ok(Column::Ints(v)) => write_array(out, &rows, v),
                    Ok(Column::Floats(v)) => write_array(out, &rows, v),
                    Err(error) => Err(std::io::Error::other(error.to_string())),
                }
            })?;
        }
        Ok(())
    }

    fn write_safetensors(
        &mut self,
        name: &str,
        metadata: &HashMap<String, String>,
        shape: Vec<usize>,
    ) -> Result<(), BoxError> {
        use safetensors::tensor::{Metadata, TensorInfo};
        use safetensors::Dtype;
        // The fields first: their 8-byte numbers stay aligned whatever the
        // number of f32 values after them (safetensors' own order).
        let mut columns: Vec<(String, Dtype, Vec<u8>)> = Vec::new();
        for (field, values) in &self.fields {
            columns.push(match Self::column(field, values)? {
                Column::Ints(v) => (
                    field.clone(),
                    Dtype::I64,
                    v.iter().flat_map(|v| v.to_le_bytes()).collect(),
                ),
                Column::Floats(v) => (
                    field.clone(),
                    Dtype::F64,
                    v.iter().flat_map(|v| v.to_le_bytes()).collect(),
                ),
            });
        }
        let mut infos = Vec::new();
        let mut offset = 0;
        for (field, dtype, bytes) in &columns {
            infos.push((
                field.clone(),
                TensorInfo {
                    dtype: *dtype,
                    shape: vec![self.rows.rows],
                    data_offsets: (offset, offset + bytes.len()),
                },
            ));
            offset += bytes.len();
        }
        let data = shape.iter().product::<usize>() * 4;
        infos.push((
            name.to_string(),
            TensorInfo {
                dtype: Dtype::F32,
                shape,
                data_offsets: (offset, offset + data),
            },
        ));
        let metadata = (!metadata.is_empty()).then(|| metadata.clone());
        let header =
            Metadata::new(metadata, infos).map_err(|e| format!("{}: {e}", self.path.display()))?;
        let mut header = serde_json::to_vec(&header)?;
        // Padded with spaces to 8 bytes, as safetensors does: the values
        // after it start aligned.
        header.resize(header.len().next_multiple_of(8), b' ');
        let spilled = self.spilled()?;
        write_staged(&self.path, &self.warnings, |out| {
            out.write_all(&(header.len() as u64).to_le_bytes())?;
            out.write_all(&header)?;
            for (_, _, bytes) in &columns {
                out.write_all(bytes)?;
            }
            if let Some(mut file) = spilled {
                std::io::copy(&mut file, out)?;
            }
            Ok(())
        })
    }
}

/// One array of `shape` into `out` in the npy format.
fn write_array<T: npyz::AutoSerialize>(
    out: &mut std::io::BufWriter<std::fs::File>,
    shape: &[u64],
    values: impl IntoIterator<Item = T>,
) -> std::io::Result<()> {
    let mut writer = npyz::WriteOptions::<T>::new()
        .default_dtype()
        .shape(shape)
        .writer(out)
        .begin_nd()?;
    writer.extend(values)?;
    writer.finish()
}

/// The folder of `output`, where its rows wait.
fn folder(output: &Path) -> &Path {
    match output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// `<stem>.<field>.npy` beside the tensors' file.
fn field_path(path: &Path, field: &str) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!("{stem}.{field}.npy"))
}

/// Writes `path` through `write` as `<path>.partial`, then renames it.
fn write_staged(
    path: &Path,
    warnings: &StageWarnings,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<(), BoxError> {
    let (file, mut out) = Staged::create(path.to_path_buf(), warnings)?;
    let failed = |error| SinkError::File {
        path: file.written().display().to_string(),
        error,
    };
    write(&mut out).map_err(failed)?;
    out.into_inner()
        .map_err(|e| failed(e.into_error()))?
        .sync_all()
        .map_err(failed)?;
    file.commit()?;
    Ok(())
}

impl Sink<Item> for TensorFile {
    fn write(&mut self, item: Item) -> Result<(), BoxError> {
        let Payload::Tensor(tensor) = &item.payload else {
            return Err(format!(
                "{} writes tensors, got a {} payload (to_tensor makes one of an image)",
                match self.format {
                    Format::Npy => "npy",
                    Format::Safetensors { .. } => "safetensors",
                },
                item.payload.kind()
            )
            .into());
        };
        match &self.shape {
            None => self.shape = Some(tensor.shape.clone()),
            Some(shape) if *shape != tensor.shape => {
                return Err(format!(
                "a tensor of shape {:?} in a file of rows of shape {shape:?} (the first item's)",
                tensor.shape
            )
                .into())
            }
            Some(_) => {}
        }
        for (name, _) in &self.fields {
            let value = item.get(name).ok_or_else(|| SinkError::MissingField {
                field: name.clone(),
            })?;
            if !value.is_number() {
                return Err(format!("field `{name}` is {value}, not a number").into());
            }
        }
        self.rows.push(&tensor.data, &self.path)?;
        for (name, values) in &mut self.fields {
            values.push(item.get(name).cloned().unwrap_or(Value::Null));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        let rows = self.rows.rows;
        let row_shape = self.shape.clone().unwrap_or_default();
        let mut shape = vec![rows];
        shape.extend(&row_shape);
        match &self.format {
            Format::Npy => {
                let shape: Vec<u64> = shape.iter().map(|d| *d as u64).collect();
                self.write_npy(&shape)
            }
            Format::Safetensors { name, metadata } => {
                let (name, metadata) = (name.clone(), metadata.clone());
                self.write_safetensors(&name, &metadata, shape)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Tensor;

    fn sink_of(op: &OpDef, toml: &str, dir: &Path) -> Box<dyn Sink<Item>> {
        let params = crate::testing::params(op, toml, dir);
        let BuiltOp::Sink(make) = (op.build)(&params).unwrap() else {
            unreachable!()
        };
        make().unwrap()
    }

    /// Little-endian f32 values.
    fn f32s(bytes: &[u8]) -> Vec<f32> {
        bytes
            .chunks(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    fn tensor_item(label: i64, shape: Vec<usize>) -> Item {
        let mut item = Item::with_field("label", label);
        item.set("weight", 0.5 * label as f64);
        let len = shape.iter().product::<usize>();
        item.payload = Payload::Tensor(Tensor {
            shape,
            data: (0..len).map(|v| v as f32 + label as f32 * 100.0).collect(),
        });
        item
    }

    #[test]
    fn npy_files_hold_the_rows_and_fields_and_refuse_other_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = sink_of(
            &NPY,
            "path = \"out/x.npy\"\nfields = [\"label\", \"weight\"]",
            dir.path(),
        );
        sink.write(tensor_item(1, vec![2, 3])).unwrap();
        let error = sink.write(tensor_item(2, vec![3, 2])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a tensor of shape [3, 2] in a file of rows of shape [2, 3] (the first item's)"
        );
        let error = sink.write(Item::with_field("label", 3)).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("npy writes tensors, got a none payload"),
            "{error}"
        );
        let mut no_label = tensor_item(4, vec![2, 3]);
        no_label.fields.remove("label");
        assert_eq!(
            sink.write(no_label).unwrap_err().to_string(),
            "no field `label`"
        );
        sink.write(tensor_item(5, vec![2, 3])).unwrap();
        assert!(
            !dir.path().join("out/x.npy").exists(),
            "written when the run finishes"
        );
        sink.finish().unwrap();
        let bytes = std::fs::read(dir.path().join("out/x.npy")).unwrap();
        let array = npyz::NpyFile::new(&bytes[..]).unwrap();
        assert_eq!(array.shape(), &[2, 2, 3]);
        let values: Vec<f32> = array.into_vec().unwrap();
        assert_eq!(values[..3], [100.0, 101.0, 102.0]);
        assert_eq!(values[6..9], [500.0, 501.0, 502.0]);
        let labels = std::fs::read(dir.path().join("out/x.label.npy")).unwrap();
        assert_eq!(
            npyz::NpyFile::new(&labels[..])
                .unwrap()
                .into_vec::<i64>()
                .unwrap(),
            [1, 5]
        );
        let weights = std::fs::read(dir.path().join("out/x.weight.npy")).unwrap();
        assert_eq!(
            npyz::NpyFile::new(&weights[..])
                .unwrap()
                .into_vec::<f64>()
                .unwrap(),
            [0.5, 2.5]
        );
    }

    #[test]
    fn safetensors_files_hold_every_tensor_by_name_with_the_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let toml = "path = \"x.safetensors\"\ntensor = \"images\"\nfields = [\"label\"]\nmetadata = { split = \"test\" }";
        let mut sink = sink_of(&SAFETENSORS, toml, dir.path());
        for label in 0..4 {
            sink.write(tensor_item(label, vec![1, 2, 2])).unwrap();
        }
        sink.finish().unwrap();
        let bytes = std::fs::read(dir.path().join("x.safetensors")).unwrap();
        let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        assert_eq!(metadata.metadata().as_ref().unwrap()["split"], "test");
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let images = file.tensor("images").unwrap();
        assert_eq!(images.shape(), [4, 1, 2, 2]);
        assert_eq!(images.dtype(), safetensors::Dtype::F32);
        let last = f32s(&images.data()[48..]);
        assert_eq!(last, [300.0, 301.0, 302.0, 303.0]);
        let labels = file.tensor("label").unwrap();
        assert_eq!(
            (labels.dtype(), labels.shape()),
            (safetensors::Dtype::I64, &[4][..])
        );
    }

    #[test]
    fn rows_wait_in_no_file_of_the_folder_and_fields_stay_aligned_after_odd_rows() {
        let dir = tempfile::tempdir().unwrap();
        let toml = "path = \"out/x.safetensors\"\nfields = [\"label\", \"weight\"]";
        let mut sink = sink_of(&SAFETENSORS, toml, dir.path());
        // Three values a row, three rows: an odd number of f32s.
        for label in 0..3 {
            sink.write(tensor_item(label, vec![3])).unwrap();
        }
        let listed = || {
            std::fs::read_dir(dir.path().join("out"))
                .map(|entries| entries.count())
                .unwrap_or(0)
        };
        assert_eq!(listed(), 0, "the rows wait in an unnamed file");
        sink.finish().unwrap();
        assert_eq!(listed(), 1, "only the output is left");
        let bytes = std::fs::read(dir.path().join("out/x.safetensors")).unwrap();
        let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(header % 8, 0, "the values start aligned");
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let start = |name: &str| {
            let data = file.tensor(name).unwrap().data().as_ptr() as usize;
            data - bytes.as_ptr() as usize
        };
        assert_eq!(start("label") % 8, 0, "an i64 column is 8-byte aligned");
        assert_eq!(start("weight") % 8, 0, "an f64 column is 8-byte aligned");
        let data = file.tensor("data").unwrap();
        assert_eq!(data.shape(), [3, 3]);
        let values = f32s(data.data());
        assert_eq!(values, [0., 1., 2., 100., 101., 102., 200., 201., 202.]);
        let weights: Vec<f64> = file
            .tensor("weight")
            .unwrap()
            .data()
            .chunks(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(weights, [0.0, 0.5, 1.0]);
    }

    #[test]
    fn no_rows_make_empty_arrays() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = sink_of(&NPY, "path = \"x.npy\"", dir.path());
        sink.finish().unwrap();
        let bytes = std::fs::read(dir.path().join("x.npy")).unwrap();
        let array = npyz::NpyFile::new(&bytes[..]).unwrap();
        assert_eq!(array.shape(), &[0]);
        let mut sink = sink_of(&SAFETENSORS, "path = \"x.safetensors\"", dir.path());
        sink.finish().unwrap();
        let bytes = std::fs::read(dir.path().join("x.safetensors")).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(file.tensor("data").unwrap().shape(), [0]);
    }

    #[test]
    fn a_field_named_like_the_tensors_is_refused() {
        let error = crate::testing::build_error(
            &SAFETENSORS,
            &crate::testing::params(
                &SAFETENSORS,
                "path = \"x.safetensors\"\nfields = [\"data\"]",
                ".".as_ref(),
            ),
        );
        assert_eq!(error.param.as_deref(), Some("fields"));
    }
}
