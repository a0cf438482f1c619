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

    /// The sequence numbers of the first `n` items (all of them if fewer).
    pub(crate) fn prefix(&self, n: usize) -> Seqs {
        match self {
            Seqs::Run { start, len } => Seqs::Run {
                start: *start,
                len: n.min(*len),
            },
            Seqs::List(list) => Seqs::List(list[..n.min(list.len())].to_vec()),
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
/// The emptied box a chunk's items came in, to be filled again.
pub(crate) struct Spare(Box<dyn Any + Send>);

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

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the items out as a `Vec<T>`.
    ///
    /// # Panics
    ///
    /// If the chunk holds another type: the pipeline builder's types make
    /// that impossible.
    /// The items, and the box that held them, emptied: a stage whose output
    /// has the same type hands it to [`ChunkData::from_vec_in`] and saves an
    /// allocation (and a free, often on another thread) per chunk.
    pub(crate) fn into_vec_and_box<T: Send + 'static>(self) -> (Vec<T>, Seqs, Option<Spare>) {
        match self.items {
            None => (Vec::new(), Seqs::empty(), None),
            Some(items) => match items.downcast::<Vec<T>>() {
                Ok(mut boxed) => {
                    let items = std::mem::take(&mut *boxed);
                    (items, self.seqs, Some(Spare(boxed)))
                }
                Err(_) => unreachable!("a chunk reached a stage of another item type"),
            },
        }
    }

    /// As [`ChunkData::from_vec`], in `spare` if it held items of this type.
    pub(crate) fn from_vec_in<T: Send + 'static>(
        items: Vec<T>,
        seqs: Seqs,
        spare: Option<Spare>,
    ) -> Self {
        if items.is_empty() {
            return Self::empty();
        }
        match spare.map(|Spare(boxed)| boxed.downcast::<Vec<T>>()) {
            Some(Ok(mut boxed)) => {
                *boxed = items;
                Self {
                    items: Some(boxed),
                    seqs,
                }
            }
            _ => Self::from_vec(items, seqs),
        }
    }

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
    fn a_stage_of_the_same_type_reuses_the_box() {
        let data = ChunkData::from_vec(vec![1u64, 2], Seqs::Run { start: 0, len: 2 });
        let before = data
            .items
            .as_deref()
            .map(|b| b as *const dyn Any as *const u8);
        let (items, seqs, spare) = data.into_vec_and_box::<u64>();
        let out = ChunkData::from_vec_in(items.into_iter().map(|x| x * 2).collect(), seqs, spare);
        let after = out
            .items
            .as_deref()
            .map(|b| b as *const dyn Any as *const u8);
        assert_eq!(before, after);
        assert_eq!(out.into_vec::<u64>().0, vec![2, 4]);
    }

    #[test]
    fn a_stage_of_another_type_gets_a_new_box() {
        let data = ChunkData::from_vec(vec![1u64, 2], Seqs::Run { start: 0, len: 2 });
        let (items, seqs, spare) = data.into_vec_and_box::<u64>();
        let out = ChunkData::from_vec_in(items.iter().map(u64::to_string).collect(), seqs, spare);
        assert_eq!(out.into_vec::<String>().0, vec!["1", "2"]);
        let (items, seqs, spare) =
            ChunkData::from_vec(vec![3u8], Seqs::Run { start: 0, len: 1 }).into_vec_and_box::<u8>();
        assert!(ChunkData::from_vec_in(Vec::<u8>::new(), seqs, spare)
            .items
            .is_none());
        drop(items);
    }

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
