//! `webdataset`: items written as WebDataset-style tar shards, the sharded
//! format ML input pipelines read in parallel (the `webdataset` source, or
//! Python's `webdataset` and `torchdata`).
//!
//! Each item is a sample: members named `<key>.<extension>` written one
//! after another. The key is the field `key` names (by default a running
//! number, `%09d`); the payload is one member (`payload` names its
//! extension: an image is encoded in that format, PNG by default; a tensor
//! is written as `.npy`; bytes as they are, `.bin` by default); each field
//! of `fields` is a member of its own (`{ label = "cls" }`: the value as
//! text, or JSON for arrays and objects); the other fields go together in
//! `<key>.json`. A shard holds `max_items` samples; `path` numbers the
//! shards with a `%06d` (printf style, as WebDataset's `ShardWriter`), and
//! each is written as `<name>.partial` and renamed once complete, so a
//! reader never sees half a shard. Members get mode 0444 and time 0: the
//! same items make the same bytes.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, Item, Params, Payload};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let toml = "path = \"shards/s-%03d.tar\"\nmax_items = 2\nfields = { label = \"cls\" }";
//! let params = Params::new(toml::from_str(toml).unwrap(), dir.path());
//! let op = baton_ops::find_kind("webdataset", baton_ops::OpKind::Sink).unwrap();
//! let BuiltOp::Sink(make) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut sink = make().unwrap();
//! for n in 0..3 {
//!     let mut item = Item::with_field("label", n);
//!     item.payload = Payload::Bytes(vec![n as u8]);
//!     sink.write(item).unwrap();
//! }
//! sink.finish().unwrap();
//! assert!(dir.path().join("shards/s-000.tar").exists());
//! assert!(dir.path().join("shards/s-001.tar").exists());
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use baton_engine::{BoxError, Sink};
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

pub(crate) const DEF: OpDef = OpDef {
    name: "webdataset",
    kind: OpKind::Sink,
    summary: "writes items as WebDataset tar shards of `max_items` samples (<key>.<ext> members: the payload, the `fields`, the rest in <key>.json); each shard `<name>.partial` until complete",
    params: &[
        ParamDef::required(
            "path",
            ParamType::Str,
            "the shards' path with a %06d for their number, relative to the pipeline file (`shards/train-%06d.tar`)",
        )
        .output(),
        ParamDef::with_default("max_items", ParamType::Int, "10000", "samples per shard").at_least(1),
        ParamDef::optional(
            "key",
            ParamType::Str,
            "the field holding each sample's key (no `.` in its file name part); by default a running number, %09d",
        ),
        ParamDef::optional(
            "payload",
            ParamType::Str,
            "the payload's extension: an image is encoded as png (default), jpg or jpeg; a tensor is npy; bytes are bin by default",
        ),
        ParamDef::optional(
            "fields",
            ParamType::StrTable,
            "fields written as members of their own, by extension: { label = \"cls\", caption = \"txt\" }",
        ),
        ParamDef::with_default(
            "json",
            ParamType::Bool,
            "true",
            "write the other fields (not the key, not in `fields`) as <key>.json",
        ),
    ],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<WebdatasetSinkConfig>,
};

