//! `webdataset`: the samples of WebDataset-style tar shards, many shards
//! read at once and their samples interleaved, as input pipelines read
//! sharded datasets (tf.data's `interleave`, WebDataset's shard lists).
//!
//! A shard is a tar file; a sample is the run of consecutive members that
//! share a key: the member's path up to the first `.` of its file name
//! (`train/0042.png` and `train/0042.cls` are the sample `train/0042`, with
//! the extensions `png` and `cls`), as WebDataset writes and reads them.
//! Each sample becomes an item with the fields `key` and `shard`, plus:
//!
//! - text members: `cls`, `cls2`, `index` and `id` as an integer (text if
//!   not one), `txt` as text, each in the field named by its extension;
//!   `json` holding an object gives its fields (else the field `json`);
//! - the payload: the member whose extension `payload` names, or else the
//!   sample's one member of another extension; `npy` becomes a tensor,
//!   anything else stays bytes (`image_decode` decodes `png` and `jpg`).
//!
//! `shards_at_once` shards are read at a time, each on a thread of its own,
//! and their samples taken in turn, one from each (when a shard ends, the
//! next one takes its place): the order depends only on the shards, so it is
//! the same on every run. Errors name the shard and the byte of the member
//! at fault.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, OpKind, Params, Payload};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let mut tar = tar::Builder::new(Vec::new());
//! for (name, data) in [("s1.cls", &b"3"[..]), ("s1.png", b"\x89PNG..."), ("s2.cls", b"5"), ("s2.png", b"\x89PNG...")] {
//!     let mut header = tar::Header::new_gnu();
//!     header.set_size(data.len() as u64);
//!     header.set_mode(0o644);
//!     tar.append_data(&mut header, name, data).unwrap();
//! }
//! std::fs::write(dir.path().join("shard-0.tar"), tar.into_inner().unwrap()).unwrap();
//! let params = Params::new(toml::from_str(r#"path = "shard-*.tar""#).unwrap(), dir.path());
//! let op = baton_ops::find_kind("webdataset", OpKind::Source).unwrap();
//! let BuiltOp::Source(source) = (op.build)(&params).unwrap() else { unreachable!() };
//! let samples: Vec<_> = source.items.map(Result::unwrap).collect();
//! assert_eq!(samples[1].get("key").unwrap(), "s2");
//! assert_eq!(samples[1].get("cls").unwrap(), 5);
//! assert_eq!(samples[1].payload, Payload::Bytes(b"\x89PNG...".to_vec()));
//! ```

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use baton_engine::BoxError;
use crossbeam_channel::{bounded, Receiver};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::SourceError;
use super::files::{shard_and_order, FileOrder, Shard};
use super::text::open;
use crate::item::{Item, Payload, Tensor};
use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltSource, Modes, OpConfig, OpDef, OpError, OpKind,
    ParamDef, ParamType, Paths, Seed,
};

pub(crate) const DEF: OpDef = OpDef {
    name: "webdataset",
    kind: OpKind::Source,
    summary: "the samples of WebDataset tar shards (members sharing a key), as {key, shard, cls, txt, ...} with one member as the payload; several shards read at once, their samples interleaved",
    params: &[
        ParamDef::required(
            "path",
            ParamType::Paths,
            "a glob of the shards, relative to the pipeline file (`shards/train-*.tar`); .tar.gz and .tar.zst are decompressed",
        )
        .input(),
        ParamDef::with_default(
            "shards_at_once",
            ParamType::Int,
            "4",
            "how many shards are read at once, each on a thread of its own, their samples taken in turn",
        )
        .between(1, 256),
        ParamDef::optional(
            "payload",
            ParamType::Str,
            "the extension of the member that becomes the payload (`png`, `jpg`, `npy`: a tensor); by default the sample's one member that is not text",
        ),
        ParamDef::with_default(
            "order",
            ParamType::Str,
            "\"sorted\"",
            "the order shards are taken in: \"sorted\" by path, or \"shuffled\" (the same for the same `seed`)",
        ),
        ParamDef::with_default("seed", ParamType::Int, "0", "the seed of a shuffled order"),
        ParamDef::optional(
            "shard",
            ParamType::Str,
            "\"i/n\": only the shards whose index in the sorted list is i modulo n (one of n workers)",
        ),
    ],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<WebdatasetSourceConfig>,
};

/// Members read as text into a field named by their extension.
const TEXT: &[&str] = &["cls", "cls2", "index", "id", "txt", "json"];

