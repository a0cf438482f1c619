//! What flows through a pipeline made from a file: records and blobs.

use baton_records::RecordBatch;
use serde_json::{Map, Value};

/// One item: a record of named fields (JSON-like values) and, optionally, a
/// payload that is not JSON (bytes, a decoded image, a tensor, a batch).
///
/// Built-in stages read and write fields by name (`line`, `path`, ...) and
/// work on the payload where they need bytes or pixels.
///
/// # Examples
///
/// ```
/// use baton_ops::{Item, Payload};
/// let item = Item::record(serde_json::json!({"level": "error", "code": 7}));
/// assert_eq!(item.get("level").and_then(|v| v.as_str()), Some("error"));
/// assert!(matches!(item.payload, Payload::None));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Item {
    /// The record's fields.
    pub fields: Map<String, Value>,
    /// What is not a field.
    pub payload: Payload,
}

/// The non-JSON part of an item.
///
/// # Examples
///
/// ```
/// use baton_ops::Payload;
/// assert_eq!(Payload::Bytes(vec![1, 2]).kind(), "bytes");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub enum Payload {
    /// Nothing: the item is a plain record.
    #[default]
    None,
    /// Raw bytes (a file's contents, a compressed blob).
    Bytes(Vec<u8>),
    /// A decoded image.
    Image(image::DynamicImage),
    /// A dense f32 tensor.
    Tensor(Tensor),
    /// A batch of items (made by `batch`, undone by `unbatch`).
    Batch(Vec<Item>),
    /// A chunk of records in columns (an Arrow record batch): what the
    /// `csv` and `jsonl` sources give. Record stages work on it column by
    /// column; a stage that takes a record at a time gets its rows one by
    /// one, and sinks write every row.
    Records(RecordBatch),
}

impl Payload {
    /// A short name of the payload's kind, for error messages.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_ops::Payload::None.kind(), "none");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::None => "none",
            Payload::Bytes(_) => "bytes",
            Payload::Image(_) => "image",
            Payload::Tensor(_) => "tensor",
            Payload::Batch(_) => "batch",
            Payload::Records(_) => "records",
        }
    }
}

/// A dense tensor of f32 values in row-major order.
///
/// # Examples
///
/// ```
/// let t = baton_ops::Tensor { shape: vec![2, 3], data: vec![0.0; 6] };
/// assert_eq!(t.len(), 6);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tensor {
    /// The size of each dimension (images: channels, height, width).
    pub shape: Vec<usize>,
    /// The values.
    pub data: Vec<f32>,
}

impl Tensor {
    /// The number of values.
    ///
    /// # Examples
    ///
    /// See [`Tensor`].
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether it holds no values.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(baton_ops::Tensor::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl Item {
    /// An item made of a record; a non-object value goes in the field `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let item = baton_ops::Item::record(serde_json::json!(3));
    /// assert_eq!(item.get("value"), Some(&serde_json::json!(3)));
    /// ```
    pub fn record(value: Value) -> Self {
        match value {
            Value::Object(fields) => Self {
                fields,
                payload: Payload::None,
            },
            other => {
                let mut fields = Map::new();
                fields.insert("value".into(), other);
                Self {
                    fields,
                    payload: Payload::None,
                }
            }
        }
    }

    /// An item carrying a chunk of records in columns.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let batch = baton_records::RecordBatch::try_from_iter([
    ///     ("n", Arc::new(arrow_array::Int64Array::from(vec![1, 2])) as _),
    /// ]).unwrap();
    /// let item = baton_ops::Item::records(batch);
    /// assert_eq!(item.rows().len(), 2);
    /// ```
    pub fn records(batch: RecordBatch) -> Self {
        Self {
            fields: Map::new(),
            payload: Payload::Records(batch),
        }
    }

    /// How many records an item stands for: the rows of its chunk of
    /// records, or else 1. The stats count items by it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_ops::Item::with_field("n", 1).record_count(), 1);
    /// ```
    pub fn record_count(&self) -> u64 {
        match &self.payload {
            Payload::Records(batch) => batch.num_rows() as u64,
            _ => 1,
        }
    }

    /// The records an item stands for: the rows of its chunk of records,
    /// or else the item itself.
    ///
    /// # Examples
    ///
    /// ```
    /// let item = baton_ops::Item::with_field("n", 1);
    /// assert_eq!(item.rows(), vec![item.clone()]);
    /// ```
    pub fn rows(&self) -> Vec<Item> {
        match &self.payload {
            Payload::Records(batch) => rows_of(batch).collect(),
            _ => vec![self.clone()],
        }
    }

    /// An item with one field.
    ///
    /// # Examples
    ///
    /// ```
    /// let item = baton_ops::Item::with_field("line", "hello");
    /// assert_eq!(item.get("line").unwrap(), "hello");
    /// ```
    pub fn with_field(name: &str, value: impl Into<Value>) -> Self {
        let mut item = Self::default();
        item.fields.insert(name.into(), value.into());
        item
    }

    /// A field's value.
    ///
    /// # Examples
    ///
    /// See [`Item::record`].
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// Sets a field.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut item = baton_ops::Item::default();
    /// item.set("n", 1);
    /// assert_eq!(item.get("n").unwrap(), 1);
    /// ```
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        self.fields.insert(name.into(), value.into());
    }

    /// The record as one JSON object (the payload is left out; its kind and
    /// size are noted in `_payload` when there is one).
    ///
    /// # Examples
    ///
    /// ```
    /// let item = baton_ops::Item::with_field("a", 1);
    /// assert_eq!(item.to_json().to_string(), r#"{"a":1}"#);
    /// ```
    pub fn to_json(&self) -> Value {
        let mut fields = self.fields.clone();
        match &self.payload {
            Payload::None => {}
            Payload::Bytes(bytes) => {
                fields.insert("_payload".into(), format!("bytes[{}]", bytes.len()).into());
            }
            Payload::Image(image) => {
                fields.insert(
                    "_payload".into(),
                    format!("image[{}x{}]", image.width(), image.height()).into(),
                );
            }
            Payload::Tensor(tensor) => {
                fields.insert(
                    "_payload".into(),
                    format!("tensor{:?}", tensor.shape).into(),
                );
            }
            Payload::Batch(items) => {
                fields.insert(
                    "items".into(),
                    Value::Array(items.iter().map(Item::to_json).collect()),
                );
            }
            Payload::Records(batch) => {
                fields.insert(
                    "records".into(),
                    Value::Array(
                        rows_of(batch)
                            .map(|row| Value::Object(row.fields))
                            .collect(),
                    ),
                );
            }
        }
        Value::Object(fields)
    }
}

/// The rows of a chunk of records, each an item of fields.
pub(crate) fn rows_of(batch: &RecordBatch) -> impl Iterator<Item = Item> {
    baton_records::rows::to_rows(batch)
        .into_iter()
        .map(|fields| Item {
            fields,
            payload: Payload::None,
        })
}
