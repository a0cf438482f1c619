//! The three ways items cross the pipe: JSON lines, framed bytes, or
//! framed Arrow IPC streams; all tie each answer to its request by an id.
//! See the `exec` module's documentation for the contract.

use std::io::{self, BufRead, Read};
use std::sync::Arc;

use arrow_array::{ArrayRef, BinaryArray, RecordBatch};
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{DataType, Field, Schema};
use serde_json::{Map, Value};

use super::error::ExecError;
use crate::item::{Item, Payload};

/// The column of an `arrow` request that holds the payloads of row items.
pub(super) const PAYLOAD_COLUMN: &str = "_payload";

/// The longest piece of an answer quoted in an error.
const QUOTE_CHARS: usize = 200;

/// The field of a `jsonl` request that holds its id, which an answer
/// echoes to say which request it answers.
pub(super) const ID_FIELD: &str = "_request";

/// The field of a `jsonl` answer object that holds its items instead of
/// being one (`{"_request": 7, "_items": []}`): the way to tie an answer
/// of no item, or of many, to its request.
pub(super) const ITEMS_FIELD: &str = "_items";

/// A request's id: it grows by one with each request a replica sends.
pub(super) type RequestId = u32;

/// How requests and answers are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Protocol {
    /// One JSON record per line.
    Jsonl,
    /// A header (a 4-byte id, a 4-byte length, both big-endian), then the bytes.
    Bytes,
    /// A header as for `Bytes`, then an Arrow IPC stream of record batches.
    Arrow,
}

/// One answer as read from the worker's stdout, before it is decoded.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Answer {
    /// The id in a frame's header (`bytes`); a JSON line's is in its text.
    pub(super) id: Option<RequestId>,
    /// The line (with its newline, if it had one) or the frame's bytes.
    pub(super) bytes: Vec<u8>,
}

/// An answer decoded (on the thread that reads the worker's stdout), with
/// the id it claims, if any.
#[derive(Debug)]
pub(super) struct Decoded {
    /// The id in a frame's header, or the `_request` a JSON answer carries
    /// (its envelope's, its object's, or its array's first).
    pub(super) id: Option<RequestId>,
    /// What it says, or why it cannot be read.
    pub(super) body: Result<Body, ExecError>,
}

/// What an answer says.
#[derive(Debug)]
pub(super) enum Body {
    /// A JSON value, with its line for messages.
    Json(Value, Vec<u8>),
    /// A frame's bytes.
    Bytes(Vec<u8>),
    /// The record batches of an Arrow IPC stream.
    Batches(Vec<RecordBatch>),
}

/// Why no answer could be read.
#[derive(Debug)]
pub(super) enum ReadFailure {
    /// The answer is longer than the limit: it was not read to its end.
    TooLong,
    /// Reading failed, or the answer was cut short.
    Io(io::Error),
}

impl From<io::Error> for ReadFailure {
    fn from(error: io::Error) -> Self {
        ReadFailure::Io(error)
    }
}

impl Protocol {
    /// What is written to the worker's stdin for `item`, as request `id`.
    pub(super) fn request(self, item: &Item, id: RequestId) -> Result<Vec<u8>, ExecError> {
        match self {
            Protocol::Jsonl => {
                if item.fields.contains_key(ID_FIELD) {
                    return Err(ExecError::IdFieldTaken);
                }
                let mut record = item.to_json();
                if let Value::Object(fields) = &mut record {
                    fields.insert(ID_FIELD.into(), id.into());
                }
                // JSON escapes newlines inside strings: the record stays one line.
                let mut line = record.to_string().into_bytes();
                line.push(b'\n');
                Ok(line)
            }
            Protocol::Bytes => {
                let Payload::Bytes(bytes) = &item.payload else {
                    return Err(ExecError::NotBytes {
                        found: item.payload.kind(),
                    });
                };
                let mut frame = Vec::with_capacity(8 + bytes.len());
                frame_into(&mut frame, id, bytes)?;
                Ok(frame)
            }
            Protocol::Arrow => match &item.payload {
                Payload::Records(batch) => batch_request(batch, id),
                _ => batch_request(&rows_batch(std::slice::from_ref(item))?, id),
            },
        }
    }

