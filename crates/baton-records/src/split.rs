//! Cutting a byte stream into blocks that end on record boundaries, so
//! that the blocks can be parsed in parallel and give the same records, in
//! the same order, as one serial parse.
//!
//! Reading (and decompressing) a stream is serial; finding where a record
//! ends is a fast scan (`memchr` over newlines, and quotes for CSV); the
//! parsing, the costly part, is then free to run on many cores.

use std::io::{self, Read};

/// Where a record may end.
///
/// # Examples
///
/// ```
/// use baton_records::{Blocks, Boundary};
///
/// // A quoted newline is not the end of a CSV record.
/// let text = "a,\"one\ntwo\"\nb,three\n";
/// let blocks: Vec<_> = Blocks::new(text.as_bytes(), Boundary::CsvRecords, 1)
///     .map(Result::unwrap)
///     .collect();
/// assert_eq!(blocks[0].bytes, b"a,\"one\ntwo\"\n");
/// assert_eq!(blocks[1].first_line, 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Boundary {
    /// Every newline ends a record (text lines, JSON lines).
    Lines,
    /// A newline outside double quotes ends a record (RFC 4180 CSV).
    CsvRecords,
}

/// A run of whole records, cut from a stream.
///
/// # Examples
///
/// ```
/// use baton_records::{Blocks, Boundary};
///
/// let block = Blocks::new(&b"x\ny\n"[..], Boundary::Lines, 1 << 20).next().unwrap().unwrap();
/// assert_eq!((block.index, block.first_line, block.lines), (0, 1, 2));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Block {
    /// Its place among the stream's blocks, from 0.
    pub index: u64,
    /// The line (from 1) its first record starts on.
    pub first_line: u64,
    /// The newlines it holds (the lines it spans, when it ends with one).
    pub lines: u64,
    /// Its bytes: whole records, the last one ending with its newline
    /// unless it is the stream's last and the stream has none.
    pub bytes: Vec<u8>,
}

/// The blocks of a stream, each about `target` bytes (longer when a record
/// is longer), cut where `boundary` says a record ends.
///
/// # Examples
///
/// ```
/// use baton_records::{Blocks, Boundary};
///
/// let text = b"1\n2\n3\n4\n5";
/// let blocks: Vec<_> = Blocks::new(&text[..], Boundary::Lines, 4).map(Result::unwrap).collect();
/// let joined: Vec<u8> = blocks.iter().flat_map(|b| b.bytes.clone()).collect();
/// assert_eq!(joined, text);
/// assert!(blocks.iter().all(|b| b.bytes.len() <= 4));
/// ```
#[derive(Debug)]
pub struct Blocks<R> {
    reader: R,
    boundary: Boundary,
    target: usize,
    /// Bytes read and not yet handed out: they start on a record boundary.
    pending: Vec<u8>,
    next_index: u64,
    next_line: u64,
    ended: bool,
    failed: bool,
}

impl<R: Read> Blocks<R> {
    /// Blocks of `reader`, about `target` bytes each (at least 1).
    ///
    /// # Examples
    ///
    /// See [`Blocks`].
    pub fn new(reader: R, boundary: Boundary, target: usize) -> Self {
        Self {
            reader,
            boundary,
            target: target.max(1),
            pending: Vec::new(),
            next_index: 0,
            next_line: 1,
            ended: false,
            failed: false,
        }
    }

    /// Counts lines from `line` on instead of 1 (when the stream's first
    /// lines, a header, were read before).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_records::{Blocks, Boundary};
    /// let block = Blocks::new(&b"x\n"[..], Boundary::Lines, 8).starting_at_line(2).next().unwrap().unwrap();
    /// assert_eq!(block.first_line, 2);
    /// ```
    pub fn starting_at_line(mut self, line: u64) -> Self {
        self.next_line = line;
        self
    }

    /// Reads until `pending` holds at least `want` bytes or the stream ends.
    fn fill(&mut self, want: usize) -> io::Result<()> {
        let start = self.pending.len();
        if start >= want || self.ended {
            return Ok(());
        }
        let mut filled = start;
        while filled < want {
            if filled == self.pending.len() {
                // Grown a step at a time: a small file never pays for
                // zeroing a whole block's room.
                let step = (filled.max(1 << 14)).min(want - filled).max(1 << 12);
                self.pending.resize(filled + step, 0);
            }
            match self.reader.read(&mut self.pending[filled..]) {
                Ok(0) => {
                    self.ended = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.pending.truncate(filled);
                    return Err(error);
                }
            }
        }
        self.pending.truncate(filled);
        Ok(())
    }

    /// The record ends in `pending[..limit]`: the last one, or with
    /// `first_after` the first one at or past that offset.
    fn record_end(&self, limit: usize, first_after: Option<usize>) -> Option<usize> {
        let bytes = &self.pending[..limit.min(self.pending.len())];
        let mut found = None;
        match self.boundary {
            Boundary::Lines => {
                if let Some(from) = first_after {
                    return memchr::memchr(b'\n', &bytes[from.min(bytes.len())..])
                        .map(|at| from + at + 1);
                }
                found = memchr::memrchr(b'\n', bytes).map(|at| at + 1);
            }
            Boundary::CsvRecords => {
                let mut quoted = false;
                for at in memchr::memchr2_iter(b'"', b'\n', bytes) {
                    if bytes[at] == b'"' {
                        quoted = !quoted;
                    } else if !quoted {
                        found = Some(at + 1);
                        if first_after.is_some_and(|from| at >= from) {
                            return found;
                        }
                    }
                }
                if first_after.is_some() {
                    return None;
                }
            }
        }
        found
    }

