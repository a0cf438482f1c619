//! A blocking first stage runs the source itself, and as many of its
//! threads keep cycling as the stages after it can take: these tests hold it
//! to the same results as any other pipeline under tight budgets, stops and
//! drops, and check that the threads it does not need leave the cycle.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use baton_engine::{Config, Mode, Pipeline, RunReport};
use common::{eventually, spin, watchdog, LIMIT};

fn fetch(x: u64) -> u64 {
    std::thread::sleep(Duration::from_micros(200));
    x * 2
}

/// The first stage's threads cycling (holding a replica), on average over
/// the samples taken after `after`, of which there must be over `at_least`.
fn mean_cycling(report: &RunReport, after: Duration, at_least: usize) -> f64 {
    let active: Vec<usize> = report
        .samples
        .iter()
        .filter(|s| s.at > after)
        .map(|s| s.stages[0].active)
        .collect();
    assert!(active.len() > at_least, "too few samples: {}", active.len());
    active.iter().sum::<usize>() as f64 / active.len() as f64
}

/// The first stage's chunks per item over the run.
fn chunks_per_item(report: &RunReport) -> f64 {
    let fetch = &report.stats.stages[0];
    fetch.chunks as f64 / fetch.items_in as f64
}

#[test]
fn tight_budgets_give_every_item_in_order() {
    watchdog(LIMIT, || {
        for max_chunks in [1usize, 2, 3, 5, 40] {
            for replicas in [1usize, 4, 16] {
                let out = Pipeline::from_iter(0..300u64)
                    .config(Config::default().max_chunks_in_flight(max_chunks))
                    .map(Mode::parallel(replicas).blocking(), fetch)
                    .map(Mode::parallel(2), |x| {
                        std::hint::black_box(spin(2_000));
                        x
                    })
                    .collect()
                    .unwrap();
                assert_eq!(
                    out,
                    (0..300u64).map(|x| x * 2).collect::<Vec<_>>(),
                    "max_chunks_in_flight({max_chunks}), {replicas} replicas"
                );
            }
        }
    });
}

#[test]
fn a_slow_stage_after_it_leaves_most_threads_parked() {
    watchdog(LIMIT, || {
        // Fetches take 1 ms and 32 may run at once, but the stage after
        // takes 2 ms an item: one fetch thread at a time is enough.
        let report = Pipeline::from_iter(0..400u64)
            .config(Config::default().sample_every(Duration::from_millis(5)))
            .stage("fetch", Mode::parallel(32).blocking())
            .map(|x| {
                std::thread::sleep(Duration::from_millis(1));
                x
            })
            .stage("slow", Mode::serial_in_order().blocking())
            .map(|x| {
                std::thread::sleep(Duration::from_millis(2));
                x
            })
            .for_each(|_| {})
            .unwrap();
        let mean = mean_cycling(&report, Duration::from_millis(100), 20);
        assert!(
            mean < 8.0,
            "on average {mean:.1} of 32 fetch threads kept cycling for a stage that needs one"
        );
        assert_eq!(report.stats.stages[1].items_out, 400);
        // With threads to spare, its items travel two to a chunk.
        let ratio = chunks_per_item(&report);
        assert!(ratio < 0.75, "{ratio:.2} chunks per item");
    });
}

#[test]
fn a_fast_stage_after_it_keeps_every_thread_cycling() {
    watchdog(LIMIT, || {
        // The stage after is nearly free: the fetches are the bottleneck,
        // and all 8 threads should be fetching most of the time.
        let report = Pipeline::from_iter(0..2_000u64)
            .config(Config::default().sample_every(Duration::from_millis(5)))
            .stage("fetch", Mode::parallel(8).blocking())
            .map(|x| {
                std::thread::sleep(Duration::from_millis(1));
                x
            })
            .map(Mode::parallel(2), |x| x + 1)
            .for_each(|_| {})
            .unwrap();
        let mean = mean_cycling(&report, Duration::from_millis(20), 10);
        assert!(
            mean > 5.0,
            "only {mean:.1} of 8 fetch threads cycling on average"
        );
        // Every thread busy: items that wait travel alone, one per thread.
        let ratio = chunks_per_item(&report);
        assert!(ratio > 0.9, "{ratio:.2} chunks per item");
    });
}

#[test]
fn stop_and_drop_end_a_run_whose_fetch_threads_wait_for_room() {
    watchdog(LIMIT, || {
        // An endless source, 16 fetch threads and room for 4 chunks: most
        // threads wait for room or are parked when the run is stopped.
        let handle = Pipeline::from_iter(0u64..)
            .config(Config::default().max_chunks_in_flight(4))
            .map(Mode::parallel(16).blocking(), fetch)
            .map(Mode::serial_in_order(), |x| {
                std::thread::sleep(Duration::from_millis(1));
                x
            })
            .spawn_for_each(|_| {})
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        handle.stop();
        let report = handle.join().unwrap();
        assert!(report.stats.source.items > 0);

        let mut iter = Pipeline::from_iter(0u64..)
            .config(Config::default().max_chunks_in_flight(4))
            .map(Mode::parallel(16).blocking(), fetch)
            .into_iter();
        assert_eq!(iter.next().map(Result::unwrap), Some(0));
        drop(iter);
    });
}

#[test]
fn replicas_changed_while_it_runs_under_a_tight_budget() {
    watchdog(LIMIT, || {
        let count = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&count);
        let mut expected = 0u64;
        let run = Pipeline::from_iter(0u64..)
            .config(Config::default().max_chunks_in_flight(3))
            .stage("fetch", Mode::parallel(4).blocking())
            .map(fetch)
            .spawn_for_each(move |x| {
                assert_eq!(x, expected * 2, "items in source order, none lost");
                expected += 1;
                seen.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        let handle = run.handle();
        for replicas in [1, 8, 2, 16, 1, 3] {
            handle.set_replicas("fetch", replicas).unwrap();
            let now = count.load(Ordering::SeqCst);
            assert!(
                eventually(LIMIT, || count.load(Ordering::SeqCst) > now + 20),
                "no progress at {replicas} replicas"
            );
        }
        run.stop();
        run.join().unwrap();
    });
}
