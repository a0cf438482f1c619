//! `csv`: the rows of CSV files as chunks of records in columns; gzip and
//! zstd read transparently, columns typed unless told not to.
//!
//! The source itself only reads and decompresses, and cuts the bytes into
//! blocks of whole records (about 1 MiB; a quoted newline is not the end of
//! a record); the stage `NAME.parse` placed after it parses blocks in
//! parallel into Arrow record batches. The header and the columns' types
//! are read once per file, from its first block: a column is int, float,
//! bool or string, the narrowest that all the sampled values fit (a number
//! with a leading zero stays text); `types` gives some columns' types
//! instead. A value further on that does not fit its column is an error
//! naming the file, line and column.
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, OpKind, Params};
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("a.csv"), "name,age\n\"Smith, J\",42\n").unwrap();
//! let params = Params::new(toml::from_str(r#"path = "a.csv""#).unwrap(), dir.path());
//! let op = baton_ops::find_kind("csv", OpKind::Source).unwrap();
//! let BuiltOp::Source(source) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut parse = source.parse.unwrap().replica().unwrap();
//! let mut records = Vec::new();
//! for block in source.items {
//!     parse.process(block.unwrap(), &mut records).unwrap();
//! }
//! let rows: Vec<_> = records.iter().flat_map(|chunk| chunk.rows()).collect();
//! assert_eq!(rows[0].get("name").unwrap(), "Smith, J");
//! assert_eq!(rows[0].get("age").unwrap(), 42);
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use baton_engine::BoxError;
use baton_records::{Boundary, ColumnType, CsvFormat, RecordBatch, Rejected, SchemaRef};
use serde::{Deserialize, Serialize};

use super::blocks::{
    block_item, default_block_bytes, default_files_at_once, item_block, read_ahead, read_blocks,
    FilesRead, Parse, ParseBlock, FILES_AT_ONCE,
};
use crate::item::Item;
use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltSource, BuiltStage, Modes, OpConfig, OpDef, OpError,
    OpKind, ParamDef, ParamType, Paths,
};

pub(crate) const DEF: OpDef = OpDef {
    name: "csv",
    kind: OpKind::Source,
    summary: "the rows of CSV files as chunks of typed columns, named by the header; .gz and .zst files are decompressed; parsed in parallel by the stage NAME.parse",
    params: &[
        ParamDef::required(
            "path",
            ParamType::Paths,
            "the files: a path or a glob, or an array of them, relative to the pipeline file",
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
            "give each column the narrowest type of int, float, bool, string that its first rows fit (false: all are string)",
        ),
        ParamDef::with_default(
            "null_values",
            ParamType::StrList,
            "[\"\"]",
            "values that mean \"no value\" (null, `()` in a filter), like [\"\", \"NA\"]",
        ),
        ParamDef::optional(
            "types",
            ParamType::StrTable,
            "some columns' types instead of inferring them: { zip = \"string\", delay = \"float\" } (int, float, bool, string)",
        ),
        ParamDef::optional(
            "columns",
            ParamType::StrList,
            "decode only these columns, in this order (the others are split off but not converted nor checked; a column a file lacks is an error naming the file)",
        ),
        ParamDef::with_default(
            "columns_optional",
            ParamType::Bool,
            "false",
            "a column of `columns` that a file lacks is left out instead (what a `select` pushed down into the source sets)",
        ),
        ParamDef::with_default(
            "block_bytes",
            ParamType::Int,
            "1048576",
            "about how many bytes of records each parsed chunk holds",
        )
        .between(1, 1 << 30),
        FILES_AT_ONCE,
    ],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<CsvSourceConfig>,
};

/// Rows sampled to infer a file's column types.
const SAMPLE_ROWS: usize = 10_000;

