//! `jsonl`: every item as a line of JSON in a file, optionally compressed.
//! The file is written as `<path>.partial` and renamed to `path` when the
//! run finishes (see `staged`).
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, Item, OpKind, Params};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let params = Params::new(toml::from_str(r#"path = "out/a.jsonl""#).unwrap(), dir.path());
//! let op = baton_ops::find_kind("jsonl", OpKind::Sink).unwrap();
//! let BuiltOp::Sink(make) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut sink = make().unwrap();
//! sink.write(Item::with_field("n", 1)).unwrap();
//! sink.finish().unwrap();
//! assert_eq!(std::fs::read_to_string(dir.path().join("out/a.jsonl")).unwrap(), "{\"n\":1}\n");
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use super::error::SinkError;
use super::sink;
use super::staged::Staged;
use crate::codec::{Codec, Encoder};
use crate::item::Item;
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef, ParamType,
};
use crate::warnings::StageWarnings;
use baton_engine::{BoxError, Sink};
use serde::{Deserialize, Serialize};

pub(crate) const DEF: OpDef = OpDef {
    name: "jsonl",
    kind: OpKind::Sink,
    summary: "writes every item as a line of JSON to a file (made with its folders; replaced when the run finishes, `<path>.partial` until then)",
    params: &[
        ParamDef::required("path", ParamType::Str, "the file, relative to the pipeline file")
            .output(),
        ParamDef::optional(
            "compress",
            ParamType::Str,
            "\"gzip\" or \"zstd\"; by default the path's extension decides (.gz, .zst), else none",
        ),
    ],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<JsonlSinkConfig>,
};

/// The parameters of the `jsonl` sink: every item as a line of JSON in a
/// file, optionally compressed, written as `<path>.partial` and renamed to
/// `path` when the run finishes.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, Codec, JsonlSinkConfig, OpConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let dir = tempfile::tempdir().unwrap();
/// let config = JsonlSinkConfig { path: "out/a.jsonl.gz".into(), compress: Some(Codec::Gzip) };
/// let BuiltOp::Sink(make) = config.build(&BuildContext::new(dir.path())).unwrap() else { unreachable!() };
/// let mut sink = make().unwrap();
/// sink.write(Item::with_field("n", 1)).unwrap();
/// sink.finish().unwrap();
/// let packed = std::fs::read(dir.path().join("out/a.jsonl.gz")).unwrap();
/// assert_eq!(&packed[..2], [0x1f, 0x8b]); // gzip's magic number
///
/// // Without `compress`, the extension decides; a codec it does not know is refused.
/// let config: JsonlSinkConfig = serde_json::from_str(r#"{"path": "a.jsonl.zst"}"#).unwrap();
/// assert_eq!(config.compress, None);
/// assert!(serde_json::from_str::<JsonlSinkConfig>(r#"{"path": "a", "compress": "xz"}"#).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlSinkConfig {
    /// The file, relative to the pipeline file.
    pub path: PathBuf,
    /// "gzip" or "zstd"; by default the path's extension decides (.gz,
    /// .zst), else none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress: Option<Codec>,
}

impl OpConfig for JsonlSinkConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let path = context.path(&self.path);
        let codec = self.compress.or_else(|| Codec::from_extension(&path));
        let warnings = context.warnings().clone();
        Ok(sink(move || JsonlFile::create(path, codec, &warnings)))
    }
}

/// The sink.
#[derive(Debug)]
struct JsonlFile {
    file: Staged,
    /// `None` once finished.
    out: Option<Encoder<BufWriter<File>>>,
}

impl JsonlFile {
    fn create(
        path: PathBuf,
        codec: Option<Codec>,
        warnings: &StageWarnings,
    ) -> Result<Self, SinkError> {
        let (file, out) = Staged::create(path, warnings)?;
        let out = match codec {
            None => Encoder::Plain(out),
            Some(codec) => codec
                .encoder(out, None)
                .map_err(|e| Self::error(&file, e))?,
        };
        Ok(Self {
            file,
            out: Some(out),
        })
    }

    fn error(file: &Staged, error: std::io::Error) -> SinkError {
        SinkError::File {
            path: file.written().display().to_string(),
            error,
        }
    }
}

