//! The tuner ([`Mode::auto`]): it gives a waiting stage the replicas that
//! hide its waits, keeps a computing one to what the cores can run, never
//! passes its bound, changes its mind when the stage's cost changes, and
//! says why. Every run is checked item for item against the plain loop,
//! under a watchdog.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_engine::{Config, Mode, Pipeline, RunReport};
use common::{spin, watchdog, LIMIT};

/// Runs `0..items` through one auto blocking stage "work" doing `work`
/// (which gives `3 v` for `v`, after waiting or computing), then an
/// in-order sink, on two threads; checks the output and returns the report.
fn run_auto(
    items: u64,
    config: Config,
    work: impl Fn(u64) -> u64 + Send + Sync + Clone + 'static,
) -> RunReport {
    let expected: Vec<u64> = (0..items).map(|v| v * 3).collect();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let into = Arc::clone(&seen);
    let report = watchdog(LIMIT, move || {
        Pipeline::from_iter(0..items)
            .config(config.threads(2))
            .stage("work", Mode::auto().blocking())
            .map(work)
            .for_each(move |v| into.lock().unwrap().push(v))
            .unwrap()
    });
    assert!(
        *seen.lock().unwrap() == expected,
        "items lost, added or out of order"
    );
    report
}

/// The replicas the tuner allowed "work" at each sample.
fn replicas_over_time(report: &RunReport) -> Vec<usize> {
    report
        .samples
        .iter()
        .map(|s| s.stages[0].replicas)
        .collect()
}

fn sleep_then(v: u64, micros: u64) -> u64 {
    std::thread::sleep(Duration::from_micros(micros));
    v * 3
}

fn compute(v: u64, rounds: u32) -> u64 {
    std::hint::black_box(spin(rounds));
    v * 3
}

#[test]
fn a_waiting_stage_gets_the_replicas_that_hide_its_waits() {
    let report = run_auto(10_000, Config::default(), |v| sleep_then(v, 2_000));
    let work = report.stage("work").unwrap();
    let over_time = replicas_over_time(&report);
    assert_eq!(over_time.first(), Some(&2), "starts at one per thread");
    // 2 ms waits at the speed of two cores take hundreds in flight: the
    // bound (256), or close to it.
    assert!(work.replicas >= 64, "{over_time:?}");
    assert!(over_time.iter().all(|&r| r <= 256), "{over_time:?}");
    let why = work.tuning.as_deref().unwrap();
    assert!(
        why.starts_with(&format!("{} replicas", work.replicas)),
        "{why}"
    );
    assert!(why.contains("waits"), "{why}");
}

#[test]
fn the_tuner_never_passes_its_bound_and_says_so() {
    let config = Config::default().max_auto_replicas(24);
    let report = run_auto(3_000, config, |v| sleep_then(v, 2_000));
    let over_time = replicas_over_time(&report);
    assert!(over_time.iter().all(|&r| r <= 24), "{over_time:?}");
    let work = report.stage("work").unwrap();
    assert_eq!(work.replicas, 24, "{over_time:?}");
    let why = work.tuning.as_deref().unwrap();
    assert!(why.contains("capped at max_auto_replicas = 24"), "{why}");
}

#[test]
fn a_computing_stage_keeps_to_what_the_cores_can_run() {
    let report = run_auto(600, Config::default(), |v| compute(v, 200_000));
    let over_time = replicas_over_time(&report);
    // Two cores, a stage that only computes: two or three replicas (a
    // fifth over), however long its calls take on a loaded machine (the
    // other tests run beside this one: some slack for what they take).
    let work = report.stage("work").unwrap();
    assert!(
        over_time.iter().all(|&r| r <= 16),
        "{over_time:?}: {:?}",
        work.tuning
    );
    assert!(work.replicas <= 8, "{over_time:?}: {:?}", work.tuning);
}

#[test]
fn the_tuner_changes_its_mind_when_the_cost_changes_and_within_a_second() {
    // Waiting, then computing, then waiting again.
    const WAITS: u64 = 6_000;
    const COMPUTES: u64 = 3_000;
    let phase = |v: u64| match v {
        v if v < WAITS => 0,
        v if v < WAITS + COMPUTES => 1,
        _ => 2,
    };
    let report = run_auto(
        2 * WAITS + COMPUTES,
        Config::default(),
        move |v| match phase(v) {
            1 => compute(v, 300_000),
            _ => sleep_then(v, 2_000),
        },
    );
    let samples = &report.samples;
    let at = |i: usize| samples[i].at;
    let entered = |p: usize| {
        samples
            .iter()
            .position(|s| phase(s.stages[0].items_in) as usize >= p)
            .unwrap_or_else(|| panic!("no sample in phase {p}"))
    };
    let over_time = replicas_over_time(&report);
    let (computing, waiting_again) = (entered(1), entered(2));
    assert!(
        over_time[..computing].iter().any(|&r| r >= 64),
        "no rise while waiting: {over_time:?}"
    );
    let settled_low = (computing..waiting_again)
        .find(|&i| over_time[i] <= 8)
        .unwrap_or_else(|| panic!("no fall while computing: {over_time:?}"));
    assert!(at(settled_low) - at(computing) < Duration::from_secs(1));
    let settled_high = (waiting_again..samples.len())
        .find(|&i| over_time[i] >= 64)
        .unwrap_or_else(|| panic!("no rise when waiting again: {over_time:?}"));
    assert!(at(settled_high) - at(waiting_again) < Duration::from_secs(1));
}