/// The parameters of the source `csv`: the rows of CSV files as chunks of
/// typed columns, named by the header, parsed in parallel by the stage
/// `NAME.parse`.
///
/// # Examples
///
/// ```
/// use baton_engine::Stage;
/// use baton_ops::config::{BuildContext, CsvSourceConfig, OpConfig};
/// use baton_ops::BuiltOp;
///
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.tsv"), "name\tage\tzip\nLee\tNA\t02134\n").unwrap();
/// let mut config: CsvSourceConfig = serde_json::from_str(r#"{"path": "*.tsv"}"#).unwrap();
/// config.delimiter = "\t".into();
/// config.null_values = vec!["NA".into()];
/// config.columns = Some(vec!["zip".into(), "age".into()]);
/// let BuiltOp::Source(source) = config.build(&BuildContext::new(dir.path())).unwrap() else { unreachable!() };
/// let mut parse = source.parse.unwrap().replica().unwrap();
/// let mut records = Vec::new();
/// for block in source.items {
///     parse.process(block.unwrap(), &mut records).unwrap();
/// }
/// let rows: Vec<_> = records.iter().flat_map(|chunk| chunk.rows()).collect();
/// assert_eq!(rows[0].get("zip").unwrap(), "02134");
/// assert_eq!(rows[0].get("age").unwrap(), &serde_json::Value::Null);
/// assert_eq!(rows[0].get("name"), None);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvSourceConfig {
    /// The files: a path or a glob, or an array of them, relative to the
    /// pipeline file.
    pub path: Paths,
    /// The character between values (one ASCII character: `","`, `";"`,
    /// `"\t"`).
    #[serde(default = "comma")]
    pub delimiter: String,
    /// The first row names the fields (false: they are c0, c1, ...).
    #[serde(default = "yes")]
    pub header: bool,
    /// Give each column the narrowest type of int, float, bool, string that
    /// its first rows fit (false: all are string).
    #[serde(default = "yes")]
    pub infer_types: bool,
    /// Values that mean "no value" (null, `()` in a filter), like
    /// `["", "NA"]`.
    #[serde(default = "empty_is_null")]
    pub null_values: Vec<String>,
    /// Some columns' types instead of inferring them:
    /// `{ zip = "string", delay = "float" }` (int, float, bool, string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<BTreeMap<String, String>>,
    /// Decode only these columns, in this order (the others are split off
    /// but not converted nor checked; a column a file lacks is an error
    /// naming the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// A column of `columns` that a file lacks is left out instead (what a
    /// `select` pushed down into the source sets).
    #[serde(default)]
    pub columns_optional: bool,
    /// About how many bytes of records each parsed chunk holds.
    #[serde(default = "default_block_bytes")]
    pub block_bytes: usize,
    /// How many files are read (and decompressed) at once, each on a thread
    /// of its own, ahead of the parse; records still come in file order.
    #[serde(default = "default_files_at_once")]
    pub files_at_once: usize,
}

fn comma() -> String {
    ",".to_string()
}

fn yes() -> bool {
    true
}

fn empty_is_null() -> Vec<String> {
    vec![String::new()]
}

impl OpConfig for CsvSourceConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let files = self.path.files("path", context)?;
        let format = self.format()?;
        let block_bytes = super::positive("block_bytes", self.block_bytes)?;
        let columns = Columns {
            names: super::column_names(self.columns.as_deref())?,
            optional: self.columns_optional,
        };
        let files_read = Arc::new(FilesRead::default());
        let parse = {
            let format = format.clone();
            let files = Arc::clone(&files_read);
            BuiltStage::record_replicas(move || {
                Ok(Parse(ParseBlocks {
                    format: format.clone(),
                    files: Arc::clone(&files),
                }))
            })
        };
        let open = move |path: PathBuf| {
            file_blocks(
                path,
                format.clone(),
                columns.clone(),
                block_bytes,
                Arc::clone(&files_read),
            )
        };
        let items = read_ahead(files, self.files_at_once, Arc::new(open));
        Ok(BuiltOp::Source(BuiltSource {
            items: Box::new(items),
            len: None,
            streaming: false,
            parse: Some(parse),
        }))
    }
}

impl CsvSourceConfig {
    /// How the files are read.
    fn format(&self) -> Result<CsvFormat, OpError> {
        let mut format = CsvFormat {
            delimiter: delimiter_byte(&self.delimiter)?,
            header: self.header,
            infer_types: self.infer_types,
            sample_rows: SAMPLE_ROWS,
            null_values: self.null_values.clone(),
            ..CsvFormat::default()
        };
        format.types.extend(column_types(
            self.types.as_ref().unwrap_or(&BTreeMap::new()),
        )?);
        Ok(format)
    }
}

/// The columns to decode (`columns`), if not all.
#[derive(Clone, Debug)]
struct Columns {
    names: Option<Vec<String>>,
    optional: bool,
}

