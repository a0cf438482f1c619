//! What the sources that parse in parallel (`csv`, `jsonl`, `lines`)
//! share: the source reads (and decompresses) each file and cuts it into
//! blocks of whole records, which travel as items naming their file and
//! first line; the stage `NAME.parse` after it turns each block into a
//! chunk of records, on as many threads as there are.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, RecvError};

use baton_engine::{BoxError, ChunkOutputs, Stage};
use baton_records::{Block, Blocks, Boundary, RecordBatch, Rejected};

use super::error::SourceError;
use super::text::open;
use crate::item::{Item, Payload};
use crate::registry::{ParamDef, ParamType};

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

/// The blocks of every file in `paths`, in file order, as items, each
/// file noted in `files` (with `T`'s default) when it opens, up to
/// `at_once` files read at a time (see [`read_ahead`]). For sources whose
/// files need no header read first.
pub(crate) fn plain_file_blocks<T: Clone + Default + Send + Sync + 'static>(
    paths: Vec<PathBuf>,
    boundary: Boundary,
    block_bytes: usize,
    at_once: usize,
    files: Arc<FilesRead<T>>,
) -> impl Iterator<Item = Result<Item, BoxError>> + Send {
    let open = move |path: PathBuf| -> Box<dyn Iterator<Item = Result<Item, BoxError>> + Send> {
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
    };
    read_ahead(paths, at_once, Arc::new(open))
}

/// The parameter of the sources that read files in blocks: how many files
/// are read at once.
pub(crate) const FILES_AT_ONCE: ParamDef = ParamDef::with_default(
    "files_at_once",
    ParamType::Int,
    "4",
    "how many files are read (and decompressed) at once, each on a thread of its own, ahead of the parse; records still come in file order",
)
.between(1, 256);

/// The default of [`FILES_AT_ONCE`].
pub(crate) fn default_files_at_once() -> usize {
    4
}

/// The default `block_bytes` of the sources that read files in blocks:
/// 1 MiB.
pub(crate) fn default_block_bytes() -> usize {
    1 << 20
}

/// The items of one file, from its path.
pub(crate) type OpenFile =
    dyn Fn(PathBuf) -> Box<dyn Iterator<Item = Result<Item, BoxError>> + Send> + Send + Sync;

/// Items each reader may hold ready before the source takes them.
const ITEMS_AHEAD: usize = 4;

/// The items of every file in `paths`, in file order, read (and
/// decompressed) by `at_once` threads of their own, each taking every
/// `at_once`-th file: many compressed files inflate on several cores, and
/// a file's reading overlaps with the parsing of what was read. Each reader
/// holds at most [`ITEMS_AHEAD`] items ready, so memory stays bounded; a
/// reader ends at its next item once the items are no longer wanted.
pub(crate) fn read_ahead(paths: Vec<PathBuf>, at_once: usize, open: Arc<OpenFile>) -> ReadAhead {
    ReadAhead {
        paths: Arc::new(paths),
        readers: Vec::new(),
        at_once: at_once.max(1),
        open,
        file: 0,
        ended: false,
    }
}

/// What a reader sends: a file's item, or the end of the file.
enum FileRead {
    Item(Result<Item, BoxError>),
    EndOfFile,
}

/// A thread reading every `at_once`-th file.
struct Reader {
    items: Receiver<FileRead>,
    thread: Option<JoinHandle<()>>,
}

/// The items of many files, read ahead (see [`read_ahead`]).
pub(crate) struct ReadAhead {
    paths: Arc<Vec<PathBuf>>,
    /// Started at the first item.
    readers: Vec<Reader>,
    at_once: usize,
    open: Arc<OpenFile>,
    /// The file being taken.
    file: usize,
    ended: bool,
}

impl ReadAhead {
    fn start_readers(&mut self) -> Result<(), BoxError> {
        let count = self.at_once.min(self.paths.len());
        for first in 0..count {
            let (sender, items) = crossbeam_channel::bounded(ITEMS_AHEAD);
            let open = Arc::clone(&self.open);
            let paths = Arc::clone(&self.paths);
            let step = count;
            let thread = std::thread::Builder::new()
                .name("baton-read".into())
                .spawn(move || {
                    for path in paths.iter().skip(first).step_by(step) {
                        for item in open(path.clone()) {
                            if sender.send(FileRead::Item(item)).is_err() {
                                return; // no longer wanted
                            }
                        }
                        if sender.send(FileRead::EndOfFile).is_err() {
                            return;
                        }
                    }
                })
                .map_err(|error| format!("cannot start a thread to read files: {error}"))?;
            self.readers.push(Reader {
                items,
                thread: Some(thread),
            });
        }
        Ok(())
    }
}

