//! The wire format: a chunk of entries, each an item's sequence number
//! with what became of it, in a compact binary encoding.
//!
//! A message on a boundary's stream carries one chunk. An [`Entry`] is the
//! unit of accounting: the sequence number the driver gave a source item,
//! and either the items made from it so far ([`Outcome::Items`], empty when
//! a stage filtered it out) or the failure that sent it to the dead-letter
//! stream ([`Outcome::Failed`]). All outputs of one sequence number travel
//! together in one entry, so the collector can drop a sequence number it has
//! already delivered and count every one.
//!
//! The envelope is [`postcard`] (serde, no field names, varint integers);
//! the parts that are already binary go in raw: bytes as they are, tensors
//! as little-endian `f32`s, images as their pixel buffer, and chunks of
//! records as Arrow IPC stream bytes. A format version byte comes first.
//!
//! A chunk is encoded entry by entry ([`encode_entry`]) so that
//! [`pack`] can cut a list of entries into messages that each fit the
//! server's `max_payload`, between entries and never inside one.

use std::io::Cursor;

use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use baton_ops::{Item, Payload, Tensor};
use baton_records::RecordBatch;
use bytes::Bytes;
use image::{DynamicImage, ImageBuffer};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use serde_json::{Map, Number, Value};

use crate::error::WireError;

/// The version of the format, the first byte of every chunk.
const VERSION: u8 = 1;

/// One source item's sequence number and what became of it.
///
/// # Examples
///
/// ```
/// use baton_nats::wire::{Entry, Outcome};
/// use baton_ops::Item;
///
/// let entry = Entry::items(7, vec![Item::with_field("n", 1)]);
/// assert_eq!(entry.seq, 7);
/// assert!(matches!(entry.outcome, Outcome::Items(ref items) if items.len() == 1));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The sequence number the driver gave the source item.
    pub seq: u64,
    /// Its items, or its failure.
    pub outcome: Outcome,
}

impl Entry {
    /// An entry of items (none: the item was filtered out).
    ///
    /// # Examples
    ///
    /// See [`Entry`].
    pub fn items(seq: u64, items: Vec<Item>) -> Self {
        Self {
            seq,
            outcome: Outcome::Items(items),
        }
    }
}

/// What became of a source item on its way.
///
/// # Examples
///
/// ```
/// use baton_nats::wire::{Failure, Outcome};
/// let failed = Outcome::Failed(Failure { stage: "resize".into(), error: "bad image".into() });
/// assert!(failed.is_failed());
/// assert!(!Outcome::Items(vec![]).is_failed());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The items made from it so far; none when a stage dropped it.
    Items(Vec<Item>),
    /// It failed at a remote stage on every delivery and went to the
    /// dead-letter stream; the marker travels on so it is accounted for.
    Failed(Failure),
}

impl Outcome {
    /// Whether it failed.
    ///
    /// # Examples
    ///
    /// See [`Outcome`].
    pub fn is_failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }
}

/// Where and why an item failed.
///
/// # Examples
///
/// See [`Outcome`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The stage it failed at.
    pub stage: String,
    /// The error, as text.
    pub error: String,
}

/// One entry, encoded: the unit [`pack`] puts into messages.
///
/// # Examples
///
/// ```
/// use baton_nats::wire::{encode_entry, Entry};
/// let encoded = encode_entry(&Entry::items(3, vec![])).unwrap();
/// assert_eq!(encoded.seq, 3);
/// assert!(encoded.len() < 8);
/// ```
#[derive(Clone, Debug)]
pub struct EncodedEntry {
    /// The entry's sequence number.
    pub seq: u64,
    bytes: Vec<u8>,
}