/// Samples each shard's reader may hold ready.
const SAMPLES_AHEAD: usize = 16;

/// The parameters of the source `webdataset`: the samples of WebDataset
/// tar shards, several shards read at once and their samples interleaved.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, FileOrder, OpConfig, Seed, WebdatasetSourceConfig};
/// use baton_ops::{BuiltOp, Payload};
///
/// let dir = tempfile::tempdir().unwrap();
/// let mut tar = tar::Builder::new(Vec::new());
/// for (name, data) in [("s1.cls", &b"3"[..]), ("s1.txt", b"a cat"), ("s1.png", b"\x89PNG...")] {
///     let mut header = tar::Header::new_gnu();
///     header.set_size(data.len() as u64);
///     header.set_mode(0o644);
///     tar.append_data(&mut header, name, data).unwrap();
/// }
/// std::fs::write(dir.path().join("train-0.tar"), tar.into_inner().unwrap()).unwrap();
/// let config = WebdatasetSourceConfig {
///     path: "train-*.tar".into(),
///     shards_at_once: 4,
///     payload: Some("png".into()),
///     order: FileOrder::Sorted,
///     seed: Seed(0),
///     shard: None,
/// };
/// let BuiltOp::Source(source) = config.build(&BuildContext::new(dir.path())).unwrap() else { unreachable!() };
/// let samples: Vec<_> = source.items.map(Result::unwrap).collect();
/// assert_eq!(samples.len(), 1);
/// assert_eq!(samples[0].get("cls").unwrap(), 3);
/// assert_eq!(samples[0].get("txt").unwrap(), "a cat");
/// assert_eq!(samples[0].payload, Payload::Bytes(b"\x89PNG...".to_vec()));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebdatasetSourceConfig {
    /// The shards: a path or a glob, or an array of them, relative to the
    /// pipeline file (`shards/train-*.tar`); .tar.gz and .tar.zst are
    /// decompressed.
    pub path: Paths,
    /// How many shards are read at once, each on a thread of its own,
    /// their samples taken in turn.
    #[serde(default = "four")]
    pub shards_at_once: usize,
    /// The extension of the member that becomes the payload (`png`, `jpg`,
    /// `npy`: a tensor); by default the sample's one member that is not
    /// text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// The order shards are taken in: sorted by path, or shuffled (the
    /// same for the same `seed`).
    #[serde(default)]
    pub order: FileOrder,
    /// The seed of a shuffled order.
    #[serde(default)]
    pub seed: Seed,
    /// `"i/n"`: only the shards whose index in the sorted list is i modulo
    /// n (one of n workers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

fn four() -> usize {
    4
}

impl OpConfig for WebdatasetSourceConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let shards = shard_and_order(
            self.path.files("path", context)?,
            self.order,
            self.seed,
            self.shard,
        );
        let at_once = self.shards_at_once.max(1);
        let payload = self.payload.clone();
        if let Some(ext) = &payload {
            if ext.is_empty() || ext.starts_with('.') {
                return Err(OpError::param(
                    "payload",
                    format!("an extension without its dot, like \"png\", not {ext:?}"),
                ));
            }
        }
        Ok(BuiltOp::Source(BuiltSource {
            items: Box::new(Interleave {
                waiting: shards.into(),
                open: Vec::new(),
                at_once,
                turn: 0,
                payload,
            }),
            len: None,
            streaming: false,
            parse: None,
        }))
    }
}

/// The samples of many shards, `at_once` read at a time and taken in turn.
struct Interleave {
    /// Shards not opened yet, in the order they are taken.
    waiting: VecDeque<PathBuf>,
    open: Vec<ShardReader>,
    at_once: usize,
    /// The open shard whose sample comes next.
    turn: usize,
    payload: Option<String>,
}

/// A thread reading one shard's samples.
struct ShardReader {
    samples: Receiver<Result<Item, BoxError>>,
    thread: Option<JoinHandle<()>>,
}

impl ShardReader {
    fn start(path: PathBuf, payload: Option<String>) -> Self {
        let (send, samples) = bounded(SAMPLES_AHEAD);
        let thread = std::thread::Builder::new()
            .name("baton-webdataset".into())
            .spawn(move || {
                // A send fails once the samples are no longer wanted.
                let _ = read_shard(&path, payload.as_deref(), &mut |sample| {
                    send.send(sample).is_ok()
                });
            });
        match thread {
            Ok(thread) => Self {
                samples,
                thread: Some(thread),
            },
            Err(error) => {
                let (send, samples) = bounded(1);
                let _ = send.send(Err(format!("cannot start a reader thread: {error}").into()));
                Self {
                    samples,
                    thread: None,
                }
            }
        }
    }
}