#[test]
fn a_cpu_stage_on_auto_gets_one_replica_per_worker_and_the_reason() {
    let items = 20_000u64;
    let sum = Arc::new(Mutex::new(0u64));
    let into = Arc::clone(&sum);
    let report = watchdog(LIMIT, move || {
        Pipeline::from_iter(0..items)
            .config(Config::default().threads(3))
            .stage("double", Mode::auto())
            .map(|v: u64| v * 2)
            .for_each(move |v| *into.lock().unwrap() += v)
            .unwrap()
    });
    assert_eq!(*sum.lock().unwrap(), (0..items).map(|v| v * 2).sum::<u64>());
    let double = report.stage("double").unwrap();
    assert_eq!(double.replicas, 3);
    let why = double.tuning.as_deref().unwrap();
    assert!(why.contains("one per worker thread"), "{why}");
}

#[test]
fn a_slow_stream_is_tuned_over_a_longer_window() {
    // ~250 items/s from the source, each waiting 200 ms in "work": about
    // fifty must be in flight, and no 10 ms step sees the four items the
    // tuner judges by: its window has to grow.
    let items = 600u64;
    let expected: Vec<u64> = (0..items).map(|v| v * 3).collect();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let into = Arc::clone(&seen);
    let report = watchdog(LIMIT, move || {
        let slow = (0..items).inspect(|_| std::thread::sleep(Duration::from_millis(4)));
        Pipeline::from_iter(slow)
            .config(Config::default().threads(2).max_auto_replicas(128))
            .stage("work", Mode::auto().blocking())
            .map(|v| sleep_then(v, 200_000))
            .for_each(move |v| into.lock().unwrap().push(v))
            .unwrap()
    });
    assert!(
        *seen.lock().unwrap() == expected,
        "items lost, added or out of order"
    );
    let over_time = replicas_over_time(&report);
    let work = report.stage("work").unwrap();
    assert!(
        over_time.iter().any(|&r| r >= 24),
        "never tuned up: {over_time:?}: {:?}",
        work.tuning
    );
    let why = work.tuning.as_deref().unwrap();
    assert!(!why.contains("until a first measurement"), "{why}");
}

/// Runs 0..items through "make" (computing, in order: every item of the
/// last `lull` of each 200 computes about 1 ms, the others pass at once)
/// and "write" (blocking, in order, 150 µs an item) whose queue the tuner
/// sizes; checks the output and returns the report.
fn run_bursty(items: u64, lull: u64) -> RunReport {
    let expected: Vec<u64> = (0..items).collect();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let into = Arc::clone(&seen);
    let report = watchdog(LIMIT, move || {
        Pipeline::from_iter(0..items)
            .config(Config::default().threads(2))
            .stage("make", Mode::serial_in_order())
            .map(move |v| {
                if v % 200 >= 200 - lull {
                    std::hint::black_box(spin(500_000));
                }
                v
            })
            .stage("write", Mode::serial_in_order().blocking())
            .buffer_auto()
            .map(|v| {
                std::thread::sleep(Duration::from_micros(150));
                v
            })
            .for_each(move |v| into.lock().unwrap().push(v))
            .unwrap()
    });
    assert!(
        *seen.lock().unwrap() == expected,
        "items lost, added or out of order"
    );
    report
}

#[test]
fn a_stage_starved_behind_bursts_gets_a_deeper_queue_and_says_why() {
    // Bursts of 140 items at once, then lulls of 60 ms: 64 queued items
    // carry write through 10 ms of a lull; it starves for the rest, while
    // in the burst its queue is full and holds the source back.
    let report = run_bursty(6_000, 60);
    let write = report.stage("write").unwrap();
    let buffer = write.buffer.unwrap();
    let why = write.buffer_tuning.as_deref().unwrap();
    // 64 carry write through 10 ms of a 60 ms lull; it deepens (to 256 or
    // 512 on a quiet machine, within the few windows of the run).
    assert!(buffer >= 128, "{buffer} items: {why}");
    assert!(
        why.contains("waited for input") && why.contains("full"),
        "{why}"
    );
    assert!(
        write.tuning.is_none(),
        "replicas were not asked to be tuned"
    );
    eprintln!("{buffer}: {why}");
}

#[test]
fn a_stage_that_never_starves_keeps_the_queue_it_started_with() {
    // No lulls: write is the bottleneck throughout, its queue full, never
    // waiting for input; a deeper queue would only hold more items.
    let report = run_bursty(2_000, 0);
    let write = report.stage("write").unwrap();
    let why = write.buffer_tuning.as_deref().unwrap();
    assert_eq!(write.buffer, Some(64), "{why}");
    assert!(why.contains("to start with"), "{why}");
}
