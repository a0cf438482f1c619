//! Where the run's threads spend their time, as the kernel counts it: on a
//! core, or runnable but waiting for one. The tuner needs both: a blocking
//! stage's time in a call that was neither is time it waited (on I/O, a
//! sleep), which more replicas hide; time it waited for a core is not, and
//! more replicas would only make it longer.
//!
//! Each thread of the run registers itself once; the monitor reads every
//! registered thread's `/proc/self/task/<tid>/schedstat` (Linux) at each
//! tuning step. Elsewhere, or when that file cannot be read, nothing is
//! registered and the tuner falls back to wall-clock times.

use std::fs::File;
use std::sync::Mutex;

/// Which part of the run a thread works for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// A CPU worker.
    Worker,
    /// A thread of blocking stage `s`.
    Blocking(usize),
}

/// Time on a core and waiting for one, in ns, summed over some threads.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct CpuTimes {
    pub(super) on_cpu_ns: f64,
    pub(super) runnable_ns: f64,
}

impl CpuTimes {
    /// The share of the time these threads wanted a core that they had
    /// one (1 when they never waited, or when nothing was measured).
    pub(super) fn on_cpu_share(&self) -> f64 {
        let wanted = self.on_cpu_ns + self.runnable_ns;
        if wanted > 0.0 {
            self.on_cpu_ns / wanted
        } else {
            1.0
        }
    }
}

struct Tracked {
    role: Role,
    file: File,
    last: (u64, u64),
}

/// The registered threads and what was last read of each.
#[derive(Default)]
pub(super) struct ThreadTimes {
    threads: Mutex<Vec<Tracked>>,
}

impl std::fmt::Debug for ThreadTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadTimes").finish_non_exhaustive()
    }
}

impl ThreadTimes {
    /// Registers the calling thread under `role` (nothing happens where the
    /// kernel does not tell).
    pub(super) fn register(&self, role: Role) {
        let Some(file) = own_schedstat() else {
            return;
        };
        let last = read_schedstat(&file).unwrap_or_default();
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Tracked { role, file, last });
    }

    /// Whether any thread is measured.
    pub(super) fn measures(&self) -> bool {
        !self
            .threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// The time each role's threads spent since the last call: the CPU
    /// workers' (first), then every blocking stage's (indexed by stage).
    /// Threads that have ended are dropped.
    pub(super) fn take_deltas(&self, stages: usize) -> (CpuTimes, Vec<CpuTimes>) {
        let mut workers = CpuTimes::default();
        let mut blocking = vec![CpuTimes::default(); stages];
        let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        threads.retain_mut(|tracked| {
            let Some(now) = read_schedstat(&tracked.file) else {
                return false;
            };
            let on_cpu = now.0.saturating_sub(tracked.last.0) as f64;
            let runnable = now.1.saturating_sub(tracked.last.1) as f64;
            tracked.last = now;
            let into = match tracked.role {
                Role::Worker => Some(&mut workers),
                Role::Blocking(s) => blocking.get_mut(s),
            };
            if let Some(into) = into {
                into.on_cpu_ns += on_cpu;
                into.runnable_ns += runnable;
            }
            true
        });
        (workers, blocking)
    }
}

/// The calling thread's schedstat file, opened to be read again and again.
#[cfg(target_os = "linux")]
fn own_schedstat() -> Option<File> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    let tid = link.file_name()?.to_str()?.to_owned();
    let file = File::open(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    read_schedstat(&file).map(|_| file)
}

#[cfg(not(target_os = "linux"))]
fn own_schedstat() -> Option<File> {
    None
}

/// Reads a schedstat file afresh: ns on a core, ns runnable and waiting.
fn read_schedstat(file: &File) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let mut buffer = [0u8; 96];
        let read = file.read_at(&mut buffer, 0).ok()?;
        let text = std::str::from_utf8(&buffer[..read]).ok()?;
        let mut fields = text.split_ascii_whitespace();
        let on_cpu = fields.next()?.parse().ok()?;
        let runnable = fields.next()?.parse().ok()?;
        Some((on_cpu, runnable))
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        None
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_spinning_thread_shows_time_on_a_core_and_a_sleeping_one_does_not() {
        let times = std::sync::Arc::new(ThreadTimes::default());
        let spin = {
            let times = std::sync::Arc::clone(&times);
            std::thread::spawn(move || {
                times.register(Role::Worker);
                let start = std::time::Instant::now();
                let mut x = 1u64;
                while start.elapsed() < std::time::Duration::from_millis(150) {
                    x = std::hint::black_box(x.wrapping_mul(3));
                }
            })
        };
        let sleep = {
            let times = std::sync::Arc::clone(&times);
            std::thread::spawn(move || {
                times.register(Role::Blocking(0));
                std::thread::sleep(std::time::Duration::from_millis(150));
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        let _ = times.take_deltas(1);
        std::thread::sleep(std::time::Duration::from_millis(60));
        // Both threads are still alive: a thread that has ended is dropped.
        let (workers, blocking) = times.take_deltas(1);
        assert!(times.measures());
        assert!(workers.on_cpu_ns > 20e6, "{workers:?}");
        assert!(blocking[0].on_cpu_ns < 5e6, "{blocking:?}");
        spin.join().unwrap();
        sleep.join().unwrap();
    }
}