/// The parameters of the `webdataset` sink: items as WebDataset tar shards
/// of `max_items` samples each, numbered by the `%06d` in `path`.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, OpConfig, WebdatasetSinkConfig};
/// use baton_ops::{BuiltOp, Item, Payload};
///
/// let dir = tempfile::tempdir().unwrap();
/// let config = WebdatasetSinkConfig {
///     path: "shards/s-%03d.tar".into(),
///     max_items: 2,
///     key: None,
///     payload: Some("txt".into()),
///     fields: Some([("label".to_string(), "cls".to_string())].into()),
///     json: false,
/// };
/// let BuiltOp::Sink(make) = config.build(&BuildContext::new(dir.path())).unwrap() else { unreachable!() };
/// let mut sink = make().unwrap();
/// for n in 0..3 {
///     let mut item = Item::with_field("label", n);
///     item.payload = Payload::Bytes(b"hi".to_vec());
///     sink.write(item).unwrap();
/// }
/// sink.finish().unwrap();
/// let shard = std::fs::File::open(dir.path().join("shards/s-000.tar")).unwrap();
/// let names: Vec<String> = tar::Archive::new(shard)
///     .entries()
///     .unwrap()
///     .map(|e| e.unwrap().path().unwrap().display().to_string())
///     .collect();
/// assert_eq!(names, ["000000000.txt", "000000000.cls", "000000001.txt", "000000001.cls"]);
/// assert!(dir.path().join("shards/s-001.tar").exists());
///
/// // The defaults: 10000 samples a shard, the other fields as JSON.
/// let config: WebdatasetSinkConfig = serde_json::from_str(r#"{"path": "s-%06d.tar"}"#).unwrap();
/// assert_eq!((config.max_items, config.json), (10_000, true));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebdatasetSinkConfig {
    /// The shards' path with a %06d for their number, relative to the
    /// pipeline file (`shards/train-%06d.tar`).
    pub path: PathBuf,
    /// Samples per shard (positive).
    #[serde(default = "max_items")]
    pub max_items: usize,
    /// The field holding each sample's key (no `.` in its file name part);
    /// by default a running number, %09d.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The payload's extension: an image is encoded as png (default), jpg
    /// or jpeg; a tensor is npy; bytes are bin by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Fields written as members of their own, by extension: `{ label =
    /// "cls", caption = "txt" }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
    /// Write the other fields (not the key, not in `fields`) as
    /// `<key>.json`.
    #[serde(default = "yes")]
    pub json: bool,
}

fn max_items() -> usize {
    10_000
}

fn yes() -> bool {
    true
}

impl OpConfig for WebdatasetSinkConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let path = context.path(&self.path);
        let pattern = ShardPattern::parse(&path.to_string_lossy()).ok_or_else(|| {
            OpError::param(
                "path",
                "needs a %d (or %06d) where the shard's number goes, like \"shards/train-%06d.tar\"",
            )
        })?;
        if self.max_items == 0 {
            return Err(OpError::param("max_items", "must be positive, not 0"));
        }
        let payload = self.payload.clone();
        if let Some(ext) = &payload {
            if ext.is_empty() || ext.contains(['.', '/']) {
                return Err(OpError::param(
                    "payload",
                    format!("an extension without dots, like \"png\", not {ext:?}"),
                ));
            }
        }
        let fields: Vec<(String, String)> = self
            .fields
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        for (field, ext) in &fields {
            if ext.is_empty() || ext.contains('/') || Some(ext) == payload.as_ref() {
                return Err(OpError::param(
                    "fields",
                    format!("`{field}`: {ext:?} cannot be a member's extension here"),
                ));
            }
        }
        let plan = Plan {
            pattern,
            max_items: self.max_items,
            key: self.key.clone(),
            payload,
            fields,
            json: self.json,
        };
        let warnings = context.warnings().clone();
        Ok(sink(move || {
            Ok(Shards {
                plan,
                warnings,
                open: None,
                shards: 0,
                samples: 0,
            })
        }))
    }
}

/// A shard path with a printf-style number in it.
#[derive(Clone, Debug)]
struct ShardPattern {
    before: String,
    width: usize,
    after: String,
}

impl ShardPattern {
    fn parse(path: &str) -> Option<Self> {
        let at = path.find('%')?;
        let rest = &path[at + 1..];
        let digits = rest.find('d')?;
        let spec = &rest[..digits];
        let width = match spec {
            "" => 0,
            _ if spec.bytes().all(|b| b.is_ascii_digit()) => spec.parse().ok()?,
            _ => return None,
        };
        Some(Self {
            before: path[..at].to_string(),
            width,
            after: rest[digits + 1..].to_string(),
        })
    }

