//! Sources: plain iterators, iterators of `Result`s, and an interleave of
//! several sources read at once (as tf.data's `interleave`).

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crossbeam_channel::{bounded, Receiver, Select};

use crate::chunk::{ChunkData, Seqs, SeqsBuilder};
use crate::error::{BoxError, ItemFailure, OnError, StageFailure};
use crate::stage::StageContext;

/// A source of items, with its item type erased.
pub(crate) trait Source: Send {
    /// Called once as the run starts (a streaming source starts its reader).
    ///
    /// # Errors
    ///
    /// When the source cannot start (a reader thread that would not start).
    fn start(&mut self, _start: SourceStart) -> std::io::Result<()> {
        Ok(())
    }

    /// Makes up to `max` items, numbering them from `*next_seq` (and moving
    /// it past every item taken, failed ones included).
    fn produce(
        &mut self,
        max: usize,
        next_seq: &mut u64,
        ctx: &StageContext,
    ) -> Result<Produced, ItemFailure>;

    /// The run is stopping: gives up to `max` of the items the source has
    /// already read, without waiting for more; exhausted once none is left.
    fn drain(
        &mut self,
        _max: usize,
        _next_seq: &mut u64,
        _ctx: &StageContext,
    ) -> Result<Produced, ItemFailure> {
        Ok(Produced::Items(ChunkData::empty(), true))
    }
}

/// What a source is told as the run starts.
pub(crate) struct SourceStart {
    /// Wakes whoever runs the source (a streaming source calls it when
    /// items arrive).
    pub(crate) wake: Box<dyn Fn() + Send + Sync>,
    /// How long an item that has arrived may wait for its chunk to fill.
    pub(crate) linger: std::time::Duration,
}

/// What a turn at a source gave.
#[derive(Debug)]
pub(crate) enum Produced {
    /// Items (perhaps none, if every one failed and was skipped), and
    /// whether the source is exhausted.
    Items(ChunkData, bool),
    /// Nothing yet (a streaming source whose input is slow): it wakes the
    /// run when items come, and wants another turn at `until` if set (when
    /// the items it holds have waited their linger).
    Waiting(Option<Instant>),
}

/// A source over a plain iterator.
pub(crate) struct IterSource<I> {
    pub(crate) iter: I,
}

impl<I> Source for IterSource<I>
where
    I: Iterator + Send,
    I::Item: Send + 'static,
{
    fn produce(
        &mut self,
        max: usize,
        next_seq: &mut u64,
        ctx: &StageContext,
    ) -> Result<Produced, ItemFailure> {
        let start = *next_seq;
        let mut items = ctx.buffers.take(max.min(1 << 16));
        let iter = &mut self.iter;
        // `extend` over `take`: an iterator that knows its length (a
        // range, a vector's) fills the chunk in one tight loop. A panic
        // leaves the items taken before it in `items`.
        let result = catch_unwind(AssertUnwindSafe(|| {
            items.extend(iter.by_ref().take(max));
            items.len() < max
        }));
        *next_seq = start + items.len() as u64;
        let seqs = Seqs::Run {
            start,
            len: items.len(),
        };
        match result {
            Ok(exhausted) => Ok(Produced::Items(ChunkData::from_vec(items, seqs), exhausted)),
            // The items taken before the panic still go on.
            Err(panic) => Err(ctx
                .fail(*next_seq, StageFailure::from_panic(panic))
                .with_done(items, seqs)),
        }
    }
}

/// A source over an iterator of `Result`s: an `Err` is a failed item, handled
/// by the source's policy (`Skip` sends it to the dead letters; anything
/// else fails the run, since an iterator cannot give the same item twice).
pub(crate) struct ResultSource<I> {
    pub(crate) iter: I,
}

