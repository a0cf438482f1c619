//! CSV into record batches: a header and types read once per file, then
//! each block parsed on its own (in parallel, by whoever calls
//! [`CsvFormat::parse`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::error::{RecordsError, Rejected};
use crate::split::Block;

/// The type of a column.
///
/// # Examples
///
/// ```
/// use baton_records::ColumnType;
/// assert_eq!(ColumnType::parse("int"), Some(ColumnType::Int));
/// assert_eq!(ColumnType::Float.name(), "float");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ColumnType {
    /// 64-bit signed integers.
    Int,
    /// 64-bit floating point numbers.
    Float,
    /// `true` or `false`.
    Bool,
    /// Text.
    String,
}

impl ColumnType {
    /// Every type, by name, as a pipeline file writes it.
    pub const NAMES: [&'static str; 4] = ["int", "float", "bool", "string"];

    /// The type a pipeline file names.
    ///
    /// # Examples
    ///
    /// See [`ColumnType`].
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "int" | "integer" => Some(Self::Int),
            "float" | "double" => Some(Self::Float),
            "bool" | "boolean" => Some(Self::Bool),
            "string" | "text" => Some(Self::String),
            _ => None,
        }
    }

    /// Its name.
    ///
    /// # Examples
    ///
    /// See [`ColumnType`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Int => "int",
            Self::Float => "float",
            Self::Bool => "bool",
            Self::String => "string",
        }
    }

    /// The Arrow type of its columns.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_records::ColumnType::Int.data_type(), arrow_schema::DataType::Int64);
    /// ```
    pub fn data_type(self) -> DataType {
        match self {
            Self::Int => DataType::Int64,
            Self::Float => DataType::Float64,
            Self::Bool => DataType::Boolean,
            Self::String => DataType::Utf8,
        }
    }

    /// What a value of it looks like, for errors.
    fn described(self) -> &'static str {
        match self {
            Self::Int => "an integer",
            Self::Float => "a number",
            Self::Bool => "true or false",
            Self::String => "text",
        }
    }

    /// Whether `text` is a value of this type.
    fn fits(self, text: &str) -> bool {
        match self {
            Self::Int => looks_like_int(text),
            Self::Float => looks_like_float(text),
            Self::Bool => text == "true" || text == "false",
            Self::String => true,
        }
    }
}

/// An integer as inference takes one: digits with an optional `-`, no
/// leading zero (`007`, codes and zip codes stay text), within 64 bits.
fn looks_like_int(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !(digits.len() > 1 && digits.starts_with('0'))
        && text.parse::<i64>().is_ok()
}

/// A decimal number: digits, a point or an exponent, nothing else (no
/// `inf` or `NaN` words).
fn looks_like_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && !(body.len() > 1 && body.starts_with('0') && body.as_bytes()[1].is_ascii_digit())
        && text.parse::<f64>().is_ok()
}

/// How CSV files are read.
///
/// # Examples
///
/// ```
/// use baton_records::{Blocks, Boundary, CsvFormat};
///
/// let format = CsvFormat::default();
/// let text = "name,age\nAda,36\nLin,\n";
/// let (header, rest) = format.split_header(text.as_bytes(), "people.csv").unwrap();
/// let schema = format.infer_schema(&header, &text.as_bytes()[rest..], "people.csv").unwrap();
/// let block = Blocks::new(&text.as_bytes()[rest..], Boundary::CsvRecords, 1 << 20)
///     .starting_at_line(2)
///     .next().unwrap().unwrap();
/// let batch = format.parse(&block, &schema, "people.csv").unwrap();
/// assert_eq!(batch.num_rows(), 2);
/// assert_eq!(batch.schema().field(1).data_type(), &arrow_schema::DataType::Int64);
/// assert!(batch.column(1).is_null(1)); // an empty value is null
/// ```
#[derive(Clone, Debug)]
pub struct CsvFormat {
    /// The byte between values.
    pub delimiter: u8,
    /// Whether the first record names the columns (else `c0`, `c1`, ...).
    pub header: bool,
    /// Whether columns get types from their values (else all are text).
    pub infer_types: bool,
    /// Values that stand for "no value" (null); by default the empty one.
    pub null_values: Vec<String>,
    /// Types given for columns by name; the others are inferred.
    pub types: BTreeMap<String, ColumnType>,
    /// Rows of the first block looked at to infer types.
    pub sample_rows: usize,
}

