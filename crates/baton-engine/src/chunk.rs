//! Chunks: the unit the executor moves. A chunk holds a run of items of one
//! type, each with the sequence number of the source item it came from.

use std::any::Any;

/// Source sequence numbers of the items of a chunk, one per item.
///
/// Most chunks hold a contiguous run (`Run`); a filter or a skipped error
/// turns it into an explicit list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seqs {
    Run { start: u64, len: usize },
    List(Vec<u64>),
}

impl Seqs {
    pub(crate) fn empty() -> Self {
        Seqs::Run { start: 0, len: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Seqs::Run { len, .. } => *len,
            Seqs::List(list) => list.len(),
        }
    }

    /// The sequence number of the `i`-th item (the last one if past the end,
    /// 0 for an empty chunk): used to name the item that failed.
    pub(crate) fn get(&self, i: usize) -> u64 {
        match self {
            Seqs::Run { start, len } => start + (i.min(len.saturating_sub(1))) as u64,
            Seqs::List(list) => list.get(i).or(list.last()).copied().unwrap_or(0),
        }
    }

    pub(crate) fn iter(&self) -> SeqIter<'_> {
        match self {
            Seqs::Run { start, len } => SeqIter::Run(*start..*start + *len as u64),
            Seqs::List(list) => SeqIter::List(list.iter()),
        }
    }
}

pub(crate) enum SeqIter<'a> {
    Run(std::ops::Range<u64>),
    List(std::slice::Iter<'a, u64>),
}

impl Iterator for SeqIter<'_> {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        match self {
            SeqIter::Run(range) => range.next(),
            SeqIter::List(iter) => iter.next().copied(),
        }
    }
}

/// Builds the sequence numbers of a stage's output, staying a `Run` while
/// they are contiguous.
#[derive(Debug)]
pub(crate) struct SeqsBuilder {
    seqs: Seqs,
}

impl SeqsBuilder {
    pub(crate) fn with_capacity(_capacity: usize) -> Self {
        Self {
            seqs: Seqs::empty(),
        }
    }

    pub(crate) fn push(&mut self, seq: u64) {
        match &mut self.seqs {
            Seqs::Run { len: 0, start } => {
                *start = seq;
                self.seqs = Seqs::Run { start: seq, len: 1 };
            }
            Seqs::Run { start, len } if *start + *len as u64 == seq => *len += 1,
            Seqs::Run { start, len } => {
                let mut list: Vec<u64> = (*start..*start + *len as u64).collect();
                list.push(seq);
                self.seqs = Seqs::List(list);
            }
            Seqs::List(list) => list.push(seq),
        }
    }

    pub(crate) fn finish(self) -> Seqs {
        self.seqs
    }
}

/// The typed contents of a chunk, erased: `Vec<T>` of the stage's item type,
/// or nothing (an empty chunk, of any type).
#[derive(Debug)]
pub(crate) struct ChunkData {
    pub(crate) items: Option<Box<dyn Any + Send>>,
    pub(crate) seqs: Seqs,
}

impl ChunkData {
    pub(crate) fn empty() -> Self {
        Self {
            items: None,
            seqs: Seqs::empty(),
        }
    }

    pub(crate) fn from_vec<T: Send + 'static>(items: Vec<T>, seqs: Seqs) -> Self {
        debug_assert_eq!(items.len(), seqs.len());
        if items.is_empty() {
            return Self::empty();
        }
        Self {
            items: Some(Box::new(items)),
            seqs,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.seqs.len()
    }

    /// Takes the items out as a `Vec<T>`.
    ///
    /// # Panics
    ///
    /// If the chunk holds another type: the pipeline builder's types make
    /// that impossible.
    pub(crate) fn into_vec<T: 'static>(self) -> (Vec<T>, Seqs) {
        match self.items {
            None => (Vec::new(), Seqs::empty()),
            Some(items) => match items.downcast::<Vec<T>>() {
                Ok(items) => (*items, self.seqs),
                Err(_) => unreachable!("a chunk reached a stage of another item type"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_stays_a_run_while_contiguous() {
        let mut b = SeqsBuilder::with_capacity(3);
        for s in 5..8 {
            b.push(s);
        }
        assert_eq!(b.finish(), Seqs::Run { start: 5, len: 3 });
    }

    #[test]
    fn builder_turns_into_a_list_on_a_gap() {
        let mut b = SeqsBuilder::with_capacity(3);
        for s in [1, 2, 4, 4] {
            b.push(s);
        }
        let seqs = b.finish();
        assert_eq!(seqs, Seqs::List(vec![1, 2, 4, 4]));
        assert_eq!(seqs.iter().collect::<Vec<_>>(), vec![1, 2, 4, 4]);
        assert_eq!(seqs.get(2), 4);
    }

    #[test]
    fn empty_chunk_gives_an_empty_vec_of_any_type() {
        let (items, seqs) = ChunkData::empty().into_vec::<String>();
        assert!(items.is_empty());
        assert_eq!(seqs.len(), 0);
    }
}