impl<I, T, E> Source for ResultSource<I>
where
    I: Iterator<Item = Result<T, E>> + Send,
    T: Send + 'static,
    E: Into<BoxError>,
{
    fn produce(
        &mut self,
        max: usize,
        next_seq: &mut u64,
        ctx: &StageContext,
    ) -> Result<Produced, ItemFailure> {
        let mut items = ctx.buffers.take(max.min(1 << 16));
        let mut seqs = SeqsBuilder::with_capacity(max);
        let mut taken = 0;
        while taken < max {
            let seq = *next_seq;
            let next = match catch_unwind(AssertUnwindSafe(|| self.iter.next())) {
                Ok(next) => next,
                // The items taken before the failed one still go on.
                Err(panic) => {
                    let failure = ctx.fail(seq, StageFailure::from_panic(panic));
                    return Err(failure.with_done(items, seqs.finish()));
                }
            };
            let Some(next) = next else {
                return Ok(Produced::Items(
                    ChunkData::from_vec(items, seqs.finish()),
                    true,
                ));
            };
            *next_seq += 1;
            taken += 1;
            let failure = match next {
                Ok(item) => {
                    items.push(item);
                    seqs.push(seq);
                    continue;
                }
                Err(error) if ctx.policy == OnError::Skip => {
                    match ctx.skip(seq, StageFailure::Error(error.into()), None) {
                        Ok(()) => continue,
                        Err(failure) => failure,
                    }
                }
                Err(error) => ctx.fail(seq, StageFailure::Error(error.into())),
            };
            return Err(failure.with_done(items, seqs.finish()));
        }
        Ok(Produced::Items(
            ChunkData::from_vec(items, seqs.finish()),
            false,
        ))
    }
}

/// How [`Pipeline::interleave`](crate::Pipeline::interleave) reads its sources.
///
/// `cycle` sources are open at once; `block` items are taken from one before
/// moving to the next. With `parallel`, every open source is read by a
/// thread of its own into a small buffer, so slow reads (files, network)
/// overlap. `deterministic` (the default) keeps the round-robin order, so a
/// run gives the same order every time; `as_ready` takes whatever source has
/// an item first, which is faster when sources stall.
///
/// # Examples
///
/// ```
/// use baton_engine::{Interleave, Pipeline};
/// let shards = vec![vec![0, 1, 2], vec![10, 11, 12], vec![20, 21]];
/// let items = Pipeline::interleave(shards, Interleave::new(2))
///     .collect()
///     .unwrap();
/// assert_eq!(items, vec![0, 10, 1, 11, 2, 12, 20, 21]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interleave {
    cycle: usize,
    block: usize,
    parallel: bool,
    deterministic: bool,
}

impl Interleave {
    /// Reads `cycle` sources at once, round-robin, one item at a time, on
    /// the source's thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = baton_engine::Interleave::new(4).block(16).parallel();
    /// ```
    pub fn new(cycle: usize) -> Self {
        Self {
            cycle: cycle.max(1),
            block: 1,
            parallel: false,
            deterministic: true,
        }
    }

    /// Takes `block` items from a source before moving to the next.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Interleave, Pipeline};
    /// let items = Pipeline::interleave(vec![vec![1, 2], vec![3, 4]], Interleave::new(2).block(2))
    ///     .collect()
    ///     .unwrap();
    /// assert_eq!(items, vec![1, 2, 3, 4]);
    /// ```
    pub fn block(mut self, block: usize) -> Self {
        self.block = block.max(1);
        self
    }

    /// Reads every open source on a thread of its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Interleave, Pipeline};
    /// let items = Pipeline::interleave(vec![vec![1, 2], vec![3, 4]], Interleave::new(2).parallel())
    ///     .collect()
    ///     .unwrap();
    /// assert_eq!(items, vec![1, 3, 2, 4]);
    /// ```
    pub fn parallel(mut self) -> Self {
        self.parallel = true;
        self
    }

    /// Takes items from whichever source has one first (implies `parallel`).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Interleave, Pipeline};
    /// let mut items = Pipeline::interleave(vec![vec![1, 2], vec![3, 4]], Interleave::new(2).as_ready())
    ///     .collect()
    ///     .unwrap();
    /// items.sort();
    /// assert_eq!(items, vec![1, 2, 3, 4]);
    /// ```
    pub fn as_ready(mut self) -> Self {
        self.parallel = true;
        self.deterministic = false;
        self
    }
}

/// One open source of an interleave.
enum Lane<I: Iterator> {
    Local(I),
    Thread(Receiver<I::Item>),
}

/// The iterator behind an interleave.
pub(crate) struct InterleaveIter<S: Iterator>
where
    S::Item: IntoIterator,
{
    pending: S,
    open: VecDeque<Lane<<S::Item as IntoIterator>::IntoIter>>,
    taken_from_front: usize,
    options: Interleave,
}

