//! An event count: idle threads park on it; anyone who makes work runnable
//! bumps it. No wake-up is lost: a thread reads the epoch *before* it looks
//! for work and parks only if the epoch has not moved since.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[derive(Debug, Default)]
pub(super) struct Signal {
    epoch: AtomicU64,
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Signal {
    /// The epoch to hand to [`Signal::wait`] after looking for work.
    pub(super) fn prepare(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Wakes one parked thread, if any is parked: enough for one new piece
    /// of work, since a thread that finds work looks again before parking.
    pub(super) fn notify(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.wake.notify_one();
        }
    }

    /// Wakes every parked thread (the run ended, or limits changed).
    pub(super) fn notify_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.wake.notify_all();
        }
    }

    /// Spins a little while for the epoch to move past `seen`: work often
    /// comes within microseconds, and a thread that has not parked costs its
    /// waker no system call. Returns whether it moved.
    pub(super) fn spin_for(&self, seen: u64, spins: u32) -> bool {
        for round in 0..spins {
            if self.epoch.load(Ordering::Acquire) != seen {
                return true;
            }
            if round % 64 == 63 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        self.epoch.load(Ordering::Acquire) != seen
    }

    /// Parks until the epoch moves past `seen` or `timeout` passes.
    pub(super) fn wait(&self, seen: u64, timeout: Duration) {
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        if self.epoch.load(Ordering::SeqCst) == seen {
            guard = match self.wake.wait_timeout(guard, timeout) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        drop(guard);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn a_notify_after_prepare_is_never_lost() {
        for _ in 0..200 {
            let signal = Arc::new(Signal::default());
            let seen = signal.prepare();
            let other = Arc::clone(&signal);
            let t = std::thread::spawn(move || other.notify());
            let start = Instant::now();
            signal.wait(seen, Duration::from_secs(5));
            assert!(start.elapsed() < Duration::from_secs(4), "wake-up lost");
            t.join().unwrap();
        }
    }
}
