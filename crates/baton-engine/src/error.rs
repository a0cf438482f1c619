//! Errors, error policies and dead letters.

use std::any::Any;
use std::fmt;
use std::time::Duration;

use crate::chunk::{ChunkData, Seqs};

/// Any error a user's stage may return.
///
/// # Examples
///
/// ```
/// use baton_engine::{BoxError, Mode, Pipeline};
/// fn parse(s: &str) -> Result<u8, BoxError> {
///     Ok(s.parse()?) // `?` boxes any error
/// }
/// assert_eq!(parse("x").unwrap_err().to_string(), "invalid digit found in string");
/// let out = Pipeline::from_iter(vec!["1", "2"]).try_map(Mode::serial(), parse).collect().unwrap();
/// assert_eq!(out, vec![1, 2]);
/// ```
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why one item failed in one stage.
///
/// # Examples
///
/// ```
/// use baton_engine::StageFailure;
/// let failure = StageFailure::Panic("index out of bounds".into());
/// assert_eq!(failure.to_string(), "panicked: index out of bounds");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StageFailure {
    /// The stage returned an error.
    #[error("{0}")]
    Error(#[source] BoxError),
    /// The stage's code panicked; the panic was caught.
    #[error("panicked: {0}")]
    Panic(String),
}

impl StageFailure {
    pub(crate) fn from_panic(payload: Box<dyn Any + Send>) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a non-string panic payload".to_string()
        };
        Self::Panic(message)
    }
}

/// A failed run of a pipeline.
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, Pipeline, PipelineError};
/// let result = Pipeline::from_iter(0..10u32)
///     .stage("check", Mode::parallel(2))
///     .try_map(|x| if x == 7 { Err("seven".into()) } else { Ok(x) })
///     .collect();
/// match result {
///     Err(PipelineError::Stage { stage, seq, .. }) => {
///         assert_eq!(stage, "check");
///         assert_eq!(seq, 7);
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// A stage failed on an item under the fail-fast policy (or after its retries).
    #[error("stage `{stage}` failed on item {seq}: {failure}")]
    Stage {
        /// The stage's name.
        stage: String,
        /// The sequence number of the item, counted from 0 at the source.
        seq: u64,
        /// What went wrong.
        #[source]
        failure: StageFailure,
    },
    /// The pipeline was aborted through its handle or by dropping it.
    #[error("the pipeline was aborted")]
    Aborted,
    /// The pipeline could not be built or started.
    #[error("cannot start the pipeline: {0}")]
    Build(String),
}

/// What a stage does when an item fails (an error or a panic).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use baton_engine::OnError;
/// let policy = OnError::Retry { attempts: 3, backoff: Duration::from_millis(10) };
/// assert_eq!(policy.to_string(), "retry 3 times (backoff 10ms)");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnError {
    /// Stop every stage promptly and return the first error (the default).
    /// What came before the failing item still reaches the sink or the
    /// iterator (the items in flight ahead of it, and what the stage made
    /// of the items of its chunk before it), in order; nothing after it
    /// does (an unordered end may have had some before the failure). An
    /// item ahead of it still being retried then fails too (retries end
    /// with the run), and nothing from it on goes on either.
    #[default]
    Fail,
    /// Count the failure, hand the item and its error to the dead letters, go on.
    Skip,
    /// Try the item again up to `attempts` more times, waiting `backoff`,
    /// doubled after each try; fail if every try fails.
    Retry {
        /// Further tries after the first.
        attempts: u32,
        /// The wait before the first retry.
        backoff: Duration,
    },
    /// Like `Retry`, then skip to the dead letters instead of failing.
    RetryThenSkip {
        /// Further tries after the first.
        attempts: u32,
        /// The wait before the first retry.
        backoff: Duration,
    },
}