impl Drop for Interleave {
    fn drop(&mut self) {
        for reader in self.open.drain(..) {
            drop(reader.samples);
            if let Some(thread) = reader.thread {
                let _ = thread.join();
            }
        }
    }
}

impl Iterator for Interleave {
    type Item = Result<Item, BoxError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            while self.open.len() < self.at_once {
                let Some(path) = self.waiting.pop_front() else {
                    break;
                };
                self.open
                    .push(ShardReader::start(path, self.payload.clone()));
            }
            if self.open.is_empty() {
                return None;
            }
            self.turn %= self.open.len();
            match self.open[self.turn].samples.recv() {
                Ok(sample) => {
                    self.turn += 1;
                    return Some(sample);
                }
                // The shard has ended: the next one takes its place in turn.
                Err(_) => {
                    let ended = match self.waiting.pop_front() {
                        Some(path) => std::mem::replace(
                            &mut self.open[self.turn],
                            ShardReader::start(path, self.payload.clone()),
                        ),
                        None => self.open.remove(self.turn),
                    };
                    if let Some(thread) = ended.thread {
                        let _ = thread.join();
                    }
                }
            }
        }
    }
}

/// A member's path split as WebDataset splits it: the key (the path up to
/// the first `.` of the file name) and the extension (the rest).
pub(crate) fn split_member(path: &str) -> Option<(&str, &str)> {
    let name_at = path.rfind('/').map_or(0, |at| at + 1);
    let dot = path[name_at..].find('.')? + name_at;
    Some((&path[..dot], &path[dot + 1..]))
}

/// One sample's members so far.
#[derive(Default)]
struct Sample {
    key: String,
    /// Where its first member's header starts.
    at: u64,
    members: Vec<(String, Vec<u8>)>,
}

/// Reads the samples of the shard at `path`, giving each to `give` until it
/// says stop.
fn read_shard(
    path: &Path,
    payload: Option<&str>,
    give: &mut dyn FnMut(Result<Item, BoxError>) -> bool,
) -> Result<(), ()> {
    let name = path.display().to_string();
    let reader = match open(path) {
        Ok(reader) => reader,
        Err(error) => {
            give(Err(error.into()));
            return Err(());
        }
    };
    let mut archive = tar::Archive::new(reader);
    let at = |offset: u64, message: String| -> BoxError {
        SourceError::At {
            path: name.clone(),
            offset,
            message,
        }
        .into()
    };
    let entries = match archive.entries() {
        Ok(entries) => entries,
        Err(error) => {
            give(Err(at(0, format!("not a tar file: {error}"))));
            return Err(());
        }
    };
    let mut sample = Sample::default();
    let mut last_end = 0u64;
    for entry in entries {
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                give(Err(at(
                    last_end,
                    format!("cannot read the member here: {error}"),
                )));
                return Err(());
            }
        };
        let offset = entry.raw_header_position();
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let member = match entry.path() {
            Ok(member) => member.to_string_lossy().into_owned(),
            Err(error) => {
                give(Err(at(
                    offset,
                    format!("a member's name cannot be read: {error}"),
                )));
                return Err(());
            }
        };
        let Some((key, ext)) = split_member(&member) else {
            // No extension: not part of a sample (WebDataset skips it too).
            continue;
        };
        let (key, ext) = (key.to_string(), ext.to_string());
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        if let Err(error) = entry.read_to_end(&mut bytes) {
            give(Err(at(offset, format!("cannot read `{member}`: {error}"))));
            return Err(());
        }
        last_end = entry.raw_file_position() + bytes.len() as u64;
        if key != sample.key && !sample.members.is_empty() {
            let done = std::mem::take(&mut sample);
            if !give(to_item(done, &name, payload).map_err(|m| at(m.0, m.1))) {
                return Ok(());
            }
        }
        if sample.members.is_empty() {
            sample.key = key;
            sample.at = offset;
        }
        sample.members.push((ext, bytes));
    }
    if !sample.members.is_empty() {
        give(to_item(sample, &name, payload).map_err(|m| at(m.0, m.1)));
    }
    Ok(())
}

