//! The builder: a source, then stages, then an end.

use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use crate::chunk::ChunkData;
use crate::config::Config;
use crate::dead_letters::DeadLetterHandler;
use crate::error::DeadLetter;
use crate::error::{BoxError, OnError, PipelineError, StageFailure};
use crate::executor::{Plan, Run};
use crate::handle::{PipelineIter, RunHandle};
use crate::mode::Mode;
use crate::ops::batch::{BatchOp, WindowOp};
use crate::ops::custom::{CustomOp, Sink, SinkStage, Stage, Unmade};
use crate::ops::filter::FilterOp;
use crate::ops::fold::FoldOp;
use crate::ops::limit::{SkipOp, TakeOp};
use crate::ops::map::{FlatMapOp, MapOp};
use crate::ops::pass::Pass;
use crate::ops::shuffle::ShuffleOp;
use crate::source::{InterleaveIter, IterSource, ResultSource, Source};
use crate::stage::{Replica, ReplicaFactory, StageSpec, Weigher};
use crate::stats::RunReport;
use crate::stream::StreamSource;
use crate::{ChunkFloor, Interleave};

/// A pipeline whose items, at its current end, are of type `T`.
///
/// Start it from a source ([`Pipeline::from_iter`], [`Pipeline::from_results`],
/// [`Pipeline::interleave`]), add stages, and end it with [`for_each`],
/// [`collect`], [`fold`], [`reduce`] or [`into_iter`](Pipeline::into_iter).
/// Nothing runs until the end is called.
///
/// [`for_each`]: Pipeline::for_each
/// [`collect`]: Pipeline::collect
/// [`fold`]: Pipeline::fold
/// [`reduce`]: Pipeline::reduce
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, Pipeline};
/// let sum = Pipeline::from_iter(0..1_000u64)
///     .map(Mode::parallel(4), |x| x * x)
///     .filter(Mode::parallel(4), |x| x % 2 == 0)
///     .fold(0u64, |sum, x| sum + x)
///     .unwrap();
/// assert_eq!(sum, (0..1_000u64).map(|x| x * x).filter(|x| x % 2 == 0).sum());
/// ```
pub struct Pipeline<T> {
    source: Box<dyn Source>,
    source_name: Arc<str>,
    source_policy: OnError,
    stages: Vec<StageSpec>,
    names: HashSet<Arc<str>>,
    config: Config,
    problem: Option<String>,
    dead_letter_handler: Option<DeadLetterHandler>,
    source_weigh: Option<Weigher>,
    /// The stage whose output items are the run's items (the source's if
    /// `None`).
    run_counted_after: Option<usize>,
    /// The largest item (in bytes, as moved in a chunk) of the source and
    /// every stage so far: the chunk size's bound in bytes counts it.
    item_bytes: usize,
    _items: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Pipeline<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("source", &self.source_name)
            .field("stages", &self.stages)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Pipeline<T> {
    fn with_source(source: Box<dyn Source>) -> Self {
        let source_name: Arc<str> = Arc::from("source");
        Self {
            source,
            names: HashSet::from([Arc::clone(&source_name)]),
            source_name,
            source_policy: OnError::Fail,
            stages: Vec::new(),
            config: Config::default(),
            problem: None,
            dead_letter_handler: None,
            source_weigh: None,
            run_counted_after: None,
            item_bytes: std::mem::size_of::<T>(),
            _items: PhantomData,
        }
    }

    /// Starts a pipeline from any iterable; its items are numbered from 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let items = baton_engine::Pipeline::from_iter(vec!["a", "b"]).collect().unwrap();
    /// assert_eq!(items, vec!["a", "b"]);
    /// ```
    #[allow(clippy::should_implement_trait)]
    pub fn from_iter<I>(items: I) -> Self
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        Self::with_source(Box::new(IterSource {
            iter: items.into_iter(),
        }))
    }

    /// Starts a pipeline from an iterable of `Result`s. An `Err` fails the
    /// run, or, after [`Pipeline::source_on_error`]`(OnError::Skip)`, goes to
    /// the dead letters with its sequence number.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{OnError, Pipeline};
    /// let lines = vec![Ok(1), Err("bad line"), Ok(3)];
    /// let mut iter = Pipeline::from_results(lines).source_on_error(OnError::Skip).into_iter();
    /// let items: Vec<i32> = iter.by_ref().map(Result::unwrap).collect();
    /// assert_eq!(items, vec![1, 3]);
    /// assert_eq!(iter.dead_letters()[0].seq, 1);
    /// ```
    pub fn from_results<I, E>(items: I) -> Self
    where
        I: IntoIterator<Item = Result<T, E>>,
        I::IntoIter: Send + 'static,
        E: Into<BoxError>,
    {
        Self::with_source(Box::new(ResultSource {
            iter: items.into_iter(),
        }))
    }

