//! The monitor: a thread that samples every stage's queue and replicas at a
//! fixed interval, for the time each stage waited for input or was blocked
//! on output, and for the queue fill and throughput over time; it also
//! runs the tuner ([`super::tuner`]) between samples.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::memory::{MemoryGuard, MemoryState};
use super::tuner::Tuner;
use super::Run;
use crate::stats::{Sample, StageSample};

/// The most samples kept; past it every other one is dropped.
const MAX_SAMPLES: usize = 4_096;

#[derive(Debug, Default, Clone)]
pub(super) struct StageAccumulator {
    pub(super) waiting_ns: f64,
    pub(super) blocked_ns: f64,
    pub(super) queued_sum: f64,
    /// Time the queue in front was at its bound (sampled).
    pub(super) full_ns: f64,
}

#[derive(Debug, Default)]
pub(super) struct MonitorState {
    pub(super) stages: Vec<StageAccumulator>,
    pub(super) source_blocked_ns: f64,
    pub(super) sample_count: u64,
    pub(super) samples: Vec<Sample>,
    /// Why the tuner chose each auto stage's replicas (`None`: not tuned).
    pub(super) tuning: Vec<Option<String>>,
    /// Why the tuner chose each auto buffer's queue (`None`: not tuned).
    pub(super) buffer_tuning: Vec<Option<String>>,
    /// What the memory guard saw and did.
    pub(super) memory: MemoryState,
    /// Keep one sample in `stride` (doubles when the buffer fills).
    stride: u64,
}

#[derive(Debug)]
pub(super) struct Monitor {
    state: Mutex<MonitorState>,
}

impl Monitor {
    pub(super) fn new(stages: usize) -> Self {
        Self {
            state: Mutex::new(MonitorState {
                stages: vec![StageAccumulator::default(); stages],
                tuning: vec![None; stages],
                buffer_tuning: vec![None; stages],
                stride: 1,
                ..Default::default()
            }),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, MonitorState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(super) fn run(shared: &Arc<Run>) {
    let every = shared.config.sample_every;
    let mut tuner = Tuner::new(shared.stages.len());
    let budget = shared.config.memory_budget_bytes();
    shared.monitor.lock().memory.budget = budget;
    let mut guard = MemoryGuard::new(budget);
    let mut last = Instant::now();
    while !shared.is_done() {
        // One wake-up per sample: the run's end wakes the monitor early.
        let wake_at = last + every;
        loop {
            let seen = shared.monitor_signal.prepare();
            let now = Instant::now();
            if shared.is_done() || now >= wake_at {
                break;
            }
            shared.monitor_signal.wait(seen, wake_at - now);
        }
        let now = Instant::now();
        if let Some(guard) = &mut guard {
            if shared.user_bound_moved.swap(false, Ordering::Relaxed) {
                guard.reset();
            }
            guard.step(shared);
        }
        sample(shared, now.duration_since(last));
        tuner.step(shared, now);
        last = now;
    }
}

/// Takes one sample, crediting `dt` of waiting or blocking to the stages.
pub(super) fn sample(shared: &Run, dt: Duration) {
    let dt_ns = dt.as_nanos() as f64;
    let mut state = shared.monitor.lock();
    let source_active = !shared.source.is_done();
    if source_active && !shared.source_has_room() {
        state.source_blocked_ns += dt_ns;
    }
    let mut stage_samples = Vec::with_capacity(shared.stages.len());
    for (i, slot) in shared.stages.iter().enumerate() {
        let active = shared.active_of(slot);
        let limit = slot.limit.load(Ordering::Relaxed).max(1);
        let queued_items = slot.queued_items.load(Ordering::Relaxed);
        let queued_chunks = slot.queued_chunks.load(Ordering::Relaxed);
        let acc = &mut state.stages[i];
        acc.queued_sum += queued_items as f64;
        if queued_chunks == 0 && active < limit {
            acc.waiting_ns += dt_ns * (limit - active) as f64 / limit as f64;
        }
        // Full: at its own bound, or holding half the chunks in flight
        // while the source waits for room (the in-flight bound bit here).
        let holds_the_budget = source_active
            && !shared.source_has_room()
            && 2 * queued_chunks >= shared.budget.chunks_in_flight().max(1);
        if slot.is_full() || holds_the_budget {
            acc.full_ns += dt_ns;
        }
        let next_full = shared.stages.get(i + 1).is_some_and(|next| next.is_full());
        if next_full && (queued_chunks > 0 || active > 0) {
            acc.blocked_ns += dt_ns;
        }
        stage_samples.push(StageSample {
            active,
            replicas: limit,
            queued_items,
            items_in: slot.ctx.counters.items_in.load(Ordering::Relaxed),
            items_out: slot.ctx.counters.items_out.load(Ordering::Relaxed),
            busy_ns: slot.ctx.counters.busy_ns.load(Ordering::Relaxed),
            buffer: slot.buffer(),
        });
    }
    state.sample_count += 1;
    let count = state.sample_count;
    if count % state.stride == 0 {
        let rss_bytes = state.memory.rss;
        state.samples.push(Sample {
            at: shared.started.elapsed(),
            source_items: shared.source.items.load(Ordering::Relaxed),
            in_flight: shared.budget.items_in_flight(),
            max_in_flight: shared.budget.max_items(),
            rss_bytes,
            stages: stage_samples,
        });
        if state.samples.len() >= MAX_SAMPLES {
            let kept: Vec<Sample> = state.samples.iter().step_by(2).cloned().collect();
            state.samples = kept;
            state.stride *= 2;
        }
    }
}
