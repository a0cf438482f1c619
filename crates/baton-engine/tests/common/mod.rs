//! Shared by the integration tests: a watchdog so that a deadlock fails a
//! test instead of hanging the suite, and a few probes of the process.

// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The limit for one test: generous, since CI machines are shared and loaded.
pub(crate) const LIMIT: Duration = Duration::from_secs(60);

/// Marks panics the tests cause on purpose, so the panic hook stays quiet.
pub(crate) const INTENDED: &str = "intended panic";

/// Runs `body` on a thread of its own and returns its result; panics with a
/// clear message if it has not finished within `limit` (a deadlock, most
/// likely). A panic in `body` is passed on as it is.
pub(crate) fn watchdog<T: Send + 'static>(
    limit: Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let test = std::thread::current().name().unwrap_or("test").to_string();
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name(format!("watched:{test}"))
        .spawn(move || {
            let result = std::panic::catch_unwind(AssertUnwindSafe(body));
            let _ = tx.send(result);
        })
        .expect("the watchdog could not start its thread");
    match rx.recv_timeout(limit) {
        Ok(Ok(value)) => {
            let _ = worker.join();
            value
        }
        Ok(Err(panic)) => {
            let _ = worker.join();
            std::panic::resume_unwind(panic)
        }
        Err(RecvTimeoutError::Timeout) => panic!(
            "deadlock? test `{test}` exceeded {} s; threads now: {:?}",
            limit.as_secs(),
            thread_names()
        ),
        Err(RecvTimeoutError::Disconnected) => {
            panic!("the watched body of `{test}` vanished without a result")
        }
    }
}

/// Installs (once per process) a panic hook that stays quiet for the panics
/// the tests cause on purpose (their message contains [`INTENDED`]) and
/// reports every other one as usual.
pub(crate) fn quiet_intended_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if !message.contains(INTENDED) {
                previous(info);
            }
        }));
    });
}

/// Burns about `rounds` small steps of CPU, so stages cost something.
pub(crate) fn spin(rounds: u32) -> u64 {
    let mut x = 0u64;
    for i in 0..rounds {
        x = std::hint::black_box(
            x.wrapping_mul(6364136223846793005)
                .wrapping_add(u64::from(i)),
        );
    }
    x
}

/// A field of `/proc/self/status` (in its own unit), if there is one.
fn status_field(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// The process's resident memory, in KiB.
pub(crate) fn rss_kib() -> u64 {
    status_field("VmRSS:").expect("VmRSS in /proc/self/status")
}

/// The CPU time the process has used so far (user and system, all its
/// threads), from `/proc/self/stat`.
pub(crate) fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The fields after the command (which may hold spaces) start after ')'.
    let after = &stat[stat.rfind(')').expect("a command in /proc/self/stat") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 11 and 12 here.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // Clock ticks are 1/100 s on every Linux the tests run on.
    Duration::from_millis(ticks * 10)
}

/// The process's threads now.
pub(crate) fn thread_count() -> usize {
    status_field("Threads:").expect("Threads in /proc/self/status") as usize
}

/// The names of the process's threads now (for diagnostics).
pub(crate) fn thread_names() -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut names: Vec<String> = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect();
    names.sort();
    names
}

/// Polls `condition` every few milliseconds until it holds or `limit` passes;
/// returns whether it held.
pub(crate) fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Sorts a copy, to compare multisets.
pub(crate) fn sorted<T: Ord + Clone>(items: &[T]) -> Vec<T> {
    let mut items = items.to_vec();
    items.sort();
    items
}

pub(crate) mod model;
