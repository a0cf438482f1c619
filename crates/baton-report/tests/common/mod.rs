//! Shared by the integration tests: the bottling line, a watchdog so a hang
//! fails a test instead of stalling the suite, and where to keep outputs.

// Each test binary uses only some of these.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use baton_engine::{Config, Mode, Pipeline, RunReport};
use baton_report::TraceFile;

/// The limit for one test: generous, since CI machines are shared and loaded.
pub(crate) const LIMIT: Duration = Duration::from_secs(120);

/// Bottles on the line.
pub(crate) const BOTTLES: u64 = 40;

/// Each station's time per bottle.
pub(crate) const STATION_TIME: Duration = Duration::from_millis(2);

/// The textbook two-station line: fill, then seal, each serial and 2 ms a
/// bottle, traced.
///
/// Four worker threads whatever the machine: the stations sleep on a worker,
/// and on a one-core CI machine a single worker could not overlap them.
pub(crate) fn bottling_line() -> RunReport {
    Pipeline::from_iter(0..BOTTLES)
        .config(Config::default().trace(true).threads(4))
        .stage("fill", Mode::serial_in_order())
        .map(|bottle| {
            std::thread::sleep(STATION_TIME);
            bottle
        })
        .stage("seal", Mode::serial_in_order())
        .map(|bottle| {
            std::thread::sleep(STATION_TIME);
            bottle
        })
        .for_each(|_| {})
        .expect("the bottling line failed")
}

/// The bottling line's trace.
pub(crate) fn bottling_trace() -> TraceFile {
    TraceFile::from_report("bottling line", &bottling_line())
}

/// Runs `body` on a thread of its own; panics with a clear message if it has
/// not finished within `limit`. A panic in `body` is passed on as it is.
pub(crate) fn watchdog<T: Send + 'static>(
    limit: Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
        let _ = tx.send(result);
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(value)) => {
            let _ = worker.join();
            value
        }
        Ok(Err(panic)) => {
            let _ = worker.join();
            std::panic::resume_unwind(panic)
        }
        Err(RecvTimeoutError::Timeout) => panic!("the test did not finish within {limit:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("the test thread vanished"),
    }
}

/// A folder under Cargo's target directory where tests leave what a person
/// may want to look at afterwards (the page, the screenshot).
pub(crate) fn output_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("baton-report");
    std::fs::create_dir_all(&dir).expect("cannot create the test output folder");
    dir
}
