//! `jsonl`: files of one JSON value per line as chunks of records in
//! columns; gzip and zstd read transparently.
//!
//! The source only reads, decompresses and cuts the files into blocks of
//! whole lines (about 1 MiB); the stage `NAME.parse` after it parses the
//! blocks in parallel. Each block's columns and types come from its own
//! lines, so records whose fields vary keep every field: a field a line
//! lacks is null there (as a missing field is to `filter`), a field whose
//! values have several types is text, nested objects and arrays stay
//! nested. A line that is not an object is the record `{"value": v}`.
//! Blank lines are skipped. A line that is not JSON fails its block,
//! named by file and line.
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, OpKind, Params};
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("a.jsonl"), "{\"n\": 1}\n{\"n\": oops}\n").unwrap();
//! let params = Params::new(toml::from_str(r#"path = "a.jsonl""#).unwrap(), dir.path());
//! let op = baton_ops::find_kind("jsonl", OpKind::Source).unwrap();
//! let BuiltOp::Source(source) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut parse = source.parse.unwrap().replica().unwrap();
//! let block = source.items.into_iter().next().unwrap().unwrap();
//! let error = parse.process(block, &mut Vec::new()).unwrap_err().to_string();
//! assert!(error.ends_with("a.jsonl:2: expected value (column 7)"), "{error}");
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use baton_engine::BoxError;
use baton_records::{Block, Boundary, JsonLinesFormat, RecordBatch, Rejected, SchemaRef};
use serde::{Deserialize, Serialize};

use super::blocks::{
    default_block_bytes, default_files_at_once, item_block, plain_file_blocks, FilesRead, Parse,
    ParseBlock, FILES_AT_ONCE,
};
use super::error::SourceError;
use super::text::Line;
use crate::item::Item;
use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltSource, BuiltStage, Modes, OpConfig, OpDef, OpError,
    OpKind, ParamDef, ParamType, Paths,
};

pub(crate) const DEF: OpDef = OpDef {
    name: "jsonl",
    kind: OpKind::Source,
    summary: "the lines of JSON-lines files as chunks of records in columns (a non-object line as {\"value\": v}); blank lines are skipped; parsed in parallel by the stage NAME.parse",
    params: &[
        ParamDef::required(
            "path",
            ParamType::Paths,
            "the files: a path or a glob, or an array of them, relative to the pipeline file; .gz and .zst files are decompressed",
        )
        .input(),
        ParamDef::with_default(
            "block_bytes",
            ParamType::Int,
            "1048576",
            "about how many bytes of lines each parsed chunk holds",
        )
        .between(1, 1 << 30),
        ParamDef::optional(
            "types",
            ParamType::StrTable,
            "some fields' types instead of inferring them: { zip = \"string\", delay = \"float\" } (int, float, bool, string); such a field is in every chunk, a value that does not fit is an error naming file, line and field, and every line must be an object",
        ),
        FILES_AT_ONCE,
    ],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<JsonlSourceConfig>,
};

/// The parameters of the source `jsonl`: the lines of JSON-lines files as
/// chunks of records in columns, parsed in parallel by the stage
/// `NAME.parse`.
///
/// # Examples
///
/// ```
/// use std::collections::BTreeMap;
/// use baton_engine::Stage;
/// use baton_ops::config::{BuildContext, JsonlSourceConfig, OpConfig};
/// use baton_ops::BuiltOp;
///
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.jsonl"), "{\"zip\": 2134, \"n\": 1}\n\n[2]\n").unwrap();
/// let config = JsonlSourceConfig {
///     path: "a.jsonl".into(),
///     block_bytes: 1 << 20,
///     types: None,
///     files_at_once: 4,
/// };
/// let BuiltOp::Source(source) = config.build(&BuildContext::new(dir.path())).unwrap() else { unreachable!() };
/// let mut parse = source.parse.unwrap().replica().unwrap();
/// let mut records = Vec::new();
/// for block in source.items {
///     parse.process(block.unwrap(), &mut records).unwrap();
/// }
/// let rows: Vec<_> = records.iter().flat_map(|chunk| chunk.rows()).collect();
/// assert_eq!(rows.len(), 2);
/// assert_eq!(rows[0].get("zip").unwrap(), 2134);
/// assert_eq!(rows[1].get("value").unwrap(), &serde_json::json!([2]));
///
/// // A type the source does not know is refused, naming the field.
/// let types = BTreeMap::from([("zip".to_string(), "number".to_string())]);
/// let config = JsonlSourceConfig { types: Some(types), ..config };
/// let error = config.build(&BuildContext::new(dir.path())).unwrap_err();
/// assert_eq!(error.param.as_deref(), Some("types"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlSourceConfig {
    /// The files: a path or a glob, or an array of them, relative to the
    /// pipeline file; .gz and .zst files are decompressed.
    pub path: Paths,
    /// About how many bytes of lines each parsed chunk holds.
    #[serde(default = "default_block_bytes")]
    pub block_bytes: usize,
    /// Some fields' types instead of inferring them:
    /// `{ zip = "string", delay = "float" }` (int, float, bool, string);
    /// such a field is in every chunk, a value that does not fit is an
    /// error naming file, line and field, and every line must be an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<BTreeMap<String, String>>,
    /// How many files are read (and decompressed) at once, each on a thread
    /// of its own, ahead of the parse; records still come in file order.
    #[serde(default = "default_files_at_once")]
    pub files_at_once: usize,
}