impl EncodedEntry {
    /// Its size in bytes on the wire.
    ///
    /// # Examples
    ///
    /// See [`EncodedEntry`].
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it is empty (never: an entry has at least its sequence number).
    ///
    /// # Examples
    ///
    /// ```
    /// let encoded = baton_nats::wire::encode_entry(&baton_nats::wire::Entry::items(0, vec![])).unwrap();
    /// assert!(!encoded.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// A chunk of entries ready to publish as one message: its body and the
/// identity of what it holds.
///
/// # Examples
///
/// ```
/// use baton_nats::wire::{decode, encode_entry, pack, Entry};
/// let entries = (0..3).map(|seq| encode_entry(&Entry::items(seq, vec![])).unwrap()).collect();
/// let chunks = pack(entries, 1 << 20).unwrap();
/// assert_eq!(chunks.len(), 1);
/// assert_eq!((chunks[0].first_seq, chunks[0].last_seq, chunks[0].entries), (0, 2, 3));
/// assert_eq!(decode(&chunks[0].body).unwrap().len(), 3);
/// ```
#[derive(Clone, Debug)]
pub struct EncodedChunk {
    /// The first entry's sequence number.
    pub first_seq: u64,
    /// The last entry's sequence number.
    pub last_seq: u64,
    /// How many entries it holds.
    pub entries: usize,
    /// The message body.
    pub body: Bytes,
}

/// Encodes one entry.
///
/// # Errors
///
/// A chunk of records Arrow cannot write as IPC, or an image whose pixels
/// do not match its size.
///
/// # Examples
///
/// ```
/// use baton_nats::wire::{decode, encode_entry, pack, Entry};
/// use baton_ops::Item;
///
/// let entry = Entry::items(5, vec![Item::with_field("word", "hello")]);
/// let chunks = pack(vec![encode_entry(&entry).unwrap()], 1 << 20).unwrap();
/// assert_eq!(decode(&chunks[0].body).unwrap(), [entry]);
/// ```
pub fn encode_entry(entry: &Entry) -> Result<EncodedEntry, WireError> {
    let wire = WireEntry {
        seq: entry.seq,
        outcome: match &entry.outcome {
            Outcome::Items(items) => {
                WireOutcome::Items(items.iter().map(to_wire).collect::<Result<_, _>>()?)
            }
            Outcome::Failed(failure) => WireOutcome::Failed(failure.clone()),
        },
    };
    let bytes = postcard::to_stdvec(&wire).map_err(WireError::Encode)?;
    Ok(EncodedEntry {
        seq: entry.seq,
        bytes,
    })
}

/// Packs encoded entries, in their order, into chunks of at most
/// `max_bytes` bytes each (a server's `max_payload` less room for headers).
///
/// # Errors
///
/// [`WireError::EntryTooLarge`] when one entry alone exceeds `max_bytes`:
/// an entry is never cut (its outputs must arrive together), so the server's
/// `max_payload` must be raised (it goes up to 64 MiB).
///
/// # Examples
///
/// ```
/// use baton_nats::wire::{encode_entry, pack, Entry, Outcome};
/// use baton_ops::{Item, Payload};
///
/// let big = |seq| {
///     let item = Item { payload: Payload::Bytes(vec![0; 1000]), ..Item::default() };
///     encode_entry(&Entry::items(seq, vec![item])).unwrap()
/// };
/// let chunks = pack((0..5).map(big).collect(), 2500).unwrap();
/// assert_eq!(chunks.iter().map(|c| c.entries).collect::<Vec<_>>(), [2, 2, 1]);
/// assert!(pack(vec![big(9)], 500).is_err());
/// ```
pub fn pack(entries: Vec<EncodedEntry>, max_bytes: usize) -> Result<Vec<EncodedChunk>, WireError> {
    let mut chunks = Vec::new();
    let mut current: Vec<EncodedEntry> = Vec::new();
    let mut size = 0;
    for entry in entries {
        // Version byte and the entry count (a varint of at most 10 bytes).
        let overhead = 11;
        if entry.len() + overhead > max_bytes {
            return Err(WireError::EntryTooLarge {
                seq: entry.seq,
                bytes: entry.len(),
                max_bytes,
            });
        }
        if !current.is_empty() && size + entry.len() + overhead > max_bytes {
            chunks.push(finish_chunk(std::mem::take(&mut current)));
            size = 0;
        }
        size += entry.len();
        current.push(entry);
    }
    if !current.is_empty() {
        chunks.push(finish_chunk(current));
    }
    Ok(chunks)
}

/// Writes a chunk's body: the version, then the entries as a postcard
/// sequence (a varint count and the entries one after another).
fn finish_chunk(entries: Vec<EncodedEntry>) -> EncodedChunk {
    let len: usize = entries.iter().map(EncodedEntry::len).sum();
    let mut body = Vec::with_capacity(len + 11);
    body.push(VERSION);
    let mut count = entries.len() as u64;
    loop {
        let byte = (count & 0x7f) as u8;
        count >>= 7;
        if count == 0 {
            body.push(byte);
            break;
        }
        body.push(byte | 0x80);
    }
    for entry in &entries {
        body.extend_from_slice(&entry.bytes);
    }
    EncodedChunk {
        first_seq: entries.first().map_or(0, |e| e.seq),
        last_seq: entries.last().map_or(0, |e| e.seq),
        entries: entries.len(),
        body: Bytes::from(body),
    }
}

/// Decodes a chunk's body into its entries.
///
/// # Errors
///
/// A body of another format version, or one that is not a chunk.
///
/// # Examples
///
/// ```
/// assert!(baton_nats::wire::decode(b"{\"not\": \"a chunk\"}").is_err());
/// ```
pub fn decode(body: &[u8]) -> Result<Vec<Entry>, WireError> {
    let (&version, rest) = body.split_first().ok_or(WireError::Empty)?;
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    let entries: Vec<WireEntry> = postcard::from_bytes(rest).map_err(WireError::Decode)?;
    entries
        .into_iter()
        .map(|entry| {
            Ok(Entry {
                seq: entry.seq,
                outcome: match entry.outcome {
                    WireOutcome::Items(items) => {
                        Outcome::Items(items.into_iter().map(from_wire).collect::<Result<_, _>>()?)
                    }
                    WireOutcome::Failed(failure) => Outcome::Failed(failure),
                },
            })
        })
        .collect()
}

/// An item that failed on every delivery, as the dead-letter stream keeps
/// it: its sequence number, the stage and error, how often it was tried,
/// and the items that went into the stage.
///
/// # Examples
///
/// ```
/// use baton_nats::wire::DeadLetter;
/// use baton_ops::Item;
///
/// let letter = DeadLetter {
///     seq: 4,
///     stage: "parse".into(),
///     error: "bad line".into(),
///     deliveries: 5,
///     items: vec![Item::with_field("line", "{oops")],
/// };
/// assert_eq!(DeadLetter::decode(&letter.encode().unwrap()).unwrap(), letter);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    /// The source item's sequence number.
    pub seq: u64,
    /// The stage it failed at.
    pub stage: String,
    /// The last error.
    pub error: String,
    /// How many times it was delivered.
    pub deliveries: u32,
    /// What went into the stage.
    pub items: Vec<Item>,
}

