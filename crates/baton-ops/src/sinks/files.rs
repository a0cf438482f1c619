//! `files`: every item's bytes payload (or its JSON) as a file of its own
//! in a folder, named by a field. (The parameter is `field`, as in the
//! record stages: `name` is every stage's own name in a pipeline file.)
//!
//! Every file stays inside the folder: a name that is absolute or climbs
//! out with `..` is refused, and so is one that goes through a symlinked
//! subfolder leading out of it (a symlink within it is followed). Each file
//! is written under a temporary name beside it and renamed when complete,
//! so none is ever half written.
//!
//! Two items of one name in a run would silently leave only the last:
//! `on_conflict` says what happens instead. `"error"` (the default) fails
//! the second item (its stage's `on_error` decides what follows);
//! `"overwrite"` lets the last one win; `"suffix"` writes the second as
//! `a-2.png`, the third as `a-3.png`, and so on. Files left by an earlier
//! run are replaced whatever it says.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, Item, OpKind, Params, Payload};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let params = Params::new(toml::from_str("path = \"out\"\nfield = \"file\"\non_conflict = \"suffix\"").unwrap(), dir.path());
//! let op = baton_ops::find_kind("files", OpKind::Sink).unwrap();
//! let BuiltOp::Sink(make) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut sink = make().unwrap();
//! let item = Item { payload: Payload::Bytes(b"hi".to_vec()), ..Item::with_field("file", "a.txt") };
//! sink.write(item.clone()).unwrap();
//! sink.write(item).unwrap();
//! assert!(sink.write(Item::with_field("file", "../b.txt")).is_err());
//! assert_eq!(std::fs::read(dir.path().join("out/a.txt")).unwrap(), b"hi");
//! assert_eq!(std::fs::read(dir.path().join("out/a-2.txt")).unwrap(), b"hi");
//! ```

use std::collections::HashSet;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::error::SinkError;
use super::sink;
use crate::item::{Item, Payload};
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef, ParamType,
};
use baton_engine::{BoxError, Sink};
use serde::{Deserialize, Serialize};

pub(crate) const DEF: OpDef = OpDef {
    name: "files",
    kind: OpKind::Sink,
    summary: "writes each item's bytes payload (or its JSON, when it has none) to a file in a folder, \
              named by a field",
    params: &[
        ParamDef::required(
            "path",
            ParamType::Str,
            "the folder, relative to the pipeline file (made if missing)",
        )
        .output_folder(),
        ParamDef::required(
            "field",
            ParamType::Str,
            "the field holding each file's name, relative to the folder (`a/b.png` makes `a/`; `..`, absolute names and symlinks out of the folder are refused)",
        ),
        ParamDef::with_default(
            "on_conflict",
            ParamType::Str,
            "\"error\"",
            "a second item of the same name in one run: \"error\" (the item fails), \"overwrite\" (the last wins) or \"suffix\" (`a-2.png`, `a-3.png`, ...)",
        ),
    ],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<FilesSinkConfig>,
};

/// The parameters of the `files` sink: each item's bytes payload (or its
/// JSON, when it has none) as a file of its own in the folder `path`,
/// named by the field `field`.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, FilesSinkConfig, OnConflict, OpConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let dir = tempfile::tempdir().unwrap();
/// let config = FilesSinkConfig { path: "out".into(), field: "file".into(), on_conflict: OnConflict::Suffix };
/// let BuiltOp::Sink(make) = config.build(&BuildContext::new(dir.path())).unwrap() else { unreachable!() };
/// let mut sink = make().unwrap();
/// sink.write(Item::with_field("file", "a.json")).unwrap();
/// sink.write(Item::with_field("file", "a.json")).unwrap();
/// sink.finish().unwrap();
/// assert_eq!(std::fs::read_to_string(dir.path().join("out/a.json")).unwrap(), "{\"file\":\"a.json\"}\n");
/// assert!(dir.path().join("out/a-2.json").exists());
///
/// // By default, a second item of the same name is an error.
/// let config: FilesSinkConfig = serde_json::from_str(r#"{"path": "out", "field": "file"}"#).unwrap();
/// assert_eq!(config.on_conflict, OnConflict::Error);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesSinkConfig {
    /// The folder, relative to the pipeline file (made if missing).
    pub path: PathBuf,
    /// The field holding each file's name, relative to the folder
    /// (`a/b.png` makes `a/`; `..`, absolute names and symlinks out of the
    /// folder are refused).
    pub field: String,
    /// A second item of the same name in one run: "error" (the item
    /// fails), "overwrite" (the last wins) or "suffix" (`a-2.png`,
    /// `a-3.png`, ...).
    #[serde(default)]
    pub on_conflict: OnConflict,
}

/// What the `files` sink does with a second item of a name it has written
/// in this run (files left by an earlier run are replaced whatever it is).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnConflict {
    /// The second item fails (its stage's `on_error` decides what follows).
    #[default]
    Error,
    /// The last item of the name wins.
    Overwrite,
    /// The second is written as `a-2.png`, the third as `a-3.png`, ...
    Suffix,
}

