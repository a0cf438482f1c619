//! `repeat`'s cache on disk: the first epoch's items written as they pass
//! (in their binary form, [`crate::binary`]), the later epochs read back
//! from the file, so memory stays flat however large the dataset; a
//! complete file left by an earlier run is read without touching the
//! source (tf.data's `cache(filename)`).
//!
//! The file: a header (`BTNCACH1`), then each item as its length (u64,
//! little-endian) and bytes, then a footer: every item's offset (u64
//! each), their count (u64) and `BTNCEND1`. It is written to
//! `FILE.partial-PID` and renamed to `FILE` once the source has ended, so
//! `FILE` is always complete; an interrupted run leaves nothing under the
//! name, and two runs filling the same cache do not write into each other.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use baton_engine::BoxError;

use crate::binary;
use crate::item::Item;

const HEADER: &[u8; 8] = b"BTNCACH1";
const FOOTER: &[u8; 8] = b"BTNCEND1";

/// A cache file being written: the first epoch's items as they come.
pub(super) struct CacheWriter {
    path: PathBuf,
    partial: PathBuf,
    out: Option<BufWriter<File>>,
    offsets: Vec<u64>,
    at: u64,
    /// Renamed under its name: nothing to clean up.
    done: bool,
}

impl CacheWriter {
    /// A writer of `path`; nothing is created until the first item.
    pub(super) fn new(path: &Path) -> Self {
        let mut partial = path.as_os_str().to_owned();
        partial.push(format!(".partial-{}", std::process::id()));
        Self {
            path: path.to_path_buf(),
            partial: PathBuf::from(partial),
            out: None,
            offsets: Vec::new(),
            at: 0,
            done: false,
        }
    }

    fn open(&mut self) -> Result<&mut BufWriter<File>, BoxError> {
        if self.out.is_none() {
            if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cache file {}: {e}", self.path.display()))?;
            }
            let file = File::create(&self.partial)
                .map_err(|e| format!("cache file {}: {e}", self.partial.display()))?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            out.write_all(HEADER)
                .map_err(|e| self.write_error(e.into()))?;
            self.at = HEADER.len() as u64;
            self.out = Some(out);
        }
        Ok(self.out.as_mut().expect("just opened"))
    }

    fn write_error(&self, error: BoxError) -> BoxError {
        format!("cache file {}: {error}", self.partial.display()).into()
    }

    /// Writes one item.
    pub(super) fn push(&mut self, item: &Item) -> Result<(), BoxError> {
        let bytes = binary::encode(item).map_err(|e| self.write_error(e.into()))?;
        self.open()?;
        let at = self.at;
        let out = self.out.as_mut().expect("opened");
        let written = out
            .write_all(&(bytes.len() as u64).to_le_bytes())
            .and_then(|()| out.write_all(&bytes));
        written.map_err(|e| self.write_error(e.into()))?;
        self.offsets.push(at);
        self.at = at + 8 + bytes.len() as u64;
        Ok(())
    }

    /// Writes the footer and puts the file under its name: the cache to
    /// read the later epochs from.
    pub(super) fn finish(mut self) -> Result<CacheReader, BoxError> {
        self.open()?;
        let mut out = self.out.take().expect("opened");
        let mut footer = Vec::with_capacity(8 * self.offsets.len() + 16);
        for offset in &self.offsets {
            footer.extend_from_slice(&offset.to_le_bytes());
        }
        footer.extend_from_slice(&(self.offsets.len() as u64).to_le_bytes());
        footer.extend_from_slice(FOOTER);
        out.write_all(&footer)
            .and_then(|()| out.flush())
            .map_err(|e| self.write_error(e.into()))?;
        let file = out
            .into_inner()
            .map_err(|e| self.write_error(e.into_error().into()))?;
        file.sync_all().map_err(|e| self.write_error(e.into()))?;
        drop(file);
        std::fs::rename(&self.partial, &self.path).map_err(|e| {
            format!(
                "cache file {}: cannot rename {}: {e}",
                self.path.display(),
                self.partial.display()
            )
        })?;
        self.done = true;
        CacheReader::open(&self.path)
    }
}

