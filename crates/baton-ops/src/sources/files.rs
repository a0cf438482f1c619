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

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::error::SourceError;
use crate::item::{Item, Payload};
use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltSource, Modes, OpConfig, OpDef, OpError, OpKind,
    ParamDef, ParamType, Paths, Seed,
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
    build: build_from::<FilesSourceConfig>,
};

/// The parameters of the source `files`: the files matching a glob, each
/// as `{path, size}` with its contents as the payload.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, FileOrder, FilesSourceConfig, OpConfig, Seed};
/// use baton_ops::{BuiltOp, Payload};
///
/// let dir = tempfile::tempdir().unwrap();
/// for name in ["a.txt", "b.txt", "c.txt"] {
///     std::fs::write(dir.path().join(name), name).unwrap();
/// }
/// let config = FilesSourceConfig {
///     path: "*.txt".into(),
///     order: FileOrder::Sorted,
///     seed: Seed(0),
///     shard: Some("1/2".parse().unwrap()),
///     read: true,
/// };
/// let BuiltOp::Source(source) = config.build(&BuildContext::new(dir.path())).unwrap() else { unreachable!() };
/// assert_eq!(source.len, Some(1));
/// let item = source.items.map(Result::unwrap).next().unwrap();
/// assert_eq!(item.get("size").unwrap(), 5);
/// assert_eq!(item.payload, Payload::Bytes(b"b.txt".to_vec()));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesSourceConfig {
    /// The files: a path or a glob, or an array of them, relative to the
    /// pipeline file (`images/**/*.png`).
    pub path: Paths,
    /// Sorted by path, or shuffled (the same for the same `seed`).
    #[serde(default)]
    pub order: FileOrder,
    /// The seed of a shuffled order.
    #[serde(default)]
    pub seed: Seed,
    /// `"i/n"`: only the files whose index in the sorted list is i modulo n.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Read each file into the payload (false: only `path` and `size`).
    #[serde(default = "yes")]
    pub read: bool,
}

fn yes() -> bool {
    true
}

impl OpConfig for FilesSourceConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let files = shard_and_order(
            self.path.files("path", context)?,
            self.order,
            self.seed,
            self.shard,
        );
        let read = self.read;
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
}

/// The order a source takes its files (or shards) in.
///
/// # Examples
///
/// ```
/// use baton_ops::config::FileOrder;
/// let order: FileOrder = serde_json::from_str(r#""shuffled""#).unwrap();
/// assert_eq!(order, FileOrder::Shuffled);
/// assert_eq!(FileOrder::default(), FileOrder::Sorted);
/// assert!(serde_json::from_str::<FileOrder>(r#""random""#).is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileOrder {
    /// Sorted by path.
    #[default]
    Sorted,
    /// Shuffled, the same way for the same seed.
    Shuffled,
}

/// One of `count` disjoint parts of a list of files: the entries whose
/// index in the sorted list is `index` modulo `count`; written `"i/n"`,
/// with `0 <= i < n`.
///
/// # Examples
///
/// ```
/// use baton_ops::config::Shard;
/// let shard: Shard = "1/4".parse().unwrap();
/// assert_eq!(Some(shard), Shard::new(1, 4));
/// assert_eq!(shard.to_string(), "1/4");
/// assert_eq!((shard.index(), shard.count()), (1, 4));
/// assert!(Shard::new(4, 4).is_none());
/// let error = "4/4".parse::<Shard>().unwrap_err();
/// assert_eq!(error.to_string(), r#"expected "i/n" with 0 <= i < n (like "0/4"), not "4/4""#);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Shard {
    index: usize,
    count: usize,
}

/// A shard that is not `"i/n"` with `0 <= i < n`: the text given.
///
/// # Examples
///
/// See [`Shard`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected \"i/n\" with 0 <= i < n (like \"0/4\"), not {0:?}")]
pub struct BadShard(pub String);

impl Shard {
    /// The part `index` of `count`, if `index < count`.
    ///
    /// # Examples
    ///
    /// See [`Shard`].
    pub fn new(index: usize, count: usize) -> Option<Shard> {
        (index < count).then_some(Shard { index, count })
    }

    /// Which part this is, from 0.
    ///
    /// # Examples
    ///
    /// See [`Shard`].
    pub fn index(self) -> usize {
        self.index
    }

    /// How many parts there are.
    ///
    /// # Examples
    ///
    /// See [`Shard`].
    pub fn count(self) -> usize {
        self.count
    }

    /// Whether the entry at `position` is in this shard.
    pub(crate) fn keeps(self, position: usize) -> bool {
        position % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = BadShard;

    fn from_str(text: &str) -> Result<Self, BadShard> {
        let parse = || {
            let (index, count) = text.split_once('/')?;
            Shard::new(index.trim().parse().ok()?, count.trim().parse().ok()?)
        };
        parse().ok_or_else(|| BadShard(text.to_string()))
    }
}

impl TryFrom<String> for Shard {
    type Error = BadShard;

    fn try_from(text: String) -> Result<Self, BadShard> {
        text.parse()
    }
}

impl From<Shard> for String {
    fn from(shard: Shard) -> Self {
        shard.to_string()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// `files` (sorted) cut to `shard` and put in the `order` that `seed`
/// says: what the sources that take a list of files (`files`,
/// `webdataset`) share.
pub(crate) fn shard_and_order(
    mut files: Vec<PathBuf>,
    order: FileOrder,
    seed: Seed,
    shard: Option<Shard>,
) -> Vec<PathBuf> {
    if let Some(shard) = shard {
        // Sharded on the sorted list, so shards are disjoint whatever the seed.
        files = files
            .into_iter()
            .enumerate()
            .filter(|(i, _)| shard.keeps(*i))
            .map(|(_, f)| f)
            .collect();
    }
    if order == FileOrder::Shuffled {
        files.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed.0));
    }
    files
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

    #[test]
    fn the_config_reads_a_stage_s_values_and_writes_them_back() {
        let toml =
            "path = [\"a/*.bin\", \"b.bin\"]\norder = \"shuffled\"\nseed = -1\nshard = \"1/3\"";
        let config: FilesSourceConfig = toml::from_str(toml).unwrap();
        assert_eq!(config.order, FileOrder::Shuffled);
        assert_eq!(config.seed, Seed(u64::MAX));
        assert_eq!(config.shard, Shard::new(1, 3));
        assert!(config.read);
        let written = toml::to_string(&config).unwrap();
        assert_eq!(
            toml::from_str::<FilesSourceConfig>(&written).unwrap(),
            config
        );

        let error = toml::from_str::<FilesSourceConfig>("path = \"x\"\nshard = \"3/3\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("0 <= i < n"), "{error}");
    }
}
