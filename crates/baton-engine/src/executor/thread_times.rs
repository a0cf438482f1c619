//! Where the run's threads spend their time, as the kernel counts it: on a
//! core, or runnable but waiting for one. The tuner needs both: a blocking
//! stage's time in a call that was neither is time it waited (on I/O, a
//! sleep), which more replicas hide; time it waited for a core is not, and
//! more replicas would only make it longer.
//!
//! Each thread of a tuned run reads its own times after a call, at most
//! once every [`READ_EVERY`], and adds what passed since its last read to
//! its stage's counters (a blocking stage's thread) or the workers' (a CPU
//! worker): its CPU clock for the time on a core, and the kernel's
//! schedstat (Linux: `/proc/thread-self/schedstat`) for the time it waited
//! for one (its first field, time on a core, lags by up to a scheduler
//! tick for a running thread, so the clock is taken instead). A read costs
//! about a microsecond; only threads that work read, each once per few
//! milliseconds at most. Without schedstat, waiting for a core reads as
//! none; without a CPU clock, nothing is measured and the tuner falls back
//! to wall-clock times.

use std::cell::RefCell;
use std::fs::File;
use std::time::{Duration, Instant};

/// How often a thread reads its own times at most.
pub(crate) const READ_EVERY: Duration = Duration::from_millis(2);

/// Time on a core and waiting for one, in ns.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct CpuTimes {
    pub(super) on_cpu_ns: f64,
    pub(super) runnable_ns: f64,
}

impl CpuTimes {
    /// The share of the time these threads wanted a core that they waited
    /// for one (0 when nothing was measured).
    pub(super) fn waiting_share(&self) -> f64 {
        let wanted = self.on_cpu_ns + self.runnable_ns;
        if wanted > 0.0 {
            self.runnable_ns / wanted
        } else {
            0.0
        }
    }
}

/// A thread's schedstat file, what was last read of it, and the time the
/// thread has spent in calls since.
struct OwnTimes {
    file: Option<File>,
    /// CPU clock and time waiting for a core, in ns, at the last read.
    last: (u64, u64),
    read_at: Instant,
    in_calls_ns: u64,
}

/// What a thread read of itself: since its last read, its time on a core,
/// runnable but waiting for one, and in calls (the first two are for all
/// it did; the tuner takes their shares of the third as the calls').
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct OwnTimesRead {
    pub(super) on_cpu_ns: u64,
    pub(super) runnable_ns: u64,
    pub(super) in_calls_ns: u64,
}

thread_local! {
    static OWN: RefCell<Option<OwnTimes>> = const { RefCell::new(None) };
}

/// Counts `call_ns` of a call just ended, and gives what the calling thread
/// read of itself since its last read, if [`READ_EVERY`] has passed since
/// (`now` is the time now). The first call opens the file and reads a
/// baseline; where there is no such file, every call gives `None`.
pub(super) fn own_times_since_last(now: Instant, call_ns: u64) -> Option<OwnTimesRead> {
    OWN.with(|own| {
        let mut own = own.borrow_mut();
        let Some(own) = own.as_mut() else {
            // A baseline, read after this call: the call does not count.
            let file = own_schedstat();
            let last = read_own(file.as_ref()).unwrap_or_default();
            *own = Some(OwnTimes {
                file,
                last,
                read_at: now,
                in_calls_ns: 0,
            });
            return None;
        };
        own.in_calls_ns += call_ns;
        if now.saturating_duration_since(own.read_at) < READ_EVERY {
            return None;
        }
        let read = read_own(own.file.as_ref())?;
        let delta = OwnTimesRead {
            on_cpu_ns: read.0.saturating_sub(own.last.0),
            runnable_ns: read.1.saturating_sub(own.last.1),
            in_calls_ns: std::mem::take(&mut own.in_calls_ns),
        };
        own.last = read;
        own.read_at = now;
        Some(delta)
    })
}