impl Sink<Item> for JsonlFile {
    fn write(&mut self, item: Item) -> Result<(), BoxError> {
        let Some(out) = self.out.as_mut() else {
            let path = self.file.written().display();
            return Err(format!("{path}: written after it was finished").into());
        };
        if let crate::item::Payload::Records(batch) = &item.payload {
            super::write_json_rows(batch, out).map_err(|e| Self::error(&self.file, e))?;
            return Ok(());
        }
        let mut line = serde_json::to_vec(&item.to_json())?;
        line.push(b'\n');
        out.write_all(&line)
            .map_err(|e| Self::error(&self.file, e))?;
        Ok(())
    }

    /// A plain file gets what is buffered after every chunk, so that what
    /// has been written survives a crash; a compressed one is left whole
    /// (a flush per chunk would cost it its compression).
    fn flush(&mut self) -> Result<(), BoxError> {
        if let Some(Encoder::Plain(out)) = self.out.as_mut() {
            out.flush().map_err(|e| Self::error(&self.file, e))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        if let Some(out) = self.out.take() {
            // Closed before it is renamed: every byte is in the file.
            out.finish()
                .and_then(|mut file| file.flush())
                .map_err(|e| Self::error(&self.file, e))?;
            self.file.commit()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{build_error, params, run_sink};
    use serde_json::json;

    fn items() -> Vec<Item> {
        vec![
            Item::record(json!({"a": 1})),
            Item::record(json!({"b": "x"})),
        ]
    }

    #[test]
    fn writes_json_lines_making_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let errors = run_sink(
            &DEF,
            &params(&DEF, "path = \"out/sub/x.jsonl\"", dir.path()),
            items(),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let text = std::fs::read_to_string(dir.path().join("out/sub/x.jsonl")).unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"b\":\"x\"}\n");
    }

    #[test]
    #[cfg(feature = "zstd")]
    fn writes_gzip_and_zstd_that_decompress_to_the_lines() {
        let dir = tempfile::tempdir().unwrap();
        for (codec, name) in [(Codec::Gzip, "x.jsonl.gz"), (Codec::Zstd, "x.jsonl.zst")] {
            let toml = format!("path = \"{name}\"\ncompress = \"{codec}\"");
            let errors = run_sink(&DEF, &params(&DEF, &toml, dir.path()), items());
            assert!(errors.is_empty(), "{errors:?}");
            let packed = std::fs::read(dir.path().join(name)).unwrap();
            let text = codec.decompress(&packed).unwrap();
            assert_eq!(text, b"{\"a\":1}\n{\"b\":\"x\"}\n", "{codec}");
        }
    }

    #[test]
    #[cfg(feature = "zstd")]
    fn the_extension_chooses_the_codec_when_none_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let errors = run_sink(
            &DEF,
            &params(&DEF, "path = \"x.jsonl.zst\"", dir.path()),
            items(),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let packed = std::fs::read(dir.path().join("x.jsonl.zst")).unwrap();
        assert_eq!(
            Codec::Zstd.decompress(&packed).unwrap(),
            b"{\"a\":1}\n{\"b\":\"x\"}\n"
        );
    }

    #[test]
    fn an_unknown_codec_is_named() {
        let error = build_error(
            &DEF,
            &params(&DEF, "path = \"x\"\ncompress = \"xz\"", ".".as_ref()),
        );
        assert_eq!(error.param.as_deref(), Some("compress"));
    }

    #[test]
    fn a_sink_dropped_unfinished_leaves_the_previous_file_and_the_partial_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.jsonl"), "previous\n").unwrap();
        let BuiltOp::Sink(make) =
            (DEF.build)(&params(&DEF, "path = \"x.jsonl\"", dir.path())).unwrap()
        else {
            panic!("not a sink")
        };
        let mut sink = make().unwrap();
        sink.write(Item::record(json!({"a": 1}))).unwrap();
        drop(sink); // what the engine does when the run fails or is aborted
        assert_eq!(
            std::fs::read_to_string(dir.path().join("x.jsonl")).unwrap(),
            "previous\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("x.jsonl.partial")).unwrap(),
            "{\"a\":1}\n"
        );
    }

    #[test]
    fn a_file_that_cannot_be_made_names_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("taken"), "a file, not a folder").unwrap();
        let built = (DEF.build)(&params(&DEF, "path = \"taken/x.jsonl\"", dir.path())).unwrap();
        let BuiltOp::Sink(factory) = built else {
            panic!("not a sink")
        };
        let message = factory().err().unwrap().to_string();
        assert!(
            message.starts_with(&dir.path().join("taken").display().to_string()),
            "{message}"
        );
    }
}
