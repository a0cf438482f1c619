//! `csv`: the rows of CSV files as records; gzip and zstd read
//! transparently, values typed unless told not to.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, OpKind, Params};
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("a.csv"), "name,age\n\"Smith, J\",42\n").unwrap();
//! let params = Params::new(toml::from_str(r#"path = "a.csv""#).unwrap(), dir.path());
//! let op = baton_ops::find_kind("csv", OpKind::Source).unwrap();
//! let BuiltOp::Source(source) = (op.build)(&params).unwrap() else { unreachable!() };
//! let item = source.items.map(Result::unwrap).next().unwrap();
//! assert_eq!(item.get("name").unwrap(), "Smith, J");
//! assert_eq!(item.get("age").unwrap(), 42);
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use super::error::SourceError;
use super::paths;
use super::text::open;
use crate::item::Item;
use crate::registry::{
    BuiltOp, BuiltSource, Modes, OpDef, OpError, OpKind, ParamDef, ParamType, Params,
};

pub(crate) const DEF: OpDef = OpDef {
    name: "csv",
    kind: OpKind::Source,
    summary: "the rows of CSV files, each as a record named by the header; .gz and .zst files are decompressed",
    params: &[
        ParamDef::required(
            "path",
            ParamType::Str,
            "a glob of the files, relative to the pipeline file",
        )
        .input(),
        ParamDef::with_default(
            "delimiter",
            ParamType::Str,
            "\",\"",
            "the character between values (one ASCII character: \",\", \";\", \"\\t\")",
        ),
        ParamDef::with_default(
            "header",
            ParamType::Bool,
            "true",
            "the first row names the fields (false: they are c0, c1, ...)",
        ),
        ParamDef::with_default(
            "infer_types",
            ParamType::Bool,
            "true",
            "read integers, decimals, true and false as such (a number with a leading zero stays text)",
        ),
    ],
    modes: Modes::SERIAL_BLOCKING,
    build,
};

/// How every file is read.
#[derive(Clone, Copy, Debug)]
struct Format {
    delimiter: u8,
    header: bool,
    infer_types: bool,
}

fn build(params: &Params) -> Result<BuiltOp, OpError> {
    let files = paths::matching(params, "path")?;
    let format = Format {
        delimiter: delimiter(params, "delimiter")?,
        header: params.bool("header")?.unwrap_or(true),
        infer_types: params.bool("infer_types")?.unwrap_or(true),
    };
    let items = files
        .into_iter()
        .flat_map(move |path| rows(path, format))
        .map(|row| row.map_err(Into::into));
    Ok(BuiltOp::Source(BuiltSource {
        items: Box::new(items),
        len: None,
        streaming: false,
    }))
}

/// The one-byte delimiter in the string parameter `param` (`,` when not given).
pub(crate) fn delimiter(params: &Params, param: &str) -> Result<u8, OpError> {
    match params.str(param)?.unwrap_or(",").as_bytes() {
        [byte] if byte.is_ascii() => Ok(*byte),
        _ => Err(OpError::param(
            param,
            "expected one ASCII character, like \",\", \";\" or \"\\t\"",
        )),
    }
}

/// The rows of one file, opened when the first is asked for.
fn rows(
    path: PathBuf,
    format: Format,
) -> Box<dyn Iterator<Item = Result<Item, SourceError>> + Send> {
    let name: Arc<str> = path.display().to_string().into();
    let reader = match open(&path) {
        Ok(reader) => reader,
        Err(error) => return Box::new(std::iter::once(Err(error))),
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(format.delimiter)
        .has_headers(format.header)
        .from_reader(reader);
    let names: Vec<String> = if format.header {
        match reader.headers() {
            Ok(header) => header
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    if n.is_empty() {
                        format!("c{i}")
                    } else {
                        n.to_string()
                    }
                })
                .collect(),
            Err(error) => return Box::new(std::iter::once(Err(row_error(&name, error, 0)))),
        }
    } else {
        Vec::new()
    };
    let mut failed = false;
    let mut last_line = 0;
    Box::new(reader.into_records().map_while(move |row| {
        if failed {
            return None;
        }
        Some(match row {
            Ok(row) => {
                last_line = row.position().map_or(last_line + 1, |p| p.line());
                let mut item = Item::default();
                for (i, text) in row.iter().enumerate() {
                    let value = if format.infer_types {
                        crate::json::infer(text)
                    } else {
                        Value::String(text.to_string())
                    };
                    match names.get(i) {
                        Some(name) => item.set(name, value),
                        None => item.set(&format!("c{i}"), value),
                    }
                }
                Ok(item)
            }
            Err(error) => {
                // An I/O error leaves the stream unusable; a bad row does not.
                failed = matches!(error.kind(), ::csv::ErrorKind::Io(_));
                Err(row_error(&name, error, last_line))
            }
        })
    }))
}

