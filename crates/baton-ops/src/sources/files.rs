//! `files`: the files matching a glob, each as `{path, size}` with its
//! contents as the payload; sorted or shuffled, optionally one shard of them.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, OpKind, Params, Payload};
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("a.txt"), "hello").unwrap();
//! let params = Params::new(toml::from_str(r#"path = "*.txt""#).unwrap(), dir.path());
//! let op = baton_ops::find_kind("files", OpKind::Source).unwrap();
//! let BuiltOp::Source(source) = (op.build)(&params).unwrap() else { unreachable!() };
//! let item = source.items.map(Result::unwrap).next().unwrap();
//! assert_eq!(item.get("size").unwrap(), 5);
//! assert_eq!(item.payload, Payload::Bytes(b"hello".to_vec()));
//! ```

use std::path::PathBuf;

use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::error::SourceError;
use super::paths;
use crate::item::{Item, Payload};
use crate::registry::{
    BuiltOp, BuiltSource, Modes, OpDef, OpError, OpKind, ParamDef, ParamType, Params,
};

pub(crate) const DEF: OpDef = OpDef {
    name: "files",
    kind: OpKind::Source,
    summary: "the files matching a glob, each as {path, size} with its contents as a bytes payload",
    params: &[
        ParamDef::required(
            "path",
            ParamType::Paths,
            "the files: a path or a glob, or an array of them, relative to the pipeline file (`images/**/*.png`)",
        )
        .input(),
        ParamDef::with_default(
            "order",
            ParamType::Str,
            "\"sorted\"",
            "\"sorted\" by path, or \"shuffled\" (the same for the same `seed`)",
        ),
        ParamDef::with_default("seed", ParamType::Int, "0", "the seed of a shuffled order"),
        ParamDef::optional(
            "shard",
            ParamType::Str,
            "\"i/n\": only the files whose index in the sorted list is i modulo n",
        ),
        ParamDef::with_default(
            "read",
            ParamType::Bool,
            "true",
            "read each file into the payload (false: only `path` and `size`)",
        ),
    ],
    modes: Modes::SERIAL_BLOCKING,
    build,
};

/// One of `count` disjoint parts of a list: the entries at `index` modulo `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// Reads `"i/n"`, with `0 <= i < n`.
    pub(crate) fn parse(text: &str) -> Option<Shard> {
        let (index, count) = text.split_once('/')?;
        let shard = Shard {
            index: index.trim().parse().ok()?,
            count: count.trim().parse().ok()?,
        };
        (shard.index < shard.count).then_some(shard)
    }

    /// Whether the entry at `position` is in this shard.
    pub(crate) fn keeps(self, position: usize) -> bool {
        position % self.count == self.index
    }
}

/// `files` (sorted) cut to the shard `shard` names and put in the order
/// `order` and `seed` say: what the sources that take a list of files
/// (`files`, `webdataset`) share.
pub(crate) fn shard_and_order(
    mut files: Vec<PathBuf>,
    params: &Params,
) -> Result<Vec<PathBuf>, OpError> {
    let shuffled = match params.str("order")?.unwrap_or("sorted") {
        "sorted" => false,
        "shuffled" => true,
        other => {
            return Err(OpError::param(
                "order",
                format!("expected \"sorted\" or \"shuffled\", not {other:?}"),
            ))
        }
    };
    let seed = params.seed("seed")?.unwrap_or(0);
    if let Some(text) = params.str("shard")? {
        let shard = Shard::parse(text).ok_or_else(|| {
            OpError::param(
                "shard",
                format!("expected \"i/n\" with 0 <= i < n (like \"0/4\"), not {text:?}"),
            )
        })?;
        // Sharded on the sorted list, so shards are disjoint whatever the seed.
        files = files
            .into_iter()
            .enumerate()
            .filter(|(i, _)| shard.keeps(*i))
            .map(|(_, f)| f)
            .collect();
    }
    if shuffled {
        files.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    }
    Ok(files)
}

fn build(params: &Params) -> Result<BuiltOp, OpError> {
    let files = shard_and_order(paths::matching(params, "path")?, params)?;
    let read = params.bool("read")?.unwrap_or(true);
    let len = files.len() as u64;
    let items = files
        .into_iter()
        .map(move |path| file_item(path, read).map_err(Into::into));
    Ok(BuiltOp::Source(BuiltSource {
        items: Box::new(items),
        len: Some(len),
        streaming: false,
        parse: None,
    }))
}

