//! Run-time settings of a pipeline: threads, in-flight bounds, chunking, tracing.

use std::time::Duration;

/// Settings of one pipeline run.
///
/// The defaults suit most pipelines; every bound is a ceiling, never a target.
///
/// * `threads`: CPU worker threads (default: the machine's cores). Blocking
///   stages get threads of their own on top.
/// * `max_in_flight`: items between the source and the sink at once (default
///   131,072). Together with the chunk bound below this is what keeps memory
///   flat: a fast source waits when the bound is reached (backpressure).
/// * `max_chunks_in_flight`: chunks in flight (default: 8 per thread, plus
///   twice the replicas of every blocking stage, plus 8).
/// * `max_chunk`: most items moved together (default 16,384). The engine
///   sizes chunks by itself so that a chunk is about `chunk_target` of work.
/// * `max_chunk_bytes`: most bytes of items moved together (default 32 KiB,
///   but never fewer than 256 items a chunk; the items' own size, not what
///   they point to): a chunk of cheap small items then stays in a core's
///   cache from one stage to the next, and a run touches little new memory.
/// * `fusion`: adjacent parallel stages that can run as one do (default on;
///   see [`StageBuilder::fuse`](crate::StageBuilder::fuse)).
/// * `trace`: record a span per chunk and stage, for timelines; at most
///   `max_trace_spans` (default 250,000) are kept, past which a long run's
///   trace is thinned to every other chunk, then every fourth, ...
/// * `linger`: how long an item of a streaming source
///   ([`Pipeline::from_stream`](crate::Pipeline::from_stream)) may wait for
///   its chunk to fill before the chunk goes on anyway (default 100 ms).
/// * `cpu_budget`: the cores the tuner may fill ([`Mode::auto`](crate::Mode::auto); default:
///   `threads`). Leave out the cores a consumer of the output computes on
///   (a training loop, say).
/// * `max_auto_replicas`: the most replicas the tuner gives one stage
///   (default 256): for a blocking stage, the most threads it may have.
/// * `memory_budget`: the most resident memory the process may hold while
///   the run goes on (default: three quarters of the machine's memory, or
///   of the cgroup's limit if lower). Past it the run holds fewer items in
///   flight, halving the bound until the process is back within it, and
///   lets it grow again once well below; `None` turns the guard off.
/// * `keep_dead_letters`: skipped items kept for the report when no handler
///   takes them as they happen (default 10,000; past it they are counted).
///
/// # Examples
///
/// ```
/// use baton_engine::Config;
/// let config = Config::default().threads(2).max_in_flight(1_000).trace(true);
/// assert_eq!(config.thread_count(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) threads: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) max_chunks_in_flight: Option<usize>,
    pub(crate) max_chunk: usize,
    pub(crate) max_chunk_bytes: usize,
    pub(crate) fusion: bool,
    pub(crate) chunk_target: Duration,
    pub(crate) trace: bool,
    pub(crate) max_trace_spans: usize,
    pub(crate) sample_every: Duration,
    pub(crate) linger: Duration,
    pub(crate) keep_dead_letters: usize,
    pub(crate) cpu_budget: Option<usize>,
    pub(crate) max_auto_replicas: usize,
    pub(crate) memory_budget: MemoryBudget,
}

/// The fewest items the bound in bytes leaves a chunk.
const MIN_CHUNK_BOUND_BY_BYTES: usize = 256;

/// The memory budget as set: the default share of the machine, bytes, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MemoryBudget {
    Default,
    Bytes(u64),
    Off,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_in_flight: 1 << 17,
            max_chunks_in_flight: None,
            max_chunk: 16_384,
            max_chunk_bytes: 32 << 10,
            fusion: true,
            chunk_target: Duration::from_micros(100),
            trace: false,
            max_trace_spans: 250_000,
            sample_every: Duration::from_millis(10),
            linger: Duration::from_millis(100),
            keep_dead_letters: 10_000,
            cpu_budget: None,
            max_auto_replicas: 256,
            memory_budget: MemoryBudget::Default,
        }
    }
}