    fn take(&mut self, end: usize) -> Block {
        let rest = self.pending.split_off(end);
        let bytes = std::mem::replace(&mut self.pending, rest);
        let lines = memchr::memchr_iter(b'\n', &bytes).count() as u64;
        let block = Block {
            index: self.next_index,
            first_line: self.next_line,
            lines,
            bytes,
        };
        self.next_index += 1;
        self.next_line += lines;
        block
    }

    fn next_block(&mut self) -> io::Result<Option<Block>> {
        // One byte past the target tells whether a record ends exactly at it.
        self.fill(self.target + 1)?;
        if self.pending.is_empty() {
            return Ok(None);
        }
        if self.ended && self.pending.len() <= self.target {
            let end = self.pending.len();
            return Ok(Some(self.take(end)));
        }
        if let Some(end) = self.record_end(self.target, None) {
            return Ok(Some(self.take(end)));
        }
        // A record longer than the target: read on to its end.
        let mut want = self.target * 2;
        loop {
            if let Some(end) = self.record_end(self.pending.len(), Some(self.target)) {
                return Ok(Some(self.take(end)));
            }
            if self.ended {
                let end = self.pending.len();
                return Ok(Some(self.take(end)));
            }
            self.fill(want)?;
            want *= 2;
        }
    }
}

impl<R: Read> Iterator for Blocks<R> {
    type Item = io::Result<Block>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_block() {
            Ok(block) => block.map(Ok),
            Err(error) => {
                self.failed = true;
                Some(Err(error))
            }
        }
    }
}

/// The pieces of `block` between the byte ranges `cut` (in order, not
/// overlapping), each a block of its own starting on its own line; empty
/// pieces are left out.
pub(crate) fn between(
    block: &Block,
    cut: impl IntoIterator<Item = std::ops::Range<usize>>,
) -> Vec<Block> {
    let newlines =
        |from: usize, to: usize| memchr::memchr_iter(b'\n', &block.bytes[from..to]).count() as u64;
    let mut pieces = Vec::new();
    // Where the next piece starts, and its line.
    let (mut at, mut line) = (0, block.first_line);
    let ends = cut
        .into_iter()
        .chain(std::iter::once(block.bytes.len()..block.bytes.len()));
    for range in ends {
        let end = range.start.max(at);
        if end > at {
            let bytes = block.bytes[at..end].to_vec();
            let lines = newlines(at, end);
            pieces.push(Block {
                index: block.index,
                first_line: line,
                lines,
                bytes,
            });
        }
        let next = range.end.max(end);
        line += newlines(at, next);
        at = next;
    }
    pieces
}

/// The records of `block` without the `rejected` ones (each with its byte
/// range in the block): the pieces between them parsed by `parse` and put
/// together in `schema`.
pub(crate) fn parse_around(
    block: &Block,
    rejected: Vec<(std::ops::Range<usize>, crate::error::Rejected)>,
    schema: &arrow_schema::SchemaRef,
    file: &str,
    mut parse: impl FnMut(&Block) -> Result<arrow_array::RecordBatch, crate::error::RecordsError>,
) -> Result<(arrow_array::RecordBatch, Vec<crate::error::Rejected>), crate::error::RecordsError> {
    let pieces = between(block, rejected.iter().map(|(range, _)| range.clone()));
    let batches = pieces
        .iter()
        .map(&mut parse)
        .collect::<Result<Vec<_>, _>>()?;
    let batch = arrow_select::concat::concat_batches(schema, &batches).map_err(|error| {
        crate::error::RecordsError::at(file, block.first_line, error.to_string())
    })?;
    Ok((
        batch,
        rejected.into_iter().map(|(_, rejected)| rejected).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn blocks(text: &[u8], boundary: Boundary, target: usize) -> Vec<Block> {
        Blocks::new(text, boundary, target)
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn blocks_end_on_record_boundaries_and_count_lines() {
        let text = b"a,\"x\ny\"\nb,c\nd,e\n";
        let got = blocks(text, Boundary::CsvRecords, 3);
        let pieces: Vec<&[u8]> = got.iter().map(|b| b.bytes.as_slice()).collect();
        assert_eq!(pieces, [&b"a,\"x\ny\"\n"[..], b"b,c\n", b"d,e\n"]);
        let lines: Vec<u64> = got.iter().map(|b| b.first_line).collect();
        assert_eq!(lines, [1, 3, 4]);
    }

    #[test]
    fn a_stream_without_a_final_newline_keeps_its_last_record() {
        let got = blocks(b"1\n2", Boundary::Lines, 100);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].bytes, b"1\n2");
        assert!(blocks(b"", Boundary::Lines, 100).is_empty());
    }

    proptest! {
        /// Whatever the block size, the blocks put together are the stream,
        /// each ends on a record boundary, and line numbers add up.
        #[test]
        fn blocks_cover_the_stream_and_cut_only_between_records(
            records in proptest::collection::vec("[a-c\",\n]{0,12}", 0..40),
            target in 1usize..64,
        ) {
            // Well-formed CSV records: quote a field that needs it.
            let text: String = records
                .iter()
                .map(|r| format!("\"{}\",x\n", r.replace('"', "\"\"")))
                .collect();
            let got = blocks(text.as_bytes(), Boundary::CsvRecords, target);
            let joined: Vec<u8> = got.iter().flat_map(|b| b.bytes.clone()).collect();
            prop_assert_eq!(&joined, text.as_bytes());
            let mut line = 1;
            for block in &got {
                prop_assert_eq!(block.first_line, line);
                line += block.lines;
                // A block parses on its own into whole records.
                let rows = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .from_reader(block.bytes.as_slice())
                    .records()
                    .collect::<Result<Vec<_>, _>>();
                prop_assert!(rows.is_ok());
                prop_assert!(rows.unwrap().iter().all(|r| r.len() == 2));
            }
        }
    }
}