fn file_item(path: PathBuf, read: bool) -> Result<Item, SourceError> {
    let file_error = |error| SourceError::File {
        path: path.display().to_string(),
        error,
    };
    let (size, payload) = if read {
        let bytes = std::fs::read(&path).map_err(file_error)?;
        (bytes.len() as u64, Payload::Bytes(bytes))
    } else {
        (
            std::fs::metadata(&path).map_err(file_error)?.len(),
            Payload::None,
        )
    };
    let mut item = Item::with_field("path", path.display().to_string());
    item.set("size", size);
    item.payload = payload;
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{build_error, params, read_source};
    use std::path::Path;

    fn folder_of(n: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..n {
            std::fs::write(dir.path().join(format!("f{i:02}.bin")), vec![b'x'; i]).unwrap();
        }
        dir
    }

    fn names(dir: &Path, toml: &str) -> Vec<String> {
        read_source(&DEF, &params(&DEF, toml, dir))
            .into_iter()
            .map(|item| {
                let item = item.unwrap();
                let path = item.get("path").unwrap().as_str().unwrap();
                Path::new(path)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn reads_files_in_sorted_order_with_path_size_and_bytes() {
        let dir = folder_of(3);
        let items = read_source(&DEF, &params(&DEF, "path = \"*.bin\"", dir.path()));
        let items: Vec<Item> = items.into_iter().map(Result::unwrap).collect();
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[2].get("path").unwrap(),
            &serde_json::json!(dir.path().join("f02.bin").display().to_string())
        );
        assert_eq!(items[2].get("size").unwrap(), 2);
        assert_eq!(items[2].payload, Payload::Bytes(b"xx".to_vec()));
    }

    #[test]
    fn read_false_gives_only_fields() {
        let dir = folder_of(3);
        let items = read_source(
            &DEF,
            &params(&DEF, "path = \"*.bin\"\nread = false", dir.path()),
        );
        let last = items.last().unwrap().as_ref().unwrap();
        assert_eq!(last.get("size").unwrap(), 2);
        assert_eq!(last.payload, Payload::None);
    }

    #[test]
    fn the_length_is_known_ahead() {
        let dir = folder_of(5);
        let built = (DEF.build)(&params(
            &DEF,
            "path = \"*.bin\"\nshard = \"1/2\"",
            dir.path(),
        ));
        let Ok(BuiltOp::Source(source)) = built else {
            panic!("not a source")
        };
        assert_eq!(source.len, Some(2));
    }

    #[test]
    fn shards_are_disjoint_and_cover_every_file() {
        let dir = folder_of(10);
        let shards: Vec<Vec<String>> = (0..3)
            .map(|i| names(dir.path(), &format!("path = \"*.bin\"\nshard = \"{i}/3\"")))
            .collect();
        assert_eq!(shards[0], vec!["f00.bin", "f03.bin", "f06.bin", "f09.bin"]);
        assert_eq!(shards[1], vec!["f01.bin", "f04.bin", "f07.bin"]);
        let mut all: Vec<String> = shards.concat();
        all.sort();
        assert_eq!(all, names(dir.path(), "path = \"*.bin\""));
    }

    #[test]
    fn shuffling_is_the_same_for_a_seed_and_differs_between_seeds() {
        let dir = folder_of(20);
        let sorted = names(dir.path(), "path = \"*.bin\"");
        let a = names(
            dir.path(),
            "path = \"*.bin\"\norder = \"shuffled\"\nseed = 7",
        );
        let again = names(
            dir.path(),
            "path = \"*.bin\"\norder = \"shuffled\"\nseed = 7",
        );
        let other = names(
            dir.path(),
            "path = \"*.bin\"\norder = \"shuffled\"\nseed = 8",
        );
        assert_eq!(a, again);
        assert_ne!(a, sorted);
        assert_ne!(a, other);
        let mut back = a.clone();
        back.sort();
        assert_eq!(back, sorted);
    }

    #[test]
    fn a_shuffled_shard_keeps_the_files_of_the_sorted_shard() {
        let dir = folder_of(20);
        let mut shuffled = names(
            dir.path(),
            "path = \"*.bin\"\norder = \"shuffled\"\nseed = 3\nshard = \"2/4\"",
        );
        shuffled.sort();
        assert_eq!(
            shuffled,
            names(dir.path(), "path = \"*.bin\"\nshard = \"2/4\"")
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        let dir = folder_of(2);
        for (toml, param) in [
            ("path = \"*.png\"", "path"),
            ("path = \"[\"", "path"),
            ("path = \"*.bin\"\nshard = \"2/2\"", "shard"),
            ("path = \"*.bin\"\nshard = \"1-2\"", "shard"),
            ("path = \"*.bin\"\nshard = \"0/0\"", "shard"),
            ("path = \"*.bin\"\norder = \"random\"", "order"),
        ] {
            let error = build_error(&DEF, &params(&DEF, toml, dir.path()));
            assert_eq!(error.param.as_deref(), Some(param), "{toml}: {error}");
        }
    }

    #[test]
    fn a_file_gone_before_it_is_read_is_an_error_naming_it() {
        let dir = folder_of(2);
        let built = (DEF.build)(&params(&DEF, "path = \"*.bin\"", dir.path()));
        let Ok(BuiltOp::Source(source)) = built else {
            panic!("not a source")
        };
        std::fs::remove_file(dir.path().join("f01.bin")).unwrap();
        let items: Vec<_> = source.items.collect();
        assert!(items[0].is_ok());
        let message = items[1].as_ref().unwrap_err().to_string();
        assert!(message.contains("f01.bin"), "{message}");
    }
}