/// The calling thread's CPU clock and time waited for a core (0 without
/// its schedstat file), in ns; `None` without a CPU clock.
fn read_own(schedstat: Option<&File>) -> Option<(u64, u64)> {
    let waited = schedstat
        .and_then(read_schedstat)
        .map_or(0, |(_, waited)| waited);
    Some((thread_cpu_ns()?, waited))
}

/// The calling thread's CPU time in ns, if the platform tells it.
fn thread_cpu_ns() -> Option<u64> {
    #[cfg(unix)]
    {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        Some(now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The calling thread's schedstat file, opened to be read again and again.
#[cfg(target_os = "linux")]
fn own_schedstat() -> Option<File> {
    let file = File::open("/proc/thread-self/schedstat").ok()?;
    read_schedstat(&file).map(|_| file)
}

#[cfg(not(target_os = "linux"))]
fn own_schedstat() -> Option<File> {
    None
}

/// Reads a schedstat file afresh: ns on a core, ns runnable and waiting.
pub(crate) fn read_schedstat(file: &File) -> Option<(u64, u64)> {
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

    /// Computes for a fixed amount of work (tens of milliseconds of a
    /// core): a loop timed by the wall clock could get no core at all on a
    /// loaded machine (or one whose virtual CPU the host takes away).
    fn compute() {
        let mut x = 1u64;
        for _ in 0..30_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }

    /// What `body` cost the thread that runs it, as it reads itself.
    fn measured(body: impl FnOnce() + Send + 'static) -> OwnTimesRead {
        std::thread::spawn(move || {
            assert_eq!(
                own_times_since_last(Instant::now(), 0),
                None,
                "a baseline first"
            );
            let start = Instant::now();
            body();
            let took = start.elapsed().as_nanos() as u64;
            own_times_since_last(Instant::now(), took).expect("read after the baseline")
        })
        .join()
        .unwrap()
    }

    #[test]
    fn a_thread_reads_its_computing_and_not_its_sleeping() {
        let start = Instant::now();
        let spun = measured(|| {
            let start = Instant::now();
            compute();
            assert!(start.elapsed() > Duration::from_millis(1));
        });
        assert!(spun.on_cpu_ns > 1_000_000, "{spun:?}");
        assert!(
            spun.on_cpu_ns <= start.elapsed().as_nanos() as u64,
            "{spun:?}"
        );
        assert!(spun.in_calls_ns > 1_000_000, "{spun:?}");
        let slept = measured(|| std::thread::sleep(Duration::from_millis(30)));
        // Asleep, it computes nothing (once woken it may wait for a core
        // as long as the machine is busy: that is not asserted).
        assert!(slept.on_cpu_ns < 5_000_000, "{slept:?}");
        assert!(slept.in_calls_ns >= 30_000_000, "{slept:?}");
    }

    #[test]
    fn threads_that_outnumber_the_cores_wait_for_them() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads: Vec<_> = (0..4 * cores)
            .map(|_| {
                std::thread::spawn(|| {
                    let _ = own_times_since_last(Instant::now(), 0);
                    compute();
                    compute();
                    let read = own_times_since_last(Instant::now(), 0).unwrap();
                    (read.on_cpu_ns, read.runnable_ns)
                })
            })
            .collect();
        let (on_cpu, runnable) = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
        let share = CpuTimes {
            on_cpu_ns: on_cpu as f64,
            runnable_ns: runnable as f64,
        }
        .waiting_share();
        assert!(share > 0.3, "{on_cpu} on a core, {runnable} waiting");
    }

    #[test]
    fn reads_come_at_most_every_few_milliseconds() {
        std::thread::spawn(|| {
            let start = Instant::now();
            assert_eq!(own_times_since_last(start, 5), None);
            assert_eq!(own_times_since_last(start + READ_EVERY / 2, 7), None);
            let read = own_times_since_last(start + READ_EVERY, 11).unwrap();
            // The calls since the baseline read, not the baseline's own.
            assert_eq!(read.in_calls_ns, 18);
        })
        .join()
        .unwrap();
    }
}
