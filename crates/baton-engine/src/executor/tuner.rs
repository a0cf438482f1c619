//! The tuner: sets the replicas of every [`Mode::auto`](crate::Mode::auto)
//! stage while the run goes on, from what the run measured over the last
//! few tens of milliseconds.
//!
//! The model. Every stage's items cost some time on a core, and a blocking
//! stage's items also wait (I/O, sleeps) for some time off any core. The
//! kernel tells apart, per thread, time on a core, time runnable but
//! waiting for one, and the rest ([`super::thread_times`]); so a blocking
//! stage's time in calls splits into computing, waiting for a core (which
//! more replicas would only lengthen) and waiting on the world (which
//! more replicas hide). From the CPU each item costs in every stage, the
//! run could go at most at `cpu budget / CPU per item`, and no faster than
//! its slowest serial stage: that is the throughput to aim for. By
//! Little's law, a stage that keeps up with it needs `throughput x
//! (computing + waiting on the world)` items in flight, so that many
//! replicas, and a fifth more to absorb the noise.
//!
//! Against oscillation: measurements are smoothed over steps (unless one
//! is off by more than twofold: a change of phase, taken at once), a
//! change smaller than a tenth is not made, and a step moves at most
//! eightfold up (down it goes at once: too many replicas of a stage that
//! computes crowd the cores). A step with too few items to judge changes
//! nothing. A CPU stage (not blocking) gets one replica per worker thread:
//! the workers bound it anyway.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::thread_times::CpuTimes;
use super::Run;

/// How often the tuner looks (pipeline time).
pub(super) const TUNE_EVERY: Duration = Duration::from_millis(20);

/// Items in flight beyond what Little's law asks, for the noise.
const HEADROOM: f64 = 1.2;

/// More again for a stage that mostly waits, times the share of its time
/// it waits: its items come back at random, its threads park when not
/// needed, so a surplus costs little and a shortfall costs throughput.
const HEADROOM_FOR_WAITING: f64 = 0.8;

/// How much of the new measurement a step takes (the rest is history).
const SMOOTHING: f64 = 0.5;

/// A measurement this many times the smoothed one, or a this-th of it,
/// is a change of phase: it replaces the history instead of blending in.
const PHASE_CHANGE: f64 = 2.0;

/// Changes smaller than this share of the replicas are not made.
const DEAD_BAND: f64 = 0.1;

/// The most a step multiplies a stage's replicas by.
const MOST_GROWTH: usize = 8;

/// Fewer items than this through the first stage in a step: not judged.
const FEWEST_ITEMS: u64 = 4;

/// What the tuner last saw of a stage.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    items_in: u64,
    busy_ns: u64,
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
}