impl Default for CsvFormat {
    fn default() -> Self {
        Self {
            delimiter: b',',
            header: true,
            infer_types: true,
            null_values: vec![String::new()],
            types: BTreeMap::new(),
            sample_rows: 10_000,
        }
    }
}

impl CsvFormat {
    fn reader<'a>(&self, bytes: &'a [u8]) -> csv::Reader<&'a [u8]> {
        csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes)
    }

    fn is_null(&self, text: &str) -> bool {
        self.null_values.iter().any(|null| null == text)
    }

    /// The column names in the first record of `start` (a file's first
    /// bytes, at least its first record) and the offset where the rows
    /// begin. Without a header there are no names yet (they come from the
    /// first row's width) and the rows begin at 0.
    ///
    /// # Errors
    ///
    /// A header that is not UTF-8 text, or that names a column twice.
    ///
    /// # Examples
    ///
    /// See [`CsvFormat`].
    pub fn split_header(
        &self,
        start: &[u8],
        file: &str,
    ) -> Result<(Vec<String>, usize), RecordsError> {
        if !self.header {
            return Ok((Vec::new(), 0));
        }
        let mut reader = self.reader(start);
        let mut record = csv::StringRecord::new();
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Ok((Vec::new(), start.len())),
            Err(error) => {
                return Err(RecordsError::at(file, 1, format!("the header: {error}")));
            }
        }
        let names: Vec<String> = record
            .iter()
            .enumerate()
            .map(|(i, name)| {
                if name.is_empty() {
                    format!("c{i}")
                } else {
                    name.to_string()
                }
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = names.iter().find(|name| !seen.insert(name.as_str())) {
            return Err(RecordsError::at(
                file,
                1,
                format!("the header names the column `{twice}` twice"),
            ));
        }
        Ok((names, reader.position().byte() as usize))
    }

    /// The schema of a file: its columns' names (from the header, else
    /// `c0`, `c1`, ... as wide as the first row) and types: the given ones,
    /// else the narrowest of int, float, bool and string that every
    /// non-null value of the sample (the first `sample_rows` rows of
    /// `rows`) fits; a column with no value in the sample is text.
    ///
    /// # Errors
    ///
    /// A sample row that is not CSV, or a type given for a column the file
    /// does not have.
    ///
    /// # Examples
    ///
    /// See [`CsvFormat`].
    pub fn infer_schema(
        &self,
        names: &[String],
        rows: &[u8],
        file: &str,
    ) -> Result<SchemaRef, RecordsError> {
        let mut names = names.to_vec();
        let mut candidates: Vec<Option<ColumnType>> = vec![None; names.len()];
        let mut reader = self.reader(rows);
        let mut record = csv::StringRecord::new();
        let mut read = 0;
        while read < self.sample_rows {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                // The block's parse names it at its line.
                Err(_) => break,
            }
            read += 1;
            if names.is_empty() && !self.header {
                names = (0..record.len()).map(|i| format!("c{i}")).collect();
                candidates = vec![None; names.len()];
            }
            if !self.infer_types {
                continue;
            }
            for (candidate, text) in candidates.iter_mut().zip(record.iter()) {
                if self.is_null(text) {
                    continue;
                }
                let mut kind = candidate.unwrap_or(ColumnType::Int);
                while !kind.fits(text) {
                    kind = match kind {
                        ColumnType::Int => ColumnType::Float,
                        ColumnType::Float => {
                            if candidate.is_none() {
                                ColumnType::Bool
                            } else {
                                ColumnType::String
                            }
                        }
                        ColumnType::Bool | ColumnType::String => ColumnType::String,
                    };
                }
                // A bool column takes no numbers, a number column no bools.
                if let Some(before) = *candidate {
                    if (before == ColumnType::Bool) != (kind == ColumnType::Bool) {
                        kind = ColumnType::String;
                    }
                }
                *candidate = Some(kind);
            }
        }
        if let Some(unknown) = self.types.keys().find(|name| !names.contains(name)) {
            return Err(RecordsError::at(
                file,
                1,
                format!(
                    "a type is given for the column `{unknown}`, which the file does not have (its columns: {})",
                    names.join(", ")
                ),
            ));
        }
        let fields: Vec<Field> = names
            .iter()
            .zip(candidates)
            .map(|(name, candidate)| {
                let kind = self
                    .types
                    .get(name)
                    .copied()
                    .or(candidate)
                    .unwrap_or(ColumnType::String);
                Field::new(name, kind.data_type(), true)
            })
            .collect();
        Ok(Arc::new(Schema::new(fields)))
    }

    /// The rows of one block as a record batch of `schema`.
    ///
    /// # Errors
    ///
    /// A value that does not fit its column's type, a row of another width
    /// than the header, or bytes that are not CSV: named by file, line and
    /// column.
    ///
    /// # Examples
    ///
    /// See [`CsvFormat`].
    pub fn parse(
        &self,
        block: &Block,
        schema: &SchemaRef,
        file: &str,
    ) -> Result<RecordBatch, RecordsError> {
        self.parse_columns(block, schema, None, file)
    }

    /// The rows of one block as a record batch of only the columns
    /// `columns` (indices into `schema`, the file's, in the order given):
    /// the others are not converted (nor checked), only split off. With
    /// `None`, as [`CsvFormat::parse`].
    ///
    /// # Errors
    ///
    /// As [`CsvFormat::parse`], for the columns decoded.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_schema::{DataType, Field, Schema};
    /// use baton_records::{Blocks, Boundary, CsvFormat};
    ///
    /// let schema = Arc::new(Schema::new(vec![
    ///     Field::new("n", DataType::Int64, true),
    ///     Field::new("word", DataType::Utf8, true),
    /// ]));
    /// let block = Blocks::new(&b"1,a\n2,b\n"[..], Boundary::CsvRecords, 1 << 20).next().unwrap().unwrap();
    /// let batch = CsvFormat::default().parse_columns(&block, &schema, Some(&[1]), "a.csv").unwrap();
    /// assert_eq!(batch.num_columns(), 1);
    /// assert_eq!(batch.schema().field(0).name(), "word");
    /// ```
    pub fn parse_columns(
        &self,
        block: &Block,
        schema: &SchemaRef,
        columns: Option<&[usize]>,
        file: &str,
    ) -> Result<RecordBatch, RecordsError> {
        let out_schema = projected(schema, columns, file, block.first_line)?;
        let mut format = arrow_csv::reader::Format::default()
            .with_delimiter(self.delimiter)
            .with_header(false);
        // Arrow's own test for an empty value is far cheaper than a regex
        // run on every value: the null values are made empty first where
        // that means the same.
        let rewritten = match self.null_values == [""] {
            true => None,
            false => self.nulls_as_empty(&block.bytes),
        };
        if rewritten.is_none() && self.null_values != [""] {
            format = format.with_null_regex(self.null_regex());
        }
        let bytes = rewritten.as_deref().unwrap_or(&block.bytes);
        // Arrow zeroes room for a whole batch of rows up front (offsets
        // for every value): as many rows as the block can hold, not more.
        let rows = memchr::memchr_iter(b'\n', bytes).count() + 1;
        let mut builder = arrow_csv::ReaderBuilder::new(Arc::clone(schema))
            .with_format(format)
            .with_batch_size(rows.min(1 << 16));
        if let Some(columns) = columns {
            builder = builder.with_projection(columns.to_vec());
        }
        let mut reader = builder
            .build_buffered(bytes)
            .map_err(|error| RecordsError::at(file, block.first_line, error.to_string()))?;
        let mut batches = Vec::new();
        for batch in &mut reader {
            match batch {
                Ok(batch) => batches.push(batch),
                Err(error) => {
                    return Err(self.locate(block, schema, columns, file, &error.to_string()))
                }
            }
        }
        match batches.len() {
            0 => Ok(RecordBatch::new_empty(out_schema)),
            1 => Ok(batches.pop().expect("one batch")),
            _ => arrow_select::concat::concat_batches(&out_schema, &batches)
                .map_err(|error| RecordsError::at(file, block.first_line, error.to_string())),
        }
    }

    /// `bytes` with every value that is one of the null values made
    /// empty, so that Arrow's test for an empty value finds the nulls
    /// without a regex: `None` when that would change what is null (a
    /// quoted value, or an empty one that is not null). Only the null
    /// values are looked for (a few fast substring searches); the bytes are
    /// copied only if some are found.
    fn nulls_as_empty<'a>(&self, bytes: &'a [u8]) -> Option<std::borrow::Cow<'a, [u8]>> {
        use memchr::memmem;
        if self.null_values.is_empty() || memchr::memchr(b'"', bytes).is_some() {
            return None;
        }
        let d = self.delimiter;
        let empty_is_null = self.null_values.iter().any(String::is_empty);
        if !empty_is_null {
            // An empty value (or a blank line) somewhere: too close to call.
            let starts_empty =
                matches!(bytes.first(), Some(&b) if b == d || b == b'\n' || b == b'\r');
            let pairs = [
                [d, d],
                [d, b'\n'],
                [d, b'\r'],
                [b'\n', d],
                [b'\n', b'\n'],
                [b'\n', b'\r'],
            ];
            if starts_empty || pairs.iter().any(|pair| memmem::find(bytes, pair).is_some()) {
                return None;
            }
        }
        let mut cuts: Vec<std::ops::Range<usize>> = Vec::new();
        for null in self.null_values.iter().filter(|null| !null.is_empty()) {
            for at in memmem::find_iter(bytes, null.as_bytes()) {
                let end = at + null.len();
                let starts = at == 0 || bytes[at - 1] == d || bytes[at - 1] == b'\n';
                let ends = match bytes.get(end) {
                    None => true,
                    Some(&b) if b == d || b == b'\n' => true,
                    Some(&b'\r') => bytes.get(end + 1) == Some(&b'\n'),
                    Some(_) => false,
                };
                if starts && ends {
                    cuts.push(at..end);
                }
            }
        }
        if cuts.is_empty() {
            return Some(std::borrow::Cow::Borrowed(bytes));
        }
        cuts.sort_unstable_by_key(|cut| cut.start);
        let mut out = Vec::with_capacity(bytes.len());
        let mut at = 0;
        for cut in cuts {
            if cut.start >= at {
                out.extend_from_slice(&bytes[at..cut.start]);
                at = cut.end;
            }
        }
        out.extend_from_slice(&bytes[at..]);
        Some(std::borrow::Cow::Owned(out))
    }

    fn null_regex(&self) -> regex::Regex {
        let alternatives: Vec<String> = self.null_values.iter().map(|v| regex::escape(v)).collect();
        regex::Regex::new(&format!("^(?:{})$", alternatives.join("|")))
            .expect("escaped alternatives are a valid pattern")
    }

    /// The records of one block, as [`CsvFormat::parse`] reads them,
    /// leaving out each record that cannot be read (a value that does not
    /// fit its column, a row of the wrong width): those come back as
    /// [`Rejected`], each with its located error and its text, and the
    /// block's other records are kept.
    ///
    /// # Errors
    ///
    /// When Arrow refuses the block and no record can be blamed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_schema::{DataType, Field, Schema};
    /// use baton_records::{Blocks, Boundary, CsvFormat};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
    /// let block = Blocks::new(&b"1\nlate\n3\n"[..], Boundary::CsvRecords, 1 << 20).next().unwrap().unwrap();
    /// let (batch, rejected) = CsvFormat::default().parse_rejecting(&block, &schema, "a.csv").unwrap();
    /// assert_eq!(batch.num_rows(), 2);
    /// assert_eq!((rejected[0].line, rejected[0].text.as_str()), (2, "late"));
    /// assert!(rejected[0].error.to_string().starts_with("a.csv:2: column `n`"));
    /// ```
    pub fn parse_rejecting(
        &self,
        block: &Block,
        schema: &SchemaRef,
        file: &str,
    ) -> Result<(RecordBatch, Vec<Rejected>), RecordsError> {
        self.parse_columns_rejecting(block, schema, None, file)
    }

    /// [`CsvFormat::parse_rejecting`] of only the columns `columns` (see
    /// [`CsvFormat::parse_columns`]): a record is rejected for a value of
    /// a column decoded, or its width.
    ///
    /// # Errors
    ///
    /// When Arrow refuses the block and no record can be blamed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_schema::{DataType, Field, Schema};
    /// use baton_records::{Blocks, Boundary, CsvFormat};
    ///
    /// let schema = Arc::new(Schema::new(vec![
    ///     Field::new("n", DataType::Int64, true),
    ///     Field::new("m", DataType::Int64, true),
    /// ]));
    /// let block = Blocks::new(&b"1,x\ny,2\n3,4\n"[..], Boundary::CsvRecords, 1 << 20).next().unwrap().unwrap();
    /// let format = CsvFormat::default();
    /// // `m` is not decoded: its bad value in line 1 costs nothing.
    /// let (batch, rejected) = format.parse_columns_rejecting(&block, &schema, Some(&[0]), "a.csv").unwrap();
    /// assert_eq!(batch.num_rows(), 2);
    /// assert_eq!(rejected.len(), 1);
    /// assert_eq!(rejected[0].line, 2);
    /// ```
    pub fn parse_columns_rejecting(
        &self,
        block: &Block,
        schema: &SchemaRef,
        columns: Option<&[usize]>,
        file: &str,
    ) -> Result<(RecordBatch, Vec<Rejected>), RecordsError> {
        let refused = match self.parse_columns(block, schema, columns, file) {
            Ok(batch) => return Ok((batch, Vec::new())),
            Err(error) => error,
        };
        let bad = self.problems(block, schema, columns, file, usize::MAX);
        if bad.is_empty() {
            return Err(refused);
        }
        let out_schema = projected(schema, columns, file, block.first_line)?;
        crate::split::parse_around(block, bad, &out_schema, file, |piece| {
            self.parse_columns(piece, schema, columns, file)
        })
    }

    /// The first problem in a block that Arrow refused, at its line and
    /// column (Arrow's own message when none is found).
    fn locate(
        &self,
        block: &Block,
        schema: &SchemaRef,
        columns: Option<&[usize]>,
        file: &str,
        arrow_message: &str,
    ) -> RecordsError {
        match self.problems(block, schema, columns, file, 1).pop() {
            Some((_, rejected)) => rejected.error,
            None => RecordsError::at(file, block.first_line, arrow_message.to_string()),
        }
    }

    /// Up to `most` records of `block` that cannot be read, with their
    /// byte ranges in it.
    fn problems(
        &self,
        block: &Block,
        schema: &SchemaRef,
        columns: Option<&[usize]>,
        file: &str,
        most: usize,
    ) -> Vec<(std::ops::Range<usize>, Rejected)> {
        let mut found = Vec::new();
        let mut reader = self.reader(&block.bytes);
        let mut record = csv::StringRecord::new();
        while found.len() < most {
            let start = reader.position().byte() as usize;
            let line = block.first_line + reader.position().line() - 1;
            let problem = match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => self.problem(&record, schema, columns),
                Err(error) => Some(error.to_string()),
            };
            let end = (reader.position().byte() as usize).min(block.bytes.len());
            if let Some(message) = problem {
                let text = String::from_utf8_lossy(&block.bytes[start..end]);
                found.push((
                    start..end,
                    Rejected {
                        error: RecordsError::at(file, line, message),
                        line,
                        text: text.trim_end_matches(['\n', '\r']).to_string(),
                    },
                ));
            }
            if end <= start {
                break;
            }
        }
        found
    }

    /// What is wrong with `record` in the columns of `schema`, if anything.
    fn problem(
        &self,
        record: &csv::StringRecord,
        schema: &SchemaRef,
        columns: Option<&[usize]>,
    ) -> Option<String> {
        if record.len() != schema.fields().len() {
            return Some(format!(
                "a row of {} where the header has {}",
                values(record.len()),
                values(schema.fields().len())
            ));
        }
        for (index, (field, text)) in schema.fields().iter().zip(record.iter()).enumerate() {
            if columns.is_some_and(|columns| !columns.contains(&index)) {
                continue;
            }
            if self.is_null(text) {
                continue;
            }
            let kind = match field.data_type() {
                DataType::Int64 => ColumnType::Int,
                DataType::Float64 => ColumnType::Float,
                DataType::Boolean => ColumnType::Bool,
                _ => ColumnType::String,
            };
            if !kind.fits(text) && !arrow_parses(kind, text) {
                return Some(format!(
                    "column `{}`: {:?} is not {} (the column's type is {}{}); give the column's type with `types = {{ {} = \"string\" }}`, or a value for missing ones with `null_values`",
                    field.name(),
                    text,
                    kind.described(),
                    kind.name(),
                    if self.types.contains_key(field.name()) {
                        ", as given"
                    } else {
                        ", inferred from the first rows"
                    },
                    field.name()
                ));
            }
        }
        None
    }
}