#[derive(Serialize, Deserialize)]
struct WireDeadLetter {
    seq: u64,
    stage: String,
    error: String,
    deliveries: u32,
    items: Vec<WireItem>,
}

impl DeadLetter {
    /// Its bytes on the wire (the version byte, then the record).
    ///
    /// # Errors
    ///
    /// As [`encode_entry`].
    ///
    /// # Examples
    ///
    /// See [`DeadLetter`].
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let wire = WireDeadLetter {
            seq: self.seq,
            stage: self.stage.clone(),
            error: self.error.clone(),
            deliveries: self.deliveries,
            items: self.items.iter().map(to_wire).collect::<Result<_, _>>()?,
        };
        let mut bytes = vec![VERSION];
        bytes.extend(postcard::to_stdvec(&wire).map_err(WireError::Encode)?);
        Ok(bytes)
    }

    /// Reads one from its bytes.
    ///
    /// # Errors
    ///
    /// As [`decode`].
    ///
    /// # Examples
    ///
    /// See [`DeadLetter`].
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let (&version, rest) = bytes.split_first().ok_or(WireError::Empty)?;
        if version != VERSION {
            return Err(WireError::Version(version));
        }
        let wire: WireDeadLetter = postcard::from_bytes(rest).map_err(WireError::Decode)?;
        Ok(Self {
            seq: wire.seq,
            stage: wire.stage,
            error: wire.error,
            deliveries: wire.deliveries,
            items: wire
                .items
                .into_iter()
                .map(from_wire)
                .collect::<Result<_, _>>()?,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireEntry {
    seq: u64,
    outcome: WireOutcome,
}

#[derive(Serialize, Deserialize)]
enum WireOutcome {
    Items(Vec<WireItem>),
    Failed(Failure),
}

#[derive(Serialize, Deserialize)]
struct WireItem {
    fields: Vec<(String, WireValue)>,
    payload: WirePayload,
}

/// A JSON value: postcard does not describe itself, so `serde_json::Value`
/// (which needs a self-describing format to read) goes as this enum.
#[derive(Serialize, Deserialize)]
enum WireValue {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    String(String),
    Array(Vec<WireValue>),
    Object(Vec<(String, WireValue)>),
}

#[derive(Serialize, Deserialize)]
enum WirePayload {
    None,
    Bytes(ByteBuf),
    Image {
        width: u32,
        height: u32,
        color: u8,
        pixels: ByteBuf,
    },
    Tensor {
        shape: Vec<u64>,
        data: ByteBuf,
    },
    Batch(Vec<WireItem>),
    Records(ByteBuf),
}

fn to_wire(item: &Item) -> Result<WireItem, WireError> {
    Ok(WireItem {
        fields: object_to_wire(&item.fields),
        payload: match &item.payload {
            Payload::None => WirePayload::None,
            Payload::Bytes(bytes) => WirePayload::Bytes(ByteBuf::from(bytes.clone())),
            Payload::Image(image) => image_to_wire(image)?,
            Payload::Tensor(tensor) => WirePayload::Tensor {
                shape: tensor.shape.iter().map(|&d| d as u64).collect(),
                data: ByteBuf::from(
                    tensor
                        .data
                        .iter()
                        .flat_map(|v| v.to_le_bytes())
                        .collect::<Vec<u8>>(),
                ),
            },
            Payload::Batch(items) => {
                WirePayload::Batch(items.iter().map(to_wire).collect::<Result<_, _>>()?)
            }
            Payload::Records(batch) => WirePayload::Records(ByteBuf::from(records_to_ipc(batch)?)),
            other => return Err(WireError::Unsupported(other.kind())),
        },
    })
}

fn from_wire(item: WireItem) -> Result<Item, WireError> {
    Ok(Item {
        fields: object_from_wire(item.fields),
        payload: match item.payload {
            WirePayload::None => Payload::None,
            WirePayload::Bytes(bytes) => Payload::Bytes(bytes.into_vec()),
            WirePayload::Image {
                width,
                height,
                color,
                pixels,
            } => Payload::Image(image_from_wire(width, height, color, pixels.into_vec())?),
            WirePayload::Tensor { shape, data } => Payload::Tensor(Tensor {
                shape: shape.into_iter().map(|d| d as usize).collect(),
                data: data
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            }),
            WirePayload::Batch(items) => {
                Payload::Batch(items.into_iter().map(from_wire).collect::<Result<_, _>>()?)
            }
            WirePayload::Records(bytes) => Payload::Records(records_from_ipc(&bytes)?),
        },
    })
}

fn object_to_wire(fields: &Map<String, Value>) -> Vec<(String, WireValue)> {
    fields
        .iter()
        .map(|(name, value)| (name.clone(), value_to_wire(value)))
        .collect()
}

fn object_from_wire(fields: Vec<(String, WireValue)>) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(name, value)| (name, value_from_wire(value)))
        .collect()
}