impl Costs {
    fn blend(&mut self, new: Costs) {
        if !self.known {
            *self = new;
            return;
        }
        let ratio = new.in_flight_ns / self.in_flight_ns.max(1.0);
        if !(1.0 / PHASE_CHANGE..=PHASE_CHANGE).contains(&ratio) {
            *self = new;
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
    costs: Vec<Costs>,
    source_cpu_ns: f64,
}

impl Tuner {
    pub(super) fn new(stages: usize) -> Self {
        Self {
            last_at: Instant::now(),
            seen: vec![Seen::default(); stages],
            source_busy_ns: 0,
            costs: vec![Costs::default(); stages],
            source_cpu_ns: 0.0,
        }
    }

    /// Sets the start replicas of the auto stages and says why.
    pub(super) fn start(run: &Run) {
        let threads = run.config.threads;
        let mut reasons = run.monitor.lock();
        for (s, slot) in run.stages.iter().enumerate() {
            if !slot.mode.is_auto() {
                continue;
            }
            slot.set_limit(threads);
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
        if now.duration_since(self.last_at) < TUNE_EVERY || !run.is_tuned() {
            return;
        }
        self.last_at = now;
        let (workers, blocking) = run.thread_times.take_deltas(run.stages.len());
        let measured = run.thread_times.measures();
        let worker_share = workers.on_cpu_share();
        let mut deltas = Vec::with_capacity(run.stages.len());
        for (slot, seen) in run.stages.iter().zip(&mut self.seen) {
            let now = Seen {
                items_in: slot.ctx.counters.items_in.load(Ordering::Relaxed),
                busy_ns: slot.ctx.counters.busy_ns.load(Ordering::Relaxed),
            };
            deltas.push((
                now.items_in.saturating_sub(seen.items_in),
                now.busy_ns.saturating_sub(seen.busy_ns) as f64,
            ));
            *seen = now;
        }
        let source_busy = run.source.busy_ns.load(Ordering::Relaxed);
        let source_delta = source_busy.saturating_sub(self.source_busy_ns) as f64;
        self.source_busy_ns = source_busy;
        let Some(&(first_in, _)) = deltas.first() else {
            return;
        };
        if first_in < FEWEST_ITEMS {
            return;
        }
        let per_first = first_in as f64;
        for (s, slot) in run.stages.iter().enumerate() {
            let (items, busy) = deltas[s];
            if items == 0 {
                continue;
            }
            let times = match (slot.mode.is_blocking(), measured) {
                (true, true) => blocking[s],
                // Unmeasured: every ns in a call counts as computing.
                (true, false) => CpuTimes {
                    on_cpu_ns: busy,
                    runnable_ns: 0.0,
                },
                (false, _) => CpuTimes {
                    on_cpu_ns: busy * worker_share,
                    runnable_ns: busy * (1.0 - worker_share),
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
            });
        }
        if !run.source_fed_by_blocking() {
            let source = source_delta * worker_share / per_first;
            self.source_cpu_ns += SMOOTHING * (source - self.source_cpu_ns);
        }
        self.decide(run);
    }

    /// Sets the replicas of every auto blocking stage from the costs.
    fn decide(&self, run: &Arc<Run>) {
        let cores = run.config.cpu_cores() as f64;
        let cpu_per_item: f64 =
            self.source_cpu_ns + self.costs.iter().map(|c| c.cpu_ns).sum::<f64>();
        let mut goal = if cpu_per_item > 0.0 {
            cores * 1e9 / cpu_per_item
        } else {
            f64::INFINITY
        };
        let mut limiter = format!("what {} cores can compute", run.config.cpu_cores());
        for (slot, costs) in run.stages.iter().zip(&self.costs) {
            if slot.is_serial() && costs.known && costs.busy_ns > 0.0 {
                let bound = 1e9 / costs.busy_ns;
                if bound < goal {
                    goal = bound;
                    limiter = format!("what the serial stage `{}` can take", slot.ctx.name);
                }
            }
        }
        if !goal.is_finite() {
            return;
        }
        let most = run.config.max_auto_replicas;
        let mut changed = false;
        let mut reasons = Vec::new();
        for (s, slot) in run.stages.iter().enumerate() {
            if !slot.mode.is_auto() || !slot.mode.is_blocking() || !self.costs[s].known {
                continue;
            }
            let costs = self.costs[s];
            let needed = goal * costs.in_flight_ns / 1e9;
            let headroom = HEADROOM + HEADROOM_FOR_WAITING * costs.waits_share;
            let target = ((needed * headroom).ceil() as usize).clamp(1, most);
            let current = slot.limit.load(Ordering::Relaxed).max(1);
            // Down at once (too many replicas of a stage that computes
            // crowd the cores), up at most eightfold a step.
            let bounded = target.min(current * MOST_GROWTH);
            let moves = bounded.abs_diff(current) as f64 > DEAD_BAND * current as f64;
            let chosen = if moves { bounded } else { current };
            if moves {
                slot.set_limit(chosen);
                changed = true;
            }
            let ratio = costs.ratio.max(f64::MIN_POSITIVE);
            let compute_us = costs.cpu_ns / ratio / 1e3;
            let wait_us = (costs.in_flight_ns - costs.cpu_ns).max(0.0) / ratio / 1e3;
            let capped = if target == most && needed * headroom > most as f64 {
                format!(" (capped at max_auto_replicas = {most})")
            } else {
                String::new()
            };
            reasons.push((
                s,
                format!(
                    "{chosen} replicas: an item computes {compute_us:.1} µs and waits {wait_us:.1} µs \
                     off-core here; keeping up with {rate:.0} items/s ({limiter}) takes \
                     {needed:.1} in flight, plus {extra:.0}% for the noise (more for waiting \
                     stages, whose threads park when not needed){capped}",
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