/// A sample as an item; an error is its byte and message.
fn to_item(sample: Sample, shard: &str, payload: Option<&str>) -> Result<Item, (u64, String)> {
    let fail = |message: String| (sample.at, format!("sample `{}`: {message}", sample.key));
    let mut item = Item::with_field("key", sample.key.as_str());
    item.set("shard", shard);
    let chosen = match payload {
        Some(ext) => {
            if !sample.members.iter().any(|(e, _)| e == ext) {
                let have: Vec<&str> = sample.members.iter().map(|(e, _)| e.as_str()).collect();
                return Err(fail(format!(
                    "no `{ext}` member (it has {})",
                    have.join(", ")
                )));
            }
            Some(ext.to_string())
        }
        None => {
            let binary: Vec<&str> = sample
                .members
                .iter()
                .map(|(e, _)| e.as_str())
                .filter(|e| !TEXT.contains(e))
                .collect();
            match binary.as_slice() {
                [] => None,
                [one] => Some(one.to_string()),
                several => {
                    return Err(fail(format!(
                    "several members could be the payload ({}): set `payload` to the one to read",
                    several.join(", ")
                )))
                }
            }
        }
    };
    for (ext, bytes) in sample.members {
        if Some(&ext) == chosen.as_ref() {
            item.payload = match ext.as_str() {
                "npy" => {
                    Payload::Tensor(npy_tensor(&bytes).map_err(|e| fail(format!("npy: {e}")))?)
                }
                _ => Payload::Bytes(bytes),
            };
            continue;
        }
        if !TEXT.contains(&ext.as_str()) {
            // Another binary member, with `payload` chosen: not read.
            continue;
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| fail(format!("the `{ext}` member is not UTF-8 text")))?;
        match ext.as_str() {
            "json" => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(fields)) => {
                    for (name, value) in fields {
                        if name != "key" && name != "shard" {
                            item.set(&name, value);
                        }
                    }
                }
                Ok(other) => item.set("json", other),
                Err(error) => return Err(fail(format!("the `json` member is not JSON: {error}"))),
            },
            "txt" => item.set("txt", text),
            _ => match text.trim().parse::<i64>() {
                Ok(n) => item.set(&ext, n),
                Err(_) => item.set(&ext, text.trim()),
            },
        }
    }
    Ok(item)
}

