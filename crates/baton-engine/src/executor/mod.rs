//! The executor: CPU worker threads that carry chunks through consecutive
//! stages, threads of their own for blocking stages, and a monitor.
//!
//! How a chunk moves. A worker that runs a stage on a chunk offers the
//! output straight to the next stage: if a replica is free and it is the
//! chunk's turn there, the same worker runs it at once, so an item flows
//! through consecutive stages on one thread with no hand-off (as oneTBB's
//! parallel_pipeline does). Only when the next stage cannot take it does the
//! chunk wait in that stage's queue (a reorder buffer for in-order stages).
//! A serial stage, once held, drains every chunk whose turn has come before
//! it lets go, so the serial bottleneck never idles while work is ready.
//!
//! Blocking stages. A stage that waits (on I/O, say) gets threads of its
//! own, so that many of its items can be in flight while the CPU workers
//! compute. When it is the first stage, its threads run the source
//! themselves and keep their replica from one chunk to the next; how many
//! of them keep cycling follows what the stages after can take (see
//! `feeder`), since every needless wake-up of such a thread costs a
//! system call and a core taken from the CPU stages.
//!
//! What bounds memory. Only the source makes chunks, and only while the
//! in-flight budget (items and chunks) has room and no stage's queue is over
//! its buffer; a chunk gives its share back when it leaves. Chunks never
//! vanish midway: a stage that drops items passes an empty chunk on, so a
//! reorder buffer downstream never waits for an index that will not come.
//!
//! How it ends. After its last chunk the source sends an end marker; serial
//! stages flush on it, after every chunk before it. The run is over when the
//! marker leaves the last stage, or on abort, or soon after the first
//! failure (fail-fast). A failure cuts the stream at the failing item's
//! chunk: the source makes no more, the chunks after it are dropped
//! wherever they are, and what the stage made of the items before the
//! failing one goes on as that chunk; the run ends, failed, once every chunk
//! before the cut has left the last stage. So a sink or an iterator gets
//! everything before the failing item, then the error, and nothing after it;
//! nothing waits that would not anyway (no retries, no backoff). Every wait
//! is on a [`signal::Signal`] that termination also wakes.

mod budget;
mod feeder;
pub(crate) mod memory;
mod monitor;
mod queue;
mod signal;
mod sizer;
mod slot;
mod snapshot;
mod source;
pub(crate) mod thread_times;
mod trace;
mod tuner;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::chunk::ChunkData;
use crate::config::Config;
use crate::dead_letters::{DeadLetterHandler, DeadLetters};
use crate::error::{DeadLetter, ItemFailure, PipelineError, StageFailure};
use crate::mode::ModeKind;
use crate::source::{Produced, Source, SourceStart};
use crate::stage::{Flow, Replica, StageSpec, Weigher};
use crate::stats::Span;
use budget::Budget;
pub(crate) use budget::Permit;
use feeder::{Feeder, WhenFull};
use monitor::Monitor;
use signal::Signal;
use sizer::ChunkSizer;
use slot::{Offer, ReplicaBox, StageSlot};
use source::SourceSlot;
use trace::SpanRecorder;

/// Which thread is carrying a chunk, and so which stages it may run at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Runner {
    /// A CPU worker: any stage but a blocking one.
    Cpu,
    /// A thread of blocking stage `s`: that stage only.
    Blocking(usize),
    /// None: the chunk is queued for whoever comes.
    Nobody,
}

impl Runner {
    fn may_run(self, slot: &StageSlot) -> bool {
        match self {
            Runner::Cpu => !slot.mode.is_blocking(),
            Runner::Blocking(s) => slot.index == s,
            Runner::Nobody => false,
        }
    }
}

/// A run of items moving together, with its place in the stream.
#[derive(Debug)]
pub(crate) struct Chunk {
    /// Position in the stream of chunks, from 0, contiguous.
    index: u64,
    /// The end-of-stream marker (always the last index).
    end: bool,
    data: ChunkData,
    /// What its items count for in the stats (see `Pipeline::count_by`).
    weight: u64,
    /// Time spent on this chunk so far, in every stage.
    cost_ns: u64,
    permit: Permit,
}

impl Chunk {
    /// Its position in the stream of chunks, from 0.
    pub(crate) fn index(&self) -> u64 {
        self.index
    }

    /// Whether it is the end-of-stream marker (the last chunk, with no items).
    pub(crate) fn is_end(&self) -> bool {
        self.end
    }

    /// Its items, and its share of the in-flight budget, which goes back
    /// when the permit is dropped.
    pub(crate) fn into_items<T: 'static>(self) -> (Vec<T>, Permit) {
        (self.data.into_vec::<T>().0, self.permit)
    }
}

/// What a turn at the source gave.
enum SourceTurn {
    /// A chunk (or the end marker) to carry on.
    Made(Chunk),
    /// The source failed; the run is failing.
    Failed,
    /// Every item taken failed and was skipped: worth another turn.
    Skipped,
    /// Nothing: no room, or the source is busy, waiting or done.
    Nothing,
}

/// Where chunks go after the last stage (the iterator's channel).
pub(crate) type Outlet = Box<dyn Fn(Chunk) + Send + Sync>;

const RUNNING: u8 = 0;
const FINISHED: u8 = 1;
const FAILED: u8 = 2;
const ABORTED: u8 = 3;

/// The cut of a run that no failure has cut.
const NO_CUT: u64 = u64::MAX;

/// How many times an idle CPU worker looks for new work before it parks
/// (some tens of microseconds).
const SPINS_BEFORE_PARKING: u32 = 2048;

/// How long a parked thread sleeps before it looks again anyway.
const PARK_BACKSTOP: Duration = Duration::from_millis(50);

/// The same for a blocking stage's threads, which are woken whenever they
/// are needed; many of them may be parked at once.
const BLOCKING_PARK_BACKSTOP: Duration = Duration::from_secs(1);

/// With a blocking first stage, a parked thread of it is woken when fewer
/// than this many chunks per CPU worker are past it, and a cycling one
/// parks when more than this many and half the room left are past it.
const FEEDER_LOW_WATER_PER_THREAD: usize = 4;

/// The chunks in flight when the user set no bound: 8 per worker, twice
/// the replicas of the blocking stages, and 8.
fn default_max_chunks(threads: usize, blocking_replicas: usize) -> usize {
    8 * threads + 2 * blocking_replicas + 8
}

/// The replicas a stage starts with: as the user set them, or, on auto,
/// one per worker thread until the tuner has measured the run.
fn start_limit(mode: crate::Mode, threads: usize) -> usize {
    if mode.is_auto() {
        threads
    } else {
        mode.replicas()
    }
}

/// Past how many chunks beyond a blocking first stage one of its threads
/// leaves the cycle (see `feeder`): half-way from the low mark to what the
/// budget leaves beside the stage's own replicas.
fn feeder_high(low: usize, max_chunks: usize, replicas: usize) -> usize {
    low + max_chunks.saturating_sub(low + replicas) / 2
}

