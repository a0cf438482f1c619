//! `lines`: the lines of text files, gzip and zstd read transparently.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, OpKind, Params};
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("a.log"), "first\nsecond\n").unwrap();
//! let params = Params::new(toml::from_str(r#"path = "*.log""#).unwrap(), dir.path());
//! let op = baton_ops::find_kind("lines", OpKind::Source).unwrap();
//! let BuiltOp::Source(source) = (op.build)(&params).unwrap() else { unreachable!() };
//! let items: Vec<_> = source.items.map(Result::unwrap).collect();
//! assert_eq!(items[1].get("line").unwrap(), "second");
//! assert_eq!(items[1].get("line_no").unwrap(), 2);
//! ```

use super::paths;
use super::text::{file_lines, Line};
use crate::item::Item;
use crate::registry::{
    BuiltOp, BuiltSource, Modes, OpDef, OpError, OpKind, ParamDef, ParamType, Params,
};

pub(crate) const DEF: OpDef = OpDef {
    name: "lines",
    kind: OpKind::Source,
    summary:
        "the lines of text files as {line, path, line_no}; .gz and .zst files are decompressed",
    params: &[ParamDef::required(
        "path",
        ParamType::Str,
        "a glob of the files, relative to the pipeline file (`logs/*.log.gz`)",
    )
    .input()],
    modes: Modes::SERIAL_BLOCKING,
    build,
};

fn build(params: &Params) -> Result<BuiltOp, OpError> {
    let files = paths::matching(params, "path")?;
    let items = file_lines(files).map(|line| line.map(line_item).map_err(Into::into));
    Ok(BuiltOp::Source(BuiltSource {
        items: Box::new(items),
        len: None,
        streaming: false,
        parse: None,
    }))
}

fn line_item(line: Line) -> Item {
    let mut item = Item::with_field("line", line.text);
    item.set("path", line.source.to_string());
    item.set("line_no", line.no);
    item
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;
    use crate::testing::{params, read_source};

    #[test]
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

        let items = read_source(&DEF, &params(&DEF, "path = \"cut.gz\"", dir.path()));
        let good = items.iter().take_while(|i| i.is_ok()).count();
        assert!(good > 0 && good < 2000, "{good} lines read");
        assert_eq!(items.len(), good + 1, "reading stops at the error");
        let message = items[good].as_ref().unwrap_err();
        let at = format!("{}:{}: ", dir.path().join("cut.gz").display(), good + 1);
        assert!(message.starts_with(&at), "{message}");
    }
}
