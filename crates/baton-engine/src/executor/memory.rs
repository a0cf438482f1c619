//! The memory guard: keeps the process's resident memory within the run's
//! memory budget ([`crate::Config::memory_budget`]) by holding fewer items
//! in flight. The engine cannot know what an item weighs (a number, a
//! decoded image, a record batch), but the kernel knows what the process
//! holds: past the budget, the bound on items in flight halves, once the
//! last cut has taken effect (the items in flight have fallen to it), down
//! to what the stages need to go on; while the items in flight use the
//! bound and what they took says more would fit within nine tenths of the
//! budget, it doubles (or grows by a quarter), toward what the user set.
//! The guard reacts: what the run takes between two looks (10 ms) may pass
//! the budget before it holds the run back. Memory that the
//! process holds besides the run (a model, a training loop) counts too, as
//! it does for the kernel's out-of-memory killer.

use std::sync::atomic::Ordering;

use super::Run;

/// What the guard saw and did, for the stats.
#[derive(Clone, Debug, Default)]
pub(super) struct MemoryState {
    /// The budget in bytes (`None`: no guard).
    pub(super) budget: Option<u64>,
    /// The process's resident memory at the last look, and the most seen.
    pub(super) rss: u64,
    pub(super) peak_rss: u64,
    /// Why the bound on items in flight is lower than the user's, if it is.
    pub(super) lowered: Option<String>,
}

/// The guard, kept by the monitor thread.
#[derive(Debug)]
pub(super) struct MemoryGuard {
    budget: u64,
    /// What the process held before the run: what the run's items add
    /// comes on top of it.
    base: u64,
    /// The bound it set (`None`: it holds the run to the user's).
    bound: Option<usize>,
}

impl MemoryGuard {
    /// A guard for `budget` bytes, if there is one and the process's
    /// resident memory can be read here.
    pub(super) fn new(budget: Option<u64>) -> Option<Self> {
        let budget = budget?;
        let base = resident_bytes()?;
        Some(Self {
            budget,
            base,
            bound: None,
        })
    }

    /// One look: reads the resident memory, and moves the bound on items
    /// in flight if need be.
    pub(super) fn step(&mut self, run: &Run) {
        let Some(rss) = resident_bytes() else {
            return;
        };
        let user = run.user_max_in_flight.load(Ordering::Relaxed);
        let floor = floor(run).min(user);
        let in_flight = run.budget.items_in_flight();
        let bound = self.bound.unwrap_or(user).min(user);
        let mut moved = None;
        if rss > self.budget {
            // Once the last cut has taken effect (or at the first), halve
            // what is in flight.
            if self.bound.is_none() || in_flight <= bound {
                let lower = (in_flight.min(bound) / 2).max(floor);
                if lower < bound {
                    moved = Some(lower);
                }
            }
        } else if self.bound.is_some() && in_flight * 10 >= bound * 9 {
            // Using what it has, and within the budget: more, if what the
            // items took so far says that more would fit (the run's memory
            // taken as growing with its items in flight).
            let taken = rss.saturating_sub(self.base) as f64;
            let room = FILL * self.budget as f64 - self.base as f64;
            moved = [2.0, 1.25]
                .into_iter()
                .find(|grow| taken * grow <= room)
                .map(|grow| ((bound as f64 * grow) as usize + 1).min(user));
        }
        let mut state = run.monitor.lock();
        state.memory.rss = rss;
        state.memory.peak_rss = state.memory.peak_rss.max(rss);
        let moved = moved.filter(|&to| to != bound);
        if let Some(to) = moved {
            run.budget.set_max_items(to);
            self.bound = (to < user).then_some(to);
        }
        state.memory.lowered = self.bound.map(|held| {
            format!(
                "{held} items in flight (of {user}): the process held {} of its {} memory budget",
                size(rss),
                size(self.budget)
            )
        });
        drop(state);
        let Some(to) = moved else {
            return;
        };
        tracing::debug!(
            rss,
            budget = self.budget,
            in_flight,
            to,
            "the memory guard moved the bound on items in flight"
        );
        if to > bound {
            run.wake_source_runners();
        }
    }

    /// The user set a new bound: the guard starts over from it.
    pub(super) fn reset(&mut self) {
        self.bound = None;
    }
}

/// The most the guard fills of the budget when it raises the bound.
const FILL: f64 = 0.9;

/// What the stages need to go on: a batch or a shuffle holds its items,
/// and every CPU worker wants one.
pub(super) fn floor(run: &Run) -> usize {
    (run.extra_in_flight + run.config.threads).max(1)
}

/// `bytes` as people read them: `977 KiB`, `163 MiB`, `4.0 GiB`.
fn size(bytes: u64) -> String {
    let bytes = bytes as f64;
    match bytes {
        b if b >= (1u64 << 30) as f64 => format!("{:.1} GiB", b / (1u64 << 30) as f64),
        b if b >= (1u64 << 20) as f64 => format!("{:.0} MiB", b / (1u64 << 20) as f64),
        b => format!("{:.0} KiB", b / 1024.0),
    }
}

/// The process's resident memory in bytes, where the system tells it.
#[cfg(not(target_os = "linux"))]
pub(crate) fn resident_bytes() -> Option<u64> {
    None
}

/// The process's resident memory in bytes, where the system tells it.
#[cfg(target_os = "linux")]
pub(crate) fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * rustix::param::page_size() as u64)
}

/// The memory the process may have: the machine's, or its cgroup's limit
/// if lower; `None` where the system does not tell.
pub(crate) fn available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let total_kib: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let total = total_kib * 1024;
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|path| std::fs::read_to_string(path).ok())
    .filter_map(|text| text.trim().parse::<u64>().ok())
    .min();
    Some(cgroup.map_or(total, |limit| limit.min(total)))
}