impl OpConfig for JsonlSourceConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let files = self.path.files("path", context)?;
        let block_bytes = super::positive("block_bytes", self.block_bytes)?;
        let types = self.types.as_ref().map(super::csv::column_types);
        let format = JsonLinesFormat::default().with_types(types.transpose()?.unwrap_or_default());
        let files_read = Arc::new(FilesRead::default());
        let parse = {
            let files = Arc::clone(&files_read);
            BuiltStage::record_replicas(move || {
                Ok(Parse(ParseJsonLines {
                    files: Arc::clone(&files),
                    format: format.clone(),
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

/// A file's schema so far, shared by the parse replicas: it grows as
/// blocks with new fields come.
type FileSchema = Arc<Mutex<Option<SchemaRef>>>;

/// The parse stage: a block of JSON lines into a chunk of records.
#[derive(Debug)]
struct ParseJsonLines {
    files: Arc<FilesRead<FileSchema>>,
    format: JsonLinesFormat,
}

impl ParseBlock for ParseJsonLines {
    fn parse_block(&mut self, item: Item) -> Result<(RecordBatch, Vec<Rejected>), BoxError> {
        let (file, block) = item_block(item, "jsonl")?;
        let (name, schema) = self
            .files
            .get(file)
            .ok_or("a block of a file the source has not read")?;
        let known = schema
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut grown = known.clone();
        let (batch, rejected) = match self.format.parse_growing(&block, &name, &mut grown) {
            Ok(batch) => (batch, Vec::new()),
            // Given types: the lines that fit them, and the others rejected.
            Err(_) if self.format.has_types() => self
                .format
                .parse_growing_rejecting(&block, &name, &mut grown),
            // Lines that are not objects, or not JSON: line by line, to
            // keep the first (as `{"value": v}`) and reject the second.
            Err(_) => {
                let (records, rejected) = line_records(&block, &name);
                (baton_records::rows::from_rows(records)?, rejected)
            }
        };
        if grown != known {
            let mut schema = schema.lock().unwrap_or_else(PoisonError::into_inner);
            let wider = |s: &Option<SchemaRef>| s.as_ref().map_or(0, |s| s.fields().len());
            if wider(&grown) >= wider(&schema) {
                *schema = grown;
            }
        }
        Ok((batch, rejected))
    }
}

/// The records of a block's lines, one at a time (a non-object as
/// `{"value": v}`), and the lines that are not JSON.
fn line_records(block: &Block, name: &str) -> (Vec<baton_records::rows::Row>, Vec<Rejected>) {
    let mut records = Vec::new();
    let mut rejected = Vec::new();
    for (n, line) in block.bytes.split(|b| *b == b'\n').enumerate() {
        let line_no = block.first_line + n as u64;
        match json_record(line, name, line_no) {
            Ok(Some(item)) => records.push(item.fields),
            Ok(None) => {}
            Err(SourceError::Parse { message, .. }) => rejected.push(Rejected::at(
                name,
                line_no,
                message,
                String::from_utf8_lossy(line).trim_end_matches('\r'),
            )),
            Err(other) => rejected.push(Rejected::at(
                name,
                line_no,
                other.to_string(),
                String::from_utf8_lossy(line).trim_end_matches('\r'),
            )),
        }
    }
    (records, rejected)
}

/// The record on a line read on its own (standard input); `None` for a
/// blank line.
pub(crate) fn json_item(line: Line) -> Result<Option<Item>, SourceError> {
    json_record(line.text.as_bytes(), &line.source, line.no)
}

/// The record in `text`, line `line` of `path`; `None` if it is blank.
fn json_record(text: &[u8], path: &str, line: u64) -> Result<Option<Item>, SourceError> {
    if text.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(text)
        .map(|value| Some(Item::record(value)))
        .map_err(|error| SourceError::Parse {
            path: path.to_string(),
            line,
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
        // A block per line: the bad line fails its own block only.
        let items = read_source(
            &DEF,
            &params(&DEF, "path = \"x.jsonl.gz\"\nblock_bytes = 1", dir.path()),
        );
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

        // One block: the bad line fails it, named all the same.
        let items = read_source(&DEF, &params(&DEF, "path = \"x.jsonl.gz\"", dir.path()));
        assert_eq!(
            items,
            vec![Err(format!("{file}:4: expected value (column 7)"))]
        );
    }

    #[test]
    fn fields_that_vary_are_all_kept_and_nested_values_stay_nested() {
        let dir = tempfile::tempdir().unwrap();
        let text = "\u{feff}{\"a\": 1, \"tags\": [\"x\"]}\n{\"a\": 2.5, \"b\": {\"c\": true}}\n\n{\"b\": {\"c\": false}, \"d\": \"t\"}\n[1]\n";
        std::fs::write(dir.path().join("v.jsonl"), text).unwrap();
        let rows: Vec<serde_json::Value> =
            read_source(&DEF, &params(&DEF, "path = \"v.jsonl\"", dir.path()))
                .into_iter()
                .map(|item| serde_json::Value::Object(item.unwrap().fields))
                .collect();
        assert_eq!(
            rows,
            vec![
                json!({"a": 1.0, "tags": ["x"], "b": null, "d": null, "value": null}),
                json!({"a": 2.5, "tags": null, "b": {"c": true}, "d": null, "value": null}),
                json!({"a": null, "tags": null, "b": {"c": false}, "d": "t", "value": null}),
                json!({"a": null, "tags": null, "b": null, "d": null, "value": [1]}),
            ]
        );
    }

    #[test]
    #[cfg(feature = "zstd")]
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

    #[test]
    fn given_types_hold_in_every_block_and_a_value_that_does_not_fit_is_located() {
        let dir = tempfile::tempdir().unwrap();
        // zip looks like a number, delay is missing from the first line.
        let text = "{\"zip\": 2134, \"n\": 1}\n{\"zip\": \"0213a\", \"n\": 2, \"delay\": 5}\n{\"n\": \"many\"}\n{\"n\": 4}\n";
        std::fs::write(dir.path().join("t.jsonl"), text).unwrap();
        let toml =
            "path = \"t.jsonl\"\ntypes = { zip = \"string\", delay = \"float\", n = \"int\" }";
        let file = dir.path().join("t.jsonl").display().to_string();
        let located = format!("{file}:3: field `n`: failed to parse \"many\" as Int64");
        let rows = |block_bytes: usize| -> Vec<Result<serde_json::Value, String>> {
            let toml = format!("{toml}\nblock_bytes = {block_bytes}");
            read_source(&DEF, &params(&DEF, &toml, dir.path()))
                .into_iter()
                .map(|item| item.map(|item| serde_json::Value::Object(item.fields)))
                .collect()
        };
        // A block per line: the given types hold in each, whatever it holds.
        assert_eq!(
            rows(1),
            vec![
                Ok(json!({"zip": "2134", "n": 1, "delay": null})),
                Ok(json!({"zip": "0213a", "n": 2, "delay": 5.0})),
                Err(located.clone()),
                Ok(json!({"zip": null, "n": 4, "delay": null})),
            ]
        );
        // One block: the line that does not fit fails it (the error policy
        // of a pipeline rejects that line alone), named all the same.
        assert_eq!(rows(1 << 20), vec![Err(located)]);
    }

    #[test]
    fn an_unknown_type_names_the_field_and_the_types() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.jsonl"), "{}\n").unwrap();
        let toml = "path = \"t.jsonl\"\ntypes = { n = \"number\" }";
        let error = crate::testing::build_error(&DEF, &params(&DEF, toml, dir.path()));
        assert_eq!(error.param.as_deref(), Some("types"));
        assert!(
            error
                .to_string()
                .contains("`n`: the type `number` is not one of int, float, bool, string"),
            "{error}"
        );
    }
}
