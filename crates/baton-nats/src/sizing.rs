//! How many items go in one message of a hop: as many as make about
//! [`HopOptions::message_work`](crate::HopOptions::message_work) of work
//! for a replica of the costliest remote stage, learnt from the workers'
//! stats while the run goes.
//!
//! A message pays a fixed cost (a publish and its ack, a fetch, an ack,
//! and the same again downstream) whatever it carries, so cheap items
//! must travel many to a message or that cost is all a run does. But a
//! message is worked by one replica, item after item: slow items packed
//! many to a message leave the other replicas idle and make a crashed
//! worker's redelivery long. Aiming at a worker time per message serves
//! both: a trivial map gets thousands of items per message, W4's 1 ms
//! fetch about twenty.

use std::collections::HashMap;
use std::time::Duration;

use crate::stats::WorkerStats;

/// Busy time of a stage's workers, in ms, below which a reading says too
/// little to go by.
const ENOUGH_BUSY_MS: u64 = 20;

/// What the workers of each stage had done at the last reading.
#[derive(Debug, Default)]
pub(crate) struct CostMeter {
    /// Items and busy ms of each worker (by stage, host and pid).
    seen: HashMap<(String, String, u32), (u64, u64)>,
}

impl CostMeter {
    /// The cost of one item, in ns, at the costliest stage the workers
    /// serve: over the time since the last reading when the workers were
    /// busy enough in it, else over their whole run; `None` while no
    /// stage has been busy long enough to say.
    pub(crate) fn costliest_ns(&mut self, workers: &[WorkerStats]) -> Option<f64> {
        // Per stage: (items, busy ms) since the last reading, and in all.
        let mut stages: HashMap<&str, [(u64, u64); 2]> = HashMap::new();
        for worker in workers {
            let key = (worker.stage.clone(), worker.host.clone(), worker.pid);
            let (items_before, busy_before) = self.seen.get(&key).copied().unwrap_or((0, 0));
            let sums = stages.entry(&worker.stage).or_default();
            sums[0].0 += worker.items.saturating_sub(items_before);
            sums[0].1 += worker.busy_ms.saturating_sub(busy_before);
            sums[1].0 += worker.items;
            sums[1].1 += worker.busy_ms;
            self.seen.insert(key, (worker.items, worker.busy_ms));
        }
        stages
            .values()
            .filter_map(|[recent, all]| {
                let (items, busy_ms) = if recent.1 >= ENOUGH_BUSY_MS {
                    *recent
                } else if all.1 >= ENOUGH_BUSY_MS {
                    *all
                } else {
                    return None;
                };
                // Busy without an item done: at least that long for one.
                Some(busy_ms as f64 * 1e6 / items.max(1) as f64)
            })
            .reduce(f64::max)
    }
}

/// Items per message for `work` of a replica's time at `cost_ns` an
/// item: at least 1, at most `most`.
pub(crate) fn items_for(work: Duration, cost_ns: f64, most: usize) -> usize {
    let most = most.max(1);
    if cost_ns <= 0.0 {
        return most;
    }
    let items = work.as_nanos() as f64 / cost_ns;
    (items as usize).clamp(1, most)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(stage: &str, pid: u32, items: u64, busy_ms: u64) -> WorkerStats {
        WorkerStats {
            stage: stage.into(),
            host: "here".into(),
            pid,
            items,
            busy_ms,
            ..WorkerStats::default()
        }
    }

    #[test]
    fn nothing_is_said_before_the_workers_have_been_busy_a_while() {
        let mut meter = CostMeter::default();
        assert_eq!(meter.costliest_ns(&[]), None);
        assert_eq!(meter.costliest_ns(&[worker("inc", 1, 5000, 3)]), None);
    }

    #[test]
    fn the_costliest_stage_counts_and_every_worker_of_a_stage_adds_up() {
        let mut meter = CostMeter::default();
        let cost = meter.costliest_ns(&[
            worker("cheap", 1, 100_000, 50),
            worker("slow", 2, 100, 60),
            worker("slow", 3, 100, 40),
        ]);
        // 100 ms over 200 items: 0.5 ms an item.
        assert_eq!(cost, Some(500_000.0));
    }

    #[test]
    fn a_stage_whose_cost_changes_is_read_from_the_last_interval() {
        let mut meter = CostMeter::default();
        assert_eq!(
            meter.costliest_ns(&[worker("s", 1, 1000, 100)]),
            Some(100_000.0)
        );
        // Then 100 items in 100 ms: 1 ms each, not the run's 0.18 ms.
        assert_eq!(
            meter.costliest_ns(&[worker("s", 1, 1100, 200)]),
            Some(1_000_000.0)
        );
        // A quiet interval: the whole run speaks.
        let whole = meter.costliest_ns(&[worker("s", 1, 1101, 201)]).unwrap();
        assert!((whole - 201e6 / 1101.0).abs() < 1.0);
    }

    #[test]
    fn an_item_still_running_counts_as_one_that_long() {
        let mut meter = CostMeter::default();
        assert_eq!(meter.costliest_ns(&[worker("s", 1, 0, 3000)]), Some(3e9));
    }

    #[test]
    fn items_per_message_follow_the_cost_within_bounds() {
        let work = Duration::from_millis(20);
        assert_eq!(items_for(work, 1_000_000.0, 8192), 20);
        assert_eq!(items_for(work, 500.0, 8192), 8192);
        assert_eq!(items_for(work, 1e9, 8192), 1);
        assert_eq!(items_for(work, 0.0, 0), 1);
    }
}
