//! What the sources that parse in parallel (`csv`, `jsonl`, `lines`)
//! share: the source reads (and decompresses) each file and cuts it into
//! blocks of whole records, which travel as items naming their file and
//! first line; the stage `NAME.parse` after it turns each block into a
//! chunk of records, on as many threads as there are.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use baton_engine::{BoxError, ChunkOutputs, Stage};
use baton_records::{Block, Blocks, Boundary, RecordBatch, Rejected};

use super::error::SourceError;
use super::text::open;
use crate::item::{Item, Payload};

/// The files a source has opened, each with what its parse stage needs to
/// know of it (a CSV file's schema): a block names its file by its place
/// here, so that the name is not copied into every block.
#[derive(Debug)]
pub(crate) struct FilesRead<T>(Mutex<Vec<(Arc<str>, T)>>);

impl<T> Default for FilesRead<T> {
    fn default() -> Self {
        Self(Mutex::new(Vec::new()))
    }
}

impl<T: Clone> FilesRead<T> {
    /// Notes a file; returns its number.
    pub(crate) fn add(&self, name: Arc<str>, about: T) -> usize {
        let mut files = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        files.push((name, about));
        files.len() - 1
    }

    /// The name of file `file`, and what was noted with it.
    pub(crate) fn get(&self, file: usize) -> Option<(Arc<str>, T)> {
        let files = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        files.get(file).cloned()
    }
}

/// The fields of a block's item: which file, and the line it starts on.
const FILE: &str = "file";
const LINE: &str = "line";

/// A block as the item that carries it to the parse stage.
pub(crate) fn block_item(file: usize, block: Block) -> Item {
    let mut item = Item::with_field(FILE, file);
    item.set(LINE, block.first_line);
    item.payload = Payload::Bytes(block.bytes);
    item
}

/// The block an item carries, and the number of its file; `op` names the
/// source in the error for an item that is not a block.
pub(crate) fn item_block(item: Item, op: &str) -> Result<(usize, Block), BoxError> {
    let (Some(file), Some(line), Payload::Bytes(bytes)) = (
        item.get(FILE).and_then(serde_json::Value::as_u64),
        item.get(LINE).and_then(serde_json::Value::as_u64),
        item.payload,
    ) else {
        return Err(format!("the parse stage of `{op}` takes the blocks its source reads").into());
    };
    let block = Block {
        first_line: line,
        bytes,
        ..Block::default()
    };
    Ok((file as usize, block))
}

/// The blocks of the file at `path`, cut where `boundary` says, about
/// `block_bytes` each, with the file's name as errors and items give it.
/// A read error names the line reading had reached.
pub(crate) fn read_blocks(
    path: &Path,
    boundary: Boundary,
    block_bytes: usize,
) -> Result<
    (
        Arc<str>,
        impl Iterator<Item = Result<Block, BoxError>> + Send,
    ),
    BoxError,
> {
    let name: Arc<str> = path.display().to_string().into();
    let reader: Box<dyn Read + Send> = Box::new(open(path)?);
    let mut line = 1;
    let blocks = {
        let name = Arc::clone(&name);
        Blocks::new(reader, boundary, block_bytes).map(move |block| match block {
            Ok(block) => {
                line = block.first_line + block.lines;
                Ok(block)
            }
            Err(error) => Err(SourceError::Read {
                path: name.to_string(),
                line,
                error,
            }
            .into()),
        })
    };
    Ok((name, blocks))
}

/// The blocks of every file in `paths`, one file after the other, as
/// items, each file noted in `files` (with `T`'s default) when it opens.
/// For sources whose files need no header read first.
pub(crate) fn plain_file_blocks<T: Clone + Default + Send + 'static>(
    paths: Vec<std::path::PathBuf>,
    boundary: Boundary,
    block_bytes: usize,
    files: Arc<FilesRead<T>>,
) -> impl Iterator<Item = Result<Item, BoxError>> + Send {
    paths.into_iter().flat_map(
        move |path| -> Box<dyn Iterator<Item = Result<Item, BoxError>> + Send> {
            match read_blocks(&path, boundary, block_bytes) {
                Err(error) => Box::new(std::iter::once(Err(error))),
                Ok((name, blocks)) => {
                    let file = files.add(name, T::default());
                    Box::new(
                        blocks
                            .map(|block| block.map(without_bom))
                            .filter(|block| block.as_ref().map_or(true, |b| !b.bytes.is_empty()))
                            .map(move |block| block.map(|block| block_item(file, block))),
                    )
                }
            }
        },
    )
}

/// The byte-order mark some editors put at the start of UTF-8 text.
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// The block without a byte-order mark, if it is a file's first.
fn without_bom(mut block: Block) -> Block {
    if block.index == 0 && block.bytes.starts_with(UTF8_BOM) {
        block.bytes.drain(..UTF8_BOM.len());
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_goes_to_an_item_and_back() {
        let block = Block {
            first_line: 7,
            bytes: b"a\nb\n".to_vec(),
            ..Block::default()
        };
        let (file, back) = item_block(block_item(3, block.clone()), "x").unwrap();
        assert_eq!((file, back.first_line, back.bytes), (3, 7, block.bytes));
        let error = item_block(Item::with_field("n", 1), "jsonl").unwrap_err();
        assert_eq!(
            error.to_string(),
            "the parse stage of `jsonl` takes the blocks its source reads"
        );
    }
}

/// Parses the blocks a source cut into records: one per file format.
pub(crate) trait ParseBlock: Send + 'static {
    /// The records of a block item, and the records of it that could not
    /// be read.
    fn parse_block(&mut self, item: Item) -> Result<(RecordBatch, Vec<Rejected>), BoxError>;
}

/// The parse stage of a source: each block into a chunk of records. A
/// record that cannot be read fails its block's item when the block is
/// taken alone (a retry, rows read serially); in a chunk, it fails only
/// itself (a failed part: under `on_error = "skip"` it goes to the dead
/// letters, as `{file, line, text}`, and the block's other records go on).
#[derive(Debug)]
pub(crate) struct Parse<P>(pub(crate) P);

impl<P: ParseBlock> Stage<Item, Item> for Parse<P> {
    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        let (batch, rejected) = self.0.parse_block(item)?;
        if let Some(first) = rejected.into_iter().next() {
            return Err(first.error.into());
        }
        if batch.num_rows() > 0 {
            out.push(Item::records(batch));
        }
        Ok(())
    }

    fn takes_chunks(&self) -> bool {
        true
    }

    fn process_chunk(&mut self, items: Vec<Item>, out: &mut ChunkOutputs<Item, Item>) {
        for item in items {
            match self.0.parse_block(item) {
                Ok((batch, rejected)) => {
                    for record in rejected {
                        let item = rejected_item(&record);
                        out.part_failed(record.error, item);
                    }
                    if batch.num_rows() > 0 {
                        out.push(Item::records(batch));
                    }
                    out.done();
                }
                Err(error) => out.failed(error, None),
            }
        }
    }
}

/// A record that could not be read, as its dead letter shows it.
fn rejected_item(record: &Rejected) -> Item {
    let mut item = Item::default();
    if let baton_records::RecordsError::Input { file, .. } = &record.error {
        item.fields.insert("file".into(), file.as_str().into());
    }
    item.fields.insert("line".into(), record.line.into());
    item.fields
        .insert("text".into(), record.text.as_str().into());
    item
}