    /// Starts a pipeline from input that arrives at its own pace: standard
    /// input, a socket, a queue, a file being written. A thread of its own
    /// reads it, so a read that waits holds neither a core nor the run: a
    /// [stop](crate::PipelineHandle::stop) ends the run at once, with the
    /// items already read. An item goes on when its chunk is full or when it
    /// has waited [`Config::linger`] (100 ms by default), so slow input
    /// still reaches the sink within a bound and fast input moves in full
    /// chunks. The reader thread ends at its next item once the run is over.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use baton_engine::{Config, Pipeline};
    ///
    /// // A producer that writes an item every 50 ms, and never ends.
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// std::thread::spawn(move || {
    ///     for n in 0u64.. {
    ///         if tx.send(n).is_err() { return; }
    ///         std::thread::sleep(Duration::from_millis(50));
    ///     }
    /// });
    /// let mut items = Pipeline::from_stream(rx)
    ///     .config(Config::default().linger(Duration::from_millis(10)))
    ///     .into_iter();
    /// let start = Instant::now();
    /// assert_eq!(items.next().unwrap().unwrap(), 0);
    /// assert_eq!(items.next().unwrap().unwrap(), 1); // well before a chunk fills
    /// assert!(start.elapsed() < Duration::from_secs(5));
    /// items.handle().unwrap().stop();
    /// ```
    pub fn from_stream<I>(items: I) -> Self
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        let reader = items.into_iter().map(Ok);
        Self::with_source(Box::new(StreamSource::new(Box::new(reader))))
    }

    /// [`Pipeline::from_stream`] over `Result`s: an `Err` is a failed item,
    /// as in [`Pipeline::from_results`].
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{OnError, Pipeline};
    /// let lines = vec![Ok(1), Err("bad line"), Ok(3)];
    /// let mut iter = Pipeline::from_stream_results(lines).source_on_error(OnError::Skip).into_iter();
    /// let items: Vec<i32> = iter.by_ref().map(Result::unwrap).collect();
    /// assert_eq!(items, vec![1, 3]);
    /// assert_eq!(iter.dead_letters()[0].seq, 1);
    /// ```
    pub fn from_stream_results<I, E>(items: I) -> Self
    where
        I: IntoIterator<Item = Result<T, E>>,
        I::IntoIter: Send + 'static,
        E: Into<BoxError>,
    {
        let reader = items.into_iter().map(|item| item.map_err(Into::into));
        Self::with_source(Box::new(StreamSource::new(Box::new(reader))))
    }

    /// Hands every skipped item to `handler` as it happens, instead of
    /// keeping it for the report: memory stays flat however many fail, and
    /// the letters are out (in a file, say) even if the run later fails or
    /// is aborted. The handler runs on the thread of the stage that skipped
    /// the item, perhaps on several at once: keep it quick. If it returns an
    /// error (the letter could not be written), the item fails the run: a
    /// skipped item is never lost without a word.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use baton_engine::{Mode, OnError, Pipeline};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = Arc::clone(&seen);
    /// let report = Pipeline::from_iter(0..10u32)
    ///     .on_dead_letter(move |letter| {
    ///         sink.lock().unwrap().push(letter.seq);
    ///         Ok(())
    ///     })
    ///     .stage("odd", Mode::parallel(2))
    ///     .on_error(OnError::Skip)
    ///     .try_map(|x| if x % 2 == 1 { Err("odd".into()) } else { Ok(x) })
    ///     .for_each(|_| {})
    ///     .unwrap();
    /// let mut seen = seen.lock().unwrap().clone();
    /// seen.sort();
    /// assert_eq!(seen, vec![1, 3, 5, 7, 9]);
    /// assert!(report.dead_letters.is_empty()); // the handler took them
    /// ```
    pub fn on_dead_letter(
        mut self,
        handler: impl Fn(DeadLetter) -> Result<(), BoxError> + Send + Sync + 'static,
    ) -> Self {
        self.dead_letter_handler = Some(Box::new(handler));
        self
    }

    /// Starts a pipeline that reads several sources at once, interleaving
    /// their items (see [`Interleave`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Interleave, Pipeline};
    /// let files = vec![vec!["a1", "a2"], vec!["b1", "b2"]];
    /// let lines = Pipeline::interleave(files, Interleave::new(2).parallel()).collect().unwrap();
    /// assert_eq!(lines, vec!["a1", "b1", "a2", "b2"]);
    /// ```
    pub fn interleave<S, I>(sources: S, options: Interleave) -> Self
    where
        S: IntoIterator<Item = I>,
        S::IntoIter: Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        Self::from_iter(InterleaveIter::new(sources.into_iter(), options))
    }

    /// Sets the run's settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Config, Pipeline};
    /// let n = Pipeline::from_iter(0..10).config(Config::default().threads(1)).collect().unwrap().len();
    /// assert_eq!(n, 10);
    /// ```
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Names the source (default `source`), for stats and errors.
    ///
    /// # Examples
    ///
    /// ```
    /// let report = baton_engine::Pipeline::from_iter(0..3).name_source("numbers").for_each(|_| {}).unwrap();
    /// assert_eq!(report.stats.source.name, "numbers");
    /// ```
    pub fn name_source(mut self, name: &str) -> Self {
        self.names.remove(&self.source_name);
        self.source_name = self.unique_name(name);
        self
    }

    /// Sets what the source does with an `Err` item (`Fail` or `Skip`).
    ///
    /// # Examples
    ///
    /// See [`Pipeline::from_results`].
    pub fn source_on_error(mut self, policy: OnError) -> Self {
        self.source_policy = policy;
        self
    }

    /// Counts each item leaving this point of the pipeline (the last stage
    /// added, or the source) as `weight(item)` items in the stats: a batch
    /// of records as its rows, a file as its bytes. The stages after it
    /// count their items the same way while they give items of this type
    /// (a sink that hands them on, a filter), until another `count_by`;
    /// items of another type count one each. A stage's `items_in` is its
    /// producer's count.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// // Batches of 10 numbers, counted as the numbers they hold.
    /// let report = Pipeline::from_iter((0..5u64).map(|b| vec![b; 10]))
    ///     .count_by(|batch: &Vec<u64>| batch.len() as u64)
    ///     .map(Mode::parallel(2), |batch| batch.into_iter().sum::<u64>())
    ///     .for_each(|_| {})
    ///     .unwrap();
    /// assert_eq!(report.stats.source.items, 50);
    /// assert_eq!((report.stats.stages[0].items_in, report.stats.stages[0].items_out), (50, 5));
    /// ```
    pub fn count_by(mut self, weight: impl Fn(&T) -> u64 + Send + Sync + 'static) -> Self {
        let weigh: Weigher = Arc::new(move |data: &ChunkData| match &data.items {
            None => Some(0),
            Some(items) => items
                .downcast_ref::<Vec<T>>()
                .map(|items| items.iter().map(&weight).sum()),
        });
        match self.stages.last_mut() {
            Some(stage) => stage.weigh = Some(weigh),
            None => self.source_weigh = Some(weigh),
        }
        self
    }

    /// Makes the items leaving this point (the last stage added) the run's
    /// items, in place of the source's: the headline count, the throughput
    /// and every stage's bound are then in these items. For a source whose
    /// items are blocks that the next stage parses into records: the run is
    /// then counted in records, not blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let report = Pipeline::from_iter(vec!["1 2 3", "4 5"])
    ///     .flat_map(Mode::parallel(2), |block: &str| {
    ///         block.split(' ').map(|n| n.parse::<u64>().unwrap()).collect::<Vec<_>>()
    ///     })
    ///     .count_run_here()
    ///     .for_each(|_| {})
    ///     .unwrap();
    /// assert_eq!(report.stats.source.items, 5);
    /// ```
    pub fn count_run_here(mut self) -> Self {
        self.run_counted_after = self.stages.len().checked_sub(1);
        self
    }

    fn unique_name(&mut self, name: &str) -> Arc<str> {
        let mut candidate: Arc<str> = Arc::from(name);
        let mut n = 2;
        while self.names.contains(&candidate) {
            candidate = Arc::from(format!("{name}-{n}"));
            n += 1;
        }
        self.names.insert(Arc::clone(&candidate));
        candidate
    }

    /// Adds a stage named `name` running in `mode`; the returned builder
    /// sets its error policy and buffer, then its operator.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, OnError, Pipeline};
    /// let out = Pipeline::from_iter(vec!["1", "2", "x"])
    ///     .stage("parse", Mode::parallel(2))
    ///     .on_error(OnError::Skip)
    ///     .buffer(64)
    ///     .try_map(|s: &str| s.parse::<i64>().map_err(Into::into))
    ///     .collect()
    ///     .unwrap();
    /// assert_eq!(out, vec![1, 2]);
    /// ```
    pub fn stage(mut self, name: &str, mode: Mode) -> StageBuilder<T> {
        let name = self.unique_name(name);
        StageBuilder {
            pipeline: self,
            name,
            mode,
            policy: OnError::Fail,
            keep: None,
            buffer: None,
            buffer_auto: false,
            min_chunk: None,
            fuse: true,
        }
    }

    /// Applies `f` to every item.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let out = Pipeline::from_iter(1..4).map(Mode::parallel(2), |x| x * 10).collect().unwrap();
    /// assert_eq!(out, vec![10, 20, 30]);
    /// ```
    pub fn map<U: Send + 'static>(
        self,
        mode: Mode,
        f: impl Fn(T) -> U + Send + Sync + 'static,
    ) -> Pipeline<U> {
        self.stage("map", mode).map(f)
    }

    /// Applies a fallible `f`; an `Err` is handled by the stage's policy
    /// (fail by default; see [`StageBuilder::on_error`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let out = Pipeline::from_iter(vec!["1", "2"])
    ///     .try_map(Mode::parallel(2), |s: &str| s.parse::<u8>().map_err(Into::into))
    ///     .collect()
    ///     .unwrap();
    /// assert_eq!(out, vec![1, 2]);
    /// ```
    pub fn try_map<U: Send + 'static>(
        self,
        mode: Mode,
        f: impl Fn(T) -> Result<U, BoxError> + Send + Sync + 'static,
    ) -> Pipeline<U> {
        self.stage("try_map", mode).try_map(f)
    }

    /// Keeps the items for which `f` is true.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let out = Pipeline::from_iter(0..6).filter(Mode::parallel(2), |x| x % 3 == 0).collect().unwrap();
    /// assert_eq!(out, vec![0, 3]);
    /// ```
    pub fn filter(self, mode: Mode, f: impl Fn(&T) -> bool + Send + Sync + 'static) -> Pipeline<T> {
        self.stage("filter", mode).filter(f)
    }

    /// Maps and keeps the `Some`s.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let out = Pipeline::from_iter(vec!["1", "a", "3"])
    ///     .filter_map(Mode::parallel(2), |s: &str| s.parse::<u8>().ok())
    ///     .collect()
    ///     .unwrap();
    /// assert_eq!(out, vec![1, 3]);
    /// ```
    pub fn filter_map<U: Send + 'static>(
        self,
        mode: Mode,
        f: impl Fn(T) -> Option<U> + Send + Sync + 'static,
    ) -> Pipeline<U> {
        self.stage("filter_map", mode).filter_map(f)
    }

    /// Maps every item to several, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let out = Pipeline::from_iter(1..4).flat_map(Mode::parallel(2), |x| vec![x; x]).collect().unwrap();
    /// assert_eq!(out, vec![1, 2, 2, 3, 3, 3]);
    /// ```
    pub fn flat_map<I>(
        self,
        mode: Mode,
        f: impl Fn(T) -> I + Send + Sync + 'static,
    ) -> Pipeline<I::Item>
    where
        I: IntoIterator + 'static,
        I::Item: Send + 'static,
    {
        self.stage("flat_map", mode).flat_map(f)
    }

    /// Calls `f` on every item and passes it on.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use baton_engine::{Mode, Pipeline};
    /// let seen = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&seen);
    /// Pipeline::from_iter(0..5)
    ///     .inspect(Mode::parallel(2), move |_| { counter.fetch_add(1, Ordering::Relaxed); })
    ///     .for_each(|_| {})
    ///     .unwrap();
    /// assert_eq!(seen.load(Ordering::Relaxed), 5);
    /// ```
    pub fn inspect(self, mode: Mode, f: impl Fn(&T) + Send + Sync + 'static) -> Pipeline<T> {
        self.stage("inspect", mode).inspect(f)
    }

    /// Applies `f` with a state per replica made by `init` (a decoder, a
    /// connection, a buffer).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let out = Pipeline::from_iter(0..4u8)
    ///     .map_init(Mode::parallel(2), String::new, |scratch, x| {
    ///         scratch.clear();
    ///         scratch.push_str(&x.to_string());
    ///         scratch.len()
    ///     })
    ///     .collect()
    ///     .unwrap();
    /// assert_eq!(out, vec![1, 1, 1, 1]);
    /// ```
    pub fn map_init<S, U>(
        self,
        mode: Mode,
        init: impl Fn() -> S + Send + Sync + 'static,
        f: impl Fn(&mut S, T) -> U + Send + Sync + 'static,
    ) -> Pipeline<U>
    where
        S: Send + 'static,
        U: Send + 'static,
    {
        self.stage("map_init", mode).map_init(init, f)
    }

    /// Groups items into `Vec`s of `size`, in source order; the last may be
    /// shorter (see [`Pipeline::batch_exact`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let out = baton_engine::Pipeline::from_iter(0..5).batch(2).collect().unwrap();
    /// assert_eq!(out, vec![vec![0, 1], vec![2, 3], vec![4]]);
    /// ```
    pub fn batch(self, size: usize) -> Pipeline<Vec<T>> {
        self.stage("batch", Mode::serial_in_order()).batch(size)
    }

    /// Groups items into `Vec`s of exactly `size`, dropping a short last one.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = baton_engine::Pipeline::from_iter(0..5).batch_exact(2).collect().unwrap();
    /// assert_eq!(out, vec![vec![0, 1], vec![2, 3]]);
    /// ```
    pub fn batch_exact(self, size: usize) -> Pipeline<Vec<T>> {
        self.stage("batch", Mode::serial_in_order())
            .batch_exact(size)
    }

    /// Shuffles with a buffer of `buffer` items, reproducibly for a `seed`.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::Pipeline;
    /// let a = Pipeline::from_iter(0..100).shuffle(16, 7).collect().unwrap();
    /// let b = Pipeline::from_iter(0..100).shuffle(16, 7).collect().unwrap();
    /// assert_eq!(a, b);
    /// assert_ne!(a, (0..100).collect::<Vec<_>>());
    /// ```
    pub fn shuffle(self, buffer: usize, seed: u64) -> Pipeline<T> {
        self.stage("shuffle", Mode::serial_in_order())
            .shuffle(buffer, seed)
    }

    /// Keeps the first `n` items, then stops the source (an endless source too).
    ///
    /// # Examples
    ///
    /// ```
    /// let out = baton_engine::Pipeline::from_iter(0..).take(3).collect().unwrap();
    /// assert_eq!(out, vec![0, 1, 2]);
    /// ```
    pub fn take(self, n: usize) -> Pipeline<T> {
        self.stage("take", Mode::serial_in_order()).take(n)
    }

    /// Drops the first `n` items.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = baton_engine::Pipeline::from_iter(0..5).skip(3).collect().unwrap();
    /// assert_eq!(out, vec![3, 4]);
    /// ```
    pub fn skip(self, n: usize) -> Pipeline<T> {
        self.stage("skip", Mode::serial_in_order()).skip(n)
    }

    /// Lets up to `n` more items be made ahead of the stages after this point
    /// (raises the in-flight bound by `n` and puts a queue here).
    ///
    /// # Examples
    ///
    /// ```
    /// let out = baton_engine::Pipeline::from_iter(0..5).prefetch(8).collect().unwrap();
    /// assert_eq!(out, vec![0, 1, 2, 3, 4]);
    /// ```
    pub fn prefetch(self, n: usize) -> Pipeline<T> {
        let replicas = self.config.threads;
        self.stage("prefetch", Mode::parallel(replicas)).prefetch(n)
    }

    fn run(self, outlet: Option<crate::executor::Outlet>) -> Result<Arc<Run>, PipelineError> {
        if let Some(problem) = self.problem {
            return Err(PipelineError::Build(problem));
        }
        let plan = Plan {
            config: self.config,
            source_name: self.source_name,
            source_policy: self.source_policy,
            source: self.source,
            stages: self.stages,
            dead_letter_handler: self.dead_letter_handler,
            source_weigh: self.source_weigh,
            run_counted_after: self.run_counted_after,
            item_bytes: self.item_bytes,
        };
        Run::start(plan, outlet)
    }

    /// Runs the pipeline, calling `f` on every item in source order, on one
    /// thread at a time. Returns the run's report.
    ///
    /// # Errors
    ///
    /// The first failure of a stage under the fail-fast policy, with the
    /// stage's name and the item's sequence number.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let mut seen = Vec::new();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// Pipeline::from_iter(0..5).map(Mode::parallel(2), |x| x + 1).for_each(move |x| tx.send(x).unwrap()).unwrap();
    /// seen.extend(rx.iter());
    /// assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    /// ```
    pub fn for_each(self, f: impl FnMut(T) + Send + 'static) -> Result<RunReport, PipelineError> {
        self.spawn_for_each(f)?.join()
    }

    /// Like [`Pipeline::for_each`], in whatever order items come (faster: the
    /// sink never waits for a late item).
    ///
    /// # Errors
    ///
    /// As [`Pipeline::for_each`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use baton_engine::{Mode, Pipeline};
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = Arc::clone(&seen);
    /// Pipeline::from_iter(0..50).map(Mode::parallel(4), |x| x * 2)
    ///     .for_each_unordered(move |x| sink.lock().unwrap().push(x))
    ///     .unwrap();
    /// let mut seen = seen.lock().unwrap().clone();
    /// seen.sort();
    /// assert_eq!(seen, (0..50).map(|x| x * 2).collect::<Vec<_>>());
    /// ```
    pub fn for_each_unordered(
        self,
        f: impl FnMut(T) + Send + 'static,
    ) -> Result<RunReport, PipelineError> {
        self.stage("sink", Mode::serial()).for_each_spawn(f)?.join()
    }

    /// Starts the run in the background; the handle stops, aborts, reads
    /// stats, changes replicas and joins. Dropping the handle aborts the run.
    ///
    /// # Errors
    ///
    /// [`PipelineError::Build`] when a stage was set up wrongly.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::Pipeline;
    /// let handle = Pipeline::from_iter(0..).spawn_for_each(|_: u64| {}).unwrap();
    /// std::thread::sleep(std::time::Duration::from_millis(20));
    /// handle.stop(); // an endless source: stop it, drain, then join
    /// let report = handle.join().unwrap();
    /// assert!(report.stats.source.items > 0);
    /// ```
    pub fn spawn_for_each(
        self,
        f: impl FnMut(T) + Send + 'static,
    ) -> Result<RunHandle, PipelineError> {
        self.stage("sink", Mode::serial_in_order())
            .for_each_spawn(f)
    }

    /// Runs the pipeline and folds its items, in source order.
    ///
    /// # Errors
    ///
    /// As [`Pipeline::for_each`].
    ///
    /// # Examples
    ///
    /// ```
    /// let s = baton_engine::Pipeline::from_iter(1..=4).fold(String::new(), |s, x| s + &x.to_string()).unwrap();
    /// assert_eq!(s, "1234");
    /// ```
    pub fn fold<A: Send + 'static>(
        self,
        init: A,
        f: impl FnMut(A, T) -> A + Send + 'static,
    ) -> Result<A, PipelineError> {
        self.fold_with_report(init, f).map(|(value, _report)| value)
    }

    /// Runs the pipeline and folds its items, in source order, and returns
    /// the run's report beside the result (its stats, for
    /// [`StatsSnapshot::what_if`](crate::StatsSnapshot::what_if) and the
    /// bottleneck).
    ///
    /// # Errors
    ///
    /// As [`Pipeline::for_each`].
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let (sum, report) = Pipeline::from_iter(1..=4u64)
    ///     .stage("double", Mode::parallel(2))
    ///     .map(|x| x * 2)
    ///     .fold_with_report(0, |s, x| s + x)
    ///     .unwrap();
    /// assert_eq!(sum, 20);
    /// assert_eq!(report.stage("double").unwrap().items_in, 4);
    /// ```
    pub fn fold_with_report<A: Send + 'static>(
        self,
        init: A,
        f: impl FnMut(A, T) -> A + Send + 'static,
    ) -> Result<(A, RunReport), PipelineError> {
        let result = Arc::new(Mutex::new(None));
        let op = FoldOp {
            acc: Some(init),
            f,
            result: Arc::clone(&result),
            _types: PhantomData,
        };
        let builder = self.stage("sink", Mode::serial_in_order());
        let shared = builder.push_once(op).run(None)?;
        let report = RunHandle::new(shared).join()?;
        let value = result.lock().unwrap_or_else(|e| e.into_inner()).take();
        value
            .map(|value| (value, report))
            .ok_or_else(|| PipelineError::Build("the sink ended without its result".into()))
    }

    /// Runs the pipeline and combines its items with `f`, in source order;
    /// `None` when there were none.
    ///
    /// # Errors
    ///
    /// As [`Pipeline::for_each`].
    ///
    /// # Examples
    ///
    /// ```
    /// let max = baton_engine::Pipeline::from_iter(vec![3, 9, 2]).reduce(|a, b| a.max(b)).unwrap();
    /// assert_eq!(max, Some(9));
    /// ```
    pub fn reduce(
        self,
        mut f: impl FnMut(T, T) -> T + Send + 'static,
    ) -> Result<Option<T>, PipelineError> {
        self.fold(None, move |acc, item| match acc {
            None => Some(item),
            Some(acc) => Some(f(acc, item)),
        })
    }

    /// Runs the pipeline and collects its items in source order.
    ///
    /// # Errors
    ///
    /// As [`Pipeline::for_each`].
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let out = Pipeline::from_iter(0..1000).map(Mode::parallel(4), |x| x + 1).collect().unwrap();
    /// assert_eq!(out, (1..1001).collect::<Vec<_>>());
    /// ```
    pub fn collect(self) -> Result<Vec<T>, PipelineError> {
        self.fold(Vec::new(), |mut all, item| {
            all.push(item);
            all
        })
    }

    /// Runs the pipeline in the background and returns its output as a
    /// blocking iterator, in source order, prefetched up to the in-flight
    /// bound: how a training loop takes its batches. A failure comes as the
    /// last item, an `Err`, after every item before the failing one and
    /// none after it. Dropping the iterator aborts the run.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let mut batches = Pipeline::from_iter(0..10).map(Mode::parallel(2), |x| x * 2).batch(4).into_iter();
    /// assert_eq!(batches.next().unwrap().unwrap(), vec![0, 2, 4, 6]);
    /// assert_eq!(batches.count(), 2);
    /// ```
    #[allow(clippy::should_implement_trait)]
    pub fn into_iter(self) -> PipelineIter<T> {
        self.iter_with(Mode::serial_in_order())
    }

    /// Like [`Pipeline::into_iter`], in whatever order items come.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let mut out: Vec<i32> = Pipeline::from_iter(0..100).map(Mode::parallel(4), |x| x)
    ///     .into_iter_unordered().map(Result::unwrap).collect();
    /// out.sort();
    /// assert_eq!(out, (0..100).collect::<Vec<_>>());
    /// ```
    pub fn into_iter_unordered(self) -> PipelineIter<T> {
        self.iter_with(Mode::serial())
    }

    fn iter_with(self, mode: Mode) -> PipelineIter<T> {
        let ordered = mode.kind() == crate::mode::ModeKind::SerialInOrder;
        let (tx, rx) = crossbeam_channel::unbounded();
        let outlet_tx = tx.clone();
        let outlet: crate::executor::Outlet = Box::new(move |chunk| {
            let _ = outlet_tx.send(crate::handle::Message::Chunk(chunk));
        });
        let builder = self.stage("output", mode);
        let pipeline: Pipeline<T> =
            builder.push_spec(0, Box::new(|| Ok(Box::new(Pass) as Box<dyn Replica>)));
        match pipeline.run(Some(outlet)) {
            Ok(shared) => {
                shared.on_terminate(Box::new(move || {
                    let _ = tx.send(crate::handle::Message::Ended);
                }));
                PipelineIter::new(shared, rx, ordered)
            }
            Err(error) => PipelineIter::failed(error),
        }
    }
}

