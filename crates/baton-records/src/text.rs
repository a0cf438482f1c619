//! Text lines into record batches, a block at a time: one row per line,
//! with the line's text, the file it is from and its number.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::error::{RecordsError, Rejected};
use crate::split::Block;

/// The byte-order mark some editors put at the start of UTF-8 text.
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// How text lines are read: the columns are `line` (its text, without
/// `\n` or `\r\n`), `path` (the file) and `line_no` (from 1).
///
/// # Examples
///
/// ```
/// use baton_records::{Blocks, Boundary, TextLines};
/// use arrow_array::cast::AsArray;
///
/// let block = Blocks::new(&b"first\r\nsecond\n"[..], Boundary::Lines, 1 << 20).next().unwrap().unwrap();
/// let batch = TextLines::default().parse(&block, "a.log").unwrap();
/// assert_eq!(batch.num_rows(), 2);
/// assert_eq!(batch.column(0).as_string::<i32>().value(0), "first");
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct TextLines {}

impl TextLines {
    /// The schema of every batch: `line`, `path`, `line_no`.
    ///
    /// # Examples
    ///
    /// ```
    /// let schema = baton_records::TextLines::schema();
    /// assert_eq!(schema.field(2).name(), "line_no");
    /// ```
    pub fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("line", DataType::Utf8, false),
            Field::new("path", DataType::Utf8, false),
            Field::new("line_no", DataType::Int64, false),
        ]))
    }

    /// The lines of one block as a record batch. A byte-order mark at the
    /// start of the file's first block is dropped.
    ///
    /// # Errors
    ///
    /// A line that is not UTF-8, named by file and line.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_records::{Blocks, Boundary, TextLines};
    ///
    /// let block = Blocks::new(&b"ok\nb\xffd\n"[..], Boundary::Lines, 1 << 20).next().unwrap().unwrap();
    /// let error = TextLines::default().parse(&block, "a.log").unwrap_err();
    /// assert_eq!(error.to_string(), "a.log:2: not UTF-8 text (byte 2 of the line)");
    /// ```
    pub fn parse(&self, block: &Block, file: &str) -> Result<RecordBatch, RecordsError> {
        let mut bytes = block.bytes.as_slice();
        if block.first_line == 1 {
            bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
        }
        let text = std::str::from_utf8(bytes).map_err(|error| {
            let bad = error.valid_up_to();
            let before = &bytes[..bad];
            let line_start = memchr::memrchr(b'\n', before).map_or(0, |at| at + 1);
            let line = block.first_line + memchr::memchr_iter(b'\n', before).count() as u64;
            RecordsError::at(
                file,
                line,
                format!("not UTF-8 text (byte {} of the line)", bad - line_start + 1),
            )
        })?;
        let body = text.strip_suffix('\n').unwrap_or(text);
        let lines: Vec<&str> = if text.is_empty() {
            Vec::new()
        } else {
            body.split('\n')
                .map(|line| line.strip_suffix('\r').unwrap_or(line))
                .collect()
        };
        let rows = lines.len();
        let numbers = (0..rows as u64).map(|n| (block.first_line + n) as i64);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(lines)),
            Arc::new(StringArray::from(vec![file; rows])),
            Arc::new(Int64Array::from_iter_values(numbers)),
        ];
        RecordBatch::try_new(Self::schema(), columns)
            .map_err(|error| RecordsError::at(file, block.first_line, error.to_string()))
    }
}