fn value_to_wire(value: &Value) -> WireValue {
    match value {
        Value::Null => WireValue::Null,
        Value::Bool(b) => WireValue::Bool(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                WireValue::U64(u)
            } else if let Some(i) = n.as_i64() {
                WireValue::I64(i)
            } else {
                WireValue::F64(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => WireValue::String(s.clone()),
        Value::Array(values) => WireValue::Array(values.iter().map(value_to_wire).collect()),
        Value::Object(fields) => WireValue::Object(object_to_wire(fields)),
    }
}

fn value_from_wire(value: WireValue) -> Value {
    match value {
        WireValue::Null => Value::Null,
        WireValue::Bool(b) => Value::Bool(b),
        WireValue::U64(u) => Value::Number(u.into()),
        WireValue::I64(i) => Value::Number(i.into()),
        WireValue::F64(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        WireValue::String(s) => Value::String(s),
        WireValue::Array(values) => Value::Array(values.into_iter().map(value_from_wire).collect()),
        WireValue::Object(fields) => Value::Object(object_from_wire(fields)),
    }
}

fn records_to_ipc(batch: &RecordBatch) -> Result<Vec<u8>, WireError> {
    let mut bytes = Vec::new();
    let mut writer = StreamWriter::try_new(&mut bytes, &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    drop(writer);
    Ok(bytes)
}

fn records_from_ipc(bytes: &[u8]) -> Result<RecordBatch, WireError> {
    let mut reader = StreamReader::try_new(Cursor::new(bytes), None)?;
    let batch = reader.next().ok_or(WireError::NoRecordBatch)??;
    Ok(batch)
}

/// Image colour types by number (the wire's, independent of `image`'s enum order).
const L8: u8 = 1;
const LA8: u8 = 2;
const RGB8: u8 = 3;
const RGBA8: u8 = 4;
const L16: u8 = 5;
const LA16: u8 = 6;
const RGB16: u8 = 7;
const RGBA16: u8 = 8;
const RGB32F: u8 = 9;
const RGBA32F: u8 = 10;

fn image_to_wire(image: &DynamicImage) -> Result<WirePayload, WireError> {
    let le16 = |data: &[u16]| {
        data.iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>()
    };
    let le32 = |data: &[f32]| {
        data.iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>()
    };
    let (color, pixels) = match image {
        DynamicImage::ImageLuma8(b) => (L8, b.as_raw().clone()),
        DynamicImage::ImageLumaA8(b) => (LA8, b.as_raw().clone()),
        DynamicImage::ImageRgb8(b) => (RGB8, b.as_raw().clone()),
        DynamicImage::ImageRgba8(b) => (RGBA8, b.as_raw().clone()),
        DynamicImage::ImageLuma16(b) => (L16, le16(b.as_raw())),
        DynamicImage::ImageLumaA16(b) => (LA16, le16(b.as_raw())),
        DynamicImage::ImageRgb16(b) => (RGB16, le16(b.as_raw())),
        DynamicImage::ImageRgba16(b) => (RGBA16, le16(b.as_raw())),
        DynamicImage::ImageRgb32F(b) => (RGB32F, le32(b.as_raw())),
        DynamicImage::ImageRgba32F(b) => (RGBA32F, le32(b.as_raw())),
        _ => return Err(WireError::Unsupported("image of this colour type")),
    };
    Ok(WirePayload::Image {
        width: image.width(),
        height: image.height(),
        color,
        pixels: ByteBuf::from(pixels),
    })
}

fn image_from_wire(
    width: u32,
    height: u32,
    color: u8,
    pixels: Vec<u8>,
) -> Result<DynamicImage, WireError> {
    let u16s = |p: &[u8]| {
        p.chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect::<Vec<u16>>()
    };
    let f32s = |p: &[u8]| {
        p.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect::<Vec<f32>>()
    };
    let bad = WireError::Image {
        width,
        height,
        color,
    };
    let image = match color {
        L8 => ImageBuffer::from_raw(width, height, pixels).map(DynamicImage::ImageLuma8),
        LA8 => ImageBuffer::from_raw(width, height, pixels).map(DynamicImage::ImageLumaA8),
        RGB8 => ImageBuffer::from_raw(width, height, pixels).map(DynamicImage::ImageRgb8),
        RGBA8 => ImageBuffer::from_raw(width, height, pixels).map(DynamicImage::ImageRgba8),
        L16 => ImageBuffer::from_raw(width, height, u16s(&pixels)).map(DynamicImage::ImageLuma16),
        LA16 => ImageBuffer::from_raw(width, height, u16s(&pixels)).map(DynamicImage::ImageLumaA16),
        RGB16 => ImageBuffer::from_raw(width, height, u16s(&pixels)).map(DynamicImage::ImageRgb16),
        RGBA16 => {
            ImageBuffer::from_raw(width, height, u16s(&pixels)).map(DynamicImage::ImageRgba16)
        }
        RGB32F => {
            ImageBuffer::from_raw(width, height, f32s(&pixels)).map(DynamicImage::ImageRgb32F)
        }
        RGBA32F => {
            ImageBuffer::from_raw(width, height, f32s(&pixels)).map(DynamicImage::ImageRgba32F)
        }
        _ => None,
    };
    image.ok_or(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_of_many_entries_counts_them_in_a_varint() {
        let entries: Vec<_> = (0..300)
            .map(|seq| encode_entry(&Entry::items(seq, vec![])).unwrap())
            .collect();
        let chunks = pack(entries, 1 << 20).unwrap();
        let decoded = decode(&chunks[0].body).unwrap();
        assert_eq!(decoded.len(), 300);
        assert_eq!(decoded[299].seq, 299);
    }

    #[test]
    fn another_version_is_refused() {
        assert!(matches!(decode(&[9, 0]), Err(WireError::Version(9))));
        assert!(matches!(decode(&[]), Err(WireError::Empty)));
    }
}
