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
//! The envelope is [`postcard`] (serde, no field names, varint integers),
//! the items in their binary form ([`baton_ops::binary`]: the parts that
//! are already binary go in raw). A format version byte comes first.
//!
//! A chunk is encoded entry by entry ([`encode_entry`]) so that
//! [`pack`] can cut a list of entries into messages that each fit the
//! server's `max_payload`, between entries and never inside one.

use baton_ops::binary::BinaryItem;
use baton_ops::Item;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

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
    items: Vec<BinaryItem>,
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
    Items(Vec<BinaryItem>),
    Failed(Failure),
}

fn to_wire(item: &Item) -> Result<BinaryItem, WireError> {
    Ok(BinaryItem::new(item)?)
}

fn from_wire(item: BinaryItem) -> Result<Item, WireError> {
    Ok(item.into_item()?)
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
