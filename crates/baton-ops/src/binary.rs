//! The binary form of an item: compact (serde with [`postcard`]: no field
//! names, varint integers), with the parts that are already binary kept
//! raw — bytes as they are, tensors as little-endian `f32`s, images as
//! their pixel buffer, chunks of records as Arrow IPC stream bytes. It is
//! what crosses to another machine (baton-nats's wire) and what `repeat`'s
//! `cache_file` keeps on disk.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{binary, Item, Payload};
//!
//! let item = Item { payload: Payload::Bytes(vec![1, 2, 3]), ..Item::with_field("n", 7) };
//! let bytes = binary::encode(&item).unwrap();
//! assert_eq!(binary::decode(&bytes).unwrap(), item);
//! ```

use std::io::Cursor;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use image::{DynamicImage, ImageBuffer};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use serde_json::{Map, Number, Value};

use crate::item::{Item, Payload, Tensor};

/// Why an item has no binary form, or bytes are not one.
///
/// # Examples
///
/// ```
/// assert!(matches!(baton_ops::binary::decode(&[0xff]), Err(baton_ops::binary::BinaryError::Decode(_))));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BinaryError {
    /// The envelope could not be written.
    #[error("cannot encode an item: {0}")]
    Encode(#[source] postcard::Error),
    /// The bytes are not an item.
    #[error("cannot decode an item: {0}")]
    Decode(#[source] postcard::Error),
    /// A chunk of records Arrow could not write or read as IPC.
    #[error("a chunk of records as Arrow IPC: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Arrow IPC bytes without a record batch.
    #[error("Arrow IPC bytes without a record batch")]
    NoRecordBatch,
    /// An image's pixels do not match its size.
    #[error("an image of {width}x{height} (colour {color}) whose pixels do not match its size")]
    Image {
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
        /// Its colour type, as the format numbers it.
        color: u8,
    },
    /// A payload with no binary form.
    #[error("a payload of kind `{0}` has no binary form (it cannot be sent or kept on disk)")]
    Unsupported(&'static str),
}

/// An item's bytes.
///
/// # Errors
///
/// A payload with no binary form, a chunk of records Arrow cannot write,
/// or an image whose pixels do not match its size.
///
/// # Examples
///
/// See the module.
pub fn encode(item: &Item) -> Result<Vec<u8>, BinaryError> {
    postcard::to_stdvec(&BinaryItem::new(item)?).map_err(BinaryError::Encode)
}

/// The item in `bytes` (written by [`encode`]).
///
/// # Errors
///
/// Bytes that are not an item.
///
/// # Examples
///
/// See the module.
pub fn decode(bytes: &[u8]) -> Result<Item, BinaryError> {
    postcard::from_bytes::<BinaryItem>(bytes)
        .map_err(BinaryError::Decode)?
        .into_item()
}

/// An item in its binary form, to nest in a larger serde envelope (as the
/// wire's chunks do).
///
/// # Examples
///
/// ```
/// use baton_ops::{binary::BinaryItem, Item};
///
/// let item = Item::with_field("word", "hi");
/// let back = BinaryItem::new(&item).unwrap().into_item().unwrap();
/// assert_eq!(back, item);
/// ```
#[derive(Serialize, Deserialize)]
pub struct BinaryItem {
    fields: Vec<(String, BinaryValue)>,
    payload: BinaryPayload,
}

impl std::fmt::Debug for BinaryItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinaryItem")
            .field("fields", &self.fields.len())
            .finish_non_exhaustive()
    }
}

impl BinaryItem {
    /// The binary form of `item`.
    ///
    /// # Errors
    ///
    /// As [`encode`].
    ///
    /// # Examples
    ///
    /// See [`BinaryItem`].
    pub fn new(item: &Item) -> Result<Self, BinaryError> {
        to_binary(item)
    }

    /// The item again.
    ///
    /// # Errors
    ///
    /// A chunk of records Arrow cannot read, or an image whose pixels do
    /// not match its size.
    ///
    /// # Examples
    ///
    /// See [`BinaryItem`].
    pub fn into_item(self) -> Result<Item, BinaryError> {
        from_binary(self)
    }
}

/// A JSON value: postcard does not describe itself, so `serde_json::Value`
/// (which needs a self-describing format to read) goes as this enum.
#[derive(Serialize, Deserialize)]
enum BinaryValue {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    String(String),
    Array(Vec<BinaryValue>),
    Object(Vec<(String, BinaryValue)>),
}