/// A running pipeline: its stages, its source, its threads. Everything
/// outside the executor reaches it through the methods below (start, stop,
/// abort, join, snapshot, report, replicas, in-flight budget, dead
/// letters); its state stays private, so that autotuning and remote queues
/// can plug in behind the same face.
pub(crate) struct Run {
    config: Config,
    source: SourceSlot,
    /// The stage whose output items are the run's items (the source's if
    /// `None`).
    run_counted_after: Option<usize>,
    stages: Vec<StageSlot>,
    cpu: Arc<Signal>,
    /// Wakes the monitor when the run ends.
    monitor_signal: Signal,
    budget: Arc<Budget>,
    sizer: ChunkSizer,
    state: AtomicU8,
    error: Mutex<Option<PipelineError>>,
    /// Set when the run ends: every replica's [`crate::Cancellation`].
    stopping: Arc<AtomicBool>,
    /// Set when a failure cuts the run, or when it ends: no more retries.
    winding_down: Arc<AtomicBool>,
    /// The first chunk index that goes no further, once a failure has cut
    /// the run ([`NO_CUT`] until then); only ever lowered.
    cut: AtomicU64,
    /// Chunks the source has made (the end marker included): once the run
    /// is cut, it is over when as many have left or been dropped.
    chunks_made: AtomicU64,
    outlet: Option<Outlet>,
    /// Chunks that have left the last stage (or been dropped past a cut),
    /// and the end marker's index once it has left: the run is over when
    /// every chunk up to it has left.
    left: AtomicU64,
    end_index: AtomicU64,
    on_terminate: Mutex<Vec<Box<dyn FnOnce() + Send>>>,
    started: Instant,
    ended_at: Mutex<Option<Instant>>,
    /// Wakes whoever waits for the run to end ([`Run::wait_done`]).
    ended: Condvar,
    trace: Option<SpanRecorder>,
    dead_letters: Arc<DeadLetters>,
    monitor: Monitor,
    threads: Mutex<Vec<JoinHandle<()>>>,
    blocking_threads: Vec<AtomicUsize>,
    /// When a streaming source wants to be looked at again even if no item
    /// arrives (its linger runs out), in ns from the start; 0: never.
    source_deadline_ns: AtomicU64,
    /// Whether the source is a stream whose arrivals wake the run (set at
    /// the first): its runners then wake each other one at a time.
    source_streams: AtomicBool,
    /// The CPU workers' time on a core and waiting for one, in ns, as
    /// they read it themselves (tuned runs only; see `thread_times`).
    worker_on_cpu_ns: AtomicU64,
    worker_runnable_ns: AtomicU64,
    /// Whether any stage is tuned ([`crate::Mode::auto`]).
    tuned: bool,
    /// The bound on items in flight the user set (the memory guard may
    /// hold the run below it), and the items the stages hold themselves
    /// (batches, shuffle buffers) on top of it.
    user_max_in_flight: AtomicUsize,
    extra_in_flight: usize,
    /// The user set a new bound: the memory guard starts over from it.
    user_bound_moved: AtomicBool,
    /// Chunks in flight the tuner added for the queues it deepened.
    extra_chunks: AtomicUsize,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("stages", &self.stages)
            .finish_non_exhaustive()
    }
}

/// Everything the builder hands the executor.
pub(crate) struct Plan {
    pub(crate) config: Config,
    pub(crate) source_name: Arc<str>,
    pub(crate) source_policy: crate::OnError,
    pub(crate) source: Box<dyn Source>,
    pub(crate) stages: Vec<StageSpec>,
    /// Where skipped items go as they happen; kept for the report if none.
    pub(crate) dead_letter_handler: Option<DeadLetterHandler>,
    /// How the source's items count in the stats (one each if unset).
    pub(crate) source_weigh: Option<Weigher>,
    /// The stage whose output items are the run's items (the source's if
    /// `None`).
    pub(crate) run_counted_after: Option<usize>,
    /// The largest item type's size, in bytes.
    pub(crate) item_bytes: usize,
}

/// Which stages run fused into which (plan optimisation): each stage's
/// head, the first of the run of adjacent stages it runs with, or `None`
/// if it runs on its own. Adjacent stages fuse when both are parallel,
/// neither blocking nor tuned, of the same mode (so the same replicas) and
/// error policy, with no bounded queue in front of the second and neither
/// switched off ([`crate::StageBuilder::fuse`]). Serial stages do not: they
/// can hold items from one chunk to the next and flush them at the end.
fn fusion_plan(stages: &[StageSpec], on: bool) -> Vec<Option<usize>> {
    let mut heads: Vec<Option<usize>> = vec![None; stages.len()];
    if !on {
        return heads;
    }
    for i in 1..stages.len() {
        let (before, this) = (&stages[i - 1], &stages[i]);
        let fuses = before.fuse
            && this.fuse
            && before.mode == this.mode
            && this.mode.kind() == ModeKind::Parallel
            && !this.mode.is_blocking()
            && !this.mode.is_auto()
            && before.policy == this.policy
            && this.buffer.is_none()
            && !this.buffer_auto
            && before.extra_in_flight == 0
            && this.extra_in_flight == 0;
        if fuses {
            heads[i] = Some(heads[i - 1].unwrap_or(i - 1));
        }
    }
    heads
}