    /// Reads one answer of at most `limit` bytes (a line's newline not
    /// counted) from the worker's stdout; `None` when it ended cleanly
    /// before one began. Never holds more than `limit` + 1 bytes of it: a
    /// longer answer is left unread, and the stream with it.
    pub(super) fn read_answer(
        self,
        stdout: &mut impl BufRead,
        limit: usize,
    ) -> Result<Option<Answer>, ReadFailure> {
        match self {
            Protocol::Jsonl => {
                let mut line = Vec::new();
                let most = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
                if stdout.take(most).read_until(b'\n', &mut line)? == 0 {
                    return Ok(None);
                }
                // A last line without its newline still counts as an answer.
                if line.last() != Some(&b'\n') && line.len() > limit {
                    return Err(ReadFailure::TooLong);
                }
                Ok(Some(Answer {
                    id: None,
                    bytes: line,
                }))
            }
            Protocol::Bytes | Protocol::Arrow => {
                let mut head = [0u8; 8];
                let mut got = 0;
                while got < head.len() {
                    match stdout.read(&mut head[got..]) {
                        Ok(0) if got == 0 => return Ok(None),
                        Ok(0) => return Err(cut_short("header", got, head.len()).into()),
                        Ok(n) => got += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                let [a, b, c, d, e, f, g, h] = head;
                let id = u32::from_be_bytes([a, b, c, d]);
                let len = u32::from_be_bytes([e, f, g, h]);
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                if len > limit {
                    return Err(ReadFailure::TooLong);
                }
                // Grows as bytes arrive: a bogus length costs no huge allocation.
                let mut bytes = Vec::new();
                stdout.take(len as u64).read_to_end(&mut bytes)?;
                if bytes.len() < len {
                    return Err(cut_short("payload", bytes.len(), len).into());
                }
                Ok(Some(Answer {
                    id: Some(id),
                    bytes,
                }))
            }
        }
    }

    /// Decodes an answer: what it says, and the id it claims.
    pub(super) fn decode(self, answer: Answer) -> Decoded {
        match self {
            Protocol::Bytes => Decoded {
                id: answer.id,
                body: Ok(Body::Bytes(answer.bytes)),
            },
            Protocol::Arrow => Decoded {
                id: answer.id,
                body: read_batches(&answer.bytes).map(Body::Batches),
            },
            Protocol::Jsonl => match serde_json::from_slice::<Value>(&answer.bytes) {
                Ok(value) => Decoded {
                    id: claimed_id(&value),
                    body: Ok(Body::Json(value, answer.bytes)),
                },
                Err(e) => Decoded {
                    id: None,
                    body: Err(ExecError::NotJson {
                        reason: e.to_string(),
                        line: quote(&answer.bytes),
                    }),
                },
            },
        }
    }

    /// Whether `buffered` (what has been read of the worker's stdout) holds
    /// a whole answer.
    pub(super) fn has_whole_answer(self, buffered: &[u8]) -> bool {
        match self {
            Protocol::Jsonl => buffered.contains(&b'\n'),
            Protocol::Bytes | Protocol::Arrow => match buffered.get(4..8) {
                Some(&[a, b, c, d]) => {
                    let len = u32::from_be_bytes([a, b, c, d]) as usize;
                    buffered.len() >= 8usize.saturating_add(len)
                }
                _ => false,
            },
        }
    }

    /// The output items of `item`, made of the worker's answer `body` to
    /// request `id`, which claims the id `claimed`. An answer that carries
    /// another request's id is out of step; with `require_ids`, one that
    /// carries no id at all is refused too.
    pub(super) fn outputs(
        self,
        item: &Item,
        claimed: Option<RequestId>,
        body: Body,
        id: RequestId,
        require_ids: bool,
        out: &mut Vec<Item>,
    ) -> Result<(), ExecError> {
        if self != Protocol::Jsonl && claimed != Some(id) {
            return Err(ExecError::OutOfStep {
                expected: id,
                got: claimed.map_or_else(|| "none".into(), |got| got.to_string()),
            });
        }
        match body {
            Body::Bytes(bytes) => {
                out.push(Item {
                    fields: item.fields.clone(),
                    payload: Payload::Bytes(bytes),
                });
                Ok(())
            }
            Body::Batches(batches) => {
                out.extend(batches.into_iter().map(Item::records));
                Ok(())
            }
            Body::Json(value, answer) => {
                let (records, tied) = tied_records(value, id, &answer)?;
                if require_ids && !tied {
                    return Err(ExecError::NoId {
                        expected: id,
                        line: quote(&answer),
                    });
                }
                // The worker sees the record only: the payload stays with the
                // item, on every output made of it (a `files` sink after the
                // stage still writes the image, not the JSON).
                out.extend(records.into_iter().map(|fields| Item {
                    payload: item.payload.clone(),
                    ..Item::record(Value::Object(fields))
                }));
                Ok(())
            }
        }
    }
}

/// Writes a frame (the id, the length, the bytes) at the end of `out`.
pub(super) fn frame_into(out: &mut Vec<u8>, id: RequestId, bytes: &[u8]) -> Result<(), ExecError> {
    let len = u32::try_from(bytes.len()).map_err(|_| ExecError::TooLong { len: bytes.len() })?;
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// The `arrow` request of a record batch: a frame holding an IPC stream
/// (the schema, the batch, the end of the stream).
pub(super) fn batch_request(batch: &RecordBatch, id: RequestId) -> Result<Vec<u8>, ExecError> {
    let arrow = |e: arrow_schema::ArrowError| ExecError::ArrowRequest {
        reason: e.to_string(),
    };
    let mut stream = Vec::with_capacity(batch.get_array_memory_size() + 1024);
    let mut writer = StreamWriter::try_new(&mut stream, &batch.schema()).map_err(arrow)?;
    writer.write(batch).map_err(arrow)?;
    writer.finish().map_err(arrow)?;
    drop(writer);
    let mut frame = Vec::with_capacity(8 + stream.len());
    frame_into(&mut frame, id, &stream)?;
    Ok(frame)
}

/// Items that are not chunks of records, as one record batch: their fields
/// as columns (types inferred as for JSON), and their bytes payloads, if
/// any has one, in the binary column `_payload` (null for the others).
pub(super) fn rows_batch(items: &[Item]) -> Result<RecordBatch, ExecError> {
    let mut payloads = Vec::with_capacity(items.len());
    for item in items {
        match &item.payload {
            Payload::None => payloads.push(None),
            Payload::Bytes(bytes) => payloads.push(Some(bytes.as_slice())),
            other => {
                return Err(ExecError::NotColumnar {
                    found: other.kind(),
                })
            }
        }
        if item.fields.contains_key(PAYLOAD_COLUMN) {
            return Err(ExecError::PayloadFieldTaken);
        }
    }
    let rows: Vec<Map<String, Value>> = items.iter().map(|item| item.fields.clone()).collect();
    let batch = baton_records::rows::from_rows(rows).map_err(|e| ExecError::ArrowRequest {
        reason: e.to_string(),
    })?;
    if payloads.iter().all(Option::is_none) {
        return Ok(batch);
    }
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(PAYLOAD_COLUMN, DataType::Binary, true));
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(Arc::new(BinaryArray::from(payloads)));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| {
        ExecError::ArrowRequest {
            reason: e.to_string(),
        }
    })
}

/// The record batches of an answer's IPC stream.
fn read_batches(bytes: &[u8]) -> Result<Vec<RecordBatch>, ExecError> {
    let not_arrow = |e: arrow_schema::ArrowError| ExecError::NotArrow {
        reason: e.to_string(),
        start: quote(&bytes[..bytes.len().min(40)]),
    };
    let reader = StreamReader::try_new(bytes, None).map_err(not_arrow)?;
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(not_arrow)?;
    Ok(batches.into_iter().filter(|b| b.num_rows() > 0).collect())
}

/// The id a JSON answer claims: its envelope's, its object's, or that of
/// the first object of its array that has one. One that is not a 32-bit
/// number claims none (and is refused as out of step when checked).
fn claimed_id(value: &Value) -> Option<RequestId> {
    let of = |fields: &Map<String, Value>| {
        fields
            .get(ID_FIELD)
            .and_then(Value::as_u64)
            .and_then(|id| RequestId::try_from(id).ok())
    };
    match value {
        Value::Object(fields) => of(fields),
        Value::Array(values) => values.iter().find_map(|v| v.as_object().and_then(of)),
        _ => None,
    }
}

/// The records of a JSON answer to request `id`, without their ids, and
/// whether the answer is tied to its request: its envelope carries the
/// id, or it has records and every one of them does.
fn tied_records(
    value: Value,
    id: RequestId,
    answer: &[u8],
) -> Result<(Vec<Map<String, Value>>, bool), ExecError> {
    let not_records = || ExecError::NotRecords {
        line: quote(answer),
    };
    let mut envelope_id = None;
    let value = match value {
        Value::Object(mut fields) if fields.contains_key(ITEMS_FIELD) => {
            if let Some(key) = fields.keys().find(|k| *k != ID_FIELD && *k != ITEMS_FIELD) {
                return Err(ExecError::BadEnvelope {
                    key: key.clone(),
                    line: quote(answer),
                });
            }
            envelope_id = fields.remove(ID_FIELD);
            fields.remove(ITEMS_FIELD).unwrap_or(Value::Null)
        }
        value => value,
    };
    let mut records = match value {
        Value::Null => Vec::new(),
        Value::Object(fields) => vec![fields],
        Value::Array(values) => values
            .into_iter()
            .map(|value| match value {
                Value::Object(fields) => Ok(fields),
                _ => Err(not_records()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(not_records()),
    };
    let check = |carried: Value| match carried.as_u64() == Some(u64::from(id)) {
        true => Ok(()),
        false => Err(ExecError::OutOfStep {
            expected: id,
            got: carried.to_string(),
        }),
    };
    let tied_by_envelope = envelope_id.is_some();
    if let Some(carried) = envelope_id {
        check(carried)?;
    }
    let mut all_carry = !records.is_empty();
    for fields in &mut records {
        match fields.remove(ID_FIELD) {
            Some(carried) => check(carried)?,
            None => all_carry = false,
        }
    }
    Ok((records, tied_by_envelope || all_carry))
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

    /// The outputs of the JSON `answer` to request 7.
    fn outputs_of(answer: &str, require_ids: bool) -> Result<Vec<Item>, String> {
        let mut out = Vec::new();
        let answer = Answer {
            id: None,
            bytes: answer.as_bytes().to_vec(),
        };
        outputs_from(
            Protocol::Jsonl,
            &Item::default(),
            answer,
            7,
            require_ids,
            &mut out,
        )
        .map(|()| out)
        .map_err(|e| e.to_string())
    }

    /// Decodes `answer` and makes the outputs of request `id` of it.
    fn outputs_from(
        protocol: Protocol,
        item: &Item,
        answer: Answer,
        id: RequestId,
        require_ids: bool,
        out: &mut Vec<Item>,
    ) -> Result<(), ExecError> {
        let decoded = protocol.decode(answer);
        protocol.outputs(item, decoded.id, decoded.body?, id, require_ids, out)
    }

    fn outputs(answer: &str) -> Result<Vec<Item>, String> {
        outputs_of(answer, false)
    }

    /// Reads answers from `stdout` with `limit` until the end or a failure.
    fn read_all(
        protocol: Protocol,
        mut stdout: &[u8],
        limit: usize,
    ) -> Vec<Result<Vec<u8>, String>> {
        let mut answers = Vec::new();
        loop {
            match protocol.read_answer(&mut stdout, limit) {
                Ok(Some(answer)) => answers.push(Ok(answer.bytes)),
                Ok(None) => return answers,
                Err(ReadFailure::TooLong) => {
                    answers.push(Err("too long".into()));
                    return answers;
                }
                Err(ReadFailure::Io(e)) => {
                    answers.push(Err(e.to_string()));
                    return answers;
                }
            }
        }
    }

    #[test]
    fn a_jsonl_answer_keeps_the_items_payload_on_every_output() {
        let mut item = Item::with_field("name", "a.png");
        item.payload = Payload::Bytes(vec![1, 2, 3]);
        let answer = Answer {
            id: None,
            bytes: br#"[{"name": "a.png", "w": 2}, {"name": "a-copy.png"}]"#.to_vec(),
        };
        let mut out = Vec::new();
        outputs_from(Protocol::Jsonl, &item, answer, 1, false, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert!(out
            .iter()
            .all(|o| o.payload == Payload::Bytes(vec![1, 2, 3])));
        assert_eq!(out[1].get("name").unwrap(), "a-copy.png");
    }

    #[test]
    fn a_record_is_one_line_with_its_id_and_a_payload_only_noted() {
        let mut item = Item::with_field("text", "two\nlines");
        item.payload = Payload::Bytes(vec![0; 3]);
        let line = Protocol::Jsonl.request(&item, 7).unwrap();
        assert_eq!(
            line,
            b"{\"_payload\":\"bytes[3]\",\"_request\":7,\"text\":\"two\\nlines\"}\n"
        );
        let error = Protocol::Jsonl
            .request(&Item::with_field(ID_FIELD, 1), 7)
            .unwrap_err();
        assert!(error.to_string().contains("`_request`"), "{error}");
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
    fn an_echoed_id_is_checked_and_removed() {
        assert_eq!(
            outputs("{\"a\":1,\"_request\":7}").unwrap(),
            vec![Item::with_field("a", 1)]
        );
        assert_eq!(
            outputs("[{\"a\":1,\"_request\":7},{\"a\":2}]").unwrap(),
            vec![Item::with_field("a", 1), Item::with_field("a", 2)]
        );
        let error = outputs("{\"a\":1,\"_request\":6}").unwrap_err();
        assert!(
            error.starts_with("the worker answered request 6 while request 7 was waiting"),
            "{error}"
        );
        assert!(outputs("[{\"_request\":7},{\"_request\":\"7\"}]").is_err());
    }

    #[test]
    fn an_envelope_ties_none_or_many_items_to_the_request() {
        assert_eq!(
            outputs_of("{\"_request\":7,\"_items\":null}", true).unwrap(),
            vec![]
        );
        assert_eq!(
            outputs_of("{\"_request\":7,\"_items\":[]}", true).unwrap(),
            vec![]
        );
        assert_eq!(
            outputs_of("{\"_request\":7,\"_items\":[{\"a\":1},{\"a\":2}]}", true).unwrap(),
            vec![Item::with_field("a", 1), Item::with_field("a", 2)]
        );
        assert_eq!(
            outputs_of("{\"_request\":7,\"_items\":{\"a\":1}}", true).unwrap(),
            vec![Item::with_field("a", 1)]
        );
        assert!(outputs("{\"_request\":8,\"_items\":[]}").is_err());
        let error = outputs("{\"_request\":7,\"_items\":[],\"a\":1}").unwrap_err();
        assert!(
            error.contains("only `_request` beside it, not `a`"),
            "{error}"
        );
    }

    #[test]
    fn require_ids_refuses_an_answer_not_tied_to_its_request() {
        for untied in [
            "null",
            "[]",
            "{\"a\":1}",
            "[{\"a\":1,\"_request\":7},{\"a\":2}]",
            "{\"_items\":[]}",
        ] {
            let error = outputs_of(untied, true).unwrap_err();
            assert!(
                error.contains("does not carry its request's `_request` (7)"),
                "{untied}: {error}"
            );
            assert!(outputs_of(untied, false).is_ok(), "{untied}");
        }
        assert!(outputs_of("[{\"a\":1,\"_request\":7}]", true).is_ok());
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
    fn a_line_may_be_as_long_as_the_limit_and_no_longer() {
        let answers = read_all(Protocol::Jsonl, b"abc\nabcd\nabcde\n", 4);
        assert_eq!(
            answers,
            vec![
                Ok(b"abc\n".to_vec()),
                Ok(b"abcd\n".to_vec()),
                Err("too long".into())
            ]
        );
        // The last line needs no newline, and is held to the same limit.
        assert_eq!(
            read_all(Protocol::Jsonl, b"abcd", 4),
            vec![Ok(b"abcd".to_vec())]
        );
        assert_eq!(
            read_all(Protocol::Jsonl, b"abcde", 4),
            vec![Err("too long".into())]
        );
    }

    #[test]
    fn frames_round_trip_with_their_id_and_keep_the_fields() {
        let mut item = Item::record(json!({"path": "a"}));
        item.payload = Payload::Bytes(b"abc".to_vec());
        let frame = Protocol::Bytes.request(&item, 7).unwrap();
        assert_eq!(frame, b"\0\0\0\x07\0\0\0\x03abc");
        let mut stdout = &frame[..];
        let answer = Protocol::Bytes
            .read_answer(&mut stdout, 3)
            .unwrap()
            .unwrap();
        assert_eq!(answer.id, Some(7));
        assert!(Protocol::Bytes
            .read_answer(&mut stdout, 3)
            .unwrap()
            .is_none());
        let mut out = Vec::new();
        outputs_from(Protocol::Bytes, &item, answer, 7, false, &mut out).unwrap();
        assert_eq!(out, vec![item.clone()]);

        let answer = Answer {
            id: Some(6),
            bytes: vec![],
        };
        let error = outputs_from(Protocol::Bytes, &item, answer, 7, false, &mut out).unwrap_err();
        assert!(error.to_string().contains("out of step"), "{error}");
    }

    #[test]
    fn a_frame_longer_than_the_limit_is_refused_from_its_header() {
        // 4 GiB announced, nothing sent: refused without waiting for it.
        let answers = read_all(Protocol::Bytes, b"\0\0\0\x01\xff\xff\xff\xff", 1 << 20);
        assert_eq!(answers, vec![Err("too long".into())]);
        assert_eq!(
            read_all(Protocol::Bytes, b"\0\0\0\x01\0\0\0\x04abcd", 4),
            vec![Ok(b"abcd".to_vec())]
        );
    }

    #[test]
    fn a_short_frame_is_an_error_and_a_record_is_not_bytes() {
        assert_eq!(
            read_all(Protocol::Bytes, b"\0\0\0\x01\0\0\0\x09abc", 100),
            vec![Err(
                "the answer was cut short: 3 of its 9 payload bytes".into()
            )]
        );
        assert_eq!(
            read_all(Protocol::Bytes, b"\0\0\0\x01\0\0", 100),
            vec![Err(
                "the answer was cut short: 6 of its 8 header bytes".into()
            )]
        );
        let error = Protocol::Bytes
            .request(&Item::with_field("a", 1), 1)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the `bytes` protocol sends the payload's bytes, but the payload is `none`"
        );
    }
}
