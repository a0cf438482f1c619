//! The tuner: sets the replicas of every [`Mode::auto`](crate::Mode::auto)
//! stage while the run goes on, from what the run measured over the last
//! few steps of [`TUNE_EVERY`].
//!
//! The model. Every stage's items cost some time on a core, and a blocking
//! stage's items also wait (I/O, sleeps) for some time off any core. A
//! blocking stage's calls are timed on the thread's CPU clock, and the
//! kernel tells how much of the time its threads wanted a core they waited
//! for one ([`super::thread_times`]); so its time in calls splits into
//! computing, waiting for a core, and waiting on the world. From the CPU
//! each item costs in every stage, the run could go at most at `cpu budget
//! / CPU per item`, and no faster than its slowest serial stage: that is
//! the throughput to aim for; nor faster than the source: than it can
//! make items (it is serial), or, when it runs dry (a stream arriving at
//! its own pace), than it gives them, with half again for a stream that
//! speeds up (the aim doubles with every window in which it did not run
//! dry). By Little's law, a stage that keeps up with
//! it needs `throughput x time in flight` items in flight, so that many
//! replicas. Time in flight is computing plus waiting on the world, plus
//! the wait for a core in the share the stage waits on the world (a thread
//! woken from a wait queues for a core as part of its cycle; a computing
//! stage's queueing is a sign of too many threads, not too few). A stage
//! that computes needs enough threads to get its share of the cores beside
//! the CPU workers, since the kernel splits a core's time evenly among the
//! threads that want it. On top: a fifth for the noise, and up to twice
//! as much again for a stage that mostly waits (its threads park when not
//! needed, so a surplus costs little; a shortfall costs throughput), within
//! [`crate::Config::max_auto_replicas`].
//!
//! Against oscillation: measurements are smoothed over steps (unless one is
//! more than twice the history, or two in a row less than half of it: a
//! change of phase, taken at once); a rise smaller than a tenth or a fall
//! smaller than three tenths is not made (too few replicas cost more than
//! too many); a step moves at most 32-fold up and halves at most down. A
//! step with too few items to judge changes nothing: its window grows until
//! enough have passed (a slow stream is judged over a longer time). A CPU stage (not
//! blocking) gets one replica per worker thread: the workers bound it
//! anyway.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::thread_times::CpuTimes;
use super::Run;

/// How often the tuner looks (pipeline time).
pub(super) const TUNE_EVERY: Duration = Duration::from_millis(10);

/// Items in flight beyond what Little's law asks, for the noise.
const HEADROOM: f64 = 1.2;

/// More again for a stage that mostly waits, times the share of its time
/// it waits: its items come back at random, its threads park when not
/// needed, so a surplus costs little and a shortfall costs throughput.
const HEADROOM_FOR_WAITING: f64 = 1.8;

/// The share of the CPU budget the tuner may spend starting replicas
/// that cost a start (a worker process: see `OffThreadCpu::started`).
const START_SHARE: f64 = 0.25;

/// The share of the memory budget worker processes may fill (see
/// `OffThreadCpu::watch`), with baton's own.
const MEMORY_SHARE: f64 = 0.9;

/// The most start CPU it banks while it adds no replicas, in seconds of
/// the whole budget: a second's worth of its share.
const START_BANKED: f64 = START_SHARE;

/// How much of the new measurement a step takes (the rest is history).
const SMOOTHING: f64 = 0.5;

/// A measurement this many times the smoothed one, or two in a row a
/// this-th of it, are a change of phase: they replace the history instead
/// of blending in.
const PHASE_CHANGE: f64 = 2.0;

/// Rises smaller than this share of the replicas are not made.
const DEAD_BAND_UP: f64 = 0.1;

/// Falls smaller than this share are not made: too few replicas cost
/// throughput, a few too many cost little, so the tuner is slower to lower.
const DEAD_BAND_DOWN: f64 = 0.3;

/// The most a step multiplies a stage's replicas by.
const MOST_GROWTH: usize = 32;

/// Fewer items than this through the first stage in a step: not judged.
const FEWEST_ITEMS: u64 = 4;