    fn path(&self, n: usize) -> PathBuf {
        PathBuf::from(format!(
            "{}{n:0w$}{}",
            self.before,
            self.after,
            w = self.width
        ))
    }
}

/// What the sink writes: the config, checked.
#[derive(Debug)]
struct Plan {
    pattern: ShardPattern,
    max_items: usize,
    key: Option<String>,
    payload: Option<String>,
    fields: Vec<(String, String)>,
    json: bool,
}

/// The shard being written.
struct OpenShard {
    file: Staged,
    tar: tar::Builder<BufWriter<File>>,
    items: usize,
}

impl std::fmt::Debug for OpenShard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenShard")
            .field("file", &self.file)
            .field("items", &self.items)
            .finish_non_exhaustive()
    }
}

/// The sink.
#[derive(Debug)]
struct Shards {
    plan: Plan,
    warnings: StageWarnings,
    open: Option<OpenShard>,
    /// Shards begun so far.
    shards: usize,
    /// Samples written so far.
    samples: u64,
}

impl Shards {
    /// The members of one item, named.
    fn members(&self, item: &Item) -> Result<Vec<(String, Vec<u8>)>, BoxError> {
        let key = match &self.plan.key {
            None => format!("{:09}", self.samples),
            Some(field) => match item.get(field) {
                Some(Value::String(key)) => key.clone(),
                Some(Value::Number(key)) => key.to_string(),
                Some(other) => {
                    return Err(
                        format!("key field `{field}` is {other}, not text or a number").into(),
                    )
                }
                None => {
                    return Err(SinkError::MissingField {
                        field: field.clone(),
                    }
                    .into())
                }
            },
        };
        let name_part = key.rsplit('/').next().unwrap_or_default();
        if name_part.is_empty() || name_part.contains('.') || key.starts_with('/') {
            return Err(format!(
                "key {key:?} cannot name a sample: its file name part must be non-empty and have no `.`"
            )
            .into());
        }
        let mut members = Vec::new();
        if let Some((ext, bytes)) = self.payload_member(&item.payload)? {
            members.push((format!("{key}.{ext}"), bytes));
        }
        for (field, ext) in &self.plan.fields {
            let value = item.get(field).ok_or_else(|| SinkError::MissingField {
                field: field.clone(),
            })?;
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Array(_) | Value::Object(_) => value.to_string(),
                other => other.to_string(),
            };
            members.push((format!("{key}.{ext}"), text.into_bytes()));
        }
        if self.plan.json {
            let rest: serde_json::Map<String, Value> = item
                .fields
                .iter()
                .filter(|(name, _)| {
                    Some(*name) != self.plan.key.as_ref()
                        && !self.plan.fields.iter().any(|(f, _)| f == *name)
                })
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            if !rest.is_empty() {
                members.push((format!("{key}.json"), serde_json::to_vec(&rest)?));
            }
        }
        Ok(members)
    }

    fn payload_member(&self, payload: &Payload) -> Result<Option<(String, Vec<u8>)>, BoxError> {
        let ext = self.plan.payload.clone();
        Ok(Some(match payload {
            Payload::None => return Ok(None),
            Payload::Bytes(bytes) => (ext.unwrap_or_else(|| "bin".into()), bytes.clone()),
            Payload::Image(image) => {
                let ext = ext.unwrap_or_else(|| "png".into());
                let format = match ext.as_str() {
                    "png" => image::ImageFormat::Png,
                    "jpg" | "jpeg" => image::ImageFormat::Jpeg,
                    other => {
                        return Err(format!(
                            "an image cannot be written as `{other}`: png, jpg or jpeg"
                        )
                        .into())
                    }
                };
                let mut bytes = std::io::Cursor::new(Vec::new());
                let image = match format {
                    // JPEG has no alpha.
                    image::ImageFormat::Jpeg if image.color().has_alpha() => {
                        image::DynamicImage::ImageRgb8(image.to_rgb8())
                    }
                    _ => image.clone(),
                };
                image.write_to(&mut bytes, format)?;
                (ext, bytes.into_inner())
            }
            Payload::Tensor(tensor) => {
                use npyz::WriterBuilder;
                let ext = ext.unwrap_or_else(|| "npy".into());
                if ext != "npy" {
                    return Err(format!("a tensor is written as npy, not `{ext}`").into());
                }
                let shape: Vec<u64> = tensor.shape.iter().map(|d| *d as u64).collect();
                let mut bytes = Vec::new();
                let mut writer = npyz::WriteOptions::<f32>::new()
                    .default_dtype()
                    .shape(&shape)
                    .writer(&mut bytes)
                    .begin_nd()?;
                writer.extend(tensor.data.iter().copied())?;
                writer.finish()?;
                (ext, bytes)
            }
            other => {
                return Err(SinkError::Payload {
                    found: other.kind(),
                }
                .into())
            }
        }))
    }

    /// Closes the open shard and renames it to its name.
    fn close(&mut self) -> Result<(), BoxError> {
        if let Some(shard) = self.open.take() {
            let path = shard.file.written().display().to_string();
            let failed = |error| SinkError::File {
                path: path.clone(),
                error,
            };
            let mut out = shard.tar.into_inner().map_err(failed)?;
            std::io::Write::flush(&mut out).map_err(failed)?;
            drop(out);
            shard.file.commit()?;
        }
        Ok(())
    }
}

