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

/// Emptied item buffers of chunks that have left the pipeline, for the
/// source to fill again: a chunk of 16,384 `u64`s is 128 KiB, which the
/// system allocator maps and unmaps per chunk (a page fault per page, and
/// on this kind of machine a huge page cleared per fault), and which
/// allocators that keep memory per thread hand back to the thread that
/// freed it (the sink's), not to the one that allocates (the source's).
/// Small buffers are not kept (any allocator serves them well), nor more
/// than a few, so what the pool holds stays within a few in-flight chunks.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    spare: std::sync::Mutex<Vec<(Box<dyn Any + Send>, usize)>>,
}

/// Buffers smaller than this are left to the allocator.
const POOLED_MIN_BYTES: usize = 16 * 1024;
/// The most buffers the pool keeps, and the most bytes.
const POOLED_MAX_BUFFERS: usize = 16;
const POOLED_MAX_BYTES: usize = 16 << 20;

/// The most bytes of a buffer a thread keeps at hand, and how many (two
/// made W1's first map slower than one: 1.0 against 0.45 ns an item).
const WARM_MAX_BYTES: usize = 1 << 20;
const WARM_BUFFERS: usize = 1;

thread_local! {
    /// The buffers this thread emptied last, the latest last: still in its
    /// core's cache, so the next stage this thread runs writes its outputs
    /// there (W1's second map, which writes into the buffer the first map
    /// read, costs what mapping in place did).
    static WARM: std::cell::RefCell<Vec<(Box<dyn Any + Send>, usize)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl BufferPool {
    /// Whether a buffer of `items` `T`s is large enough for the pool to
    /// keep (smaller ones are left to the allocator).
    pub(crate) fn keeps<T>(items: usize) -> bool {
        items.saturating_mul(std::mem::size_of::<T>()) >= POOLED_MIN_BYTES
    }

    /// Keeps `items`' allocation (emptied) if it is worth keeping and
    /// there is room; drops it otherwise.
    pub(crate) fn put<T: Send + 'static>(&self, mut items: Vec<T>) {
        let bytes = items.capacity() * std::mem::size_of::<T>();
        if !Self::keeps::<T>(items.capacity()) {
            return;
        }
        items.clear();
        let mut buffer: (Box<dyn Any + Send>, usize) = (Box::new(items), bytes);
        if bytes <= WARM_MAX_BYTES {
            // The warmest at hand; the coldest it displaces goes to the pool.
            let older = WARM.with(|warm| {
                let mut warm = warm.borrow_mut();
                warm.push(buffer);
                (warm.len() > WARM_BUFFERS).then(|| warm.remove(0))
            });
            let Some(older) = older else {
                return;
            };
            buffer = older;
        }
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        let held: usize = spare.iter().map(|(_, bytes)| bytes).sum();
        if spare.len() < POOLED_MAX_BUFFERS && held + buffer.1 <= POOLED_MAX_BYTES {
            spare.push(buffer);
        }
    }

    /// An empty `Vec<T>` with room for `capacity` items: a kept one if
    /// there is one large enough (this thread's own first), else a new one.
    pub(crate) fn take<T: Send + 'static>(&self, capacity: usize) -> Vec<T> {
        if !Self::keeps::<T>(capacity) {
            return Vec::with_capacity(capacity);
        }
        let fits = |(buffer, _): &(Box<dyn Any + Send>, usize)| {
            buffer
                .downcast_ref::<Vec<T>>()
                .is_some_and(|kept| kept.capacity() >= capacity)
        };
        let warm = WARM.with(|warm| {
            let mut warm = warm.borrow_mut();
            let found = warm.iter().rposition(fits)?;
            Some(warm.remove(found))
        });
        let buffer = match warm {
            Some((buffer, _)) => buffer,
            None => {
                let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
                let Some(found) = spare.iter().rposition(fits) else {
                    drop(spare);
                    return Vec::with_capacity(capacity);
                };
                spare.swap_remove(found).0
            }
        };
        match buffer.downcast::<Vec<T>>() {
            Ok(kept) => *kept,
            Err(_) => unreachable!("looked for a buffer of this type"),
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

    #[test]
    fn the_pool_gives_back_a_large_buffer_of_the_same_type_only() {
        let pool = BufferPool::default();
        let mut items: Vec<u64> = Vec::with_capacity(16_384);
        items.extend(0..10);
        let at = items.as_ptr();
        pool.put(items);
        let other_type = pool.take::<u32>(16_384);
        assert!(other_type.as_ptr() != at.cast::<u32>());
        let larger = pool.take::<u64>(32_768);
        assert_eq!(larger.capacity(), 32_768);
        let again = pool.take::<u64>(16_000);
        assert_eq!((again.as_ptr(), again.len()), (at, 0));
        // Taken: the next one is new.
        let next = pool.take::<u64>(16_000);
        assert!(next.as_ptr() != at);
    }

    #[test]
    fn a_buffer_put_on_another_thread_comes_from_the_pool() {
        let pool = std::sync::Arc::new(BufferPool::default());
        let other = std::sync::Arc::clone(&pool);
        let (first, second) = std::thread::spawn(move || {
            let first: Vec<u64> = Vec::with_capacity(16_384);
            let second: Vec<u64> = Vec::with_capacity(16_384);
            let at = (first.as_ptr() as usize, second.as_ptr() as usize);
            // The second stays at that thread's hand (and goes with it);
            // the first goes to the pool.
            other.put(first);
            other.put(second);
            at
        })
        .join()
        .unwrap();
        let taken = pool.take::<u64>(16_384);
        assert_eq!(taken.as_ptr() as usize, first);
        assert_ne!(taken.as_ptr() as usize, second);
    }

    #[test]
    fn the_pool_keeps_neither_small_buffers_nor_too_many() {
        let pool = BufferPool::default();
        let small: Vec<u64> = Vec::with_capacity(8);
        pool.put(small);
        for _ in 0..40 {
            pool.put(Vec::<u64>::with_capacity(16_384));
        }
        // One at this thread's hand, the rest in the pool up to its bound.
        let spare = pool.spare.lock().unwrap();
        assert_eq!(spare.len(), POOLED_MAX_BUFFERS);
        assert!(spare.iter().all(|(_, bytes)| *bytes == 16_384 * 8));
    }

    #[test]
    fn the_pool_drops_the_items_it_is_given() {
        let pool = BufferPool::default();
        let marker = std::sync::Arc::new(());
        let mut items = Vec::with_capacity(4096);
        items.push(std::sync::Arc::clone(&marker));
        pool.put(items);
        assert_eq!(std::sync::Arc::strong_count(&marker), 1);
    }
}