impl Columns {
    /// The indices in `schema` (a file's) of the columns to decode.
    fn in_file(
        &self,
        schema: &SchemaRef,
        file: &str,
    ) -> Result<Option<Arc<[usize]>>, baton_records::RecordsError> {
        let Some(names) = &self.names else {
            return Ok(None);
        };
        let mut indices = Vec::with_capacity(names.len());
        for name in names {
            match schema.index_of(name) {
                Ok(index) => indices.push(index),
                Err(_) if self.optional => {}
                Err(_) => {
                    let have: Vec<&str> =
                        schema.fields().iter().map(|f| f.name().as_str()).collect();
                    return Err(baton_records::RecordsError::at(
                        file,
                        1,
                        format!(
                            "`columns` names `{name}`, which the file does not have (its columns: {})",
                            have.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(Some(indices.into()))
    }
}

/// What is noted about each file read: its schema, and the columns of it
/// to decode.
type FileSchema = (SchemaRef, Option<Arc<[usize]>>);

/// The `types` parameter of the sources that infer types (`csv`,
/// `jsonl`): each named field's type, in the order of the names.
pub(crate) fn column_types(
    types: &BTreeMap<String, String>,
) -> Result<Vec<(String, ColumnType)>, OpError> {
    types
        .iter()
        .map(|(field, name)| {
            let kind = ColumnType::parse(name).ok_or_else(|| {
                OpError::param(
                    "types",
                    format!(
                        "`{field}`: the type `{name}` is not one of {}",
                        ColumnType::NAMES.join(", ")
                    ),
                )
            })?;
            Ok((field.clone(), kind))
        })
        .collect()
}

/// The byte of the one-character `delimiter` `text`, for the source and
/// the sink `csv` alike.
pub(crate) fn delimiter_byte(text: &str) -> Result<u8, OpError> {
    match text.as_bytes() {
        [byte] if byte.is_ascii() => Ok(*byte),
        _ => Err(OpError::param(
            "delimiter",
            "expected one ASCII character, like \",\", \";\" or \"\\t\"",
        )),
    }
}

/// The blocks of one file, as items for the parse stage, opened when the
/// first is asked for. The header and the types come from the first block.
fn file_blocks(
    path: PathBuf,
    format: CsvFormat,
    columns: Columns,
    block_bytes: usize,
    files: Arc<FilesRead<FileSchema>>,
) -> Box<dyn Iterator<Item = Result<Item, BoxError>> + Send> {
    let (name, mut blocks) = match read_blocks(&path, Boundary::CsvRecords, block_bytes) {
        Ok(opened) => opened,
        Err(error) => return Box::new(std::iter::once(Err(error))),
    };
    let mut first = match blocks.next() {
        None => return Box::new(std::iter::empty()),
        Some(Err(error)) => return Box::new(std::iter::once(Err(error))),
        Some(Ok(block)) => block,
    };
    let schema = format
        .split_header(&first.bytes, &name)
        .and_then(|(names, rows_at)| {
            let schema = format.infer_schema(&names, &first.bytes[rows_at..], &name)?;
            let header_lines = memchr::memchr_iter(b'\n', &first.bytes[..rows_at]).count() as u64;
            first.bytes.drain(..rows_at);
            first.first_line += header_lines;
            first.lines -= header_lines;
            let decoded = columns.in_file(&schema, &name)?;
            Ok((schema, decoded))
        });
    let noted = match schema {
        Ok(noted) => noted,
        Err(error) => return Box::new(std::iter::once(Err(error.into()))),
    };
    let file = files.add(name, noted);
    Box::new(
        std::iter::once(Ok(first))
            .chain(blocks)
            .filter(|block| block.as_ref().map_or(true, |b| !b.bytes.is_empty()))
            .map(move |block| block.map(|block| block_item(file, block))),
    )
}

/// The parse stage: a block of CSV bytes into a chunk of records.
#[derive(Debug)]
struct ParseBlocks {
    format: CsvFormat,
    files: Arc<FilesRead<FileSchema>>,
}

impl ParseBlock for ParseBlocks {
    fn parse_block(&mut self, item: Item) -> Result<(RecordBatch, Vec<Rejected>), BoxError> {
        let (file, block) = item_block(item, "csv")?;
        let (name, (schema, columns)) = self
            .files
            .get(file)
            .ok_or("a block of a file the source has not read")?;
        Ok(self
            .format
            .parse_columns_rejecting(&block, &schema, columns.as_deref(), &name)?)
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
            json!({"name": "Smith, J", "age": "42", "score": 3.5, "ok": "true", "note": "said \"hi\""})
        );
        // Types are per column: `007` keeps `age` text, `no` keeps `ok` text.
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
    fn columns_decodes_only_the_named_ones_and_a_missing_one_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        // `bad` is not a number on line 3: only decoding it would fail.
        std::fs::write(
            dir.path().join("a.csv"),
            "id,name,bad,score\n1,x,2,0.5\n2,\"y, z\",oops,1.5\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("b.csv"), "id,score\n3,2.5\n").unwrap();
        let read = |extra: &str| {
            let text = format!("path = \"a.csv\"\ntypes = {{ bad = \"int\" }}\n{extra}");
            read_source(&DEF, &params(&DEF, &text, dir.path()))
        };
        let items = read("columns = [\"score\", \"id\"]");
        let rows: Vec<serde_json::Value> = items
            .into_iter()
            .map(|r| serde_json::Value::Object(r.unwrap().fields))
            .collect();
        assert_eq!(
            rows,
            [
                json!({"id": 1, "score": 0.5}),
                json!({"id": 2, "score": 1.5})
            ]
        );
        // Without `columns`, the bad value is found.
        assert!(read("").iter().any(|r| r.is_err()));

        let missing = read_source(
            &DEF,
            &params(
                &DEF,
                "path = \"*.csv\"\ncolumns = [\"id\", \"name\"]",
                dir.path(),
            ),
        );
        let error = missing
            .iter()
            .find_map(|r| r.as_ref().err())
            .expect("an error");
        let at = format!("{}:1: ", dir.path().join("b.csv").display());
        assert!(error.starts_with(&at), "{error}");
        assert!(error.contains("`columns` names `name`"), "{error}");
        assert!(error.contains("its columns: id, score"), "{error}");
        // Every row of the file before it was read.
        assert_eq!(missing.iter().filter(|r| r.is_ok()).count(), 2);

        let optional = read_source(
            &DEF,
            &params(
                &DEF,
                "path = \"*.csv\"\ncolumns = [\"id\", \"name\"]\ncolumns_optional = true",
                dir.path(),
            ),
        );
        let names: Vec<Option<String>> = optional
            .iter()
            .map(|r| {
                r.as_ref()
                    .unwrap()
                    .get("name")
                    .and_then(|v| v.as_str())
                    .map(String::from)
            })
            .collect();
        assert_eq!(names, [Some("x".into()), Some("y, z".into()), None]);
        assert!(build_error(
            &DEF,
            &params(&DEF, "path = \"a.csv\"\ncolumns = []", dir.path())
        )
        .message
        .contains("at least one"),);
    }

    #[test]
    #[cfg(feature = "zstd")]
    fn a_malformed_row_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let zst = Codec::Zstd.compress(b"a,b\n1,2\n3\n4,5\n", None).unwrap();
        std::fs::write(dir.path().join("rows.csv.zst"), zst).unwrap();
        let items = read_source(&DEF, &params(&DEF, "path = \"*.csv.zst\"", dir.path()));
        let message = items[0].as_ref().unwrap_err();
        let at = format!("{}:3: ", dir.path().join("rows.csv.zst").display());
        assert!(message.starts_with(&at), "{message}");
        assert!(
            message.contains("a row of 1 value where the header has 2 values"),
            "{message}"
        );
    }

    #[test]
    fn a_value_that_does_not_fit_its_column_is_named_with_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("id,delay\n");
        for i in 0..12_000 {
            text.push_str(&format!("{i},{}\n", i % 7));
        }
        text.push_str("12000,late\n");
        std::fs::write(dir.path().join("f.csv"), &text).unwrap();
        let items = read_source(
            &DEF,
            &params(&DEF, "path = \"f.csv\"\nblock_bytes = 4096", dir.path()),
        );
        let error = items
            .iter()
            .find_map(|r| r.as_ref().err())
            .expect("an error");
        let at = format!(
            "{}:12002: column `delay`: \"late\" is not an integer",
            dir.path().join("f.csv").display()
        );
        assert!(error.starts_with(&at), "{error}");
        // Every block before the bad one was read.
        assert_eq!(items.iter().filter(|r| r.is_ok()).count() as u64 / 1000, 11);

        let given = read_source(
            &DEF,
            &params(
                &DEF,
                "path = \"f.csv\"\ntypes = { delay = \"string\" }",
                dir.path(),
            ),
        );
        assert_eq!(given.len(), 12_001);
        assert_eq!(
            given[12_000].as_ref().unwrap().get("delay").unwrap(),
            "late"
        );
    }

    #[test]
    fn null_values_are_null_and_rows_keep_their_order_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("n,d\n");
        for i in 0..5000 {
            let d = if i % 3 == 0 {
                "NA".to_string()
            } else {
                format!("{}", i)
            };
            text.push_str(&format!("{i},{d}\n"));
        }
        std::fs::write(dir.path().join("f.csv"), &text).unwrap();
        let rows = read_source(
            &DEF,
            &params(
                &DEF,
                "path = \"f.csv\"\nnull_values = [\"NA\"]\nblock_bytes = 1000",
                dir.path(),
            ),
        );
        assert_eq!(rows.len(), 5000);
        for (i, row) in rows.iter().enumerate() {
            let row = row.as_ref().unwrap();
            assert_eq!(row.get("n").unwrap(), i);
            if i % 3 == 0 {
                assert_eq!(row.get("d").unwrap(), &serde_json::Value::Null);
            } else {
                assert_eq!(row.get("d").unwrap(), i);
            }
        }
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
