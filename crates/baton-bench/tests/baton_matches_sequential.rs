//! Every workload on baton, at a small size, gives the sequential reference
//! checksum.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use baton_bench::baton::run_baton;
use baton_bench::run::Implementation;
use baton_bench::sequential::run_sequential;
use baton_bench::stages::FetchLatency;
use baton_bench::workload::Workload;

/// Longer than any of these runs takes; a hung pipeline fails the test
/// instead of hanging it.
const WATCHDOG: Duration = Duration::from_secs(120);

/// Hand-set, on auto, and with one replica count for the tuned stages.
fn assert_baton_matches_sequential(workload: Workload, items: u64, threads: usize) {
    for setting in [
        Implementation::Baton,
        Implementation::BatonAuto,
        Implementation::BatonReplicas(3),
    ] {
        assert_setting_matches_sequential(workload, items, threads, setting);
    }
}

fn assert_setting_matches_sequential(
    workload: Workload,
    items: u64,
    threads: usize,
    setting: Implementation,
) {
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(run_baton(workload, items, threads, setting));
    });
    let baton = match finished.recv_timeout(WATCHDOG) {
        Ok(result) => {
            result.unwrap_or_else(|error| panic!("{workload} on {setting} failed: {error}"))
        }
        Err(_) => panic!("{workload} on baton with {items} items did not finish in {WATCHDOG:?}"),
    };
    let sequential = run_sequential(workload, items, FetchLatency::Skip);
    assert_eq!(
        baton, sequential,
        "{workload}, {items} items, {threads} threads: {setting} {baton:#018x}, sequential {sequential:#018x}"
    );
}

#[test]
fn w1_matches() {
    assert_baton_matches_sequential(Workload::W1, 10_000, 2);
    assert_baton_matches_sequential(Workload::W1, 1, 3);
}

#[test]
fn w2_matches() {
    assert_baton_matches_sequential(Workload::W2, 300, 2);
}

#[test]
fn w3_matches() {
    assert_baton_matches_sequential(Workload::W3, 300, 2);
}

#[test]
fn w4_matches() {
    // 40 fetches of 1 ms each, mostly overlapped.
    assert_baton_matches_sequential(Workload::W4, 40, 2);
}

#[test]
fn w5_matches() {
    assert_baton_matches_sequential(Workload::W5, 8, 2);
}

#[test]
fn w6_matches() {
    assert_baton_matches_sequential(Workload::W6, 250, 2);
    assert_baton_matches_sequential(Workload::W6, 250, 1);
}

#[test]
fn w7_matches() {
    // Both phases: 150 CPU-bound items, then 150 that sleep 200 µs.
    assert_baton_matches_sequential(Workload::W7, 300, 2);
    assert_baton_matches_sequential(Workload::W7, 300, 1);
}