impl<S> InterleaveIter<S>
where
    S: Iterator,
    S::Item: IntoIterator,
    <S::Item as IntoIterator>::IntoIter: Send + 'static,
    <S::Item as IntoIterator>::Item: Send + 'static,
{
    pub(crate) fn new(sources: S, options: Interleave) -> Self {
        Self {
            pending: sources,
            open: VecDeque::new(),
            taken_from_front: 0,
            options,
        }
    }

    fn open_more(&mut self) {
        while self.open.len() < self.options.cycle {
            let Some(source) = self.pending.next() else {
                return;
            };
            let iter = source.into_iter();
            let lane = if self.options.parallel {
                let (tx, rx) = bounded(self.options.block.max(2) * 2);
                // The reader takes the source from here; should no thread
                // start (the system is out of them), it is read here instead.
                let slot = Arc::new(Mutex::new(Some(iter)));
                let theirs = Arc::clone(&slot);
                let spawned = std::thread::Builder::new()
                    .name("baton-interleave".into())
                    .spawn(move || {
                        let taken = theirs.lock().unwrap_or_else(|e| e.into_inner()).take();
                        for item in taken.into_iter().flatten() {
                            if tx.send(item).is_err() {
                                return;
                            }
                        }
                    });
                let unread = match spawned {
                    Ok(_) => None,
                    Err(_) => slot.lock().unwrap_or_else(|e| e.into_inner()).take(),
                };
                match unread {
                    Some(iter) => Lane::Local(iter),
                    None => Lane::Thread(rx),
                }
            } else {
                Lane::Local(iter)
            };
            self.open.push_back(lane);
        }
    }

    fn next_round_robin(&mut self) -> Option<<S::Item as IntoIterator>::Item> {
        loop {
            self.open_more();
            let lane = self.open.front_mut()?;
            let item = match lane {
                Lane::Local(iter) => iter.next(),
                Lane::Thread(rx) => rx.recv().ok(),
            };
            match item {
                Some(item) => {
                    self.taken_from_front += 1;
                    if self.taken_from_front >= self.options.block {
                        self.taken_from_front = 0;
                        self.open.rotate_left(1);
                    }
                    return Some(item);
                }
                None => {
                    self.taken_from_front = 0;
                    self.open.pop_front();
                }
            }
        }
    }

    fn next_as_ready(&mut self) -> Option<<S::Item as IntoIterator>::Item> {
        loop {
            self.open_more();
            if self.open.is_empty() {
                return None;
            }
            // A source that got no thread of its own is read here, first.
            if let Some(index) = self.open.iter().position(|l| matches!(l, Lane::Local(_))) {
                let Lane::Local(iter) = &mut self.open[index] else {
                    unreachable!("just found")
                };
                match iter.next() {
                    Some(item) => return Some(item),
                    None => {
                        self.open.remove(index);
                        continue;
                    }
                }
            }
            let (index, received) = {
                let receivers: Vec<&Receiver<_>> = self
                    .open
                    .iter()
                    .filter_map(|lane| match lane {
                        Lane::Thread(rx) => Some(rx),
                        Lane::Local(_) => None,
                    })
                    .collect();
                let mut select = Select::new();
                for rx in &receivers {
                    select.recv(rx);
                }
                let op = select.select();
                let index = op.index();
                (index, op.recv(receivers[index]))
            };
            match received {
                Ok(item) => return Some(item),
                Err(_) => {
                    self.open.remove(index);
                }
            }
        }
    }
}

impl<S> Iterator for InterleaveIter<S>
where
    S: Iterator,
    S::Item: IntoIterator,
    <S::Item as IntoIterator>::IntoIter: Send + 'static,
    <S::Item as IntoIterator>::Item: Send + 'static,
{
    type Item = <S::Item as IntoIterator>::Item;

    fn next(&mut self) -> Option<Self::Item> {
        if self.options.deterministic {
            self.next_round_robin()
        } else {
            self.next_as_ready()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_that_got_no_thread_is_read_in_turn_by_an_as_ready_interleave() {
        // As after a failed thread start: one lane local, one on a thread.
        let sources = vec![vec![10, 11, 12]];
        let mut iter = InterleaveIter::new(sources.into_iter(), Interleave::new(2).as_ready());
        iter.open.push_back(Lane::Local(vec![1, 2].into_iter()));
        let mut items: Vec<i32> = iter.collect();
        items.sort();
        assert_eq!(items, vec![1, 2, 10, 11, 12]);
    }
}
