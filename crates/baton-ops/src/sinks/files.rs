//! `files`: every item's bytes payload (or its JSON) as a file of its own
//! in a folder, named by a field. (The parameter is `field`, as in the
//! record stages: `name` is every stage's own name in a pipeline file.)
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, Item, OpKind, Params, Payload};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let params = Params::new(toml::from_str("path = \"out\"\nfield = \"file\"").unwrap(), dir.path());
//! let op = baton_ops::find_kind("files", OpKind::Sink).unwrap();
//! let BuiltOp::Sink(make) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut sink = make().unwrap();
//! let item = Item { payload: Payload::Bytes(b"hi".to_vec()), ..Item::with_field("file", "a.txt") };
//! sink.write(item).unwrap();
//! assert!(sink.write(Item::with_field("file", "../b.txt")).is_err());
//! assert_eq!(std::fs::read(dir.path().join("out/a.txt")).unwrap(), b"hi");
//! ```

use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::error::SinkError;
use super::sink;
use crate::item::{Item, Payload};
use crate::registry::{BuiltOp, Modes, OpDef, OpError, OpKind, ParamDef, ParamType, Params};
use baton_engine::{BoxError, Sink};

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
            "the field holding each file's name, relative to the folder (`a/b.png` makes `a/`; `..` is refused)",
        ),
    ],
    modes: Modes::SERIAL_BLOCKING,
    build,
};

fn build(params: &Params) -> Result<BuiltOp, OpError> {
    let folder = Params::need("path", params.path("path")?)?;
    let field = Params::need("field", params.str("field")?)?.to_string();
    Ok(sink(move || {
        std::fs::create_dir_all(&folder).map_err(|error| SinkError::File {
            path: folder.display().to_string(),
            error,
        })?;
        Ok(Folder { folder, field })
    }))
}

/// The sink.
#[derive(Debug)]
struct Folder {
    folder: PathBuf,
    /// The field naming each file.
    field: String,
}

impl Folder {
    /// The file an item goes to: its name must stay inside the folder.
    fn target(&self, item: &Item) -> Result<PathBuf, SinkError> {
        let bad = |name: &Value, why| SinkError::BadName {
            field: self.field.clone(),
            name: name.to_string(),
            why,
        };
        let name = match item.get(&self.field) {
            None => {
                return Err(SinkError::MissingField {
                    field: self.field.clone(),
                })
            }
            Some(Value::String(name)) => name.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => return Err(bad(other, "is not a file name")),
        };
        let relative = Path::new(&name);
        let mut parts = 0;
        for part in relative.components() {
            match part {
                Component::Normal(_) => parts += 1,
                Component::CurDir => {}
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                    return Err(bad(&Value::String(name.clone()), "would leave the folder"))
                }
            }
        }
        if parts == 0 {
            return Err(bad(&Value::String(name.clone()), "names no file"));
        }
        Ok(self.folder.join(relative))
    }
}

impl Sink<Item> for Folder {
    fn write(&mut self, item: Item) -> Result<(), BoxError> {
        let target = self.target(&item)?;
        let file_error = |error| SinkError::File {
            path: target.display().to_string(),
            error,
        };
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
        if let Some(parent) = target.parent().filter(|p| *p != self.folder) {
            std::fs::create_dir_all(parent).map_err(file_error)?;
        }
        std::fs::write(&target, bytes).map_err(file_error)?;
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
}