impl Drop for CacheWriter {
    fn drop(&mut self) {
        // Not finished (the run stopped in the first epoch, or the file
        // could not be completed): no half cache left behind.
        if !self.done && self.at > 0 {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// A complete cache file, read item by item in any order.
pub(super) struct CacheReader {
    path: PathBuf,
    input: BufReader<File>,
    offsets: Vec<u64>,
    /// Where the reader is (a read in order needs no seek).
    at: u64,
}

impl CacheReader {
    /// Opens `path`, checking that it is a complete cache file.
    pub(super) fn open(path: &Path) -> Result<Self, BoxError> {
        let bad = |why: String| -> BoxError {
            format!(
                "{}: {why}; it is not a complete cache file of `repeat` (delete it to fill it again)",
                path.display()
            )
            .into()
        };
        let mut file = File::open(path).map_err(|e| bad(e.to_string()))?;
        let len = file.metadata().map_err(|e| bad(e.to_string()))?.len();
        if len < (HEADER.len() + 16) as u64 {
            return Err(bad(format!("{len} bytes is too short")));
        }
        let mut header = [0u8; 8];
        file.read_exact(&mut header)
            .map_err(|e| bad(e.to_string()))?;
        if &header != HEADER {
            return Err(bad("no cache header".into()));
        }
        let mut tail = [0u8; 16];
        file.seek(SeekFrom::End(-16))
            .and_then(|_| file.read_exact(&mut tail))
            .map_err(|e| bad(e.to_string()))?;
        if &tail[8..] != FOOTER {
            return Err(bad("no footer (was its writing cut off?)".into()));
        }
        let count = u64::from_le_bytes(tail[..8].try_into().expect("8 bytes"));
        let index_len = count
            .checked_mul(8)
            .filter(|n| n + 16 + HEADER.len() as u64 <= len)
            .ok_or_else(|| bad(format!("a count of {count} items that does not fit")))?;
        let index_at = len - 16 - index_len;
        let mut index = vec![0u8; index_len as usize];
        file.seek(SeekFrom::Start(index_at))
            .and_then(|_| file.read_exact(&mut index))
            .map_err(|e| bad(e.to_string()))?;
        let offsets: Vec<u64> = index
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        let in_order = offsets.windows(2).all(|w| w[0] < w[1])
            && offsets
                .first()
                .map_or(true, |&first| first == HEADER.len() as u64)
            && offsets.last().map_or(true, |&last| last < index_at);
        if !in_order {
            return Err(bad("an index that does not fit its items".into()));
        }
        file.seek(SeekFrom::Start(HEADER.len() as u64))
            .map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            path: path.to_path_buf(),
            input: BufReader::with_capacity(1 << 16, file),
            offsets,
            at: HEADER.len() as u64,
        })
    }

    /// How many items it holds.
    pub(super) fn len(&self) -> usize {
        self.offsets.len()
    }

    /// The item at `index` (`0..len`).
    pub(super) fn get(&mut self, index: usize) -> Result<Item, BoxError> {
        let bad = |why: String| -> BoxError {
            format!("{}: item {index} of the cache: {why}", self.path.display()).into()
        };
        let offset = self.offsets[index];
        if offset != self.at {
            self.input
                .seek(SeekFrom::Start(offset))
                .map_err(|e| bad(e.to_string()))?;
        }
        let mut len = [0u8; 8];
        self.input
            .read_exact(&mut len)
            .map_err(|e| bad(e.to_string()))?;
        let len = u64::from_le_bytes(len);
        let end = self.offsets.get(index + 1).copied().unwrap_or(u64::MAX);
        if offset + 8 + len > end {
            return Err(bad(format!("a length of {len} bytes past the next item")));
        }
        let mut bytes = vec![0u8; len as usize];
        self.input
            .read_exact(&mut bytes)
            .map_err(|e| bad(e.to_string()))?;
        self.at = offset + 8 + len;
        binary::decode(&bytes).map_err(|e| bad(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Payload;

    fn item(n: i64) -> Item {
        Item {
            payload: Payload::Bytes(vec![n as u8; n as usize]),
            ..Item::with_field("n", n)
        }
    }

    #[test]
    fn items_are_read_back_in_any_order_once_the_file_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/cache.bin");
        let mut writer = CacheWriter::new(&path);
        (0..20).for_each(|n| writer.push(&item(n)).unwrap());
        assert!(!path.exists(), "complete files only under the name");
        let mut reader = writer.finish().unwrap();
        assert_eq!(reader.len(), 20);
        for n in [0, 1, 2, 19, 5, 6, 0] {
            assert_eq!(reader.get(n as usize).unwrap(), item(n));
        }
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["cache.bin"], "no partial file left");
        assert_eq!(CacheReader::open(&path).unwrap().len(), 20);
    }

    #[test]
    fn an_unfinished_cache_leaves_nothing_and_a_cut_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.bin");
        let mut writer = CacheWriter::new(&path);
        writer.push(&item(3)).unwrap();
        drop(writer);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let mut writer = CacheWriter::new(&path);
        (0..5).for_each(|n| writer.push(&item(n)).unwrap());
        writer.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let error = CacheReader::open(&path).err().unwrap().to_string();
        assert!(error.contains("cache.bin: no footer"), "{error}");
        std::fs::write(&path, "not a cache at all, but long enough").unwrap();
        let error = CacheReader::open(&path).err().unwrap().to_string();
        assert!(error.contains("no cache header"), "{error}");
    }

    #[test]
    fn an_empty_source_makes_an_empty_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.bin");
        let reader = CacheWriter::new(&path).finish().unwrap();
        assert_eq!(reader.len(), 0);
    }
}