impl OpConfig for FilesSinkConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let folder = context.path(&self.path);
        let field = self.field.clone();
        let on_conflict = self.on_conflict;
        Ok(sink(move || {
            let file_error = |error| SinkError::File {
                path: folder.display().to_string(),
                error,
            };
            std::fs::create_dir_all(&folder).map_err(file_error)?;
            // As the file system sees it, so that where a symlink leads can be
            // compared with it.
            let folder = folder.canonicalize().map_err(file_error)?;
            Ok(Folder {
                folder,
                field,
                on_conflict,
                written: HashSet::new(),
            })
        }))
    }
}

/// The sink.
#[derive(Debug)]
struct Folder {
    /// The folder, symlinks resolved.
    folder: PathBuf,
    /// The field naming each file.
    field: String,
    on_conflict: OnConflict,
    /// The names written in this run, relative to the folder.
    written: HashSet<PathBuf>,
}

impl Folder {
    fn bad(&self, name: &Path, why: &'static str) -> SinkError {
        SinkError::BadName {
            field: self.field.clone(),
            name: Value::String(name.display().to_string()).to_string(),
            why,
        }
    }

    /// The name an item's file gets, relative to the folder: it must stay
    /// inside, and not be an earlier item's unless `on_conflict` allows.
    fn name(&self, item: &Item) -> Result<PathBuf, SinkError> {
        let name = match item.get(&self.field) {
            None => {
                return Err(SinkError::MissingField {
                    field: self.field.clone(),
                })
            }
            Some(Value::String(name)) => name.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                return Err(SinkError::BadName {
                    field: self.field.clone(),
                    name: other.to_string(),
                    why: "is not a file name",
                })
            }
        };
        let mut relative = PathBuf::new();
        for part in Path::new(&name).components() {
            match part {
                Component::Normal(part) => relative.push(part),
                Component::CurDir => {}
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                    return Err(self.bad(Path::new(&name), "would leave the folder"))
                }
            }
        }
        if relative.as_os_str().is_empty() {
            return Err(self.bad(Path::new(&name), "names no file"));
        }
        if !self.written.contains(&relative) {
            return Ok(relative);
        }
        match self.on_conflict {
            OnConflict::Overwrite => Ok(relative),
            OnConflict::Error => Err(self.bad(
                &relative,
                "is the name of an earlier item's file (on_conflict = \"error\")",
            )),
            OnConflict::Suffix => {
                let stem = relative.file_stem().unwrap_or_default().to_string_lossy();
                let extension = relative
                    .extension()
                    .map(|e| format!(".{}", e.to_string_lossy()))
                    .unwrap_or_default();
                Ok((2..)
                    .map(|n| relative.with_file_name(format!("{stem}-{n}{extension}")))
                    .find(|candidate| !self.written.contains(candidate))
                    .unwrap_or(relative))
            }
        }
    }

    /// The folder `relative`'s file goes in, made if missing: each part of
    /// the way must be a folder inside ours, or a symlink leading inside it.
    fn folder_of(&self, relative: &Path) -> Result<PathBuf, SinkError> {
        let mut at = self.folder.clone();
        let Some(parent) = relative.parent() else {
            return Ok(at);
        };
        for part in parent.components() {
            at.push(part);
            let file_error = |error| SinkError::File {
                path: at.display().to_string(),
                error,
            };
            match std::fs::symlink_metadata(&at) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let real = at.canonicalize().map_err(file_error)?;
                    if !real.starts_with(&self.folder) || !real.is_dir() {
                        return Err(self.bad(relative, "goes through a symlink out of the folder"));
                    }
                    at = real;
                }
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Err(file_error(std::io::Error::other("is a file, not a folder"))),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir(&at).map_err(file_error)?;
                }
                Err(error) => return Err(file_error(error)),
            }
        }
        Ok(at)
    }
}

impl Sink<Item> for Folder {
    fn write(&mut self, item: Item) -> Result<(), BoxError> {
        let relative = self.name(&item)?;
        let bytes = match item.payload {
            Payload::Bytes(bytes) => bytes,
            Payload::None => {
                let mut json = serde_json::to_vec(&item.to_json())?;
                json.push(b'\n');
                json
            }
            ref other => {
                return Err(SinkError::Payload {
                    found: other.kind(),
                }
                .into())
            }
        };
        let folder = self.folder_of(&relative)?;
        let target = folder.join(relative.file_name().unwrap_or_default());
        let file_error = |error| SinkError::File {
            path: target.display().to_string(),
            error,
        };
        // Complete before it has its name; a symlink of that name is
        // replaced, not followed.
        let mut file = tempfile::Builder::new()
            .prefix(".")
            .suffix(".partial")
            .tempfile_in(&folder)
            .map_err(file_error)?;
        file.write_all(&bytes).map_err(file_error)?;
        file.persist(&target).map_err(|e| file_error(e.error))?;
        self.written.insert(relative);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{params, run_sink};
    use serde_json::json;

    #[test]
    fn writes_payloads_and_json_to_named_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut blob = Item::with_field("name", "sub/a.bin");
        blob.payload = Payload::Bytes(vec![0, 1, 2]);
        let record = Item::record(json!({"name": 7, "v": true}));
        let errors = run_sink(
            &DEF,
            &params(&DEF, "path = \"out\"\nfield = \"name\"", dir.path()),
            vec![blob, record],
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            std::fs::read(dir.path().join("out/sub/a.bin")).unwrap(),
            [0, 1, 2]
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out/7")).unwrap(),
            "{\"name\":7,\"v\":true}\n"
        );
    }