impl OnError {
    /// Retries after the first try, the first backoff, and whether a
    /// failed item is skipped (else it fails the run).
    pub(crate) fn plan(&self) -> (u32, Duration, bool) {
        match *self {
            OnError::Fail => (0, Duration::ZERO, false),
            OnError::Skip => (0, Duration::ZERO, true),
            OnError::Retry { attempts, backoff } => (attempts, backoff, false),
            OnError::RetryThenSkip { attempts, backoff } => (attempts, backoff, true),
        }
    }

    /// Whether a failure fails the run at once (the operators' fast path).
    pub(crate) fn fails_fast(&self) -> bool {
        *self == OnError::Fail
    }
}

impl fmt::Display for OnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OnError::Fail => f.write_str("fail"),
            OnError::Skip => f.write_str("skip"),
            OnError::Retry { attempts, backoff } => {
                write!(f, "retry {attempts} times (backoff {backoff:?})")
            }
            OnError::RetryThenSkip { attempts, backoff } => {
                write!(f, "retry {attempts} times (backoff {backoff:?}), then skip")
            }
        }
    }
}

/// An item a stage skipped, with its error.
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, OnError, Pipeline};
/// let mut iter = Pipeline::from_iter(vec!["1", "x", "3"])
///     .stage("parse", Mode::parallel(2))
///     .on_error(OnError::Skip)
///     .try_map(|s: &str| s.parse::<u32>().map_err(Into::into))
///     .into_iter();
/// let numbers: Vec<u32> = iter.by_ref().map(Result::unwrap).collect();
/// assert_eq!(numbers, vec![1, 3]);
/// let dead = iter.dead_letters();
/// assert_eq!(dead.len(), 1);
/// assert_eq!(dead[0].seq, 1);
/// assert_eq!(dead[0].item::<&str>(), Some(&"x"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The stage that skipped it.
    pub stage: String,
    /// The item's sequence number.
    pub seq: u64,
    /// Why.
    pub failure: StageFailure,
    /// The stage's input item, when the stage could keep a copy.
    pub(crate) item: Option<Box<dyn Any + Send>>,
}

impl DeadLetter {
    /// The item that failed, if kept and of type `T` (the stage's input type).
    ///
    /// # Examples
    ///
    /// See [`DeadLetter`].
    pub fn item<T: 'static>(&self) -> Option<&T> {
        self.item.as_ref().and_then(|item| item.downcast_ref::<T>())
    }

    /// Takes the failed item out, if kept and of type `T`.
    ///
    /// # Examples
    ///
    /// See [`DeadLetter`]; `take_item` moves the item instead of borrowing it.
    pub fn take_item<T: 'static>(&mut self) -> Option<T> {
        match self.item.take()?.downcast::<T>() {
            Ok(item) => Some(*item),
            Err(other) => {
                self.item = Some(other);
                None
            }
        }
    }
}

/// A failure at one item, before the executor adds the stage's name.
#[derive(Debug)]
pub(crate) struct ItemFailure {
    pub(crate) seq: u64,
    pub(crate) failure: StageFailure,
    /// What the stage made of the items of the chunk before the failing
    /// one (never anything of the failing item itself): a failure that
    /// fails the run still lets them go on, so that it loses nothing that
    /// came before it.
    pub(crate) done: ChunkData,
    /// The stage's policy would have tried the item again, but the run was
    /// already failing: a consequence of the failure that cut the run, not
    /// its cause (which stays the run's error).
    pub(crate) cut_short: bool,
}

impl ItemFailure {
    /// A failure at item `seq`, with nothing made before it.
    pub(crate) fn new(seq: u64, failure: StageFailure) -> Self {
        Self {
            seq,
            failure,
            cut_short: false,
            done: ChunkData::empty(),
        }
    }

    /// The same failure, with `items` (numbered by `seqs`) made before it.
    pub(crate) fn with_done<T: Send + 'static>(mut self, items: Vec<T>, seqs: Seqs) -> Self {
        self.done = ChunkData::from_vec(items, seqs);
        self
    }
}
