//! Handles on a running pipeline: stop, abort, stats, replicas, join; and
//! the blocking iterator over a pipeline's output.

use std::collections::BTreeMap;
use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::error::{DeadLetter, PipelineError};
use crate::executor::{Chunk, Permit, Run};
use crate::stats::{RunReport, StatsSnapshot};

/// Controls a running pipeline. Cheap to clone; any thread may use it (a
/// Ctrl-C handler calls [`PipelineHandle::stop`]).
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, Pipeline};
/// let run = Pipeline::from_iter(0u64..)
///     .stage("work", Mode::parallel(2))
///     .map(|x| x + 1)
///     .spawn_for_each(|_| {})
///     .unwrap();
/// let handle = run.handle();
/// handle.set_replicas("work", 1).unwrap();
/// std::thread::sleep(std::time::Duration::from_millis(10));
/// assert!(handle.stats().stages[0].items_in > 0 || !handle.is_finished());
/// handle.stop();
/// run.join().unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct PipelineHandle {
    shared: Arc<Run>,
}

impl PipelineHandle {
    /// Stops the source; items in flight still go through to the sink, and
    /// the run ends normally.
    ///
    /// # Examples
    ///
    /// See [`PipelineHandle`].
    pub fn stop(&self) {
        self.shared.stop();
    }

    /// Ends the run now, dropping items in flight; the run's result is
    /// [`PipelineError::Aborted`].
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Pipeline, PipelineError};
    /// let run = Pipeline::from_iter(0u64..).spawn_for_each(|_| {}).unwrap();
    /// run.handle().abort();
    /// assert!(matches!(run.join(), Err(PipelineError::Aborted)));
    /// ```
    pub fn abort(&self) {
        self.shared.abort();
    }

    /// Whether the run has ended (finished, failed or aborted).
    ///
    /// # Examples
    ///
    /// See [`PipelineHandle`].
    pub fn is_finished(&self) -> bool {
        self.shared.is_done()
    }

    /// Waits until the run has ended (finished, failed or aborted) or
    /// `timeout` has passed, and says whether it has ended: a watcher that
    /// shows the run every so often wakes as soon as it ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let run = baton_engine::Pipeline::from_iter(0..100).spawn_for_each(|_| {}).unwrap();
    /// let handle = run.handle();
    /// while !handle.wait_timeout(Duration::from_millis(50)) {}
    /// assert!(handle.is_finished());
    /// run.join().unwrap();
    /// ```
    pub fn wait_timeout(&self, timeout: std::time::Duration) -> bool {
        self.shared.wait_done(timeout)
    }

    /// The counters of every stage now.
    ///
    /// # Examples
    ///
    /// See [`PipelineHandle`].
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.snapshot()
    }

    /// Changes the replica limit of the stage named `stage` while it runs
    /// (serial stages stay at 1). Blocking stages get threads to match.
    ///
    /// # Errors
    ///
    /// [`PipelineError::Build`] when no stage has that name.
    ///
    /// # Examples
    ///
    /// See [`PipelineHandle`].
    pub fn set_replicas(&self, stage: &str, replicas: usize) -> Result<(), PipelineError> {
        self.shared.set_replicas(stage, replicas)
    }

    /// Sets the most items in flight while the run goes on.
    ///
    /// # Examples
    ///
    /// ```
    /// let run = baton_engine::Pipeline::from_iter(0..1000).spawn_for_each(|_| {}).unwrap();
    /// run.handle().set_max_in_flight(16);
    /// run.join().unwrap();
    /// ```
    pub fn set_max_in_flight(&self, items: usize) {
        self.shared.set_max_in_flight(items);
    }
}

/// A pipeline running in the background. Dropping it aborts the run and
/// waits for its threads.
///
/// # Examples
///
/// ```
/// let run = baton_engine::Pipeline::from_iter(0..100).spawn_for_each(|_| {}).unwrap();
/// let report = run.join().unwrap();
/// assert_eq!(report.stats.source.items, 100);
/// ```
#[derive(Debug)]
pub struct RunHandle {
    handle: PipelineHandle,
    joined: bool,
}

