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
/// * `trace`: record a span per chunk and stage, for timelines.
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
    pub(crate) chunk_target: Duration,
    pub(crate) trace: bool,
    pub(crate) sample_every: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_in_flight: 1 << 17,
            max_chunks_in_flight: None,
            max_chunk: 16_384,
            chunk_target: Duration::from_micros(100),
            trace: false,
            sample_every: Duration::from_millis(10),
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
}