/// How much of a new measurement of what a dry source gives a step takes:
/// a stream's pace jitters more than a stage's costs.
const SOURCE_SMOOTHING: f64 = 0.25;

/// The windows over which the source's cost per item is its least (see
/// `Tuner::source_busy_recent`): 80 ms at the tuner's pace.
const SOURCE_WINDOWS: usize = 8;

/// How much faster than a dry source gives the tuner aims, so that a
/// source that speeds up finds its items taken (and a window in which it
/// did not run dry raises the aim again).
const SOURCE_HEADROOM: f64 = 1.5;

/// The queue an auto buffer starts with, in items.
pub(super) const BUFFER_START: usize = 64;

/// The shortest window over which an auto buffer is judged.
const BUFFER_WINDOW: Duration = Duration::from_millis(200);

/// A share of the window above which a stage counts as having waited for
/// input, and the stage before it as held back by the full queue.
const BUFFER_NOTICED: f64 = 0.1;

/// What the tuner last saw of a stage.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    items_in: u64,
    busy_ns: u64,
    start_ns: u64,
    cpu_ns: u64,
    runnable_ns: u64,
    read_busy_ns: u64,
}

/// Smoothed costs of a stage, per item of the first stage.
#[derive(Clone, Copy, Debug, Default)]
struct Costs {
    /// Time on a core.
    cpu_ns: f64,
    /// Time in calls that more replicas overlap: computing, waiting on the
    /// world, and the wait for a core that comes with waking from it.
    in_flight_ns: f64,
    /// Time in calls.
    busy_ns: f64,
    /// This stage's items per item of the first stage.
    ratio: f64,
    /// The share of its time in calls spent waiting on the world.
    waits_share: f64,
    known: bool,
    /// Steps in a row whose measurement was off by more than
    /// [`PHASE_CHANGE`], and in which direction (+ more, - less).
    off_in_a_row: i32,
}

impl Costs {
    fn blend(&mut self, new: Costs) {
        if !self.known {
            *self = new;
            return;
        }
        let ratio = new.in_flight_ns / self.in_flight_ns.max(1.0);
        let off = match ratio {
            r if r > PHASE_CHANGE => 1,
            r if r < 1.0 / PHASE_CHANGE => -1,
            _ => 0,
        };
        self.off_in_a_row = match off {
            0 => 0,
            _ if self.off_in_a_row.signum() == off => self.off_in_a_row + off,
            _ => off,
        };
        if self.off_in_a_row >= 1 || self.off_in_a_row <= -2 {
            // A new phase: at once when items take longer (too few
            // replicas cost throughput at once), twice in a row when they
            // take less (a short lull must not drop the replicas).
            *self = Costs {
                off_in_a_row: 0,
                ..new
            };
            return;
        }
        let mix = |old: f64, new: f64| old + SMOOTHING * (new - old);
        self.cpu_ns = mix(self.cpu_ns, new.cpu_ns);
        self.in_flight_ns = mix(self.in_flight_ns, new.in_flight_ns);
        self.busy_ns = mix(self.busy_ns, new.busy_ns);
        self.ratio = mix(self.ratio, new.ratio);
        self.waits_share = mix(self.waits_share, new.waits_share);
    }
}