impl Iterator for ReadAhead {
    type Item = Result<Item, BoxError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.ended && self.file < self.paths.len() {
            if self.readers.is_empty() {
                if let Err(error) = self.start_readers() {
                    self.ended = true;
                    return Some(Err(error));
                }
            }
            let count = self.readers.len();
            let reader = &mut self.readers[self.file % count];
            match reader.items.recv() {
                Ok(FileRead::Item(item)) => return Some(item),
                Ok(FileRead::EndOfFile) => self.file += 1,
                Err(RecvError) => {
                    // Gone before the end of its file: it panicked.
                    let _ = reader.thread.take().map(JoinHandle::join);
                    self.ended = true;
                    let path = self.paths[self.file].display();
                    return Some(Err(format!("the reader of {path} panicked").into()));
                }
            }
        }
        None
    }
}

impl fmt::Debug for ReadAhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadAhead")
            .field("files", &self.paths.len())
            .field("file", &self.file)
            .field("readers", &self.readers.len())
            .finish()
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;

    /// Writes `files` gzip files of numbered lines; returns their paths and
    /// every line in file order.
    fn gzip_files(dir: &Path, files: usize, lines: usize) -> (Vec<PathBuf>, Vec<String>) {
        let mut paths = Vec::new();
        let mut all = Vec::new();
        for f in 0..files {
            let text: Vec<String> = (0..lines).map(|l| format!("{f}:{l}")).collect();
            let path = dir.join(format!("{f:02}.log.gz"));
            let bytes = (text.join("\n") + "\n").into_bytes();
            std::fs::write(&path, Codec::Gzip.compress(&bytes, None).unwrap()).unwrap();
            paths.push(path);
            all.extend(text);
        }
        (paths, all)
    }

    fn lines_of(items: impl Iterator<Item = Result<Item, BoxError>>) -> Vec<String> {
        items
            .flat_map(|item| {
                let (_, block) = item_block(item.unwrap(), "t").unwrap();
                String::from_utf8(block.bytes)
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

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

    #[test]
    fn files_read_at_once_come_in_file_order_whatever_their_number() {
        let dir = tempfile::tempdir().unwrap();
        let (paths, all) = gzip_files(dir.path(), 9, 3_000);
        for at_once in [1, 2, 4, 16] {
            let files = Arc::new(FilesRead::<()>::default());
            let items = plain_file_blocks(paths.clone(), Boundary::Lines, 1000, at_once, files);
            assert_eq!(lines_of(items), all, "{at_once} at once");
        }
    }

    #[test]
    fn a_file_that_cannot_be_read_is_an_error_in_its_place_and_the_others_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let (mut paths, all) = gzip_files(dir.path(), 2, 10);
        let broken = dir.path().join("broken.log.gz");
        std::fs::write(&broken, b"not gzip at all").unwrap();
        paths.insert(1, broken.clone());
        paths.push(dir.path().join("missing.log"));
        let files = Arc::new(FilesRead::<()>::default());
        let items: Vec<_> = plain_file_blocks(paths, Boundary::Lines, 1 << 20, 3, files).collect();
        let errors: Vec<String> = items
            .iter()
            .filter_map(|item| item.as_ref().err().map(ToString::to_string))
            .collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("broken.log.gz"), "{errors:?}");
        assert!(errors[1].contains("missing.log"), "{errors:?}");
        assert!(
            items[0].is_ok() && items[1].is_err(),
            "the broken file comes second"
        );
        let good = lines_of(items.into_iter().filter(Result::is_ok));
        assert_eq!(good, all);
    }

    #[test]
    fn readers_end_once_their_items_are_no_longer_wanted() {
        let dir = tempfile::tempdir().unwrap();
        let (paths, _) = gzip_files(dir.path(), 6, 20_000);
        let files = Arc::new(FilesRead::<()>::default());
        let open = move |path: PathBuf| -> Box<dyn Iterator<Item = Result<Item, BoxError>> + Send> {
            let (_, blocks) = read_blocks(&path, Boundary::Lines, 1000).unwrap();
            let file = files.add("f".into(), ());
            Box::new(blocks.map(move |block| block.map(|block| block_item(file, block))))
        };
        let mut items = read_ahead(paths, 4, Arc::new(open));
        assert!(items.next().unwrap().is_ok());
        let threads: Vec<JoinHandle<()>> = items
            .readers
            .iter_mut()
            .filter_map(|reader| reader.thread.take())
            .collect();
        assert_eq!(threads.len(), 4);
        drop(items);
        // Every reader, blocked on a full queue, ends: joined within a bound.
        let (done, joined) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            threads.into_iter().for_each(|t| t.join().unwrap());
            let _ = done.send(());
        });
        joined
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the readers ended");
    }
}