impl Run {
    /// Builds the run and starts its threads.
    ///
    /// # Errors
    ///
    /// [`PipelineError::Build`] when a thread cannot be started (the threads
    /// already started are stopped and joined first).
    pub(crate) fn start(plan: Plan, outlet: Option<Outlet>) -> Result<Arc<Run>, PipelineError> {
        let Plan {
            config,
            source_name,
            source_policy,
            source,
            stages,
            dead_letter_handler,
            source_weigh,
            run_counted_after,
            item_bytes,
        } = plan;
        let cpu = Arc::new(Signal::default());
        let stopping = Arc::new(AtomicBool::new(false));
        let winding_down = Arc::new(AtomicBool::new(false));
        let dead_letters = Arc::new(DeadLetters::new(
            dead_letter_handler,
            config.keep_dead_letters,
        ));
        let buffers = Arc::new(crate::chunk::BufferPool::default());
        // What a tuned run reads of its blocking stages' threads it reads
        // of the processes that work for them too.
        let tuned = stages.iter().any(|s| s.mode.is_auto());
        let context = |name: Arc<str>, policy, measured: bool| {
            let counters: Arc<crate::stage::StageCounters> = Arc::default();
            crate::stage::StageContext {
                name,
                policy,
                dead_letters: Arc::clone(&dead_letters),
                off_thread_cpu: measured.then(|| crate::OffThreadCpu::new(Arc::clone(&counters))),
                counters,
                stopping: Arc::clone(&stopping),
                winding_down: Arc::clone(&winding_down),
                buffers: Arc::clone(&buffers),
            }
        };
        let blocking_replicas: usize = stages
            .iter()
            .filter(|s| s.mode.is_blocking())
            .map(|s| start_limit(s.mode, config.threads))
            .sum();
        let extra: usize = stages.iter().map(|s| s.extra_in_flight).sum();
        let floors: Vec<crate::ChunkFloor> =
            stages.iter().filter_map(|s| s.min_chunk.clone()).collect();
        let max_chunks = config
            .max_chunks_in_flight
            .unwrap_or(default_max_chunks(config.threads, blocking_replicas));
        let fused_into = fusion_plan(&stages, config.fusion);
        // A stage counts its items as the closest `count_by` before it
        // does, while its items are of that type.
        let mut weigh = source_weigh.clone();
        let mut slots: Vec<StageSlot> = stages
            .into_iter()
            .enumerate()
            .map(|(i, spec)| {
                weigh = spec.weigh.or(weigh.take());
                StageSlot::new(
                    i,
                    spec.mode,
                    start_limit(spec.mode, config.threads),
                    spec.buffer,
                    spec.buffer_auto,
                    context(spec.name, spec.policy, tuned && spec.mode.is_blocking()),
                    spec.factory,
                    weigh.clone(),
                )
            })
            .collect();
        for (i, head) in fused_into.iter().enumerate() {
            if let Some(head) = *head {
                slots[i].fused_into = Some(head);
                slots[head].followers.end = i + 1;
            }
        }
        // A blocking first stage's threads run the source themselves.
        let feeder = slots.first().filter(|s| s.mode.is_blocking()).map(|first| {
            let low = FEEDER_LOW_WATER_PER_THREAD * config.threads;
            let high = feeder_high(low, max_chunks, first.limit.load(Ordering::Relaxed));
            Feeder::new(
                low,
                high,
                Arc::clone(&first.signal),
                Arc::clone(&first.ctx.counters),
            )
        });
        let budget = Arc::new(Budget::new(
            config.max_in_flight + extra,
            max_chunks,
            Arc::clone(&cpu),
            feeder,
        ));
        let stage_count = slots.len();
        let user_max_in_flight = config.max_in_flight + extra;
        let run = Arc::new(Run {
            sizer: ChunkSizer::new(
                config.chunk_target.as_nanos() as f64,
                floors,
                config.chunk_bound(item_bytes),
            ),
            source: SourceSlot::new(
                context(source_name, source_policy, false),
                source,
                source_weigh,
            ),
            run_counted_after,
            monitor: Monitor::new(stage_count),
            trace: config
                .trace
                .then(|| SpanRecorder::new(config.max_trace_spans)),
            config,
            stages: slots,
            cpu,
            monitor_signal: Signal::default(),
            budget,
            state: AtomicU8::new(RUNNING),
            error: Mutex::new(None),
            stopping,
            winding_down,
            cut: AtomicU64::new(NO_CUT),
            chunks_made: AtomicU64::new(0),
            outlet,
            left: AtomicU64::new(0),
            end_index: AtomicU64::new(u64::MAX),
            on_terminate: Mutex::new(Vec::new()),
            started: Instant::now(),
            ended_at: Mutex::new(None),
            ended: Condvar::new(),
            dead_letters,
            threads: Mutex::new(Vec::new()),
            blocking_threads: (0..stage_count).map(|_| Default::default()).collect(),
            source_deadline_ns: AtomicU64::new(0),
            source_streams: AtomicBool::new(false),
            worker_on_cpu_ns: AtomicU64::new(0),
            worker_runnable_ns: AtomicU64::new(0),
            tuned,
            user_max_in_flight: AtomicUsize::new(user_max_in_flight),
            extra_in_flight: extra,
            user_bound_moved: AtomicBool::new(false),
            extra_chunks: AtomicUsize::new(0),
        });
        tuner::Tuner::start(&run);
        if let Err(error) = run.start_threads() {
            run.abort();
            run.join_threads();
            return Err(error);
        }
        Ok(run)
    }

    /// Starts the source's own threads (a streaming source's reader), then
    /// the CPU workers, the monitor and every blocking stage's threads.
    fn start_threads(self: &Arc<Self>) -> Result<(), PipelineError> {
        let waker = Arc::downgrade(self);
        let start = SourceStart {
            wake: Box::new(move || {
                if let Some(run) = waker.upgrade() {
                    run.wake_for_arrival();
                }
            }),
            linger: self.config.linger,
        };
        self.source.start(start).map_err(|error| {
            PipelineError::Build(format!("cannot start the source's reader: {error}"))
        })?;
        for worker in 0..self.config.threads {
            let me = Arc::clone(self);
            self.spawn(format!("baton-worker-{worker}"), move || me.cpu_worker())?;
        }
        let me = Arc::clone(self);
        self.spawn("baton-monitor".into(), move || monitor::run(&me))?;
        for s in 0..self.stages.len() {
            if self.stages[s].mode.is_blocking() {
                self.ensure_blocking_threads(s)?;
            }
        }
        Ok(())
    }

    /// Starts a thread of the run; it is joined when the run is.
    fn spawn(
        &self,
        name: String,
        body: impl FnOnce() + Send + 'static,
    ) -> Result<(), PipelineError> {
        // A stage's name may hold anything; a thread's may not hold a NUL.
        let name = name.replace('\0', "?");
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn(body)
            .map_err(|error| {
                PipelineError::Build(format!("cannot start the thread `{name}`: {error}"))
            })?;
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(thread);
        Ok(())
    }

    /// Spawns threads for a blocking stage up to its replica limit.
    fn ensure_blocking_threads(self: &Arc<Self>, s: usize) -> Result<(), PipelineError> {
        let limit = self.stages[s].limit.load(Ordering::Acquire);
        while self.blocking_threads[s].load(Ordering::Acquire) < limit {
            let nth = self.blocking_threads[s].fetch_add(1, Ordering::AcqRel);
            let me = Arc::clone(self);
            let name = format!("baton-{}-{nth}", self.stages[s].ctx.name);
            if let Err(error) = self.spawn(name, move || me.blocking_worker(s)) {
                self.blocking_threads[s].fetch_sub(1, Ordering::AcqRel);
                return Err(error);
            }
        }
        Ok(())
    }

    /// Whether the tuner has stages to tune ([`crate::Mode::auto`]).
    fn is_tuned(&self) -> bool {
        self.tuned
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state.load(Ordering::Acquire) != RUNNING
    }

    /// Waits until the run has ended or `timeout` has passed; whether it
    /// has ended.
    pub(crate) fn wait_done(&self, timeout: Duration) -> bool {
        let ended_at = self.ended_at.lock().unwrap_or_else(|e| e.into_inner());
        let (ended_at, _) = self
            .ended
            .wait_timeout_while(ended_at, timeout, |ended_at| ended_at.is_none())
            .unwrap_or_else(|e| e.into_inner());
        ended_at.is_some()
    }

    /// Whether the run ended because every chunk left the last stage.
    pub(crate) fn has_finished(&self) -> bool {
        self.state.load(Ordering::Acquire) == FINISHED
    }

    /// Registers something to run when the run ends (at once if it has).
    pub(crate) fn on_terminate(&self, hook: Box<dyn FnOnce() + Send>) {
        let mut hooks = self.on_terminate.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_done() {
            drop(hooks);
            hook();
        } else {
            hooks.push(hook);
        }
    }