impl Sink<Item> for Shards {
    fn write(&mut self, item: Item) -> Result<(), BoxError> {
        if let Payload::Records(batch) = &item.payload {
            for row in crate::item::rows_of(batch) {
                self.write(row)?;
            }
            return Ok(());
        }
        // Made before anything is written: a bad item leaves the shard whole.
        let members = self.members(&item)?;
        if self.open.is_none() {
            let path = self.plan.pattern.path(self.shards);
            let (file, out) = Staged::create(path, &self.warnings)?;
            self.shards += 1;
            let mut tar = tar::Builder::new(out);
            tar.mode(tar::HeaderMode::Deterministic);
            self.open = Some(OpenShard {
                file,
                tar,
                items: 0,
            });
        }
        let shard = self.open.as_mut().expect("a shard is open");
        for (name, bytes) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o444);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            shard
                .tar
                .append_data(&mut header, &name, bytes.as_slice())
                .map_err(|error| SinkError::File {
                    path: shard.file.written().display().to_string(),
                    error,
                })?;
        }
        shard.items += 1;
        self.samples += 1;
        if shard.items == self.plan.max_items {
            self.close()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        self.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn sink_of(toml: &str, dir: &Path) -> Box<dyn Sink<Item>> {
        let params = crate::testing::params(&DEF, toml, dir);
        let BuiltOp::Sink(make) = (DEF.build)(&params).unwrap() else {
            unreachable!()
        };
        make().unwrap()
    }

    fn members(path: &Path) -> Vec<(String, Vec<u8>)> {
        let mut archive = tar::Archive::new(File::open(path).unwrap());
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let name = e.path().unwrap().display().to_string();
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut bytes).unwrap();
                (name, bytes)
            })
            .collect()
    }

    #[test]
    fn shards_of_no_samples_or_a_path_without_a_number_are_refused() {
        let config: WebdatasetSinkConfig =
            serde_json::from_str(r#"{"path": "s-%06d.tar", "max_items": 0}"#).unwrap();
        let error = config.build(&BuildContext::default()).unwrap_err();
        assert_eq!(error.to_string(), "`max_items`: must be positive, not 0");
        let config = WebdatasetSinkConfig {
            path: "s.tar".into(),
            max_items: 1,
            ..config
        };
        let error = config.build(&BuildContext::default()).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("path"));
    }

    #[test]
    fn the_pattern_numbers_the_shards() {
        let pattern = ShardPattern::parse("out/train-%06d.tar").unwrap();
        assert_eq!(pattern.path(12), PathBuf::from("out/train-000012.tar"));
        assert_eq!(
            ShardPattern::parse("s%d.tar").unwrap().path(3),
            PathBuf::from("s3.tar")
        );
        assert!(ShardPattern::parse("s.tar").is_none());
        assert!(ShardPattern::parse("s%x.tar").is_none());
    }

    #[test]
    fn samples_are_members_by_key_in_shards_of_max_items() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = sink_of(
            "path = \"s-%02d.tar\"\nmax_items = 2\nkey = \"name\"\nfields = { label = \"cls\" }",
            dir.path(),
        );
        for n in 0..3 {
            let mut item = Item::with_field("name", format!("img{n}"));
            item.set("label", n);
            item.set("source", "camera");
            item.payload = Payload::Image(image::DynamicImage::new_luma8(2, 2));
            sink.write(item).unwrap();
        }
        // A shard is renamed when complete; the last one at the end.
        assert!(dir.path().join("s-00.tar").exists());
        assert!(!dir.path().join("s-01.tar").exists());
        sink.finish().unwrap();
        let first = members(&dir.path().join("s-00.tar"));
        let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "img0.png",
                "img0.cls",
                "img0.json",
                "img1.png",
                "img1.cls",
                "img1.json"
            ]
        );
        assert_eq!(first[1].1, b"0");
        assert_eq!(first[2].1, b"{\"source\":\"camera\"}");
        assert!(first[0].1.starts_with(b"\x89PNG"));
        assert_eq!(members(&dir.path().join("s-01.tar")).len(), 3);
    }

    #[test]
    fn a_bad_key_or_missing_field_fails_that_item_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = sink_of(
            "path = \"s%d.tar\"\nkey = \"k\"\nfields = { label = \"cls\" }",
            dir.path(),
        );
        let item = |key: &str, label: Option<i64>| {
            let mut item = Item::with_field("k", key);
            if let Some(label) = label {
                item.set("label", label);
            }
            item
        };
        let error = sink.write(item("a.b", Some(1))).unwrap_err().to_string();
        assert!(
            error.contains("key \"a.b\" cannot name a sample"),
            "{error}"
        );
        assert_eq!(
            sink.write(item("x", None)).unwrap_err().to_string(),
            "no field `label`"
        );
        sink.write(item("y", Some(2))).unwrap();
        sink.finish().unwrap();
        let names: Vec<String> = members(&dir.path().join("s0.tar"))
            .into_iter()
            .map(|m| m.0)
            .collect();
        assert_eq!(names, ["y.cls"]);
    }

    #[test]
    fn written_shards_read_back_with_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = sink_of(
            "path = \"t-%d.tar\"\nmax_items = 3\nfields = { label = \"cls\" }",
            dir.path(),
        );
        for n in 0..7 {
            let mut item = Item::with_field("label", n);
            item.payload = Payload::Tensor(crate::item::Tensor {
                shape: vec![2],
                data: vec![n as f32, -1.0],
            });
            sink.write(item).unwrap();
        }
        sink.finish().unwrap();
        let source = crate::find_kind("webdataset", OpKind::Source).unwrap();
        let items = crate::testing::read_source(
            source,
            &crate::testing::params(source, "path = \"t-*.tar\"\nshards_at_once = 1", dir.path()),
        );
        let items: Vec<Item> = items.into_iter().map(Result::unwrap).collect();
        assert_eq!(items.len(), 7);
        for (n, item) in items.iter().enumerate() {
            assert_eq!(item.get("key").unwrap(), &format!("{n:09}"));
            assert_eq!(item.get("cls").unwrap(), n);
            assert_eq!(
                item.payload,
                Payload::Tensor(crate::item::Tensor {
                    shape: vec![2],
                    data: vec![n as f32, -1.0]
                })
            );
        }
    }
}