/// An `.npy` member as a tensor of f32 (from f32, f64, u8, i32 or i64).
fn npy_tensor(bytes: &[u8]) -> Result<Tensor, String> {
    let npy = || npyz::NpyFile::new(bytes);
    let shape: Vec<usize> = npy()
        .map_err(|e| e.to_string())?
        .shape()
        .iter()
        .map(|d| *d as usize)
        .collect();
    let data = if let Ok(data) = npy().and_then(|f| f.into_vec::<f32>()) {
        data
    } else if let Ok(data) = npy().and_then(|f| f.into_vec::<f64>()) {
        data.into_iter().map(|v| v as f32).collect()
    } else if let Ok(data) = npy().and_then(|f| f.into_vec::<u8>()) {
        data.into_iter().map(f32::from).collect()
    } else if let Ok(data) = npy().and_then(|f| f.into_vec::<i32>()) {
        data.into_iter().map(|v| v as f32).collect()
    } else if let Ok(data) = npy().and_then(|f| f.into_vec::<i64>()) {
        data.into_iter().map(|v| v as f32).collect()
    } else {
        return Err("the values are not f32, f64, u8, i32 or i64".into());
    };
    Ok(Tensor { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{params, read_source};

    /// A tar of `members` (name, bytes).
    fn tar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (name, data) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            tar.append_data(&mut header, name, *data).unwrap();
        }
        tar.into_inner().unwrap()
    }

    fn shard(dir: &Path, name: &str, keys: std::ops::Range<usize>) {
        let names: Vec<(String, String)> = keys
            .map(|k| (format!("{name}/{k:04}"), format!("{k}")))
            .collect();
        let members: Vec<(String, Vec<u8>)> = names
            .iter()
            .flat_map(|(key, n)| {
                [
                    (format!("{key}.cls"), n.clone().into_bytes()),
                    (format!("{key}.bin"), vec![1, 2, 3]),
                ]
            })
            .collect();
        let members: Vec<(&str, &[u8])> = members
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        std::fs::write(dir.join(format!("{name}.tar")), tar(&members)).unwrap();
    }

    fn keys(dir: &Path, toml: &str) -> Vec<String> {
        read_source(&DEF, &params(&DEF, toml, dir))
            .into_iter()
            .map(|i| i.unwrap().get("key").unwrap().as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn members_split_at_the_first_dot_of_the_file_name() {
        assert_eq!(
            split_member("a/b.c/0001.seg.png"),
            Some(("a/b.c/0001", "seg.png"))
        );
        assert_eq!(split_member("0001.cls"), Some(("0001", "cls")));
        assert_eq!(split_member("README"), None);
    }

    #[test]
    fn shards_are_interleaved_in_turn_and_a_finished_one_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        shard(dir.path(), "a", 0..3);
        shard(dir.path(), "b", 10..11);
        shard(dir.path(), "c", 20..22);
        let got = keys(dir.path(), "path = \"*.tar\"\nshards_at_once = 2");
        // a and b in turn; b ends after one, c takes its place.
        assert_eq!(
            got,
            ["a/0000", "b/0010", "a/0001", "c/0020", "a/0002", "c/0021"]
        );
        // The same order on every run; one at a time is file order.
        assert_eq!(
            keys(dir.path(), "path = \"*.tar\"\nshards_at_once = 2"),
            got
        );
        let one = keys(dir.path(), "path = \"*.tar\"\nshards_at_once = 1");
        assert_eq!(
            one,
            ["a/0000", "a/0001", "a/0002", "b/0010", "c/0020", "c/0021"]
        );
        // A shard of the list, for one of two workers.
        let half = keys(dir.path(), "path = \"*.tar\"\nshard = \"1/2\"");
        assert_eq!(half, ["b/0010"]);
    }

    #[test]
    fn text_members_become_fields_and_npy_a_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let mut npy = Vec::new();
        {
            use npyz::WriterBuilder;
            let mut w = npyz::WriteOptions::<f32>::new()
                .default_dtype()
                .shape(&[2, 2])
                .writer(&mut npy)
                .begin_nd()
                .unwrap();
            w.extend([1.0, 2.0, 3.0, 4.0]).unwrap();
            w.finish().unwrap();
        }
        let members: [(&str, &[u8]); 5] = [
            ("x/s.cls", b" 7\n"),
            ("x/s.txt", b"a coat"),
            ("x/s.json", b"{\"w\": 0.5, \"key\": \"ignored\"}"),
            ("x/s.npy", &npy),
            ("x/s.seg.png", b"not read"),
        ];
        std::fs::write(dir.path().join("s.tar"), tar(&members)).unwrap();
        let items = read_source(
            &DEF,
            &params(&DEF, "path = \"s.tar\"\npayload = \"npy\"", dir.path()),
        );
        let item = items[0].as_ref().unwrap();
        assert_eq!(item.get("key").unwrap(), "x/s");
        assert_eq!(item.get("cls").unwrap(), 7);
        assert_eq!(item.get("txt").unwrap(), "a coat");
        assert_eq!(item.get("w").unwrap(), 0.5);
        assert_eq!(
            item.payload,
            Payload::Tensor(Tensor {
                shape: vec![2, 2],
                data: vec![1.0, 2.0, 3.0, 4.0]
            })
        );
        // Without `payload`, two members could be it: the error says so.
        let items = read_source(&DEF, &params(&DEF, "path = \"s.tar\"", dir.path()));
        let error = items[0].as_ref().unwrap_err();
        assert!(
            error.contains(
                "s.tar: byte 0: sample `x/s`: several members could be the payload (npy, seg.png)"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_damaged_shard_is_named_with_the_byte_and_the_samples_before_it_kept() {
        let dir = tempfile::tempdir().unwrap();
        shard(dir.path(), "d", 0..4);
        let mut bytes = std::fs::read(dir.path().join("d.tar")).unwrap();
        // Cut in the middle of the third sample's second member.
        bytes.truncate(512 * 10 + 100);
        std::fs::write(dir.path().join("d.tar"), &bytes).unwrap();
        let items = read_source(&DEF, &params(&DEF, "path = \"d.tar\"", dir.path()));
        let name = dir.path().join("d.tar").display().to_string();
        assert!(items[0].is_ok() && items[1].is_ok(), "{items:?}");
        let error = items.last().unwrap().as_ref().unwrap_err();
        assert!(error.starts_with(&format!("{name}: byte ")), "{error}");
        assert!(error.contains("cannot read"), "{error}");
    }
}