    /// Waits for every thread of the run to end, then gives the run's
    /// error, if it failed or was aborted (once: later calls give `None`).
    pub(crate) fn join(&self) -> Option<PipelineError> {
        self.join_threads();
        self.error.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Waits for every thread of the run.
    fn join_threads(&self) {
        loop {
            let threads =
                std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
            if threads.is_empty() {
                return;
            }
            for thread in threads {
                // A worker never panics on user code (it is caught); if one
                // did, the run has already failed or ended.
                let _ = thread.join();
            }
        }
    }

    /// Takes the dead letters kept so far (none are kept when a handler
    /// takes them as they happen).
    pub(crate) fn take_dead_letters(&self) -> Vec<DeadLetter> {
        self.dead_letters.take()
    }

    /// Sets the replica limit of the stage named `stage` while the run goes on.
    ///
    /// # Errors
    ///
    /// [`PipelineError::Build`] when no stage has that name, or a blocking
    /// stage's new thread cannot start.
    pub(crate) fn set_replicas(
        self: &Arc<Self>,
        stage: &str,
        replicas: usize,
    ) -> Result<(), PipelineError> {
        let s = self
            .stages
            .iter()
            .position(|slot| &*slot.ctx.name == stage)
            .ok_or_else(|| PipelineError::Build(format!("no stage is named `{stage}`")))?;
        if let Some(head) = self.stages[s].fused_into {
            let head = &self.stages[head].ctx.name;
            return Err(PipelineError::Build(format!(
                "stage `{stage}` runs fused into `{head}`, with its replicas: set those of \
                 `{head}`, or keep `{stage}` apart (`fuse(false)`) to give it its own"
            )));
        }
        // The stages fused into this one ride with its replicas.
        for f in self.stages[s].followers.clone().chain([s]) {
            self.stages[f].set_limit(replicas);
        }
        let started = if self.stages[s].mode.is_blocking() {
            self.ensure_blocking_threads(s)
        } else {
            Ok(())
        };
        self.fit_chunk_bound_to_replicas();
        self.cpu.notify_all();
        self.stages[s].signal.notify_all();
        started
    }

    /// After the tuner changed replicas: starts the threads a blocking
    /// stage now needs and moves the chunk bound with the blocking replicas
    /// (unless the user set it). No parked thread is woken: a blocking
    /// stage's are woken as the stages after it need them (see `feeder`),
    /// and waking hundreds at once would flood the stages after.
    fn after_replicas_changed(self: &Arc<Self>) {
        for (s, slot) in self.stages.iter().enumerate() {
            if slot.mode.is_blocking() && self.ensure_blocking_threads(s).is_err() {
                // No more threads to be had: as many replicas as threads.
                slot.set_limit(self.blocking_threads[s].load(Ordering::Acquire));
            }
        }
        self.fit_chunk_bound_to_replicas();
        self.cpu.notify_all();
    }

    /// Moves the chunk bound with the blocking replicas, and the feeder's
    /// high mark with it (unless the user set the bound): whoever changed
    /// the replicas, the user or the tuner.
    fn fit_chunk_bound_to_replicas(&self) {
        if self.config.max_chunks_in_flight.is_none() {
            let blocking: usize = self
                .stages
                .iter()
                .filter(|s| s.mode.is_blocking())
                .map(|s| s.limit.load(Ordering::Relaxed))
                .sum();
            let max_chunks = default_max_chunks(self.config.threads, blocking)
                + self.extra_chunks.load(Ordering::Relaxed);
            self.budget.set_max_chunks(max_chunks);
            if let (Some(feeder), Some(first)) = (&self.budget.feeder, self.stages.first()) {
                let low = FEEDER_LOW_WATER_PER_THREAD * self.config.threads;
                let replicas = first.limit.load(Ordering::Relaxed);
                feeder.set_high(feeder_high(low, max_chunks, replicas));
            }
        }
    }

    /// Sets the most items in flight while the run goes on.
    pub(crate) fn set_max_in_flight(&self, items: usize) {
        self.user_max_in_flight
            .store(items.max(1), Ordering::Relaxed);
        self.user_bound_moved.store(true, Ordering::Relaxed);
        self.budget.set_max_items(items.max(1));
        self.wake_source_runners();
    }

    /// Stops the source; what is in flight still drains to the sink.
    pub(crate) fn stop(&self) {
        self.source.stop.store(true, Ordering::Release);
        self.wake_source_runners();
    }

    /// Whether the threads of a blocking first stage run the source (the
    /// CPU workers then leave it to them).
    fn source_fed_by_blocking(&self) -> bool {
        self.stages.first().is_some_and(|s| s.mode.is_blocking())
    }

    /// A streaming source's input has come (or ended): wakes one thread
    /// that runs the source, not all of them (each arrival woke every
    /// parked thread of a wide blocking stage once: up to 0.6 of a core on
    /// a stream of 200 items a second). The woken thread, once it has made
    /// a chunk, wakes the next (see [`Run::source_turn`]), and the chain
    /// stops at the first that finds the stream dry.
    fn wake_for_arrival(&self) {
        self.source_streams.store(true, Ordering::Relaxed);
        if self.source_fed_by_blocking() {
            self.stages[0].signal.notify();
            if let Some(feeder) = &self.budget.feeder {
                feeder.room.notify();
            }
        } else {
            self.cpu.notify();
        }
    }

    /// Wakes whoever runs the source, to send the end marker or go on.
    fn wake_source_runners(&self) {
        self.cpu.notify_all();
        if self.source_fed_by_blocking() {
            self.stages[0].signal.notify_all();
            if let Some(feeder) = &self.budget.feeder {
                feeder.room.notify_all();
            }
        }
    }

    /// Ends the run now, dropping what is in flight.
    pub(crate) fn abort(&self) {
        {
            let mut error = self.error.lock().unwrap_or_else(|e| e.into_inner());
            if !self.is_done() && error.is_none() {
                *error = Some(PipelineError::Aborted);
            }
        }
        self.terminate(ABORTED);
    }

    /// Whether a failure has cut the run (it is draining what came before
    /// the failing item, or has ended).
    fn is_failing(&self) -> bool {
        self.cut.load(Ordering::SeqCst) != NO_CUT
    }

    /// Whether the chunk of this index is past a failure's cut: it goes no
    /// further, and none of its items is handed out.
    pub(crate) fn is_cut(&self, index: u64) -> bool {
        index >= self.cut.load(Ordering::SeqCst)
    }

    /// A failure in `stage` fails the run from chunk `cut` on: the source
    /// makes no more, the chunks from `cut` on are dropped wherever they
    /// are, and the run ends once every chunk before it has left (see
    /// [`Run::count_left`]). The run's error is the failure of the first
    /// item, in source order, that failed: a failure that comes later in
    /// time but earlier in the items moves the cut back and becomes the
    /// error (else a run whose output stops before item 48 could say it
    /// failed on item 75, and which one it said would depend on timing),
    /// unless the run's end cut it short (its retries stopped because the
    /// run was failing).
    /// Returns whether the cut is now `cut` (else the failure came too
    /// late: the run had ended, or was already cut before it).
    fn fail_from(&self, stage: &str, failure: ItemFailure, cut: u64) -> bool {
        {
            let mut error = self.error.lock().unwrap_or_else(|e| e.into_inner());
            // Only an earlier failure moves the cut back. One at the same
            // cut is in what was passed on at it (the items before the
            // failing one of the same chunk), so earlier still.
            if self.is_done() || cut > self.cut.load(Ordering::SeqCst) {
                return false;
            }
            let replaces = match *error {
                None => true,
                // A failure the run's end cut short is no cause of it.
                Some(PipelineError::Stage { .. }) => !failure.cut_short,
                Some(_) => false,
            };
            if replaces {
                *error = Some(PipelineError::Stage {
                    stage: stage.to_string(),
                    seq: failure.seq,
                    failure: failure.failure,
                });
            }
            self.cut.store(cut, Ordering::SeqCst);
        }
        self.winding_down.store(true, Ordering::Release);
        for slot in &self.stages {
            for chunk in slot.purge(cut) {
                self.retire(chunk);
            }
        }
        true
    }

    /// Stage `s` failed on an item of `chunk`, which holds what the stage
    /// made of the items before it (nothing, if the stage could not take
    /// the chunk): those go on downstream, ahead of the end of the run
    /// (which waits for them), and nothing after them does.
    fn fail_chunk(&self, s: usize, mut failure: ItemFailure, mut chunk: Chunk) {
        let slot = &self.stages[s];
        let done = std::mem::replace(&mut failure.done, ChunkData::empty());
        if !done.is_empty() {
            chunk.data = done;
            chunk.weight = slot.weigh(&chunk.data);
        }
        let name = Arc::clone(&slot.ctx.name);
        if self.fail_from(&name, failure, chunk.index + 1) && !chunk.data.is_empty() {
            // No longer the end marker, if it was: no stage after is to
            // flush as if the stream had ended.
            chunk.end = false;
            self.forward(s + 1, chunk, Runner::Nobody);
        } else {
            self.retire(chunk);
        }
        if slot.queued_chunks.load(Ordering::Acquire) > 0 {
            // Chunks before the cut may wait for the replica it had.
            self.wake(slot);
        }
    }

    /// Drops a chunk past a failure's cut (or one that failed), counting it
    /// as gone.
    fn retire(&self, chunk: Chunk) {
        drop(chunk);
        self.count_left();
    }

    /// Counts a chunk gone (left or dropped); ends the run when it was the
    /// last: the end marker's, or, once the run is cut, the last of those
    /// made.
    fn count_left(&self) {
        let left = self.left.fetch_add(1, Ordering::SeqCst) + 1;
        if self.is_failing() {
            if left == self.chunks_made.load(Ordering::SeqCst) {
                self.terminate(FAILED);
            }
        } else if left == self.end_index.load(Ordering::SeqCst).wrapping_add(1) {
            self.terminate(FINISHED);
        }
    }

    fn terminate(&self, state: u8) {
        if self
            .state
            .compare_exchange(RUNNING, state, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        *self.ended_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.ended.notify_all();
        self.winding_down.store(true, Ordering::Release);
        self.stopping.store(true, Ordering::Release);
        if state != FINISHED {
            for slot in &self.stages {
                slot.clear();
            }
        }
        self.cpu.notify_all();
        self.monitor_signal.notify_all();
        if let Some(feeder) = &self.budget.feeder {
            feeder.room.notify_all();
        }
        for slot in &self.stages {
            slot.signal.notify_all();
        }
        let hooks =
            std::mem::take(&mut *self.on_terminate.lock().unwrap_or_else(|e| e.into_inner()));
        for hook in hooks {
            hook();
        }
    }

    fn cpu_worker(self: Arc<Self>) {
        while !self.is_done() {
            let seen = self.cpu.prepare();
            if self.find_and_run() {
                continue;
            }
            if self.is_done() {
                break;
            }
            if self.cpu.spin_for(seen, SPINS_BEFORE_PARKING) {
                continue;
            }
            self.cpu.wait(seen, self.park_timeout(PARK_BACKSTOP));
        }
    }

    fn blocking_worker(self: Arc<Self>, s: usize) {
        let slot = &self.stages[s];
        // A parallel first stage's threads feed themselves from the source
        // and keep their replica from one chunk to the next: no queue and
        // no lock of the stage on the way.
        let feeds_itself = s == 0 && slot.mode.kind() == ModeKind::Parallel;
        let mut kept: Option<ReplicaBox> = None;
        while !self.is_done() {
            let seen = slot.signal.prepare();
            if kept.is_some() && slot.over_limit() {
                slot.release(kept.take().expect("checked"), false);
            }
            if slot.queued_chunks.load(Ordering::Acquire) > 0 {
                if let Some(replica) = kept.take() {
                    slot.release(replica, false);
                }
                match slot.take_ready() {
                    Ok(Some((replica, chunk))) => {
                        self.drive(s, replica, chunk, Runner::Blocking(s));
                        continue;
                    }
                    Ok(None) => {}
                    Err((failure, chunk)) => {
                        self.fail_unclaimed(s, failure, chunk);
                        return;
                    }
                }
            }
            if let (true, Some(feeder)) = (feeds_itself, &self.budget.feeder) {
                if kept.is_some() && feeder.should_leave() {
                    // The stages after have plenty: one thread fewer.
                    slot.release(kept.take().expect("checked"), false);
                    slot.signal.wait(seen, BLOCKING_PARK_BACKSTOP);
                    continue;
                }
                let room_seen = feeder.room.prepare();
                if self.feed_kept(slot, &mut kept) {
                    continue;
                }
                if kept.is_some()
                    && self.source_wants_room()
                    && feeder.when_full() == WhenFull::Wait
                {
                    feeder.wait_for_room(room_seen, BLOCKING_PARK_BACKSTOP, || {
                        self.source_has_room() || !self.source_wants_room()
                    });
                    continue;
                }
            } else if s == 0 && self.run_source(Runner::Blocking(s)) {
                // A blocking stage right after the source feeds itself: no
                // other thread has to wake this one for each new chunk.
                continue;
            }
            if let Some(replica) = kept.take() {
                slot.release(replica, false);
            }
            let backstop = if s == 0 {
                self.park_timeout(BLOCKING_PARK_BACKSTOP)
            } else {
                BLOCKING_PARK_BACKSTOP
            };
            slot.signal.wait(seen, backstop);
        }
        if let Some(replica) = kept.take() {
            slot.release(replica, false);
        }
    }

    /// Whether a self-feeding first stage, past its start (every replica
    /// could have had a chunk), has fewer than half its replicas cycling:
    /// the stages after it are the bottleneck, and it has threads to spare.
    fn has_spare_feeders(&self) -> bool {
        let first = &self.stages[0];
        let limit = first.limit.load(Ordering::Relaxed);
        first.mode.kind() == ModeKind::Parallel
            && first.ctx.counters.chunks.load(Ordering::Relaxed) >= limit as u64
            && 2 * first.active.load(Ordering::Relaxed) < limit
    }

    /// Whether the source has items to make and waits for room only.
    fn source_wants_room(&self) -> bool {
        let done = self.source.is_done()
            || self.source.wants_to_end()
            || self.is_done()
            || self.is_failing();
        !done && !self.source_has_room()
    }

    /// Takes a chunk from the source and runs the first stage on it with the
    /// kept replica (claimed first if need be). Returns whether it did
    /// anything.
    fn feed_kept(self: &Arc<Self>, slot: &StageSlot, kept: &mut Option<ReplicaBox>) -> bool {
        let runner = Runner::Blocking(0);
        let chunk = match self.source_turn(runner) {
            SourceTurn::Made(chunk) => chunk,
            SourceTurn::Failed | SourceTurn::Skipped => return true,
            SourceTurn::Nothing => return false,
        };
        if kept.is_none() {
            match slot.claim_kept() {
                Ok(Some(replica)) => *kept = Some(replica),
                Ok(None) => {
                    // Closed, or at the limit: the usual way.
                    self.carry(0, chunk, runner);
                    return true;
                }
                Err(failure) => {
                    self.fail_unclaimed(0, failure, Some(chunk));
                    return true;
                }
            }
        }
        let replica = kept.as_mut().expect("claimed above");
        if self.is_done() {
            return true;
        }
        match self.execute(slot, replica, chunk) {
            Ok((out, after)) => {
                self.forward(after, out, Runner::Nobody);
            }
            Err(failed) => {
                let (at, failure, chunk) = *failed;
                self.fail_chunk(at, failure, chunk);
            }
        }
        true
    }

    /// Looks for one piece of work and does it: serial stages first (the
    /// likely bottleneck), downstream first (to drain before filling), then
    /// the source (a serial stage too: keeping the pipeline full while the
    /// budget has room keeps blocking stages busy), then parallel stages.
    fn find_and_run(self: &Arc<Self>) -> bool {
        let runnable = |slot: &&StageSlot| !slot.mode.is_blocking() && slot.looks_runnable();
        for slot in self
            .stages
            .iter()
            .rev()
            .filter(|s| s.is_serial())
            .filter(runnable)
        {
            if self.take_and_drive(slot) {
                return true;
            }
        }
        if self.run_source(Runner::Cpu) {
            return true;
        }
        for slot in self
            .stages
            .iter()
            .rev()
            .filter(|s| !s.is_serial())
            .filter(runnable)
        {
            if self.take_and_drive(slot) {
                return true;
            }
        }
        false
    }

    fn take_and_drive(self: &Arc<Self>, slot: &StageSlot) -> bool {
        match slot.take_ready() {
            Ok(Some((replica, chunk))) => {
                self.drive(slot.index, replica, chunk, Runner::Cpu);
                true
            }
            Ok(None) => false,
            Err((failure, chunk)) => {
                self.fail_unclaimed(slot.index, failure, chunk);
                true
            }
        }
    }

    /// No replica of stage `s` could be made for `chunk`: its items fail,
    /// at the first of them.
    fn fail_unclaimed(&self, s: usize, failure: StageFailure, chunk: Option<Chunk>) {
        let name = &self.stages[s].ctx.name;
        match chunk {
            Some(chunk) => {
                let failure = ItemFailure::new(chunk.data.seqs.get(0), failure);
                self.fail_chunk(s, failure, chunk.emptied());
            }
            None => {
                let cut = self.chunks_made.load(Ordering::SeqCst);
                self.fail_from(name, ItemFailure::new(0, failure), cut);
                self.check_drained();
            }
        }
    }

    /// Ends a cut run if every chunk it made has gone.
    fn check_drained(&self) {
        if self.is_failing()
            && self.left.load(Ordering::SeqCst) == self.chunks_made.load(Ordering::SeqCst)
        {
            self.terminate(FAILED);
        }
    }

    fn source_has_room(&self) -> bool {
        self.budget.has_room() && !self.stages.iter().any(StageSlot::is_full)
    }

    /// Makes the next chunk (or the end marker) if the source is free and
    /// the budget has room, and carries it on.
    fn run_source(self: &Arc<Self>, runner: Runner) -> bool {
        match self.source_turn(runner) {
            SourceTurn::Made(chunk) => {
                self.carry(0, chunk, runner);
                true
            }
            SourceTurn::Failed | SourceTurn::Skipped => true,
            SourceTurn::Nothing => false,
        }
    }

    /// Makes the next chunk (or the end marker) if the source is free and
    /// the budget has room.
    fn source_turn(self: &Arc<Self>, runner: Runner) -> SourceTurn {
        if self.source.is_done() || self.is_done() || self.is_failing() {
            return SourceTurn::Nothing;
        }
        if runner == Runner::Cpu && self.source_fed_by_blocking() {
            return SourceTurn::Nothing;
        }
        let ending = self.source.wants_to_end();
        if !ending && !self.source_has_room() {
            return SourceTurn::Nothing;
        }
        // A blocking stage's thread waits its turn: had it given up, it
        // would park, and be woken later at some random moment.
        let mut inner = match runner {
            Runner::Blocking(_) => self.source.inner.lock().unwrap_or_else(|e| e.into_inner()),
            _ => match self.source.inner.try_lock() {
                Ok(inner) => inner,
                Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return SourceTurn::Nothing,
            },
        };
        // Looked at under the lock: once a failure has cut the run, no chunk
        // is made (one made as it cuts is counted, and dropped past the cut).
        if self.source.is_done() || self.is_failing() {
            return SourceTurn::Nothing;
        }
        let mut failed = None;
        if !inner.exhausted {
            let mut size = self.sizer.next_size();
            if runner == Runner::Blocking(0) && self.has_spare_feeders() {
                // Items that wait travel alone, so that every thread has
                // one; with half the threads idle, two to a chunk halve the
                // engine's work per item on them and after them.
                size = size.max(2);
            }
            let Some(mut permit) = self.budget.acquire(size) else {
                return SourceTurn::Nothing;
            };
            // Read before it is written: the field shares a cache line with
            // what every thread reads, and is rarely set.
            if self.source_deadline_ns.load(Ordering::Relaxed) != 0 {
                self.source_deadline_ns.store(0, Ordering::Relaxed);
            }
            let start = Instant::now();
            let mut next_seq = inner.next_seq;
            let first_seq = next_seq;
            let ctx = &self.source.ctx;
            let result = if ending {
                inner.source.drain(permit.items(), &mut next_seq, ctx)
            } else {
                inner.source.produce(permit.items(), &mut next_seq, ctx)
            };
            inner.next_seq = next_seq;
            let elapsed = start.elapsed();
            self.source
                .busy_ns
                .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
            let (data, exhausted) = match result {
                Ok(Produced::Items(data, exhausted)) => {
                    if let Some(since) = inner.dry_since.take() {
                        let dry = start.saturating_duration_since(since);
                        self.source
                            .dry_ns
                            .fetch_add(dry.as_nanos() as u64, Ordering::Relaxed);
                    }
                    (data, exhausted)
                }
                Ok(Produced::Waiting(until)) => {
                    self.source.dry_turns.fetch_add(1, Ordering::Relaxed);
                    inner.dry_since.get_or_insert(start);
                    if let Some(until) = until {
                        let at = until.saturating_duration_since(self.started);
                        self.source_deadline_ns
                            .store((at.as_nanos() as u64).max(1), Ordering::Relaxed);
                    }
                    permit.give_back_unused();
                    return SourceTurn::Nothing;
                }
                Err(mut failure) => {
                    let done = std::mem::replace(&mut failure.done, ChunkData::empty());
                    if done.is_empty() {
                        let cut = inner.next_index;
                        drop(inner);
                        self.fail_from(&self.source.ctx.name, failure, cut);
                        self.check_drained();
                        return SourceTurn::Failed;
                    }
                    // The items taken before the failed one go on, as the
                    // last chunk.
                    failed = Some(failure);
                    (done, false)
                }
            };
            inner.exhausted = exhausted;
            let items = data.len();
            let weight = self.source.weigh(&data);
            self.source.made.fetch_add(weight, Ordering::Relaxed);
            if self.run_counted_after.is_none() {
                self.source.items.fetch_add(weight, Ordering::Relaxed);
            }
            if items > 0 {
                permit.shrink_to(items);
                let index = inner.next_index;
                inner.next_index += 1;
                self.chunks_made.fetch_add(1, Ordering::SeqCst);
                drop(inner);
                if !exhausted
                    && matches!(runner, Runner::Blocking(_))
                    && self.source_streams.load(Ordering::Relaxed)
                {
                    // The stream may have more: the next thread looks (a
                    // thread woken for an arrival wakes the next).
                    self.stages[0].signal.notify();
                }
                if !exhausted && runner == Runner::Cpu {
                    // This thread now carries the chunk through the stages
                    // after the source; another reads the next, so that
                    // reading overlaps with parsing (a source that costs
                    // as much as its parse would otherwise run on one
                    // thread at a time). A spinning thread is told too: it
                    // watches the epoch only, and would otherwise spin on
                    // and park while this one carried every chunk through
                    // every stage alone (W1 ran on one core that way).
                    self.cpu.notify();
                }
                self.record_span(0, 0, index, first_seq, items, start, elapsed);
                let chunk = Chunk {
                    index,
                    end: false,
                    data,
                    weight,
                    cost_ns: elapsed.as_nanos() as u64,
                    permit,
                };
                if let Some(failure) = failed {
                    if !self.fail_from(&self.source.ctx.name, failure, index + 1) {
                        // Too late: the run has ended, or was cut before it.
                        self.retire(chunk);
                        return SourceTurn::Failed;
                    }
                }
                return SourceTurn::Made(chunk);
            }
            if !exhausted {
                // Every item it took failed and was skipped: look again.
                return SourceTurn::Skipped;
            }
        }
        let index = inner.next_index;
        inner.next_index += 1;
        self.chunks_made.fetch_add(1, Ordering::SeqCst);
        self.source.ended.store(true, Ordering::Release);
        drop(inner);
        let end = Chunk {
            index,
            end: true,
            data: ChunkData::empty(),
            weight: 0,
            cost_ns: 0,
            permit: Budget::free_permit(),
        };
        SourceTurn::Made(end)
    }

    /// How long a thread that runs the source may park: `backstop`, or less
    /// if a streaming source wants a turn sooner.
    fn park_timeout(&self, backstop: Duration) -> Duration {
        let due = self.source_deadline_ns.load(Ordering::Relaxed);
        if due == 0 {
            return backstop;
        }
        // A deadline already past means the source had its turn and still
        // could not go on (no room): what it waits for now wakes this thread.
        match Duration::from_nanos(due).checked_sub(self.started.elapsed()) {
            Some(left) if !left.is_zero() => left.min(backstop),
            _ => backstop,
        }
    }

    /// Offers a chunk to stage `next` and, if this thread may run it, runs it
    /// and what follows.
    fn carry(self: &Arc<Self>, next: usize, chunk: Chunk, runner: Runner) {
        if let Some((s, replica, chunk)) = self.forward(next, chunk, runner) {
            self.drive(s, replica, chunk, runner);
        }
    }

    /// Runs stage `s` on `chunk` with `replica`, then follows the chunk
    /// downstream as far as it can be run at once.
    fn drive(
        self: &Arc<Self>,
        mut s: usize,
        mut replica: ReplicaBox,
        mut chunk: Chunk,
        runner: Runner,
    ) {
        loop {
            let slot = &self.stages[s];
            if self.is_done() {
                slot.release(replica, false);
                return;
            }
            if self.is_cut(chunk.index) {
                // Past a failure: not run, and the replica goes on with the
                // chunks before the cut, if any waits.
                self.retire(chunk);
                match slot.release(replica, slot.is_serial()) {
                    Some((same, next)) => {
                        replica = same;
                        chunk = next;
                        continue;
                    }
                    None => {
                        if slot.queued_chunks.load(Ordering::Acquire) > 0 {
                            self.wake(slot);
                        }
                        return;
                    }
                }
            }
            let (out, after) = match self.execute(slot, &mut replica, chunk) {
                Ok(out) => out,
                Err(failed) => {
                    // The cut first, then the replica back: else a chunk
                    // after the failing one could take the replica (its
                    // turn come) and leave before the cut is there.
                    let (at, failure, chunk) = *failed;
                    self.fail_chunk(at, failure, chunk);
                    slot.release(replica, false);
                    if slot.queued_chunks.load(Ordering::Acquire) > 0 {
                        self.wake(slot);
                    }
                    return;
                }
            };
            if let Some((same, next)) = slot.release(replica, slot.is_serial()) {
                // Keep the serial stage busy; its output waits for others.
                self.forward(after, out, Runner::Nobody);
                replica = same;
                chunk = next;
                continue;
            }
            if slot.queued_chunks.load(Ordering::Acquire) > 0 {
                self.wake(slot);
            }
            if runner == Runner::Cpu && slot.is_serial() && after < self.stages.len() {
                // A serial stage is the likely bottleneck: rather than follow
                // its output downstream and leave it idle, this thread hands
                // the output to the others and feeds the stage from the
                // source (which runs it again here, if its turn has come).
                // In this loop, not by a call: a run whose chunks keep
                // finding room would nest a call per chunk, and overflow the
                // thread's stack over a long enough run.
                self.forward(after, out, Runner::Nobody);
                let SourceTurn::Made(made) = self.source_turn(Runner::Cpu) else {
                    return;
                };
                match self.forward(0, made, runner) {
                    Some((next_s, next_replica, next_chunk)) => {
                        s = next_s;
                        replica = next_replica;
                        chunk = next_chunk;
                        continue;
                    }
                    None => return,
                }
            }
            match self.forward(after, out, runner) {
                Some((next_s, next_replica, next_chunk)) => {
                    s = next_s;
                    replica = next_replica;
                    chunk = next_chunk;
                }
                None => return,
            }
        }
    }

    /// Replicas of `slot` running now: those of the stage it runs fused
    /// into, if it does.
    fn active_of(&self, slot: &StageSlot) -> usize {
        let runs_in = slot.fused_into.map_or(slot, |head| &self.stages[head]);
        runs_in.active.load(Ordering::Relaxed)
    }

    /// Tells the threads that can run `slot` that a chunk waits there. A
    /// blocking stage's busy threads each look at its queue when they finish
    /// their chunk, so an idle one is woken (a system call, and a core taken
    /// from CPU work) only when the queue holds more than they will take.
    fn wake(&self, slot: &StageSlot) {
        if slot.mode.is_blocking() {
            let queued = slot.queued_chunks.load(Ordering::SeqCst);
            if queued > slot.active.load(Ordering::SeqCst) {
                slot.signal.notify();
            }
            // A first stage's threads may all be waiting for room, which
            // this queued chunk may be holding (rare: only at the limit).
            if let (0, Some(feeder)) = (slot.index, &self.budget.feeder) {
                feeder.room.notify();
            }
        } else {
            self.cpu.notify();
        }
    }

    /// Hands a chunk to stage `next` (past closed stages); returns the work
    /// to do now if this thread got a replica for it.
    fn forward(
        &self,
        mut next: usize,
        mut chunk: Chunk,
        runner: Runner,
    ) -> Option<(usize, ReplicaBox, Chunk)> {
        loop {
            let Some(slot) = self.stages.get(next) else {
                self.leave(chunk);
                return None;
            };
            match slot.offer(chunk, runner.may_run(slot), &self.cut) {
                Offer::Run(replica, chunk) => return Some((next, replica, chunk)),
                Offer::Queued => {
                    self.wake(slot);
                    return None;
                }
                Offer::Closed(emptied) => {
                    chunk = emptied;
                    next += 1;
                }
                Offer::Passed(empty) => {
                    // Its turn given away, the next chunk may be ready.
                    if slot.queued_chunks.load(Ordering::Acquire) > 0 {
                        self.wake(slot);
                    }
                    chunk = empty;
                    next += 1;
                }
                Offer::Failed(failure, chunk) => {
                    self.fail_unclaimed(next, failure, Some(chunk));
                    return None;
                }
                Offer::Cut(chunk) => {
                    self.retire(chunk);
                    return None;
                }
            }
        }
    }

    /// A chunk leaves the last stage. The end marker can overtake chunks
    /// still on their way out of the last stage (a replica that has run a
    /// chunk is given back before the chunk is passed on), so the run is over
    /// only when every chunk up to the marker has left.
    fn leave(&self, chunk: Chunk) {
        if self.is_cut(chunk.index) {
            self.retire(chunk);
            return;
        }
        self.sizer.observe(chunk.permit.items(), chunk.cost_ns);
        if chunk.end {
            self.end_index.store(chunk.index, Ordering::SeqCst);
        }
        match &self.outlet {
            Some(outlet) => outlet(chunk),
            None => drop(chunk),
        }
        self.count_left();
    }

    /// A stage took all the input it wants: stop the source and close every
    /// stage up to it; what they held goes on, emptied, to keep the order.
    fn close_through(&self, s: usize) {
        self.source.stop.store(true, Ordering::Release);
        for i in 0..=s {
            for chunk in self.stages[i].close() {
                self.forward(i + 1, chunk, Runner::Nobody);
            }
        }
        self.wake_source_runners();
    }

    /// Runs `slot`'s stage on `chunk` with `replica`, then the stages fused
    /// into it with the replica's riders, and returns the output with the
    /// index of the stage it goes to next. Each stage is timed and counted
    /// as its own, its output counted past a feeding first stage; a stage
    /// that took all the input it wants closes everything up to it first.
    /// On a failure, the stage that failed, and the chunk with what was
    /// made of the items before the failing one.
    #[allow(clippy::type_complexity)]
    fn execute(
        &self,
        slot: &StageSlot,
        replica: &mut ReplicaBox,
        chunk: Chunk,
    ) -> Result<(Chunk, usize), Box<(usize, ItemFailure, Chunk)>> {
        let mut chunk = self
            .run_stage(slot, &mut replica.inner, replica.id, chunk)
            .map_err(|failed| {
                let (failure, chunk) = *failed;
                Box::new((slot.index, failure, chunk))
            })?;
        for (k, f) in slot.followers.clone().enumerate() {
            let follower = &self.stages[f];
            if replica.riders.len() <= k {
                match follower.make_rider() {
                    Ok(rider) => replica.riders.push(rider),
                    Err(failure) => {
                        let failure = ItemFailure::new(chunk.data.seqs.get(0), failure);
                        return Err(Box::new((f, failure, chunk.emptied())));
                    }
                }
            }
            let rider = &mut replica.riders[k];
            chunk = self
                .run_stage(follower, &mut rider.inner, rider.id, chunk)
                .map_err(|failed| {
                    let (failure, chunk) = *failed;
                    Box::new((f, failure, chunk))
                })?;
        }
        Ok((chunk, slot.followers.end))
    }

    /// Runs one stage on `chunk` with `replica` (see [`Run::execute`]).
    fn run_stage(
        &self,
        slot: &StageSlot,
        replica: &mut Box<dyn Replica>,
        replica_id: u32,
        mut chunk: Chunk,
    ) -> Result<Chunk, Box<(ItemFailure, Chunk)>> {
        let start = Instant::now();
        let items_in = chunk.data.len();
        let weight_in = chunk.weight;
        let first_seq = chunk.data.seqs.get(0);
        let data = std::mem::replace(&mut chunk.data, ChunkData::empty());
        let flush = chunk.end && slot.is_serial();
        let result = replica
            .process(data, &slot.ctx)
            .and_then(|(data, flow)| match flush {
                true => Ok((replica.finish(data, &slot.ctx)?, flow)),
                false => Ok((data, flow)),
            });
        // A failed chunk goes on with what was made of the items before the
        // failing one, and is counted so.
        let (data, flow, failed) = match result {
            Ok((data, flow)) => (data, flow, None),
            Err(mut failure) => {
                let done = std::mem::replace(&mut failure.done, ChunkData::empty());
                (done, Flow::Continue, Some(failure))
            }
        };
        let weight_out = slot.weigh(&data);
        chunk.data = data;
        chunk.weight = weight_out;
        let elapsed = start.elapsed();
        let counters = &slot.ctx.counters;
        counters.chunks.fetch_add(1, Ordering::Relaxed);
        counters.items_in.fetch_add(weight_in, Ordering::Relaxed);
        counters.items_out.fetch_add(weight_out, Ordering::Relaxed);
        if self.run_counted_after == Some(slot.index) {
            self.source.items.fetch_add(weight_out, Ordering::Relaxed);
        }
        counters
            .busy_ns
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
        if self.is_tuned() {
            // The tuner tells computing from waiting by what the kernel
            // counted of this thread (read every few ms at most).
            let call_ns = elapsed.as_nanos() as u64;
            let starting = crate::off_thread::take_starting_ns().min(call_ns);
            if starting > 0 {
                counters.start_ns.fetch_add(starting, Ordering::Relaxed);
            }
            // A start's time is the replica's once, not its items': left
            // out of the calls' time its threads split into shares too.
            if let Some(read) =
                thread_times::own_times_since_last(start + elapsed, call_ns - starting)
            {
                let (into_cpu, into_runnable) = match slot.mode.is_blocking() {
                    true => (&counters.cpu_ns, &counters.runnable_ns),
                    false => (&self.worker_on_cpu_ns, &self.worker_runnable_ns),
                };
                into_cpu.fetch_add(read.on_cpu_ns, Ordering::Relaxed);
                into_runnable.fetch_add(read.runnable_ns, Ordering::Relaxed);
                if slot.mode.is_blocking() {
                    counters
                        .read_busy_ns
                        .fetch_add(read.in_calls_ns, Ordering::Relaxed);
                }
            }
        }
        chunk.cost_ns += elapsed.as_nanos() as u64;
        self.record_span(
            slot.index + 1,
            replica_id,
            chunk.index,
            first_seq,
            items_in,
            start,
            elapsed,
        );
        if slot.index == 0 {
            chunk.permit.pass_feeder();
        }
        if let Some(failure) = failed {
            return Err(Box::new((failure, chunk)));
        }
        if flow == Flow::Finished {
            self.close_through(slot.index);
        }
        Ok(chunk)
    }

    #[allow(clippy::too_many_arguments)]
    fn record_span(
        &self,
        stage: usize,
        replica: u32,
        chunk: u64,
        first_seq: u64,
        items: usize,
        start: Instant,
        took: Duration,
    ) {
        if let Some(trace) = &self.trace {
            let span = Span {
                stage,
                replica,
                chunk,
                first_seq,
                items,
                start: start.saturating_duration_since(self.started),
                duration: took,
            };
            trace.record(span);
        }
    }
}