impl Config {
    /// Sets the number of CPU worker threads (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_engine::Config::default().threads(0).thread_count(), 1);
    /// ```
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// The number of CPU worker threads.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(baton_engine::Config::default().thread_count() >= 1);
    /// ```
    pub fn thread_count(&self) -> usize {
        self.threads
    }

    /// Sets the cores the tuner may fill with the stages it tunes
    /// ([`Mode::auto`](crate::Mode::auto)); at least 1. Unset, it is the worker threads.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = baton_engine::Config::default().threads(4).cpu_budget(3);
    /// assert_eq!(c.cpu_cores(), 3);
    /// ```
    pub fn cpu_budget(mut self, cores: usize) -> Self {
        self.cpu_budget = Some(cores.max(1));
        self
    }

    /// The cores the tuner may fill: the CPU budget if set, else the worker
    /// threads.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_engine::Config::default().threads(2).cpu_cores(), 2);
    /// ```
    pub fn cpu_cores(&self) -> usize {
        self.cpu_budget.unwrap_or(self.threads)
    }

    /// Sets the most replicas the tuner gives one [`Mode::auto`](crate::Mode::auto) stage (at
    /// least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let c = baton_engine::Config::default().max_auto_replicas(64);
    /// ```
    pub fn max_auto_replicas(mut self, replicas: usize) -> Self {
        self.max_auto_replicas = replicas.max(1);
        self
    }

    /// Sets the most resident memory, in bytes, the process may hold while
    /// the run goes on (`None`: no guard). Past it the run holds fewer items
    /// in flight (down to what its stages need to go on) until the process
    /// is back within it. The process's memory counts, not only the run's:
    /// a training loop beside it counts too, as it does for the kernel.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = baton_engine::Config::default().memory_budget(Some(4 << 30));
    /// assert_eq!(c.memory_budget_bytes(), Some(4 << 30));
    /// assert_eq!(baton_engine::Config::default().memory_budget(None).memory_budget_bytes(), None);
    /// ```
    pub fn memory_budget(mut self, bytes: Option<u64>) -> Self {
        self.memory_budget = match bytes {
            Some(bytes) => MemoryBudget::Bytes(bytes.max(1)),
            None => MemoryBudget::Off,
        };
        self
    }

    /// The memory budget in bytes: as set, or by default three quarters of
    /// the memory the process may have (the machine's, or its cgroup's
    /// limit if lower); `None` if off, or where the machine does not tell.
    ///
    /// # Examples
    ///
    /// ```
    /// let budget = baton_engine::Config::default().memory_budget_bytes();
    /// # #[cfg(target_os = "linux")]
    /// assert!(budget.unwrap() > 0);
    /// ```
    pub fn memory_budget_bytes(&self) -> Option<u64> {
        match self.memory_budget {
            MemoryBudget::Default => crate::executor::memory::available_bytes().map(|b| b / 4 * 3),
            MemoryBudget::Bytes(bytes) => Some(bytes),
            MemoryBudget::Off => None,
        }
    }

    /// Sets the most items in flight between source and sink (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let c = baton_engine::Config::default().max_in_flight(64);
    /// ```
    pub fn max_in_flight(mut self, items: usize) -> Self {
        self.max_in_flight = items.max(1);
        self
    }

    /// Sets the most chunks in flight between source and sink (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let c = baton_engine::Config::default().max_chunks_in_flight(8);
    /// ```
    pub fn max_chunks_in_flight(mut self, chunks: usize) -> Self {
        self.max_chunks_in_flight = Some(chunks.max(1));
        self
    }

    /// Sets the most items moved together in one chunk (at least 1). `1`
    /// turns chunking off: every item travels alone.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = baton_engine::Config::default().max_chunk(1);
    /// ```
    pub fn max_chunk(mut self, items: usize) -> Self {
        self.max_chunk = items.max(1);
        self
    }