#[derive(Serialize, Deserialize)]
enum BinaryPayload {
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
    Batch(Vec<BinaryItem>),
    Records(ByteBuf),
}

fn to_binary(item: &Item) -> Result<BinaryItem, BinaryError> {
    Ok(BinaryItem {
        fields: object_to_binary(&item.fields),
        payload: match &item.payload {
            Payload::None => BinaryPayload::None,
            Payload::Bytes(bytes) => BinaryPayload::Bytes(ByteBuf::from(bytes.clone())),
            Payload::Image(image) => image_to_binary(image)?,
            Payload::Tensor(tensor) => BinaryPayload::Tensor {
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
                BinaryPayload::Batch(items.iter().map(to_binary).collect::<Result<_, _>>()?)
            }
            Payload::Records(batch) => {
                BinaryPayload::Records(ByteBuf::from(records_to_ipc(batch)?))
            }
        },
    })
}

fn from_binary(item: BinaryItem) -> Result<Item, BinaryError> {
    Ok(Item {
        fields: object_from_binary(item.fields),
        payload: match item.payload {
            BinaryPayload::None => Payload::None,
            BinaryPayload::Bytes(bytes) => Payload::Bytes(bytes.into_vec()),
            BinaryPayload::Image {
                width,
                height,
                color,
                pixels,
            } => Payload::Image(image_from_binary(width, height, color, pixels.into_vec())?),
            BinaryPayload::Tensor { shape, data } => Payload::Tensor(Tensor {
                shape: shape.into_iter().map(|d| d as usize).collect(),
                data: data
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            }),
            BinaryPayload::Batch(items) => Payload::Batch(
                items
                    .into_iter()
                    .map(from_binary)
                    .collect::<Result<_, _>>()?,
            ),
            BinaryPayload::Records(bytes) => Payload::Records(records_from_ipc(&bytes)?),
        },
    })
}

fn object_to_binary(fields: &Map<String, Value>) -> Vec<(String, BinaryValue)> {
    fields
        .iter()
        .map(|(name, value)| (name.clone(), value_to_binary(value)))
        .collect()
}

fn object_from_binary(fields: Vec<(String, BinaryValue)>) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(name, value)| (name, value_from_binary(value)))
        .collect()
}

fn value_to_binary(value: &Value) -> BinaryValue {
    match value {
        Value::Null => BinaryValue::Null,
        Value::Bool(b) => BinaryValue::Bool(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                BinaryValue::U64(u)
            } else if let Some(i) = n.as_i64() {
                BinaryValue::I64(i)
            } else {
                BinaryValue::F64(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => BinaryValue::String(s.clone()),
        Value::Array(values) => BinaryValue::Array(values.iter().map(value_to_binary).collect()),
        Value::Object(fields) => BinaryValue::Object(object_to_binary(fields)),
    }
}

fn value_from_binary(value: BinaryValue) -> Value {
    match value {
        BinaryValue::Null => Value::Null,
        BinaryValue::Bool(b) => Value::Bool(b),
        BinaryValue::U64(u) => Value::Number(u.into()),
        BinaryValue::I64(i) => Value::Number(i.into()),
        BinaryValue::F64(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        BinaryValue::String(s) => Value::String(s),
        BinaryValue::Array(values) => {
            Value::Array(values.into_iter().map(value_from_binary).collect())
        }
        BinaryValue::Object(fields) => Value::Object(object_from_binary(fields)),
    }
}

fn records_to_ipc(batch: &RecordBatch) -> Result<Vec<u8>, BinaryError> {
    let mut bytes = Vec::new();
    let mut writer = StreamWriter::try_new(&mut bytes, &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    drop(writer);
    Ok(bytes)
}

fn records_from_ipc(bytes: &[u8]) -> Result<RecordBatch, BinaryError> {
    let mut reader = StreamReader::try_new(Cursor::new(bytes), None)?;
    let batch = reader.next().ok_or(BinaryError::NoRecordBatch)??;
    Ok(batch)
}

/// Image colour types by number (the format's, independent of `image`'s enum order).
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

fn image_to_binary(image: &DynamicImage) -> Result<BinaryPayload, BinaryError> {
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
        _ => return Err(BinaryError::Unsupported("image of this colour type")),
    };
    Ok(BinaryPayload::Image {
        width: image.width(),
        height: image.height(),
        color,
        pixels: ByteBuf::from(pixels),
    })
}

fn image_from_binary(
    width: u32,
    height: u32,
    color: u8,
    pixels: Vec<u8>,
) -> Result<DynamicImage, BinaryError> {
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
    let bad = BinaryError::Image {
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
