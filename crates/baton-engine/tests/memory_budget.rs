//! The memory budget: a run whose items grow large where they pile up
//! (fetches ahead of a slower writer, with room for many chunks in
//! flight) keeps the process's resident memory within the budget by
//! holding fewer items in flight, and loses nothing. Alone in its binary,
//! so that the process's memory is this run's.

mod common;

/// What the `baton` command runs on: what the process holds depends on how
/// the allocator keeps what was freed (the system's keeps much of it in
/// per-thread arenas, which would read as items still held).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use baton_engine::{Config, Mode, Pipeline};
use common::{rss_kib, watchdog, LIMIT};

/// 4 MiB, every byte written: what a fetch of a large object holds.
const ITEM_BYTES: usize = 4 << 20;

/// Runs 600 items through "fetch" (8 blocking replicas: each waits 10 ms,
/// then holds a 4 MiB buffer: 800 a second) and a writer that takes 3 ms
/// an item (333 a second), with room for 10,000 chunks in flight (so that
/// only the bound on items holds the pile back); returns the sum of
/// every buffer's first and last byte as the writer saw them, in order, the
/// report, and the most the process held while it ran, in bytes.
fn run(budget: Option<u64>) -> (u64, baton_engine::RunReport, u64) {
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib() * 1024, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let sum = Arc::new(AtomicU64::new(0));
    let into = Arc::clone(&sum);
    let report = watchdog(LIMIT, move || {
        Pipeline::from_iter(0..600u64)
            .config(
                Config::default()
                    .threads(2)
                    .max_chunks_in_flight(10_000)
                    .memory_budget(budget),
            )
            .stage("fetch", Mode::parallel(8).blocking())
            .map(|v| {
                std::thread::sleep(Duration::from_millis(10));
                (v, vec![(v % 251) as u8; ITEM_BYTES])
            })
            .stage("write", Mode::serial_in_order())
            .for_each(move |(v, bytes)| {
                std::thread::sleep(Duration::from_millis(3));
                assert_eq!(bytes.len(), ITEM_BYTES);
                let seen = u64::from(bytes[0]) + u64::from(bytes[ITEM_BYTES - 1]);
                // In order: each item's number weighs in.
                into.fetch_add(seen * (v + 1), Ordering::Relaxed);
            })
            .unwrap()
    });
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    (
        sum.load(Ordering::Relaxed),
        report,
        peak.load(Ordering::Relaxed),
    )
}

#[test]
fn a_run_keeps_within_its_memory_budget_and_loses_nothing() {
    let expected: u64 = (0..600u64).map(|v| 2 * (v % 251) * (v + 1)).sum();
    // First with a budget 160 MiB above what the process holds now, then
    // without one (what the run would hold: the freed buffers of the first
    // run are reused, so this only makes it look smaller).
    let budget = rss_kib() * 1024 + (160 << 20);
    let (sum, report, peak) = run(Some(budget));
    assert_eq!(sum, expected, "items lost, added or out of order");
    let memory = &report.stats.memory;
    assert_eq!(memory.budget, Some(budget));
    let why = memory.lowered.as_deref().unwrap_or_default();
    // The guard looks every 10 ms (8 fetches take 32 MiB in that time),
    // and the allocator keeps some of what was freed: some tens of MiB
    // past the budget at worst, against more than a GiB without it
    // (below); and once it has taken hold, the run stays about within it.
    assert!(
        peak <= budget + (96 << 20),
        "peak {} MiB over the budget of {} MiB: {memory:?}",
        peak >> 20,
        budget >> 20
    );
    let mut late: Vec<u64> = report
        .samples
        .iter()
        .skip(report.samples.len() / 2)
        .map(|s| s.rss_bytes)
        .collect();
    late.sort_unstable();
    let late_median = late[late.len() / 2];
    assert!(
        late_median <= budget + (56 << 20),
        "{} MiB held in the second half of the run, for a budget of {} MiB",
        late_median >> 20,
        budget >> 20
    );
    assert!(
        memory.peak_rss > 0 && memory.max_in_flight >= 2,
        "{memory:?}"
    );
    let lowered_at_some_point = report
        .samples
        .iter()
        .any(|s| s.max_in_flight < 131_072 && s.rss_bytes > 0);
    assert!(
        lowered_at_some_point,
        "the guard never held the run back: {memory:?}"
    );
    let (sum, report, peak_unbounded) = run(None);
    assert_eq!(sum, expected);
    assert!(report.stats.memory.budget.is_none());
    assert!(
        peak_unbounded > budget + (400 << 20),
        "without a budget the run held only {} MiB: the test shows nothing",
        peak_unbounded >> 20
    );
    eprintln!(
        "budget {} MiB, peak {} MiB, late median {} MiB, unbounded {} MiB; {why}",
        budget >> 20,
        peak >> 20,
        late_median >> 20,
        peak_unbounded >> 20
    );
}