    #[test]
    fn names_that_leave_the_folder_or_are_missing_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let items = vec![
            Item::with_field("key", "../escape"),
            Item::with_field("key", "/etc/passwd"),
            Item::with_field("key", "a/../../b"),
            Item::with_field("key", "."),
            Item::with_field("other", "x"),
            Item::with_field("key", json!(["x"])),
        ];
        let errors = run_sink(
            &DEF,
            &params(&DEF, "path = \"out\"\nfield = \"key\"", dir.path()),
            items,
        );
        assert_eq!(
            errors,
            vec![
                "field `key`: \"../escape\" would leave the folder",
                "field `key`: \"/etc/passwd\" would leave the folder",
                "field `key`: \"a/../../b\" would leave the folder",
                "field `key`: \".\" names no file",
                "no field `key`",
                "field `key`: [\"x\"] is not a file name",
            ]
        );
        assert!(!dir.path().join("escape").exists());
        assert_eq!(
            std::fs::read_dir(dir.path().join("out")).unwrap().count(),
            0
        );
    }

    #[test]
    fn a_subfolder_that_is_a_symlink_out_of_the_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::create_dir_all(dir.path().join("out/inside")).unwrap();
        std::os::unix::fs::symlink(&outside, dir.path().join("out/away")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("out/inside"), dir.path().join("out/here"))
            .unwrap();
        let items = vec![
            Item::with_field("key", "away/x.txt"),
            Item::with_field("key", "away/deeper/y.txt"),
            Item::with_field("key", "here/z.txt"),
        ];
        let errors = run_sink(
            &DEF,
            &params(&DEF, "path = \"out\"\nfield = \"key\"", dir.path()),
            items,
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors
                .iter()
                .all(|e| e.contains("a symlink out of the folder")),
            "{errors:?}"
        );
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        assert!(
            dir.path().join("out/inside/z.txt").exists(),
            "a symlink within is fine"
        );
    }

    #[test]
    fn two_items_of_one_name_are_an_error_unless_told_otherwise() {
        let items = || {
            ["a.txt", "b", "a.txt", "a.txt"]
                .iter()
                .enumerate()
                .map(|(n, name)| Item::record(json!({"name": name, "n": n})))
                .collect::<Vec<_>>()
        };
        let run = |on_conflict: &str| {
            let dir = tempfile::tempdir().unwrap();
            let toml = format!("path = \"out\"\nfield = \"name\"{on_conflict}");
            let errors = run_sink(&DEF, &params(&DEF, &toml, dir.path()), items());
            let mut files: Vec<(String, String)> = std::fs::read_dir(dir.path().join("out"))
                .unwrap()
                .map(|e| e.unwrap())
                .map(|e| {
                    let text = std::fs::read_to_string(e.path()).unwrap();
                    (e.file_name().to_string_lossy().into_owned(), text)
                })
                .collect();
            files.sort();
            (errors, files)
        };
        let n = |n: usize, name: &str| format!("{{\"n\":{n},\"name\":\"{name}\"}}\n");
        let (errors, files) = run("");
        assert_eq!(
            errors,
            vec![
                "field `name`: \"a.txt\" is the name of an earlier item's file (on_conflict = \"error\")";
                2
            ]
        );
        assert_eq!(
            files,
            [("a.txt".into(), n(0, "a.txt")), ("b".into(), n(1, "b"))]
        );
        let (errors, files) = run("\non_conflict = \"overwrite\"");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            files,
            [("a.txt".into(), n(3, "a.txt")), ("b".into(), n(1, "b"))]
        );
        let (errors, files) = run("\non_conflict = \"suffix\"");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            files,
            [
                ("a-2.txt".into(), n(2, "a.txt")),
                ("a-3.txt".into(), n(3, "a.txt")),
                ("a.txt".into(), n(0, "a.txt")),
                ("b".into(), n(1, "b")),
            ]
        );
    }

    #[test]
    fn an_unknown_on_conflict_is_refused() {
        let toml = "path = \"out\"\nfield = \"name\"\non_conflict = \"merge\"";
        let error = crate::testing::build_error(&DEF, &params(&DEF, toml, ".".as_ref()));
        assert_eq!(error.param.as_deref(), Some("on_conflict"));
    }
}
