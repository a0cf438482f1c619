//! A stream that arrives slower than the run could take it (standard input
//! from a slow producer): the tuner aims at what the source gives, so the
//! replicas of a waiting stage settle instead of swinging, and the threads
//! waiting for the next item cost next to no CPU. Alone in its binary, so
//! that the process's CPU time is this run's.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton_engine::{Config, Mode, Pipeline};
use common::{process_cpu, watchdog, LIMIT};

#[test]
fn a_slow_stream_settles_the_replicas_and_idles_cheaply() {
    // 200 items/s for 3 s, each waiting 100 ms in "work": about 20 in
    // flight keep up; the cores could take thousands a second.
    let items = 600u64;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let into = Arc::clone(&seen);
    let cpu_before = process_cpu();
    let started = Instant::now();
    let report = watchdog(LIMIT, move || {
        let slow = (0..items).inspect(|_| std::thread::sleep(Duration::from_millis(5)));
        Pipeline::from_stream(slow)
            .config(Config::default().threads(2))
            .stage("work", Mode::auto().blocking())
            .map(|v| {
                std::thread::sleep(Duration::from_millis(100));
                v * 3
            })
            .for_each(move |v| into.lock().unwrap().push(v))
            .unwrap()
    });
    let wall = started.elapsed();
    let cpu = process_cpu().saturating_sub(cpu_before);
    let expected: Vec<u64> = (0..items).map(|v| v * 3).collect();
    assert!(
        *seen.lock().unwrap() == expected,
        "items lost, added or out of order"
    );
    let work = report.stage("work").unwrap();
    let why = work.tuning.as_deref().unwrap();
    assert!(why.contains("what the source"), "{why}");
    // After the first second, the replicas stay within a band and change
    // only now and then: enough to keep up (20 in flight; fewer on a
    // loaded machine, where the stream itself comes slower), never the
    // most the tuner may give (256), no swing wider than 6-fold and no
    // more than 8 changes in 2 s. (Before the tuner aimed at what the
    // source gives, they swung between 2 and 256 every few tenths.)
    let settled: Vec<usize> = report
        .samples
        .iter()
        .filter(|s| s.at >= Duration::from_secs(1))
        .map(|s| s.stages[0].replicas)
        .collect();
    let (low, high) = (
        *settled.iter().min().unwrap(),
        *settled.iter().max().unwrap(),
    );
    let changes = settled.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        low >= 8 && high <= 160 && high <= 6 * low && changes <= 8,
        "replicas after the first second range {low}..{high}, {changes} changes: \
         {settled:?}; {why}"
    );
    // The verdict names the source, which waits for its input, not the
    // stage whose replicas wait for items.
    let bottleneck = report.bottleneck().unwrap();
    assert_eq!(bottleneck.stage, report.stats.source.name);
    assert!(
        bottleneck.verdict.contains("waits for its input"),
        "{}",
        bottleneck.verdict
    );
    assert!(report.stats.source.waiting_for_input > Duration::from_secs(1));
    // Threads that wait for the next item park: a wide stage on a slow
    // stream must not keep the cores busy (it once kept both of them
    // busy, the threads waking each other in turn: 1.8 cores; then each
    // arrival woke every parked thread of the stage: 0.55 of a core here,
    // more on a loaded machine). An arrival now wakes one thread, which
    // wakes the next only if it found something: about 0.1 of a core.
    assert!(
        cpu < wall * 2 / 5,
        "{cpu:?} of CPU in {wall:?} for a run that mostly waits"
    );
}
