//! `jsonl`: files of one JSON value per line, gzip and zstd read
//! transparently.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, OpKind, Params};
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("a.jsonl"), "{\"n\": 1}\n{\"n\": oops}\n").unwrap();
//! let params = Params::new(toml::from_str(r#"path = "a.jsonl""#).unwrap(), dir.path());
//! let op = baton_ops::find_kind("jsonl", OpKind::Source).unwrap();
//! let BuiltOp::Source(source) = (op.build)(&params).unwrap() else { unreachable!() };
//! let items: Vec<_> = source.items.collect();
//! assert_eq!(items[0].as_ref().unwrap().get("n").unwrap(), 1);
//! let error = items[1].as_ref().unwrap_err().to_string();
//! assert!(error.ends_with("a.jsonl:2: expected value (column 7)"));
//! ```

use super::error::SourceError;
use super::paths;
use super::text::{file_lines, Line};
use crate::item::Item;
use crate::registry::{
    BuiltOp, BuiltSource, Modes, OpDef, OpError, OpKind, ParamDef, ParamType, Params,
};

pub(crate) const DEF: OpDef = OpDef {
    name: "jsonl",
    kind: OpKind::Source,
    summary: "the lines of JSON-lines files, each as a record (a non-object as {\"value\": v}); blank lines are skipped",
    params: &[ParamDef::required(
        "path",
        ParamType::Str,
        "a glob of the files, relative to the pipeline file; .gz and .zst files are decompressed",
    )
    .input()],
    modes: Modes::SERIAL_BLOCKING,
    build,
};

fn build(params: &Params) -> Result<BuiltOp, OpError> {
    let files = paths::matching(params, "path")?;
    let items = file_lines(files)
        .filter_map(|line| line.and_then(json_item).transpose())
        .map(|item| item.map_err(Into::into));
    Ok(BuiltOp::Source(BuiltSource {
        items: Box::new(items),
        len: None,
        streaming: false,
        parse: None,
    }))
}

/// The record on a line; `None` for a blank line.
pub(crate) fn json_item(line: Line) -> Result<Option<Item>, SourceError> {
    if line.text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&line.text)
        .map(|value| Some(Item::record(value)))
        .map_err(|error| SourceError::Parse {
            path: line.source.to_string(),
            line: line.no,
            message: crate::json::error_message(&error),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;
    use crate::testing::{params, read_source};
    use serde_json::json;

    #[test]
    fn reads_records_skips_blank_lines_and_names_a_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let text = "{\"a\": 1}\n\n[1, 2]\n{\"a\": oops}\n{\"a\": 3}\n";
        std::fs::write(
            dir.path().join("x.jsonl.gz"),
            Codec::Gzip.compress(text.as_bytes(), None).unwrap(),
        )
        .unwrap();
        let items = read_source(&DEF, &params(&DEF, "path = \"x.jsonl.gz\"", dir.path()));
        assert_eq!(items.len(), 4);
        assert_eq!(items[0].as_ref().unwrap().get("a").unwrap(), 1);
        assert_eq!(
            items[1].as_ref().unwrap().get("value").unwrap(),
            &json!([1, 2])
        );
        let file = dir.path().join("x.jsonl.gz").display().to_string();
        assert_eq!(
            items[2].as_ref().unwrap_err(),
            &format!("{file}:4: expected value (column 7)")
        );
        assert_eq!(items[3].as_ref().unwrap().get("a").unwrap(), 3);
    }

    #[test]
    fn reads_zstd_files() {
        let dir = tempfile::tempdir().unwrap();
        let zst = Codec::Zstd
            .compress(b"{\"n\": 1}\n{\"n\": 2}", None)
            .unwrap();
        std::fs::write(dir.path().join("x.jsonl.zst"), zst).unwrap();
        let items = read_source(&DEF, &params(&DEF, "path = \"*.zst\"", dir.path()));
        let ns: Vec<i64> = items
            .into_iter()
            .map(|i| i.unwrap().get("n").unwrap().as_i64().unwrap())
            .collect();
        assert_eq!(ns, vec![1, 2]);
    }
}