/// A stage being added: its name, mode, error policy and buffer are set;
/// its operator comes next.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use baton_engine::{Mode, OnError, Pipeline};
/// let out = Pipeline::from_iter(0..10u32)
///     .stage("flaky", Mode::parallel(2))
///     .on_error(OnError::Retry { attempts: 2, backoff: Duration::from_millis(1) })
///     .map(|x| x)
///     .collect()
///     .unwrap();
/// assert_eq!(out.len(), 10);
/// ```
pub struct StageBuilder<T> {
    pipeline: Pipeline<T>,
    name: Arc<str>,
    mode: Mode,
    policy: OnError,
    keep: Option<fn(&T) -> T>,
    buffer: Option<usize>,
    buffer_auto: bool,
    min_chunk: Option<ChunkFloor>,
    fuse: bool,
}

impl<T> std::fmt::Debug for StageBuilder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StageBuilder")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> StageBuilder<T> {
    /// Sets what the stage does when an item fails (default: fail the run).
    /// Skip and retry keep a copy of each item, hence `Clone`.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, OnError, Pipeline};
    /// let mut iter = Pipeline::from_iter(vec![1, 0, 2])
    ///     .stage("invert", Mode::parallel(2))
    ///     .on_error(OnError::Skip)
    ///     .map(|x: i32| 10 / x)
    ///     .into_iter();
    /// let out: Vec<i32> = iter.by_ref().map(Result::unwrap).collect();
    /// assert_eq!(out, vec![10, 5]);
    /// assert_eq!(iter.dead_letters()[0].item::<i32>(), Some(&0));
    /// ```
    pub fn on_error(mut self, policy: OnError) -> Self
    where
        T: Clone,
    {
        self.policy = policy;
        self.keep = Some(T::clone);
        self
    }

    /// Bounds the queue in front of the stage to about `items`: the source
    /// waits while it is full.
    ///
    /// # Examples
    ///
    /// See [`Pipeline::stage`].
    pub fn buffer(mut self, items: usize) -> Self {
        self.buffer = Some(items.max(1));
        self.buffer_auto = false;
        self
    }

    /// Has the tuner size the queue in front of the stage while the run
    /// goes on: it starts small, and doubles whenever the stage waited
    /// for input while the stage before it (or the source) was held back
    /// by the full queue, within the in-flight bound. Why it chose what it
    /// did is in [`StageStats::buffer_tuning`](crate::StageStats::buffer_tuning).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let report = Pipeline::from_iter(0..1_000u64)
    ///     .stage("write", Mode::serial_in_order())
    ///     .buffer_auto()
    ///     .for_each(|_| {})
    ///     .unwrap();
    /// assert!(report.stage("write").unwrap().buffer.is_some());
    /// ```
    pub fn buffer_auto(mut self) -> Self {
        self.buffer_auto = true;
        self
    }

    /// Whether the stage may run fused with the stages next to it (on by
    /// default). Adjacent parallel stages of the same mode, replicas and
    /// error policy, with no bounded queue between them, run as one: a
    /// replica of the first carries each chunk through the others at once,
    /// with no hand-off, no queue and no replica to claim in between (as
    /// Flink chains operators). Their stats, spans and failures stay their
    /// own: each is timed and counted inside the fused stage.
    /// [`StageStats::fused_into`](crate::StageStats::fused_into) tells
    /// which stage one runs in. `false` keeps this stage apart from both
    /// neighbours (to give it its own replicas at run time, say).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let report = Pipeline::from_iter(0..1_000u64)
    ///     .stage("add", Mode::parallel(2))
    ///     .map(|x| x + 1)
    ///     .stage("double", Mode::parallel(2))
    ///     .map(|x| x * 2)
    ///     .stage("square", Mode::parallel(2))
    ///     .fuse(false)
    ///     .map(|x| x * x)
    ///     .for_each(|_| {})
    ///     .unwrap();
    /// assert_eq!(report.stage("double").unwrap().fused_into.as_deref(), Some("add"));
    /// assert_eq!(report.stage("double").unwrap().items_out, 1_000);
    /// assert_eq!(report.stage("square").unwrap().fused_into, None);
    /// ```
    pub fn fuse(mut self, on: bool) -> Self {
        self.fuse = on;
        self
    }

    /// Asks that the source's chunks carry at least `items` items when the
    /// source has them, for a stage that pays a fixed cost per chunk (a
    /// round trip to a worker process): the engine otherwise sizes chunks
    /// by their cost, and would keep such a stage's chunks small. The
    /// largest wish of the pipeline's stages counts, within
    /// [`Config::max_chunk`](crate::Config::max_chunk); a source whose
    /// input trickles still sends what it has after its linger.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let out = Pipeline::from_iter(0..10u32)
    ///     .stage("remote", Mode::parallel(2))
    ///     .min_chunk(4)
    ///     .map(|x| x + 1)
    ///     .collect()
    ///     .unwrap();
    /// assert_eq!(out, (1..11).collect::<Vec<_>>());
    /// ```
    pub fn min_chunk(mut self, items: usize) -> Self {
        self.min_chunk = Some(ChunkFloor::new(items));
        self
    }

    /// Like [`StageBuilder::min_chunk`], with a wish the stage may change
    /// while the pipeline runs (a stage that learns what a round trip
    /// costs): the source's next chunk follows the floor's value then.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{ChunkFloor, Mode, Pipeline};
    /// let floor = ChunkFloor::new(4);
    /// let seen = floor.clone();
    /// let out = Pipeline::from_iter(0..10u32)
    ///     .stage("remote", Mode::parallel(2))
    ///     .chunk_floor(floor)
    ///     .map(move |x| {
    ///         seen.set(8); // learnt: bigger chunks from now on
    ///         x + 1
    ///     })
    ///     .collect()
    ///     .unwrap();
    /// assert_eq!(out, (1..11).collect::<Vec<_>>());
    /// ```
    pub fn chunk_floor(mut self, floor: ChunkFloor) -> Self {
        self.min_chunk = Some(floor);
        self
    }

    fn push_spec<U>(self, extra_in_flight: usize, factory: ReplicaFactory) -> Pipeline<U> {
        let StageBuilder {
            mut pipeline,
            name,
            mode,
            policy,
            buffer,
            buffer_auto,
            min_chunk,
            fuse,
            ..
        } = self;
        pipeline.stages.push(StageSpec {
            name,
            mode,
            policy,
            buffer,
            buffer_auto,
            min_chunk,
            extra_in_flight,
            factory,
            weigh: None,
            fuse,
        });
        Pipeline {
            source: pipeline.source,
            source_name: pipeline.source_name,
            source_policy: pipeline.source_policy,
            stages: pipeline.stages,
            names: pipeline.names,
            config: pipeline.config,
            problem: pipeline.problem,
            dead_letter_handler: pipeline.dead_letter_handler,
            source_weigh: pipeline.source_weigh,
            run_counted_after: pipeline.run_counted_after,
            item_bytes: pipeline.item_bytes.max(std::mem::size_of::<U>()),
            _items: PhantomData,
        }
    }

    /// Adds a stage whose one replica is `op` (serial stages with owned state).
    fn push_once<O: crate::stage::Operator<In = T>>(mut self, op: O) -> Pipeline<O::Out> {
        if !self.mode.is_serial() {
            let problem = format!(
                "stage `{}` keeps state across items, so it must be serial, not {}",
                self.name, self.mode
            );
            self.pipeline.problem.get_or_insert(problem);
        }
        let mut op = Some(op);
        self.push_spec(
            0,
            Box::new(move || {
                op.take()
                    .map(|op| Box::new(op) as Box<dyn Replica>)
                    .ok_or_else(|| {
                        StageFailure::Panic("a serial stage's state cannot be made twice".into())
                    })
            }),
        )
    }

    /// Adds a stage whose replicas are made by `make`.
    fn push_replicated<O: crate::stage::Operator<In = T>>(
        self,
        make: impl Fn() -> O + Send + 'static,
    ) -> Pipeline<O::Out> {
        self.push_spec(
            0,
            Box::new(move || Ok(Box::new(make()) as Box<dyn Replica>)),
        )
    }

    /// Applies `f` to every item.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let out = Pipeline::from_iter(0..3).stage("inc", Mode::parallel(2)).map(|x| x + 1).collect().unwrap();
    /// assert_eq!(out, vec![1, 2, 3]);
    /// ```
    pub fn map<U: Send + 'static>(self, f: impl Fn(T) -> U + Send + Sync + 'static) -> Pipeline<U> {
        self.try_map(move |item| Ok(f(item)))
    }

    /// Applies a fallible `f`.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let err = Pipeline::from_iter(0..3)
    ///     .stage("check", Mode::serial())
    ///     .try_map(|x| if x < 2 { Ok(x) } else { Err("too big".into()) })
    ///     .collect()
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "stage `check` failed on item 2: too big");
    /// ```
    pub fn try_map<U: Send + 'static>(
        self,
        f: impl Fn(T) -> Result<U, BoxError> + Send + Sync + 'static,
    ) -> Pipeline<U> {
        let f = Arc::new(move |_: &mut (), item: T| f(item));
        let keep = self.keep;
        self.push_replicated(move || MapOp::new((), Arc::clone(&f), keep))
    }

    /// Applies `f` with a state per replica made by `init`.
    ///
    /// # Examples
    ///
    /// See [`Pipeline::map_init`].
    pub fn map_init<S: Send + 'static, U: Send + 'static>(
        self,
        init: impl Fn() -> S + Send + Sync + 'static,
        f: impl Fn(&mut S, T) -> U + Send + Sync + 'static,
    ) -> Pipeline<U> {
        let f = Arc::new(move |state: &mut S, item: T| Ok(f(state, item)));
        let keep = self.keep;
        self.push_replicated(move || MapOp::new(init(), Arc::clone(&f), keep))
    }

    /// Applies `f` with a state owned by this serial stage (a writer, a model,
    /// an accumulator).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let running = Pipeline::from_iter(1..=4)
    ///     .stage("running_sum", Mode::serial_in_order())
    ///     .map_with(0, |sum, x| { *sum += x; *sum })
    ///     .collect()
    ///     .unwrap();
    /// assert_eq!(running, vec![1, 3, 6, 10]);
    /// ```
    pub fn map_with<S, U, F>(self, state: S, f: F) -> Pipeline<U>
    where
        S: Send + 'static,
        U: Send + 'static,
        F: FnMut(&mut S, T) -> U + Send + 'static,
    {
        let state = (state, f);
        let call = Arc::new(|(state, f): &mut (S, F), item: T| Ok(f(state, item)));
        let op = MapOp::new(state, call, self.keep);
        self.push_once(op)
    }

    /// Keeps the items for which `f` is true.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let out = Pipeline::from_iter(0..4).stage("even", Mode::parallel(2)).filter(|x| x % 2 == 0).collect().unwrap();
    /// assert_eq!(out, vec![0, 2]);
    /// ```
    pub fn filter(self, f: impl Fn(&T) -> bool + Send + Sync + 'static) -> Pipeline<T> {
        let f = Arc::new(f);
        self.push_replicated(move || FilterOp::new(Arc::clone(&f)))
    }

    /// Calls `f` on every item and passes it on.
    ///
    /// # Examples
    ///
    /// See [`Pipeline::inspect`].
    pub fn inspect(self, f: impl Fn(&T) + Send + Sync + 'static) -> Pipeline<T> {
        self.filter(move |item| {
            f(item);
            true
        })
    }

    /// Maps and keeps the `Some`s.
    ///
    /// # Examples
    ///
    /// See [`Pipeline::filter_map`].
    pub fn filter_map<U: Send + 'static>(
        self,
        f: impl Fn(T) -> Option<U> + Send + Sync + 'static,
    ) -> Pipeline<U> {
        self.flat_map(f)
    }

    /// Maps every item to several.
    ///
    /// # Examples
    ///
    /// See [`Pipeline::flat_map`].
    pub fn flat_map<I>(self, f: impl Fn(T) -> I + Send + Sync + 'static) -> Pipeline<I::Item>
    where
        I: IntoIterator + 'static,
        I::Item: Send + 'static,
    {
        let f = Arc::new(move |_: &mut (), item: T| Ok(f(item)));
        let keep = self.keep;
        self.push_replicated(move || FlatMapOp::new((), Arc::clone(&f), keep))
    }

    /// Groups items into `Vec`s of `size`; the last may be shorter.
    ///
    /// # Examples
    ///
    /// See [`Pipeline::batch`].
    pub fn batch(self, size: usize) -> Pipeline<Vec<T>> {
        self.push_once(BatchOp::new(size, false))
    }

    /// Groups items into `Vec`s of exactly `size`.
    ///
    /// # Examples
    ///
    /// See [`Pipeline::batch_exact`].
    pub fn batch_exact(self, size: usize) -> Pipeline<Vec<T>> {
        self.push_once(BatchOp::new(size, true))
    }

    /// Sliding windows of `size` items, starting every `step` items.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let out = Pipeline::from_iter(0..5).stage("w", Mode::serial_in_order()).window(3, 1).collect().unwrap();
    /// assert_eq!(out, vec![vec![0, 1, 2], vec![1, 2, 3], vec![2, 3, 4]]);
    /// let chunks = Pipeline::from_iter(0..6).stage("w", Mode::serial_in_order()).window(2, 3).collect().unwrap();
    /// assert_eq!(chunks, vec![vec![0, 1], vec![3, 4]]);
    /// ```
    pub fn window(self, size: usize, step: usize) -> Pipeline<Vec<T>>
    where
        T: Clone,
    {
        self.push_once(WindowOp::new(size, step))
    }

    /// Shuffles with a buffer, reproducibly for a seed.
    ///
    /// # Examples
    ///
    /// See [`Pipeline::shuffle`].
    pub fn shuffle(self, buffer: usize, seed: u64) -> Pipeline<T> {
        self.push_once(ShuffleOp::new(buffer, seed))
    }

    /// Keeps the first `n` items.
    ///
    /// # Examples
    ///
    /// See [`Pipeline::take`].
    pub fn take(self, n: usize) -> Pipeline<T> {
        self.push_once(TakeOp {
            left: n,
            _types: PhantomData,
        })
    }

    /// Drops the first `n` items.
    ///
    /// # Examples
    ///
    /// See [`Pipeline::skip`].
    pub fn skip(self, n: usize) -> Pipeline<T> {
        self.push_once(SkipOp {
            left: n,
            _types: PhantomData,
        })
    }

    /// Makes this stage a prefetch point: it passes items on untouched, and
    /// lets up to `n` more items be made ahead of the stages after it (raises
    /// the in-flight bound by `n`, with a queue of `n` in front of it unless
    /// [`buffer`](StageBuilder::buffer) set another). The stage-builder form
    /// of [`Pipeline::prefetch`], for a prefetch point with a name and mode
    /// of its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let report = Pipeline::from_iter(0..5)
    ///     .stage("ahead", Mode::parallel(2))
    ///     .prefetch(8)
    ///     .for_each(|_| {})
    ///     .unwrap();
    /// assert_eq!(report.stage("ahead").unwrap().items_in, 5);
    /// ```
    pub fn prefetch(mut self, n: usize) -> Pipeline<T> {
        self.buffer = Some(self.buffer.unwrap_or(n).max(1));
        self.push_spec(n, Box::new(|| Ok(Box::new(Pass) as Box<dyn Replica>)))
    }

    /// Adds a stage of the user's own (see [`Stage`]); `make` builds one
    /// per replica (once for a serial stage). If `make` fails, every item
    /// fails with its error, under the stage's policy.
    ///
    /// # Examples
    ///
    /// See [`Stage`].
    pub fn apply<S, U>(
        self,
        make: impl Fn() -> Result<S, BoxError> + Send + Sync + 'static,
    ) -> Pipeline<U>
    where
        S: Stage<T, U>,
        U: Send + 'static,
    {
        let keep = self.keep;
        self.push_replicated(move || {
            let stage: Box<dyn Stage<T, U>> = match make() {
                Ok(stage) => Box::new(stage),
                Err(error) => Box::new(Unmade(format!("the stage could not be made: {error}"))),
            };
            CustomOp {
                stage,
                last_seq: 0,
                keep,
                _types: PhantomData,
            }
        })
    }

    /// Ends the pipeline with this stage writing to `sink`, and runs it.
    ///
    /// # Errors
    ///
    /// As [`Pipeline::for_each`]; also a failure of the sink's `finish`.
    ///
    /// # Examples
    ///
    /// See [`Sink`].
    pub fn sink(self, sink: impl Sink<T>) -> Result<RunReport, PipelineError> {
        self.spawn_sink(sink)?.join()
    }

    /// Starts the run in the background with this stage writing to `sink`.
    ///
    /// # Errors
    ///
    /// [`PipelineError::Build`] when a stage was set up wrongly.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{BoxError, Mode, Pipeline, Sink};
    /// struct Nothing;
    /// impl Sink<u32> for Nothing {
    ///     fn write(&mut self, _: u32) -> Result<(), BoxError> { Ok(()) }
    /// }
    /// let run = Pipeline::from_iter(0..10u32).stage("out", Mode::serial()).spawn_sink(Nothing).unwrap();
    /// assert_eq!(run.join().unwrap().stage("out").unwrap().items_in, 10);
    /// ```
    pub fn spawn_sink(self, sink: impl Sink<T>) -> Result<RunHandle, PipelineError> {
        let op = CustomOp {
            stage: SinkStage(sink),
            last_seq: 0,
            keep: self.keep,
            _types: PhantomData,
        };
        Ok(RunHandle::new(self.push_once(op).run(None)?))
    }

    /// Ends the pipeline with this stage as a sink calling `f`, and runs it.
    ///
    /// # Errors
    ///
    /// As [`Pipeline::for_each`].
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// let report = Pipeline::from_iter(0..10).stage("print", Mode::serial()).for_each(|_| {}).unwrap();
    /// assert_eq!(report.stage("print").unwrap().items_in, 10);
    /// ```
    pub fn for_each(self, f: impl FnMut(T) + Send + 'static) -> Result<RunReport, PipelineError> {
        self.for_each_spawn(f)?.join()
    }

    fn for_each_spawn<F: FnMut(T) + Send + 'static>(
        self,
        f: F,
    ) -> Result<RunHandle, PipelineError> {
        let call = Arc::new(|f: &mut F, item: T| {
            f(item);
            Ok(())
        });
        let op = MapOp::<F, _, T, ()>::new(f, call, self.keep);
        Ok(RunHandle::new(self.push_once(op).run(None)?))
    }
}

impl<T: IntoIterator + Send + 'static> Pipeline<T>
where
    T::Item: Send + 'static,
{
    /// Turns every item (a batch) back into its elements.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = baton_engine::Pipeline::from_iter(0..5).batch(2).unbatch().collect().unwrap();
    /// assert_eq!(out, vec![0, 1, 2, 3, 4]);
    /// ```
    pub fn unbatch(self) -> Pipeline<T::Item> {
        let replicas = self.config.threads;
        self.stage("unbatch", Mode::parallel(replicas))
            .flat_map(|batch| batch)
    }
}
