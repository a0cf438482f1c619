//! The floor under W4 on this machine, with no engine at all: P threads spin
//! W4's compute step (50,000 iterations) as fast as they can while `K`
//! other threads do W4's fetch (sleep 1 ms, spin 500) in a loop. The
//! spinners' rate against their rate alone is what the timer wake-ups and
//! context switches of thread-based fetches cost here, whatever runs them.
//!
//! ```sh
//! cargo run --release -p baton-bench --example w4_floor -- 24
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_bench::spin::spin;
use baton_bench::stages::{w4_fetch, FetchLatency, W4_COMPUTE_SPIN};

const MEASURE: Duration = Duration::from_secs(3);

/// Compute steps per second with `fetchers` fetch loops running beside
/// `spinners` spinning threads, and the fetches done per second.
fn rates(spinners: usize, fetchers: usize) -> (f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let computed = Arc::new(AtomicU64::new(0));
    let fetched = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for i in 0..fetchers {
        let (stop, fetched) = (Arc::clone(&stop), Arc::clone(&fetched));
        threads.push(std::thread::spawn(move || {
            let mut v = i as u64;
            while !stop.load(Ordering::Relaxed) {
                v = w4_fetch(v, FetchLatency::Sleep);
                fetched.fetch_add(1, Ordering::Relaxed);
            }
            std::hint::black_box(v);
        }));
    }
    for i in 0..spinners {
        let (stop, computed) = (Arc::clone(&stop), Arc::clone(&computed));
        threads.push(std::thread::spawn(move || {
            let mut v = i as u64;
            while !stop.load(Ordering::Relaxed) {
                v = spin(W4_COMPUTE_SPIN, v);
                computed.fetch_add(1, Ordering::Relaxed);
            }
            std::hint::black_box(v);
        }));
    }
    let start = Instant::now();
    std::thread::sleep(MEASURE);
    stop.store(true, Ordering::Relaxed);
    let seconds = start.elapsed().as_secs_f64();
    for thread in threads {
        thread.join().expect("a floor thread panicked");
    }
    (
        computed.load(Ordering::Relaxed) as f64 / seconds,
        fetched.load(Ordering::Relaxed) as f64 / seconds,
    )
}

fn main() {
    let fetchers: usize = std::env::args()
        .nth(1)
        .map_or(Ok(24), |arg| arg.parse())
        .expect("the argument is the number of fetch threads");
    let spinners = std::thread::available_parallelism().map_or(2, usize::from);
    let (alone, _) = rates(spinners, 0);
    let (beside, fetches) = rates(spinners, fetchers);
    println!(
        "{spinners} spinners alone: {alone:.0} compute steps/s; beside {fetchers} fetch threads \
         ({fetches:.0} fetches/s): {beside:.0} steps/s, {:.3} of alone",
        beside / alone
    );
}
