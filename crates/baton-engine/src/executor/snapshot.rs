//! What the executor tells of a run: its counters now, and at the end its
//! report. The stats types are plain data (`crate::stats`); reading the
//! run's atomics and locks into them happens here, behind the executor's
//! face.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Run;
use crate::stats::{MemoryStats, RunReport, SourceStats, StageStats, StatsSnapshot};

impl Run {
    /// The counters of the source and of every stage now.
    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let elapsed = match *self.ended_at.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(end) => end.duration_since(self.started),
            None => self.started.elapsed(),
        };
        let monitor = self.monitor.lock();
        let samples = monitor.sample_count.max(1) as f64;
        let stages = self
            .stages
            .iter()
            .zip(&monitor.stages)
            .zip(&monitor.tuning)
            .zip(&monitor.buffer_tuning)
            .map(|(((slot, acc), tuning), buffer_tuning)| {
                let c = &slot.ctx.counters;
                StageStats {
                    name: slot.ctx.name.to_string(),
                    mode: slot.mode,
                    on_error: slot.ctx.policy,
                    replicas: slot.limit.load(Ordering::Relaxed),
                    active: self.active_of(slot),
                    items_in: c.items_in.load(Ordering::Relaxed),
                    items_out: c.items_out.load(Ordering::Relaxed),
                    chunks: c.chunks.load(Ordering::Relaxed),
                    busy: Duration::from_nanos(c.busy_ns.load(Ordering::Relaxed)),
                    waiting_for_input: Duration::from_nanos(acc.waiting_ns as u64),
                    blocked_on_output: Duration::from_nanos(acc.blocked_ns as u64),
                    queued: slot.queued_items.load(Ordering::Relaxed),
                    mean_queued: acc.queued_sum / samples,
                    errors: c.errors.load(Ordering::Relaxed),
                    skipped: c.skipped.load(Ordering::Relaxed),
                    retries: c.retries.load(Ordering::Relaxed),
                    tuning: tuning.clone(),
                    buffer: slot.buffer(),
                    buffer_tuning: buffer_tuning.clone(),
                    fused_into: slot
                        .fused_into
                        .map(|head| self.stages[head].ctx.name.to_string()),
                }
            })
            .collect();
        let source = SourceStats {
            name: self.source.ctx.name.to_string(),
            items: self.source.items.load(Ordering::Relaxed),
            made: self.source.made.load(Ordering::Relaxed),
            busy: Duration::from_nanos(self.source.busy_ns.load(Ordering::Relaxed)),
            blocked: Duration::from_nanos(monitor.source_blocked_ns as u64),
            waiting_for_input: Duration::from_nanos(self.source.dry_ns.load(Ordering::Relaxed)),
            done: self.source.is_done(),
        };
        StatsSnapshot {
            elapsed,
            threads: self.config.threads,
            source,
            stages,
            items_in_flight: self.budget.items_in_flight(),
            chunks_in_flight: self.budget.chunks_in_flight(),
            memory: MemoryStats {
                budget: monitor.memory.budget,
                rss: monitor.memory.rss,
                peak_rss: monitor.memory.peak_rss,
                max_in_flight: self.budget.max_items(),
                lowered: monitor.memory.lowered.clone(),
            },
        }
    }

    /// The run's report: its counters, and what it kept (dead letters,
    /// spans, samples), taken out of the run.
    pub(crate) fn report(&self) -> RunReport {
        let stats = self.snapshot();
        let (trace, trace_thinning) = match &self.trace {
            Some(trace) => trace.take(),
            None => (Vec::new(), 1),
        };
        RunReport {
            stats,
            dead_letters: self.dead_letters.take(),
            dead_letters_not_kept: self.dead_letters.dropped(),
            trace,
            trace_thinning,
            samples: std::mem::take(&mut self.monitor.lock().samples),
        }
    }
}
