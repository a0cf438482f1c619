//! `lines`: the lines of text files as chunks of records in columns
//! (`line`, `path`, `line_no`); gzip and zstd read transparently.
//!
//! The source only reads, decompresses and cuts the files into blocks of
//! whole lines; the stage `NAME.parse` after it makes the blocks into
//! records in parallel. `\n` and `\r\n` ends are removed, and a
//! byte-order mark at the start of a file. A line that is not UTF-8 fails
//! its block, named by file and line.
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, OpKind, Params};
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("a.log"), "first\nsecond\n").unwrap();
//! let params = Params::new(toml::from_str(r#"path = "*.log""#).unwrap(), dir.path());
//! let op = baton_ops::find_kind("lines", OpKind::Source).unwrap();
//! let BuiltOp::Source(source) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut parse = source.parse.unwrap().replica().unwrap();
//! let mut records = Vec::new();
//! for block in source.items {
//!     parse.process(block.unwrap(), &mut records).unwrap();
//! }
//! let rows: Vec<_> = records.iter().flat_map(|chunk| chunk.rows()).collect();
//! assert_eq!(rows[1].get("line").unwrap(), "second");
//! assert_eq!(rows[1].get("line_no").unwrap(), 2);
//! ```

use std::sync::Arc;

use baton_engine::BoxError;
use baton_records::{Boundary, RecordBatch, Rejected, TextLines};

use serde::{Deserialize, Serialize};

use super::blocks::{
    default_block_bytes, default_files_at_once, item_block, plain_file_blocks, FilesRead, Parse,
    ParseBlock, FILES_AT_ONCE,
};
use crate::item::Item;
use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltSource, BuiltStage, Modes, OpConfig, OpDef, OpError,
    OpKind, ParamDef, ParamType, Paths,
};

pub(crate) const DEF: OpDef = OpDef {
    name: "lines",
    kind: OpKind::Source,
    summary: "the lines of text files as records {line, path, line_no} in columns; .gz and .zst files are decompressed; made into records in parallel by the stage NAME.parse",
    params: &[
        ParamDef::required(
            "path",
            ParamType::Paths,
            "the files: a path or a glob, or an array of them, relative to the pipeline file (`logs/*.log.gz`)",
        )
        .input(),
        ParamDef::with_default(
            "block_bytes",
            ParamType::Int,
            "1048576",
            "about how many bytes of lines each chunk holds (a file's lines never share a chunk with another file's)",
        )
        .between(1, 1 << 30),
        FILES_AT_ONCE,
    ],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<LinesConfig>,
};

/// The parameters of `lines`: the lines of text files as records
/// `{line, path, line_no}` in columns, made into records in parallel by
/// the stage `NAME.parse`.
///
/// # Examples
///
/// ```
/// use baton_engine::Stage;
/// use baton_ops::config::{BuildContext, LinesConfig, OpConfig};
/// use baton_ops::BuiltOp;
///
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.log"), "first\r\nsecond\n").unwrap();
/// let config = LinesConfig { path: "*.log".into(), block_bytes: 1 << 20, files_at_once: 4 };
/// let BuiltOp::Source(source) = config.build(&BuildContext::new(dir.path())).unwrap() else { unreachable!() };
/// let mut parse = source.parse.unwrap().replica().unwrap();
/// let mut records = Vec::new();
/// for block in source.items {
///     parse.process(block.unwrap(), &mut records).unwrap();
/// }
/// let rows: Vec<_> = records.iter().flat_map(|chunk| chunk.rows()).collect();
/// assert_eq!(rows[0].get("line").unwrap(), "first");
/// assert_eq!(rows[1].get("line_no").unwrap(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinesConfig {
    /// The files: a path or a glob, or an array of them, relative to the
    /// pipeline file (`logs/*.log.gz`).
    pub path: Paths,
    /// About how many bytes of lines each chunk holds (a file's lines never
    /// share a chunk with another file's).
    #[serde(default = "default_block_bytes")]
    pub block_bytes: usize,
    /// How many files are read (and decompressed) at once, each on a thread
    /// of its own, ahead of the parse; records still come in file order.
    #[serde(default = "default_files_at_once")]
    pub files_at_once: usize,
}