/// A row's error, at its line (or, when the reader knows none, the line
/// after `last_line`, the last one read).
fn row_error(path: &str, error: ::csv::Error, last_line: u64) -> SourceError {
    use ::csv::ErrorKind;
    let path = path.to_string();
    let line = error.position().map_or(last_line + 1, |p| p.line());
    let message = match error.kind() {
        ErrorKind::Io(error) => {
            return SourceError::Read {
                path,
                line,
                error: std::io::Error::new(error.kind(), error.to_string()),
            }
        }
        ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            let values = |n: u64| {
                if n == 1 {
                    "1 value".to_string()
                } else {
                    format!("{n} values")
                }
            };
            format!(
                "a row of {} where the rows before have {}",
                values(*len),
                values(*expected_len)
            )
        }
        ErrorKind::Utf8 { err, .. } => format!("not UTF-8 text (value {})", err.field() + 1),
        _ => error.to_string(),
    };
    SourceError::Parse {
        path,
        line,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;
    use crate::testing::{build_error, params, read_source};
    use serde_json::json;

    #[test]
    fn reads_quoted_values_and_types_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.csv"),
            "name,age,score,ok,note\n\"Smith, J\",42,3.5,true,\"said \"\"hi\"\"\"\nLee,007,-1e3,no,\"two\nlines\"\n",
        )
        .unwrap();
        let items = read_source(&DEF, &params(&DEF, "path = \"a.csv\"", dir.path()));
        let items: Vec<Item> = items.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            serde_json::Value::Object(items[0].fields.clone()),
            json!({"name": "Smith, J", "age": 42, "score": 3.5, "ok": true, "note": "said \"hi\""})
        );
        assert_eq!(
            serde_json::Value::Object(items[1].fields.clone()),
            json!({"name": "Lee", "age": "007", "score": -1000.0, "ok": "no", "note": "two\nlines"})
        );
    }

    #[test]
    fn without_inference_everything_is_text_and_without_header_columns_are_numbered() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.tsv"), "1\ttrue\n2\tfalse\n").unwrap();
        let items = read_source(
            &DEF,
            &params(
                &DEF,
                "path = \"a.tsv\"\ndelimiter = \"\\t\"\nheader = false\ninfer_types = false",
                dir.path(),
            ),
        );
        assert_eq!(
            serde_json::Value::Object(items[1].as_ref().unwrap().fields.clone()),
            json!({"c0": "2", "c1": "false"})
        );
    }

    #[test]
    fn a_malformed_row_names_file_and_line_and_reading_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let zst = Codec::Zstd.compress(b"a,b\n1,2\n3\n4,5\n", None).unwrap();
        std::fs::write(dir.path().join("rows.csv.zst"), zst).unwrap();
        let items = read_source(&DEF, &params(&DEF, "path = \"*.csv.zst\"", dir.path()));
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_ref().unwrap().get("b").unwrap(), 2);
        let message = items[1].as_ref().unwrap_err();
        let at = format!("{}:3: ", dir.path().join("rows.csv.zst").display());
        assert!(message.starts_with(&at), "{message}");
        assert!(
            message.contains("a row of 1 value where the rows before have 2"),
            "{message}"
        );
        assert_eq!(items[2].as_ref().unwrap().get("a").unwrap(), 4);
    }

    #[test]
    fn a_long_delimiter_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), "a\n").unwrap();
        let error = build_error(
            &DEF,
            &params(&DEF, "path = \"a.csv\"\ndelimiter = \"::\"", dir.path()),
        );
        assert_eq!(error.param.as_deref(), Some("delimiter"));
    }
}