/// The tuner's state, kept by the monitor thread.
#[derive(Debug)]
pub(super) struct Tuner {
    last_at: Instant,
    seen: Vec<Seen>,
    source_busy_ns: u64,
    /// The workers' (on a core, waiting for one) when last seen.
    workers: (u64, u64),
    /// Per blocking stage, the last shares of its time in calls its
    /// threads read as on a core and as waiting for one.
    shares: Vec<Option<(f64, f64)>>,
    costs: Vec<Costs>,
    source_cpu_ns: f64,
    /// The source's time making items, per item of the first stage: the
    /// source is serial, so the run goes no faster than it makes them.
    source_busy_per_item_ns: f64,
    /// What it was in each of the last [`SOURCE_WINDOWS`] windows.
    source_busy_recent: std::collections::VecDeque<f64>,
    /// When the window now measured began (what is in `seen` was read then).
    window_from: Instant,
    /// The source's dry turns and items made when last seen.
    source_dry: u64,
    source_made: u64,
    /// The most the run can go at, items/s, as long as the source runs dry:
    /// what it gave, with [`SOURCE_HEADROOM`]; doubles with every window in
    /// which it did not run dry. `None` before it first ran dry.
    source_bound: Option<f64>,
    /// Per stage, its time waiting for input and the time its queue was
    /// full, when the buffers were last judged.
    buffer_seen: Vec<(f64, f64)>,
    /// Per stage, whether it had taken items when the buffers were last
    /// judged.
    buffer_started: Vec<bool>,
    buffer_from: Instant,
    /// Per stage, the CPU (ns) the tuner may yet spend starting replicas
    /// (see [`START_SHARE`]), and when it last grew.
    start_allowance: Vec<f64>,
    allowance_at: Instant,
}

impl Tuner {
    pub(super) fn new(stages: usize) -> Self {
        Self {
            last_at: Instant::now(),
            seen: vec![Seen::default(); stages],
            source_busy_ns: 0,
            workers: (0, 0),
            shares: vec![None; stages],
            costs: vec![Costs::default(); stages],
            source_cpu_ns: 0.0,
            source_busy_per_item_ns: 0.0,
            source_busy_recent: std::collections::VecDeque::with_capacity(SOURCE_WINDOWS),
            window_from: Instant::now(),
            source_dry: 0,
            source_made: 0,
            source_bound: None,
            buffer_seen: vec![(0.0, 0.0); stages],
            buffer_started: vec![false; stages],
            buffer_from: Instant::now(),
            start_allowance: vec![0.0; stages],
            allowance_at: Instant::now(),
        }
    }

    /// Says why the auto stages start with the replicas they have (see
    /// `start_limit`), and the auto buffers with their queue.
    pub(super) fn start(run: &Run) {
        let threads = run.config.threads;
        let mut reasons = run.monitor.lock();
        for (s, slot) in run.stages.iter().enumerate() {
            if slot.buffer_auto {
                reasons.buffer_tuning[s] = Some(format!(
                    "{BUFFER_START} items to start with: `{}` has not been seen both waiting \
                     for input and with its queue full",
                    slot.ctx.name
                ));
            }
            if !slot.mode.is_auto() {
                continue;
            }
            reasons.tuning[s] = Some(if slot.mode.is_blocking() {
                format!(
                    "{threads} replicas to start with (one per worker thread), until a first \
                     measurement"
                )
            } else {
                cpu_stage_reason(threads)
            });
        }
    }