impl RunHandle {
    pub(crate) fn new(shared: Arc<Run>) -> Self {
        Self {
            handle: PipelineHandle { shared },
            joined: false,
        }
    }

    /// A handle to control the run from anywhere.
    ///
    /// # Examples
    ///
    /// See [`PipelineHandle`].
    pub fn handle(&self) -> PipelineHandle {
        self.handle.clone()
    }

    /// Stops the source and lets in-flight items drain (see [`PipelineHandle::stop`]).
    ///
    /// # Examples
    ///
    /// See [`Pipeline::spawn_for_each`](crate::Pipeline::spawn_for_each).
    pub fn stop(&self) {
        self.handle.stop();
    }

    /// Waits for the run to end and returns its report.
    ///
    /// # Errors
    ///
    /// The run's first failure, or [`PipelineError::Aborted`].
    ///
    /// # Examples
    ///
    /// See [`RunHandle`].
    pub fn join(mut self) -> Result<RunReport, PipelineError> {
        self.joined = true;
        let run = &self.handle.shared;
        match run.join() {
            Some(error) => Err(error),
            None => Ok(run.report()),
        }
    }
}

impl Drop for RunHandle {
    fn drop(&mut self) {
        if !self.joined {
            self.handle.shared.abort();
            self.handle.shared.join();
        }
    }
}

/// What the executor sends the iterator.
pub(crate) enum Message {
    Chunk(Chunk),
    Ended,
}

/// The output of a pipeline as a blocking iterator (see
/// [`Pipeline::into_iter`](crate::Pipeline::into_iter)). Yields `Ok(item)`s,
/// then, if the run failed, one `Err`. Dropping it aborts the run.
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, Pipeline};
/// let mut iter = Pipeline::from_iter(0..3).map(Mode::parallel(2), |x| x * 3).into_iter();
/// assert_eq!(iter.by_ref().map(Result::unwrap).collect::<Vec<_>>(), vec![0, 3, 6]);
/// assert_eq!(iter.report().unwrap().stats.source.items, 3);
/// ```
#[derive(Debug)]
pub struct PipelineIter<T> {
    shared: Option<Arc<Run>>,
    rx: Option<Receiver<Message>>,
    current: std::vec::IntoIter<T>,
    held: Option<Permit>,
    /// Whether items come out in chunk order (else as they arrive).
    ordered: bool,
    /// Chunks received and not yet handed out, by index.
    pending: BTreeMap<u64, Chunk>,
    /// The next chunk index to hand out (ordered), and how many were handed out.
    next_index: u64,
    delivered: u64,
    /// The number of chunks in the run, once the end marker has come.
    total: Option<u64>,
    /// The run has ended: what is still to come is already in the channel.
    ended: bool,
    saw_end: bool,
    error: Option<PipelineError>,
    report: Option<RunReport>,
    done: bool,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Chunk(chunk) => f.debug_tuple("Chunk").field(&chunk.index()).finish(),
            Message::Ended => f.write_str("Ended"),
        }
    }
}

