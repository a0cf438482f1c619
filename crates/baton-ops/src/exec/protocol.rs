//! The two ways items cross the pipe: JSON lines, or length-framed bytes.
//! See the `exec` module's documentation for the contract.

use std::io::{self, BufRead, Read};

use serde_json::Value;

use super::error::ExecError;
use crate::item::{Item, Payload};

/// The longest piece of an answer quoted in an error.
const QUOTE_CHARS: usize = 200;

/// How requests and answers are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Protocol {
    /// One JSON record per line.
    Jsonl,
    /// A 4-byte big-endian length, then the bytes.
    Bytes,
}

impl Protocol {
    /// The protocol named `name` in a pipeline file.
    pub(super) fn parse(name: &str) -> Option<Protocol> {
        match name {
            "jsonl" => Some(Protocol::Jsonl),
            "bytes" => Some(Protocol::Bytes),
            _ => None,
        }
    }

    /// What is written to the worker's stdin for `item`.
    pub(super) fn request(self, item: &Item) -> Result<Vec<u8>, ExecError> {
        match self {
            Protocol::Jsonl => {
                // JSON escapes newlines inside strings: the record stays one line.
                let mut line = item.to_json().to_string().into_bytes();
                line.push(b'\n');
                Ok(line)
            }
            Protocol::Bytes => {
                let Payload::Bytes(bytes) = &item.payload else {
                    return Err(ExecError::NotBytes {
                        found: item.payload.kind(),
                    });
                };
                let len = u32::try_from(bytes.len())
                    .map_err(|_| ExecError::TooLong { len: bytes.len() })?;
                let mut frame = Vec::with_capacity(4 + bytes.len());
                frame.extend_from_slice(&len.to_be_bytes());
                frame.extend_from_slice(bytes);
                Ok(frame)
            }
        }
    }

    /// Reads one answer from the worker's stdout; `None` when it ended
    /// cleanly before one began.
    pub(super) fn read_answer(self, stdout: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
        match self {
            Protocol::Jsonl => {
                let mut line = Vec::new();
                // A last line without its newline still counts as an answer.
                Ok((stdout.read_until(b'\n', &mut line)? > 0).then_some(line))
            }
            Protocol::Bytes => {
                let mut head = [0u8; 4];
                let mut got = 0;
                while got < head.len() {
                    match stdout.read(&mut head[got..]) {
                        Ok(0) if got == 0 => return Ok(None),
                        Ok(0) => return Err(cut_short("length", got, head.len())),
                        Ok(n) => got += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                let len = u32::from_be_bytes(head) as usize;
                // Grows as bytes arrive: a bogus length costs no huge allocation.
                let mut bytes = Vec::new();
                stdout.take(len as u64).read_to_end(&mut bytes)?;
                if bytes.len() < len {
                    return Err(cut_short("payload", bytes.len(), len));
                }
                Ok(Some(bytes))
            }
        }
    }

    /// The output items of `item`, made of the worker's `answer`.
    pub(super) fn outputs(
        self,
        item: Item,
        answer: Vec<u8>,
        out: &mut Vec<Item>,
    ) -> Result<(), ExecError> {
        match self {
            Protocol::Bytes => {
                out.push(Item {
                    fields: item.fields,
                    payload: Payload::Bytes(answer),
                });
                Ok(())
            }
            Protocol::Jsonl => {
                let value: Value =
                    serde_json::from_slice(&answer).map_err(|e| ExecError::NotJson {
                        reason: e.to_string(),
                        line: quote(&answer),
                    })?;
                let not_records = || ExecError::NotRecords {
                    line: quote(&answer),
                };
                match value {
                    Value::Null => Ok(()),
                    Value::Object(fields) => {
                        out.push(Item::record(Value::Object(fields)));
                        Ok(())
                    }
                    Value::Array(values) => {
                        let start = out.len();
                        for value in values {
                            let Value::Object(fields) = value else {
                                out.truncate(start);
                                return Err(not_records());
                            };
                            out.push(Item::record(Value::Object(fields)));
                        }
                        Ok(())
                    }
                    _ => Err(not_records()),
                }
            }
        }
    }
}

fn cut_short(what: &str, got: usize, wanted: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the answer was cut short: {got} of its {wanted} {what} bytes"),
    )
}

/// An answer as text for a message: one line, at most `QUOTE_CHARS` characters.
fn quote(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    let text = text.trim_end_matches(['\n', '\r']);
    match text.char_indices().nth(QUOTE_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outputs(answer: &str) -> Result<Vec<Item>, String> {
        let mut out = Vec::new();
        Protocol::Jsonl
            .outputs(Item::default(), answer.as_bytes().to_vec(), &mut out)
            .map(|()| out)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_record_is_one_line_and_a_payload_only_noted() {
        let mut item = Item::with_field("text", "two\nlines");
        item.payload = Payload::Bytes(vec![0; 3]);
        let line = Protocol::Jsonl.request(&item).unwrap();
        assert_eq!(
            line,
            b"{\"_payload\":\"bytes[3]\",\"text\":\"two\\nlines\"}\n"
        );
    }

    #[test]
    fn objects_null_and_arrays_are_one_none_and_many_items() {
        assert_eq!(
            outputs("{\"a\":1}\n").unwrap(),
            vec![Item::with_field("a", 1)]
        );
        assert_eq!(outputs("null\n").unwrap(), vec![]);
        assert_eq!(
            outputs("[{\"a\":1},{\"a\":2}]").unwrap(),
            vec![Item::with_field("a", 1), Item::with_field("a", 2)]
        );
        assert_eq!(outputs("[]").unwrap(), vec![]);
    }

    #[test]
    fn other_answers_are_quoted_and_truncated() {
        let error = outputs("hello there\n").unwrap_err();
        assert!(error.starts_with("the worker's answer is not JSON (expected value at line 1 column 1): `hello there`;"), "{error}");
        let error = outputs(&"x".repeat(500)).unwrap_err();
        assert!(
            error.contains(&format!("`{}…`", "x".repeat(200))),
            "{error}"
        );
        let error = outputs("[{\"a\":1}, 2]").unwrap_err();
        assert_eq!(error, "the worker's answer must be an object, null or an array of objects, not `[{\"a\":1}, 2]`");
        assert!(outputs("42").is_err());
    }

    #[test]
    fn frames_round_trip_and_keep_the_fields() {
        let mut item = Item::record(json!({"path": "a"}));
        item.payload = Payload::Bytes(b"abc".to_vec());
        let frame = Protocol::Bytes.request(&item).unwrap();
        assert_eq!(frame, b"\0\0\0\x03abc");
        let mut stdout = &frame[..];
        let answer = Protocol::Bytes.read_answer(&mut stdout).unwrap().unwrap();
        assert_eq!(Protocol::Bytes.read_answer(&mut stdout).unwrap(), None);
        let mut out = Vec::new();
        Protocol::Bytes
            .outputs(item.clone(), answer, &mut out)
            .unwrap();
        assert_eq!(out, vec![item]);
    }

    #[test]
    fn a_short_frame_is_an_error_and_a_record_is_not_bytes() {
        let mut stdout = &b"\0\0\0\x09abc"[..];
        let error = Protocol::Bytes.read_answer(&mut stdout).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the answer was cut short: 3 of its 9 payload bytes"
        );
        let error = Protocol::Bytes
            .request(&Item::with_field("a", 1))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the `bytes` protocol sends the payload's bytes, but the payload is `none`"
        );
    }
}