    /// One step: measures what happened since the last, and sets the
    /// replicas of the auto blocking stages. Does nothing before
    /// [`TUNE_EVERY`] has passed since the last step.
    pub(super) fn step(&mut self, run: &Arc<Run>, now: Instant) {
        // Once the source is done, what is left drains: nothing to gain,
        // and nothing like the run to measure.
        if now.duration_since(self.last_at) < TUNE_EVERY || run.source.is_done() {
            return;
        }
        self.tune_buffers(run, now);
        if !run.is_tuned() {
            return;
        }
        self.last_at = now;
        // Too few items through the first stage to judge by: the window
        // grows (nothing is marked seen) until enough have passed, so a
        // slow stream is judged over a longer window, not never.
        let first_in = run
            .stages
            .first()
            .map_or(0, |slot| slot.ctx.counters.items_in.load(Ordering::Relaxed));
        if first_in.saturating_sub(self.seen.first().map_or(0, |seen| seen.items_in)) < FEWEST_ITEMS
        {
            return;
        }
        let workers = (
            run.worker_on_cpu_ns.load(Ordering::Relaxed),
            run.worker_runnable_ns.load(Ordering::Relaxed),
        );
        let worker_wait = CpuTimes {
            on_cpu_ns: workers.0.saturating_sub(self.workers.0) as f64,
            runnable_ns: workers.1.saturating_sub(self.workers.1) as f64,
        }
        .waiting_share();
        self.workers = workers;
        let mut deltas = Vec::with_capacity(run.stages.len());
        for (slot, seen) in run.stages.iter().zip(&mut self.seen) {
            let now = Seen {
                items_in: slot.ctx.counters.items_in.load(Ordering::Relaxed),
                busy_ns: slot.ctx.counters.busy_ns.load(Ordering::Relaxed),
                start_ns: slot.ctx.counters.start_ns.load(Ordering::Relaxed),
                cpu_ns: slot.ctx.counters.cpu_ns.load(Ordering::Relaxed),
                runnable_ns: slot.ctx.counters.runnable_ns.load(Ordering::Relaxed),
                read_busy_ns: slot.ctx.counters.read_busy_ns.load(Ordering::Relaxed),
            };
            // Time spent starting replicas' machinery (a worker process)
            // is no item's time in flight.
            let starting = now.start_ns.saturating_sub(seen.start_ns);
            deltas.push((
                now.items_in.saturating_sub(seen.items_in),
                now.busy_ns
                    .saturating_sub(seen.busy_ns)
                    .saturating_sub(starting) as f64,
            ));
            let read_busy = now.read_busy_ns.saturating_sub(seen.read_busy_ns) as f64;
            if read_busy > 0.0 {
                let on_cpu = (now.cpu_ns.saturating_sub(seen.cpu_ns) as f64 / read_busy).min(1.0);
                let runnable = (now.runnable_ns.saturating_sub(seen.runnable_ns) as f64
                    / read_busy)
                    .min(1.0 - on_cpu);
                self.shares[slot.index] = Some((on_cpu, runnable));
            }
            *seen = now;
        }
        let source_busy = run.source.busy_ns.load(Ordering::Relaxed);
        let source_delta = source_busy.saturating_sub(self.source_busy_ns) as f64;
        self.source_busy_ns = source_busy;
        self.measure_source(run, now);
        let Some(&(first_in, _)) = deltas.first() else {
            return;
        };
        let per_first = first_in as f64;
        for (s, slot) in run.stages.iter().enumerate() {
            let (items, busy) = deltas[s];
            if items == 0 {
                continue;
            }
            let times = match (slot.mode.is_blocking(), self.shares[s]) {
                // Its time in calls split as its threads last read
                // themselves; unmeasured, every ns in a call counts as
                // computing.
                (true, Some((on_cpu, runnable))) => CpuTimes {
                    on_cpu_ns: busy * on_cpu,
                    runnable_ns: busy * runnable,
                },
                (true, None) => CpuTimes {
                    on_cpu_ns: busy,
                    runnable_ns: 0.0,
                },
                (false, _) => CpuTimes {
                    on_cpu_ns: busy * (1.0 - worker_wait),
                    runnable_ns: busy * worker_wait,
                },
            };
            // Waiting for a core counts as much as the stage waits on the
            // world otherwise: all of it for one that mostly waits (a
            // woken thread's wait for a core is part of its cycle), none
            // for one that computes (there, more replicas only wait more).
            let on_cpu = times.on_cpu_ns.min(busy);
            let off_core = (busy - on_cpu - times.runnable_ns).max(0.0);
            let waits_share = off_core / (off_core + on_cpu).max(1.0);
            let in_flight = on_cpu + off_core + times.runnable_ns * waits_share;
            self.costs[s].blend(Costs {
                cpu_ns: times.on_cpu_ns / per_first,
                in_flight_ns: in_flight / per_first,
                busy_ns: busy / per_first,
                ratio: items as f64 / per_first,
                waits_share,
                known: true,
                off_in_a_row: 0,
            });
        }
        let source_busy = source_delta / per_first;
        // The least of the last few windows: a thread preempted while it
        // holds the source (hundreds of blocking threads on two cores)
        // makes one window's figure hundreds of times the source's cost,
        // and the run would be aimed at that; the source's own cost rarely
        // changes faster than a few windows.
        if self.source_busy_recent.len() == SOURCE_WINDOWS {
            self.source_busy_recent.pop_front();
        }
        self.source_busy_recent.push_back(source_busy);
        self.source_busy_per_item_ns = self
            .source_busy_recent
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        if !run.source_fed_by_blocking() {
            let source = source_delta * (1.0 - worker_wait) / per_first;
            self.source_cpu_ns += SMOOTHING * (source - self.source_cpu_ns);
        }
        self.decide(run);
    }