impl<T: Send + 'static> PipelineIter<T> {
    pub(crate) fn new(shared: Arc<Run>, rx: Receiver<Message>, ordered: bool) -> Self {
        let mut iter = Self::new_parts(ordered);
        iter.shared = Some(shared);
        iter.rx = Some(rx);
        iter
    }

    /// An iterator whose run could not start: it yields `error` alone.
    pub(crate) fn failed(error: PipelineError) -> Self {
        let mut iter = Self::new_parts(true);
        iter.saw_end = true;
        iter.error = Some(error);
        iter
    }

    fn new_parts(ordered: bool) -> Self {
        Self {
            shared: None,
            rx: None,
            current: Vec::new().into_iter(),
            held: None,
            ordered,
            pending: BTreeMap::new(),
            next_index: 0,
            delivered: 0,
            total: None,
            ended: false,
            saw_end: false,
            error: None,
            report: None,
            done: false,
        }
    }

    /// A handle on the run (stop, stats, replicas), while it runs.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut iter = baton_engine::Pipeline::from_iter(0u64..).into_iter();
    /// assert_eq!(iter.next().unwrap().unwrap(), 0);
    /// iter.handle().unwrap().stop();
    /// // What was in flight drains: the items right after the first, then the end.
    /// let rest: Vec<u64> = iter.map(Result::unwrap).collect();
    /// assert!(rest.iter().copied().eq(1..=rest.len() as u64));
    /// ```
    pub fn handle(&self) -> Option<PipelineHandle> {
        self.shared.as_ref().map(|shared| PipelineHandle {
            shared: Arc::clone(shared),
        })
    }

    /// The run's report, once the iterator is exhausted.
    ///
    /// # Examples
    ///
    /// See [`PipelineIter`].
    pub fn report(&self) -> Option<&RunReport> {
        self.report.as_ref()
    }

    /// The items skipped so far under `OnError::Skip`, taken out of the run.
    ///
    /// # Examples
    ///
    /// See [`DeadLetter`].
    pub fn dead_letters(&mut self) -> Vec<DeadLetter> {
        if let Some(report) = &mut self.report {
            return std::mem::take(&mut report.dead_letters);
        }
        match &self.shared {
            Some(run) => run.take_dead_letters(),
            None => Vec::new(),
        }
    }

    fn wind_up(&mut self) {
        if let Some(run) = self.shared.take() {
            if let Some(error) = run.join() {
                self.error.get_or_insert(error);
            }
            self.report = Some(run.report());
        }
        self.rx = None;
    }
}

impl<T: Send + 'static> Iterator for PipelineIter<T> {
    type Item = Result<T, PipelineError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(Ok(item));
            }
            // The chunk is used up: its share of the in-flight budget goes back.
            self.held = None;
            if self.done {
                return None;
            }
            if self.saw_end {
                self.wind_up();
                self.done = true;
                return self.error.take().map(Err);
            }
            if let Some(chunk) = self.next_ready() {
                self.delivered += 1;
                if self.total == Some(self.delivered) {
                    self.saw_end = true;
                }
                if self
                    .shared
                    .as_ref()
                    .is_some_and(|s| s.is_cut(chunk.index()))
                {
                    // Past a failure (it left the last stage before the
                    // failure cut the run): nothing after the failing item
                    // is handed out.
                    continue;
                }
                let (items, permit) = chunk.into_items::<T>();
                self.current = items.into_iter();
                self.held = Some(permit);
                continue;
            }
            let message = match &self.rx {
                Some(rx) if self.ended => rx.try_recv().ok(),
                Some(rx) => rx.recv().ok(),
                None => None,
            };
            match message {
                Some(Message::Chunk(chunk)) => {
                    if chunk.is_end() {
                        self.total = Some(chunk.index() + 1);
                    }
                    self.pending.insert(chunk.index(), chunk);
                }
                // A run that finished sent every chunk before it ended;
                // one that failed or was aborted stops here.
                Some(Message::Ended) if self.shared.as_ref().is_some_and(|s| s.has_finished()) => {
                    self.ended = true;
                }
                Some(Message::Ended) | None => self.saw_end = true,
            }
        }
    }
}

impl<T> PipelineIter<T> {
    /// The received chunk to hand out next, if its turn has come.
    fn next_ready(&mut self) -> Option<Chunk> {
        let entry = self.pending.first_entry()?;
        if self.ordered && *entry.key() != self.next_index {
            return None;
        }
        self.next_index += 1;
        Some(entry.remove())
    }
}

impl<T> Drop for PipelineIter<T> {
    fn drop(&mut self) {
        if let Some(run) = self.shared.take() {
            run.abort();
            run.join();
        }
    }
}