/// `schema` cut to `columns` (all of it with `None`).
fn projected(
    schema: &SchemaRef,
    columns: Option<&[usize]>,
    file: &str,
    line: u64,
) -> Result<SchemaRef, RecordsError> {
    match columns {
        None => Ok(Arc::clone(schema)),
        Some(columns) => schema
            .project(columns)
            .map(Arc::new)
            .map_err(|error| RecordsError::at(file, line, error.to_string())),
    }
}

/// Whether Arrow's own parser takes `text` for a column of `kind` (it is a
/// little more lenient than inference: `+5`, `007`).
fn arrow_parses(kind: ColumnType, text: &str) -> bool {
    match kind {
        ColumnType::Int => text.parse::<i64>().is_ok(),
        ColumnType::Float => text.parse::<f64>().is_ok(),
        ColumnType::Bool => matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "1" | "0" | "yes" | "no"
        ),
        ColumnType::String => true,
    }
}

fn values(n: usize) -> String {
    if n == 1 {
        "1 value".into()
    } else {
        format!("{n} values")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::{Blocks, Boundary};
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::Array;
    use proptest::prelude::*;

    fn read_all(
        format: &CsvFormat,
        text: &str,
        target: usize,
    ) -> Result<Vec<RecordBatch>, RecordsError> {
        let (names, rest) = format.split_header(text.as_bytes(), "t.csv")?;
        let rows = &text.as_bytes()[rest..];
        let schema = format.infer_schema(&names, rows, "t.csv")?;
        let header_lines = text.as_bytes()[..rest]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        Blocks::new(rows, Boundary::CsvRecords, target)
            .starting_at_line(1 + header_lines)
            .map(|block| format.parse(&block.unwrap(), &schema, "t.csv"))
            .collect()
    }

    #[test]
    fn types_are_inferred_per_column() {
        let text = "i,f,b,s,z,n\n1,1.5,true,x,007,\n-2,3,false,3,1,\n";
        let batches = read_all(&CsvFormat::default(), text, 1 << 20).unwrap();
        let schema = batches[0].schema();
        let types: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
        assert_eq!(
            types,
            [
                &DataType::Int64,
                &DataType::Float64,
                &DataType::Boolean,
                &DataType::Utf8,
                &DataType::Utf8,
                &DataType::Utf8
            ]
        );
    }

    #[test]
    fn a_value_that_does_not_fit_names_file_line_and_column() {
        let mut text = String::from("n,s\n");
        for i in 0..20 {
            text.push_str(&format!("{i},\"a\nb\"\n"));
        }
        text.push_str("oops,x\n");
        let format = CsvFormat {
            sample_rows: 5,
            ..CsvFormat::default()
        };
        let error = read_all(&format, &text, 1 << 20).unwrap_err().to_string();
        assert!(
            error.starts_with("t.csv:42: column `n`: \"oops\" is not an integer"),
            "{error}"
        );
    }

    #[test]
    fn given_types_and_null_values_are_used() {
        let format = CsvFormat {
            null_values: vec!["NA".into()],
            types: [("code".to_string(), ColumnType::String)].into(),
            ..CsvFormat::default()
        };
        let batches = read_all(&format, "code,delay\n1,NA\n2,5\n", 1 << 20).unwrap();
        let batch = &batches[0];
        assert_eq!(batch.schema().field(0).data_type(), &DataType::Utf8);
        let delay = batch.column(1).as_primitive::<Int64Type>();
        assert!(delay.is_null(0));
        assert_eq!(delay.value(1), 5);
        let unknown = CsvFormat {
            types: [("nope".to_string(), ColumnType::Int)].into(),
            ..CsvFormat::default()
        };
        let error = read_all(&unknown, "a\n1\n", 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`nope`, which the file does not have (its columns: a)"),
            "{error}"
        );
    }

    #[test]
    fn a_short_row_is_located() {
        let error = read_all(&CsvFormat::default(), "a,b\n1,2\n3\n", 1 << 20)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "t.csv:3: a row of 1 value where the header has 2 values"
        );
    }

    proptest! {
        /// Parsed in blocks of any size, a file gives the rows a serial
        /// CSV reader gives, in order: quoted newlines, quotes and
        /// multi-byte UTF-8 at block edges included.
        #[test]
        fn blocks_of_any_size_give_the_serial_rows(
            rows in proptest::collection::vec(("[aé\"\n,€x]{0,6}", -50i64..50), 1..30),
            target in 1usize..80,
        ) {
            let mut text = String::from("s,n\n");
            for (s, n) in &rows {
                text.push_str(&format!("\"{}\",{n}\n", s.replace('"', "\"\"")));
            }
            let format = CsvFormat { null_values: vec![], ..CsvFormat::default() };
            let batches = read_all(&format, &text, target).unwrap();
            let mut got = Vec::new();
            for batch in &batches {
                let s = batch.column(0).as_string::<i32>();
                let n = batch.column(1).as_primitive::<Int64Type>();
                for i in 0..batch.num_rows() {
                    got.push((s.value(i).to_string(), n.value(i)));
                }
            }
            let want: Vec<(String, i64)> = rows.iter().map(|(s, n)| (s.clone(), *n)).collect();
            prop_assert_eq!(got, want);
        }
    }

    proptest! {
        /// Rows whose `n` is not a number, or whose width is wrong, are
        /// rejected at their line with their text; every other row is kept,
        /// in order, whatever the block size.
        #[test]
        fn bad_rows_are_rejected_and_the_rest_of_their_block_is_kept(
            rows in proptest::collection::vec((0u8..10, "[a-z]{1,3}", 0u8..3), 1..60),
            target in 1usize..200,
        ) {
            let schema = Arc::new(Schema::new(vec![
                Field::new("n", DataType::Int64, true),
                Field::new("s", DataType::Utf8, true),
            ]));
            let format = CsvFormat::default();
            let mut text = String::new();
            let mut good = Vec::new();
            let mut bad = Vec::new();
            for (i, (kind, word, n)) in rows.iter().enumerate() {
                let line = i as u64 + 1;
                let row = match kind {
                    0 => format!("{word},{word}"),
                    1 => format!("{n}"),
                    2 => format!("{n},\"{word}\n{word}\""),
                    _ => format!("{n},{word}"),
                };
                match kind {
                    0 | 1 => bad.push((line + text.matches('\n').count() as u64 - i as u64, row.clone())),
                    2 => good.push((*n as i64, format!("{word}\n{word}"))),
                    _ => good.push((*n as i64, word.clone())),
                }
                text.push_str(&row);
                text.push('\n');
            }
            let mut got = Vec::new();
            let mut rejected = Vec::new();
            for block in Blocks::new(text.as_bytes(), Boundary::CsvRecords, target) {
                let (batch, out) = format.parse_rejecting(&block.unwrap(), &schema, "t.csv").unwrap();
                let n = batch.column(0).as_primitive::<Int64Type>();
                let s = batch.column(1).as_string::<i32>();
                got.extend((0..batch.num_rows()).map(|i| (n.value(i), s.value(i).to_string())));
                rejected.extend(out.into_iter().map(|r| {
                    assert!(r.error.to_string().starts_with(&format!("t.csv:{}: ", r.line)), "{}", r.error);
                    (r.line, r.text)
                }));
            }
            prop_assert_eq!(got, good);
            prop_assert_eq!(rejected, bad);
        }
    }

    proptest! {
        /// Null values made empty before Arrow reads a block give the same
        /// batch as the regex that tests every value.
        #[test]
        fn null_values_made_empty_read_like_the_regex(
            rows in proptest::collection::vec(
                proptest::collection::vec(prop_oneof!["NA", "", "N", "NAN", "-?[0-9]{1,3}", "\"NA\""], 3),
                1..30,
            ),
            nulls in prop_oneof![
                Just(vec!["NA".to_string()]),
                Just(vec!["NA".to_string(), String::new()]),
                Just(vec!["NA".to_string(), "N".to_string()]),
            ],
            crlf in proptest::bool::ANY,
        ) {
            let schema = Arc::new(Schema::new(vec![
                Field::new("a", DataType::Int64, true),
                Field::new("b", DataType::Utf8, true),
                Field::new("c", DataType::Utf8, true),
            ]));
            let end = if crlf { "\r\n" } else { "\n" };
            let text: String = rows.iter().map(|r| r.join(",") + end).collect();
            let format = CsvFormat { null_values: nulls, ..CsvFormat::default() };
            let block = Block { first_line: 1, bytes: text.clone().into_bytes(), ..Block::default() };
            let by_regex = {
                let arrow = arrow_csv::reader::Format::default()
                    .with_header(false)
                    .with_null_regex(format.null_regex());
                arrow_csv::ReaderBuilder::new(Arc::clone(&schema))
                    .with_format(arrow)
                    .build_buffered(text.as_bytes())
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())
            };
            let fast = format.parse(&block, &schema, "t.csv");
            match (by_regex, fast) {
                (Ok(batches), Ok(batch)) => {
                    let want = arrow_select::concat::concat_batches(&schema, &batches).unwrap();
                    prop_assert_eq!(batch, want);
                }
                (Err(_), Err(_)) => {}
                (want, got) => prop_assert!(false, "regex {:?}, fast {:?}", want, got.map(|b| b.num_rows())),
            }
        }
    }
}