impl OpConfig for LinesConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let files = self.path.files("path", context)?;
        let block_bytes = super::positive("block_bytes", self.block_bytes)?;
        let files_read = Arc::new(FilesRead::default());
        let parse = {
            let files = Arc::clone(&files_read);
            BuiltStage::record_replicas(move || {
                Ok(Parse(ParseLines {
                    files: Arc::clone(&files),
                }))
            })
        };
        let items = plain_file_blocks(
            files,
            Boundary::Lines,
            block_bytes,
            self.files_at_once,
            files_read,
        );
        Ok(BuiltOp::Source(BuiltSource {
            items: Box::new(items),
            len: None,
            streaming: false,
            parse: Some(parse),
        }))
    }
}

/// The parse stage: a block of text into a chunk of line records.
#[derive(Debug)]
struct ParseLines {
    files: Arc<FilesRead<()>>,
}

impl ParseBlock for ParseLines {
    fn parse_block(&mut self, item: Item) -> Result<(RecordBatch, Vec<Rejected>), BoxError> {
        let (file, block) = item_block(item, "lines")?;
        let (name, ()) = self
            .files
            .get(file)
            .ok_or("a block of a file the source has not read")?;
        Ok(TextLines::default().parse_rejecting(&block, &name)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;
    use crate::testing::{params, read_source};

    #[test]
    #[cfg(feature = "zstd")]
    fn reads_plain_gzip_and_zstd_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.log"), "one\ntwo\n").unwrap();
        let gz = Codec::Gzip.compress(b"three\r\nfour", None).unwrap();
        std::fs::write(dir.path().join("b.log.gz"), gz).unwrap();
        let zst = Codec::Zstd.compress(b"five\n", None).unwrap();
        std::fs::write(dir.path().join("c.log.zst"), zst).unwrap();

        let items = read_source(&DEF, &params(&DEF, "path = \"*.log*\"", dir.path()));
        let lines: Vec<(String, u64)> = items
            .iter()
            .map(|item| {
                let item = item.as_ref().unwrap();
                (
                    item.get("line").unwrap().as_str().unwrap().to_string(),
                    item.get("line_no").unwrap().as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            vec![
                ("one".into(), 1),
                ("two".into(), 2),
                ("three".into(), 1),
                ("four".into(), 2),
                ("five".into(), 1)
            ]
        );
        let gz_path = dir.path().join("b.log.gz").display().to_string();
        assert_eq!(
            items[2].as_ref().unwrap().get("path").unwrap(),
            &serde_json::json!(gz_path)
        );
    }

    #[test]
    fn a_corrupt_compressed_file_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let text = (1..=2000)
            .map(|i| format!("line {i}\n"))
            .collect::<String>();
        let mut gz = Codec::Gzip.compress(text.as_bytes(), None).unwrap();
        gz.truncate(gz.len() / 2);
        std::fs::write(dir.path().join("cut.gz"), gz).unwrap();

        let items = read_source(
            &DEF,
            &params(&DEF, "path = \"cut.gz\"\nblock_bytes = 64", dir.path()),
        );
        let good = items.iter().take_while(|i| i.is_ok()).count();
        assert!(good > 0 && good < 2000, "{good} lines read");
        assert_eq!(items.len(), good + 1, "reading stops at the error");
        let message = items[good].as_ref().unwrap_err();
        let at = format!("{}:{}: ", dir.path().join("cut.gz").display(), good + 1);
        assert!(message.starts_with(&at), "{message}");
    }

    #[test]
    fn a_block_size_of_zero_is_refused_by_the_build_itself() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.log"), "x\n").unwrap();
        let config = LinesConfig {
            path: "a.log".into(),
            block_bytes: 0,
            files_at_once: 4,
        };
        let Err(error) = config.build(&BuildContext::new(dir.path())) else {
            panic!("built with block_bytes = 0")
        };
        assert_eq!(error.param.as_deref(), Some("block_bytes"));
    }
}