    /// Doubles the queue of every auto buffer whose stage both waited for
    /// input and had its queue full in the same window (at its bound, or
    /// holding half the chunks in flight while the source waited for
    /// room): a burst upstream filled the queue, a lull then starved the
    /// stage; a deeper queue (and as many more chunks in flight) carries
    /// more of the burst over the lull. Within the bound on items in
    /// flight (which the memory budget may lower).
    fn tune_buffers(&mut self, run: &Run, now: Instant) {
        let window = now.saturating_duration_since(self.buffer_from);
        if window < BUFFER_WINDOW || !run.stages.iter().any(|s| s.buffer_auto) {
            return;
        }
        self.buffer_from = now;
        let window_ns = window.as_nanos() as f64;
        let most = run.budget.max_items();
        let mut state = run.monitor.lock();
        let mut grew = false;
        for slot in run.stages.iter().filter(|s| s.buffer_auto) {
            let s = slot.index;
            let waited = state.stages[s].waiting_ns;
            let held = state.stages[s].full_ns;
            let (waited_before, held_before) =
                std::mem::replace(&mut self.buffer_seen[s], (waited, held));
            // Not before the stage has had items at the window's start: its
            // wait for the first is the run's start, not a lull.
            let started = std::mem::replace(
                &mut self.buffer_started[s],
                slot.ctx.counters.items_in.load(Ordering::Relaxed) > 0,
            );
            if !started {
                continue;
            }
            let starved = (waited - waited_before) / window_ns;
            let held_back = (held - held_before) / window_ns;
            if starved < BUFFER_NOTICED || held_back < BUFFER_NOTICED {
                continue;
            }
            let cap = slot.buffer.load(Ordering::Relaxed).max(1);
            let to = (2 * cap).min(most.max(1));
            if to <= cap {
                continue;
            }
            slot.buffer.store(to, Ordering::Relaxed);
            // Room for the deeper queue in the chunk bound too (a chunk may
            // hold one item).
            run.extra_chunks.fetch_add(to - cap, Ordering::Relaxed);
            grew = true;
            state.buffer_tuning[s] = Some(format!(
                "{to} items: `{}` waited for input {:.0}% of {:.0} ms, and its queue was full \
                 (holding the source back) {:.0}% of it; a deeper queue carries a burst over a \
                 lull",
                slot.ctx.name,
                starved * 100.0,
                window.as_secs_f64() * 1e3,
                held_back * 100.0
            ));
            tracing::debug!(stage = %slot.ctx.name, from = cap, to, starved, held_back, "the tuner deepened a queue");
        }
        drop(state);
        if grew {
            run.fit_chunk_bound_to_replicas();
            run.wake_source_runners();
            run.cpu.notify_all();
        }
    }

    /// Whether the source ran dry in the window, and what it gave: a
    /// source that runs dry bounds the run at what it gives (a stream
    /// arriving at its own pace), however fast the cores could go.
    fn measure_source(&mut self, run: &Run, now: Instant) {
        let window = now
            .saturating_duration_since(self.window_from)
            .as_secs_f64();
        self.window_from = now;
        let dry = run.source.dry_turns.load(Ordering::Relaxed);
        let made = run.source.made.load(Ordering::Relaxed);
        let ran_dry = dry > self.source_dry;
        let gave = made.saturating_sub(self.source_made) as f64 / window.max(1e-6);
        self.source_dry = dry;
        self.source_made = made;
        self.source_bound = match (ran_dry, self.source_bound) {
            (true, None) => Some(gave * SOURCE_HEADROOM),
            (true, Some(bound)) => {
                Some(bound + SOURCE_SMOOTHING * (gave * SOURCE_HEADROOM - bound))
            }
            // It had more to give than the run took: the aim rises until
            // the source runs dry again (or the cores bound the run).
            (false, Some(bound)) => Some((2.0 * bound).max(gave * SOURCE_HEADROOM)),
            (false, None) => None,
        };
    }