impl TextLines {
    /// The lines of one block as [`TextLines::parse`] reads them, leaving
    /// out each line that is not UTF-8: those come back as [`Rejected`]
    /// (their text with the bad bytes replaced), and the block's other
    /// lines are kept.
    ///
    /// # Errors
    ///
    /// None in practice: every line is either read or rejected.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_records::{Blocks, Boundary, TextLines};
    ///
    /// let block = Blocks::new(&b"ok\nb\xffd\nfine\n"[..], Boundary::Lines, 1 << 20).next().unwrap().unwrap();
    /// let (batch, rejected) = TextLines::default().parse_rejecting(&block, "a.log").unwrap();
    /// assert_eq!(batch.num_rows(), 2);
    /// assert_eq!((rejected[0].line, rejected[0].text.as_str()), (2, "b\u{fffd}d"));
    /// ```
    pub fn parse_rejecting(
        &self,
        block: &Block,
        file: &str,
    ) -> Result<(RecordBatch, Vec<Rejected>), RecordsError> {
        let refused = match self.parse(block, file) {
            Ok(batch) => return Ok((batch, Vec::new())),
            Err(error) => error,
        };
        let mut bad = Vec::new();
        let mut start = 0;
        let mut line = block.first_line;
        while start < block.bytes.len() {
            let end = memchr::memchr(b'\n', &block.bytes[start..])
                .map_or(block.bytes.len(), |at| start + at + 1);
            let mut text = &block.bytes[start..end];
            if line == 1 {
                text = text.strip_prefix(UTF8_BOM).unwrap_or(text);
            }
            if let Err(error) = std::str::from_utf8(text) {
                bad.push((
                    start..end,
                    Rejected {
                        error: RecordsError::at(
                            file,
                            line,
                            format!(
                                "not UTF-8 text (byte {} of the line)",
                                error.valid_up_to() + 1
                            ),
                        ),
                        line,
                        text: String::from_utf8_lossy(text)
                            .trim_end_matches(['\n', '\r'])
                            .to_string(),
                    },
                ));
            }
            start = end;
            line += 1;
        }
        if bad.is_empty() {
            return Err(refused);
        }
        crate::split::parse_around(block, bad, &Self::schema(), file, |piece| {
            self.parse(piece, file)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::{Blocks, Boundary};
    use arrow_array::cast::AsArray;
    use proptest::prelude::*;

    fn lines_of(text: &[u8], target: usize) -> Vec<(String, i64)> {
        Blocks::new(text, Boundary::Lines, target)
            .flat_map(|block| {
                let batch = TextLines::default().parse(&block.unwrap(), "f").unwrap();
                let line = batch.column(0).as_string::<i32>().clone();
                let no = batch
                    .column(2)
                    .as_primitive::<arrow_array::types::Int64Type>()
                    .clone();
                (0..batch.num_rows())
                    .map(|i| (line.value(i).to_string(), no.value(i)))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn both_line_ends_a_last_line_without_one_and_a_bom() {
        assert_eq!(
            lines_of(b"\xef\xbb\xbfa\r\nb\n\nc", 1 << 20),
            vec![
                ("a".to_string(), 1),
                ("b".to_string(), 2),
                (String::new(), 3),
                ("c".to_string(), 4)
            ]
        );
        assert!(lines_of(b"", 16).is_empty());
    }

    #[test]
    fn a_bad_line_deep_in_a_later_block_is_located() {
        let mut text = b"x\n".repeat(100);
        text.extend_from_slice(b"ok\nab\xc3(\n");
        let error = Blocks::new(&text[..], Boundary::Lines, 64)
            .map(|b| TextLines::default().parse(&b.unwrap(), "f"))
            .find_map(Result::err)
            .unwrap();
        assert_eq!(
            error.to_string(),
            "f:102: not UTF-8 text (byte 3 of the line)"
        );
    }

    proptest! {
        /// Any block size gives the lines a plain split gives, numbered the
        /// same, multi-byte characters across block edges included.
        #[test]
        fn blocks_of_any_size_give_the_lines_of_one_split(
            lines in proptest::collection::vec("[a-zé€\r ]{0,6}", 0..40),
            target in 1usize..50,
        ) {
            let text = lines.join("\n");
            let expected: Vec<(String, i64)> = if text.is_empty() {
                Vec::new()
            } else {
                // A newline ends a line: a last one ends the last line.
                text.strip_suffix('\n')
                    .unwrap_or(&text)
                    .split('\n')
                    .enumerate()
                    .map(|(i, l)| (l.strip_suffix('\r').unwrap_or(l).to_string(), i as i64 + 1))
                    .collect()
            };
            prop_assert_eq!(lines_of(text.as_bytes(), target), expected);
        }

        /// Lines that are not UTF-8 are rejected at their number; the
        /// others are kept in order, whatever the block size.
        #[test]
        fn lines_that_are_not_utf8_are_rejected_and_the_rest_kept(
            lines in proptest::collection::vec(("[a-zé]{0,5}", proptest::bool::weighted(0.3)), 1..40),
            target in 1usize..50,
        ) {
            let mut text = Vec::new();
            let mut good = Vec::new();
            let mut bad = Vec::new();
            for (i, (line, broken)) in lines.iter().enumerate() {
                let no = i as i64 + 1;
                if *broken {
                    text.extend_from_slice(line.as_bytes());
                    text.push(0xff);
                    bad.push(no as u64);
                } else {
                    text.extend_from_slice(line.as_bytes());
                    good.push((line.clone(), no));
                }
                text.push(b'\n');
            }
            let mut got = Vec::new();
            let mut rejected = Vec::new();
            for block in Blocks::new(text.as_slice(), Boundary::Lines, target) {
                let (batch, out) = TextLines::default().parse_rejecting(&block.unwrap(), "f").unwrap();
                let texts = batch.column(0).as_string::<i32>();
                let numbers = batch.column(2).as_primitive::<arrow_array::types::Int64Type>();
                got.extend((0..batch.num_rows()).map(|i| (texts.value(i).to_string(), numbers.value(i))));
                rejected.extend(out.into_iter().map(|r| r.line));
            }
            prop_assert_eq!(got, good);
            prop_assert_eq!(rejected, bad);
        }
    }
}
