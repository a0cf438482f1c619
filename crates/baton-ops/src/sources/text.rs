//! Text files read line by line, decompressed on the way when their
//! extension says so (`.gz`, `.zst`, `.zstd`).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

use super::error::SourceError;
use crate::codec::Codec;

/// One line of a text stream, without its line end.
#[derive(Debug)]
pub(crate) struct Line {
    /// The file it is from (or `stdin`).
    pub(crate) source: Arc<str>,
    /// Its number, from 1.
    pub(crate) no: u64,
    /// Its text.
    pub(crate) text: String,
}

/// Opens a file for reading, decompressing it by its extension.
pub(crate) fn open(path: &Path) -> Result<Box<dyn BufRead + Send>, SourceError> {
    let file_error = |error| SourceError::File {
        path: path.display().to_string(),
        error,
    };
    let file = File::open(path).map_err(file_error)?;
    Ok(match Codec::from_extension(path) {
        None => Box::new(BufReader::with_capacity(1 << 16, file)),
        Some(codec) => Box::new(BufReader::with_capacity(
            1 << 16,
            codec.reader(file).map_err(file_error)?,
        )),
    })
}

/// The byte-order mark some editors put at the start of UTF-8 text.
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// The lines of one stream, numbered from 1; `\n` and `\r\n` ends are
/// removed, and a byte-order mark at the start. A line that is not UTF-8 is an `Err` and reading goes on.
#[derive(Debug)]
pub(crate) struct Lines<R> {
    reader: R,
    source: Arc<str>,
    line_no: u64,
    done: bool,
}

impl<R: BufRead> Lines<R> {
    /// The lines of `reader`, which is named `source` in items and errors.
    pub(crate) fn new(reader: R, source: impl Into<Arc<str>>) -> Self {
        Self {
            reader,
            source: source.into(),
            line_no: 0,
            done: false,
        }
    }
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = Result<Line, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut bytes = Vec::new();
        self.line_no += 1;
        match self.reader.read_until(b'\n', &mut bytes) {
            Ok(0) => {
                self.done = true;
                None
            }
            Ok(_) => {
                if self.line_no == 1 && bytes.starts_with(UTF8_BOM) {
                    bytes.drain(..UTF8_BOM.len());
                }
                if bytes.last() == Some(&b'\n') {
                    bytes.pop();
                    if bytes.last() == Some(&b'\r') {
                        bytes.pop();
                    }
                }
                Some(match String::from_utf8(bytes) {
                    Ok(text) => Ok(Line {
                        source: Arc::clone(&self.source),
                        no: self.line_no,
                        text,
                    }),
                    Err(e) => Err(SourceError::Parse {
                        path: self.source.to_string(),
                        line: self.line_no,
                        message: format!(
                            "not UTF-8 text (byte {} of the line)",
                            e.utf8_error().valid_up_to() + 1
                        ),
                    }),
                })
            }
            Err(error) => {
                self.done = true;
                Some(Err(SourceError::Read {
                    path: self.source.to_string(),
                    line: self.line_no,
                    error,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn texts(input: &[u8]) -> Vec<Result<(u64, String), String>> {
        Lines::new(Cursor::new(input.to_vec()), "in")
            .map(|r| r.map(|l| (l.no, l.text)).map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn numbers_lines_and_strips_both_line_ends() {
        assert_eq!(
            texts(b"a\r\nb\n\nc"),
            vec![
                Ok((1, "a".into())),
                Ok((2, "b".into())),
                Ok((3, String::new())),
                Ok((4, "c".into()))
            ]
        );
        assert!(texts(b"").is_empty());
        assert_eq!(texts(b"\xef\xbb\xbfa\n"), vec![Ok((1, "a".into()))]);
    }

    #[test]
    fn a_line_that_is_not_utf8_is_an_error_and_reading_goes_on() {
        let lines = texts(b"ok\nb\xffd\nok again\n");
        assert_eq!(lines[0], Ok((1, "ok".into())));
        assert_eq!(
            lines[1],
            Err("in:2: not UTF-8 text (byte 2 of the line)".into())
        );
        assert_eq!(lines[2], Ok((3, "ok again".into())));
    }
}