    /// Sets the replicas of every auto blocking stage from the costs.
    fn decide(&mut self, run: &Arc<Run>) {
        let cores = run.config.cpu_cores() as f64;
        let cpu_per_item: f64 =
            self.source_cpu_ns + self.costs.iter().map(|c| c.cpu_ns).sum::<f64>();
        let mut goal = if cpu_per_item > 0.0 {
            cores * 1e9 / cpu_per_item
        } else {
            f64::INFINITY
        };
        let mut limiter = match run.config.cpu_cores() {
            1 => "what 1 core can compute".to_string(),
            n => format!("what {n} cores can compute"),
        };
        for (slot, costs) in run.stages.iter().zip(&self.costs) {
            if slot.is_serial() && costs.known && costs.busy_ns > 0.0 {
                let bound = 1e9 / costs.busy_ns;
                if bound < goal {
                    goal = bound;
                    limiter = format!("what the serial stage `{}` can take", slot.ctx.name);
                }
            }
        }
        if self.source_busy_per_item_ns > 0.0 && 1e9 / self.source_busy_per_item_ns < goal {
            goal = 1e9 / self.source_busy_per_item_ns;
            limiter = format!(
                "what the source `{}` can make, one chunk at a time",
                run.source.ctx.name
            );
        }
        if let Some(bound) = self.source_bound.filter(|&bound| bound < goal) {
            goal = bound;
            limiter = format!(
                "what the source `{}` gives, {:.0} items/s, and half again",
                run.source.ctx.name,
                bound / SOURCE_HEADROOM
            );
        }
        if !goal.is_finite() {
            return;
        }
        let most = run.config.max_auto_replicas;
        let now = Instant::now();
        let earned = START_SHARE
            * cores
            * now.saturating_duration_since(self.allowance_at).as_nanos() as f64;
        self.allowance_at = now;
        // Memory the run may fill with worker processes: nine tenths of
        // the budget, less what baton holds (each stage's workers are
        // counted below, those not yet started too).
        let held_elsewhere: u64 = run
            .stages
            .iter()
            .map(|slot| slot.ctx.counters.held_elsewhere.load(Ordering::Relaxed))
            .sum();
        let memory_room = match (held_elsewhere, run.config.memory_budget_bytes()) {
            (0, _) | (_, None) => None,
            (_, Some(budget)) => {
                super::memory::resident_bytes().map(|own| budget as f64 * MEMORY_SHARE - own as f64)
            }
        };
        let mut changed = false;
        let mut reasons = Vec::new();
        for (s, slot) in run.stages.iter().enumerate() {
            if !slot.mode.is_auto() || !slot.mode.is_blocking() || !self.costs[s].known {
                continue;
            }
            let costs = self.costs[s];
            let in_flight = goal * costs.in_flight_ns / 1e9;
            // The kernel shares a core's time evenly among the threads
            // that want it: to compute on `computing` cores beside the
            // CPU workers, the stage needs that share of the threads. The
            // workers want a core about twice as long as they compute
            // (they spin a while before they park), up to all of them.
            let computing = goal * costs.cpu_ns / 1e9;
            let others = (goal * cpu_per_item / 1e9 - computing).max(0.0);
            let workers = (2.0 * others).min(run.config.threads as f64);
            let to_hold_cores = computing * workers / (cores - computing).max(0.25);
            let needed = in_flight.max(to_hold_cores);
            let headroom = HEADROOM + HEADROOM_FOR_WAITING * costs.waits_share;
            let target = ((needed * headroom).ceil() as usize).clamp(1, most);
            let current = slot.limit.load(Ordering::Relaxed).max(1);
            let mut bounded = target.clamp(current.div_ceil(2), current * MOST_GROWTH);
            // Replicas that cost a start (a worker process) come no faster
            // than a share of the budget can start them.
            let counters = &slot.ctx.counters;
            let starts = counters.starts.load(Ordering::Relaxed);
            let start_cpu = match starts {
                0 => 0.0,
                n => counters.start_cpu_ns.load(Ordering::Relaxed) as f64 / n as f64,
            };
            let mut paced = String::new();
            let processes = counters.processes.load(Ordering::Relaxed);
            if let (Some(room), true) = (memory_room, processes > 0 && bounded > current) {
                // Every replica of the stage as holding what its watched
                // workers hold on average: those just added, whose workers
                // are still starting, hold it soon.
                let held = counters.held_elsewhere.load(Ordering::Relaxed);
                let each = held as f64 / processes as f64;
                let others = held_elsewhere.saturating_sub(held) as f64;
                let mine = each * current.max(processes as usize) as f64;
                let fit = ((room - others - mine).max(0.0) / each.max(1.0)).floor() as usize;
                if fit < bounded - current {
                    bounded = current + fit;
                    paced = format!(
                        " (held by memory: a worker holds {:.0} MiB, and the memory budget \
                         has room for {fit} more)",
                        each / (1 << 20) as f64
                    );
                }
            }
            if start_cpu > 0.0 {
                let allowance = &mut self.start_allowance[s];
                *allowance = (*allowance + earned).min(START_BANKED * cores * 1e9);
                if bounded > current {
                    let affordable = (*allowance / start_cpu).floor() as usize;
                    if affordable < bounded - current {
                        paced += &format!(
                            " (paced: starting one costs {:.1} ms of CPU, and starts may \
                             take {:.0}% of the budget)",
                            start_cpu / 1e6,
                            START_SHARE * 100.0
                        );
                    }
                    bounded = current + (bounded - current).min(affordable);
                }
            }
            let band = match bounded > current {
                true => DEAD_BAND_UP,
                false => DEAD_BAND_DOWN,
            };
            let moves = bounded.abs_diff(current) as f64 > band * current as f64
                || (!paced.is_empty() && bounded > current);
            let chosen = if moves { bounded } else { current };
            if moves {
                slot.set_limit(chosen);
                changed = true;
                if chosen > current && start_cpu > 0.0 {
                    self.start_allowance[s] -= (chosen - current) as f64 * start_cpu;
                }
            }
            tracing::trace!(
                stage = %slot.ctx.name,
                goal_items_per_s = goal,
                %limiter,
                cpu_ns = costs.cpu_ns,
                in_flight_ns = costs.in_flight_ns,
                waits_share = costs.waits_share,
                needed,
                target,
                current,
                chosen,
                "tuner step"
            );
            let ratio = costs.ratio.max(f64::MIN_POSITIVE);
            let compute_us = costs.cpu_ns / ratio / 1e3;
            let wait_us = (costs.in_flight_ns - costs.cpu_ns).max(0.0) / ratio / 1e3;
            let capped = if target == most && needed * headroom > most as f64 {
                format!(" (capped at max_auto_replicas = {most})")
            } else {
                String::new()
            };
            let why_needed = match to_hold_cores > in_flight {
                true => format!(
                    "computing on {computing:.1} cores beside {workers:.1} busy workers takes \
                     {to_hold_cores:.1} threads"
                ),
                false => format!("that takes {in_flight:.1} in flight"),
            };
            reasons.push((
                s,
                format!(
                    "{chosen} replicas: an item computes {compute_us:.1} µs and waits {wait_us:.1} µs \
                     off-core here; to keep up with {rate:.0} items/s ({limiter}) {why_needed}, \
                     plus {extra:.0}% for the noise (more for waiting stages, whose threads \
                     park when not needed){capped}{paced}",
                    rate = goal * costs.ratio,
                    extra = (headroom - 1.0) * 100.0,
                ),
            ));
        }
        if changed {
            run.after_replicas_changed();
        }
        let mut state = run.monitor.lock();
        for (s, reason) in reasons {
            state.tuning[s] = Some(reason);
        }
    }
}

/// Why a CPU stage on auto has one replica per worker.
pub(super) fn cpu_stage_reason(threads: usize) -> String {
    format!(
        "{threads} replicas, one per worker thread: the stage computes on the workers, which \
         bound it anyway"
    )
}