    /// Sets the most bytes of items moved together in one chunk (the items'
    /// own size, `size_of` of the largest item type of the pipeline; never
    /// fewer than 256 items a chunk, and never more than
    /// [`Config::max_chunk`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let c = baton_engine::Config::default().max_chunk_bytes(1 << 20);
    /// assert_eq!(c.chunk_bound(8), 16_384);
    /// let c = baton_engine::Config::default();
    /// assert_eq!(c.chunk_bound(8), 4_096);
    /// assert_eq!(c.chunk_bound(1 << 10), 256);
    /// ```
    pub fn max_chunk_bytes(mut self, bytes: usize) -> Self {
        self.max_chunk_bytes = bytes.max(1);
        self
    }

    /// The most items a chunk of items of `item_bytes` bytes each holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = baton_engine::Config::default().max_chunk(100);
    /// assert_eq!(c.chunk_bound(8), 100);
    /// assert_eq!(c.chunk_bound(0), 100);
    /// ```
    pub fn chunk_bound(&self, item_bytes: usize) -> usize {
        let by_bytes = self
            .max_chunk_bytes
            .checked_div(item_bytes)
            .unwrap_or(usize::MAX)
            .max(MIN_CHUNK_BOUND_BY_BYTES);
        self.max_chunk.min(by_bytes)
    }

    /// Turns stage fusion on or off for the whole pipeline (on by default;
    /// [`StageBuilder::fuse`](crate::StageBuilder::fuse) turns it off for
    /// one stage).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Config, Mode, Pipeline};
    /// let report = Pipeline::from_iter(0..100u64)
    ///     .config(Config::default().fusion(false))
    ///     .map(Mode::parallel(2), |x| x + 1)
    ///     .map(Mode::parallel(2), |x| x * 2)
    ///     .for_each(|_| {})
    ///     .unwrap();
    /// assert!(report.stats.stages.iter().all(|s| s.fused_into.is_none()));
    /// ```
    pub fn fusion(mut self, on: bool) -> Self {
        self.fusion = on;
        self
    }

    /// Sets how much work a chunk should carry; the engine sizes chunks to it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = baton_engine::Config::default().chunk_target(Duration::from_micros(50));
    /// ```
    pub fn chunk_target(mut self, target: Duration) -> Self {
        self.chunk_target = target.max(Duration::from_nanos(1));
        self
    }

    /// Records one span per chunk and stage, returned in the run report.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = baton_engine::Config::default().trace(true);
    /// ```
    pub fn trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// Sets how often the monitor samples queues and replicas (default 10 ms).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = baton_engine::Config::default().sample_every(Duration::from_millis(50));
    /// ```
    pub fn sample_every(mut self, every: Duration) -> Self {
        self.sample_every = every.max(Duration::from_millis(1));
        self
    }

    /// Sets the most spans a traced run keeps (at least 2); past it the
    /// trace is thinned by chunk (see [`RunReport::trace_thinning`](crate::RunReport::trace_thinning)).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Config, Pipeline};
    /// let report = Pipeline::from_iter(0..10_000u32)
    ///     .config(Config::default().trace(true).max_chunk(1).max_trace_spans(100))
    ///     .for_each(|_| {})
    ///     .unwrap();
    /// assert!(report.trace.len() <= 100);
    /// assert!(report.trace_thinning > 1);
    /// ```
    pub fn max_trace_spans(mut self, spans: usize) -> Self {
        self.max_trace_spans = spans.max(2);
        self
    }

    /// Sets the linger of a streaming source: the longest an item that has
    /// arrived waits for more to fill its chunk.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = baton_engine::Config::default().linger(Duration::from_millis(5));
    /// ```
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Sets how many skipped items a run keeps for its report when no
    /// handler takes them as they happen.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Config, Mode, OnError, Pipeline};
    /// let report = Pipeline::from_iter(0..10u32)
    ///     .config(Config::default().keep_dead_letters(3))
    ///     .stage("fail", Mode::serial())
    ///     .on_error(OnError::Skip)
    ///     .try_map(|_| Err::<u32, _>("no".into()))
    ///     .for_each(|_| {})
    ///     .unwrap();
    /// assert_eq!(report.dead_letters.len(), 3);
    /// assert_eq!(report.dead_letters_not_kept, 7);
    /// ```
    pub fn keep_dead_letters(mut self, letters: usize) -> Self {
        self.keep_dead_letters = letters;
        self
    }
}
