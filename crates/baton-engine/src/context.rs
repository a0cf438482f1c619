//! What a replica may know of its run when it is made: its stage, its
//! number, and a [`Cancellation`] that tells it the run has ended.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::off_thread::OffThreadCpu;

/// Set once the run has ended: failed, aborted or finished. A stage that
/// waits on something outside the engine (a worker process, a socket, a
/// retry's backoff) looks at it while it waits, so that an abort never
/// waits for the outside world. A drain ([`PipelineHandle::stop`]) does not
/// set it: items in flight are still to be finished.
///
/// [`PipelineHandle::stop`]: crate::PipelineHandle::stop
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use baton_engine::Cancellation;
///
/// let cancel = Cancellation::new();
/// assert!(!cancel.is_cancelled());
/// let waiter = cancel.clone();
/// let thread = std::thread::spawn(move || waiter.sleep(Duration::from_secs(60)));
/// cancel.cancel();
/// assert!(!thread.join().unwrap(), "the sleep ended early");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Cancellation(Arc<AtomicBool>);

/// How often a [`Cancellation::sleep`] looks at the flag.
const SLEEP_STEP: Duration = Duration::from_millis(5);

impl Cancellation {
    /// A flag of its own, not tied to any run (for tests and for stages
    /// used outside a pipeline).
    ///
    /// # Examples
    ///
    /// See [`Cancellation`].
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn from_flag(flag: Arc<AtomicBool>) -> Self {
        Self(flag)
    }

    /// Whether the run has ended.
    ///
    /// # Examples
    ///
    /// See [`Cancellation`].
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// Sets the flag (the engine does it when the run ends).
    ///
    /// # Examples
    ///
    /// See [`Cancellation`].
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Sleeps for `wait`, or less if the run ends meanwhile; returns whether
    /// it slept the whole time.
    ///
    /// # Examples
    ///
    /// ```
    /// let cancel = baton_engine::Cancellation::new();
    /// assert!(cancel.sleep(std::time::Duration::from_millis(1)));
    /// cancel.cancel();
    /// assert!(!cancel.sleep(std::time::Duration::from_secs(60)));
    /// ```
    pub fn sleep(&self, wait: Duration) -> bool {
        sleep_unless_set(&self.0, wait)
    }
}

/// Sleeps for `wait`, or less if `flag` is set meanwhile; returns whether
/// it slept the whole time.
pub(crate) fn sleep_unless_set(flag: &AtomicBool, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        if flag.load(Ordering::Acquire) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        std::thread::sleep((deadline - now).min(SLEEP_STEP));
    }
}

/// What a replica is told when it is made (see
/// [`Stage::open`](crate::Stage::open)).
///
/// # Examples
///
/// ```
/// use baton_engine::{BoxError, Mode, Pipeline, ReplicaContext, Stage};
///
/// /// Tags every item with the replica that did it.
/// struct Tag(u32);
/// impl Stage<u64, (u32, u64)> for Tag {
///     fn open(&mut self, ctx: &ReplicaContext) -> Result<(), BoxError> {
///         assert_eq!(ctx.stage(), "tag");
///         self.0 = ctx.replica();
///         Ok(())
///     }
///     fn process(&mut self, item: u64, out: &mut Vec<(u32, u64)>) -> Result<(), BoxError> {
///         out.push((self.0, item));
///         Ok(())
///     }
/// }
///
/// let out = Pipeline::from_iter(0..100u64)
///     .stage("tag", Mode::parallel(2))
///     .apply(|| Ok(Tag(u32::MAX)))
///     .collect()
///     .unwrap();
/// assert!(out.iter().all(|(replica, _)| *replica < 2));
/// ```
#[derive(Clone, Debug)]
pub struct ReplicaContext {
    stage: Arc<str>,
    replica: u32,
    cancellation: Cancellation,
    off_thread_cpu: Option<OffThreadCpu>,
}

impl ReplicaContext {
    pub(crate) fn new(
        stage: Arc<str>,
        replica: u32,
        cancellation: Cancellation,
        off_thread_cpu: Option<OffThreadCpu>,
    ) -> Self {
        Self {
            stage,
            replica,
            cancellation,
            off_thread_cpu,
        }
    }

    /// A context for a replica made outside any run (tests, a stage used
    /// on its own): its cancellation is never set but by the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = baton_engine::ReplicaContext::detached("decode", 0);
    /// assert_eq!(ctx.stage(), "decode");
    /// assert!(!ctx.cancellation().is_cancelled());
    /// ```
    pub fn detached(stage: &str, replica: u32) -> Self {
        Self::new(Arc::from(stage), replica, Cancellation::new(), None)
    }

    /// The stage's name.
    ///
    /// # Examples
    ///
    /// See [`ReplicaContext`].
    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// The replica's number in its stage, from 0 (a replica made to replace
    /// one gets a new number).
    ///
    /// # Examples
    ///
    /// See [`ReplicaContext`].
    pub fn replica(&self) -> u32 {
        self.replica
    }

    /// Set when the run ends (see [`Cancellation`]).
    ///
    /// # Examples
    ///
    /// See [`ReplicaContext::detached`].
    pub fn cancellation(&self) -> &Cancellation {
        &self.cancellation
    }

    /// Where to tell the tuner of CPU spent for this replica outside its
    /// own thread (a worker process that does its work, see
    /// [`OffThreadCpu`]); `None` where nobody reads it: the stage is not
    /// blocking, or no stage of the run is on auto.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = baton_engine::ReplicaContext::detached("score", 0);
    /// assert!(ctx.off_thread_cpu().is_none());
    /// ```
    pub fn off_thread_cpu(&self) -> Option<&OffThreadCpu> {
        self.off_thread_cpu.as_ref()
    }
}
