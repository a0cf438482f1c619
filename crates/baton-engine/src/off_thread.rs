//! CPU a stage has spent for it outside the engine's threads: a worker
//! process that does a replica's work while the replica's thread waits on
//! a pipe. The tuner reads a blocking stage's threads to tell computing
//! from waiting; without this, a stage whose work runs in other processes
//! would look as if it only waited, and the tuner would give it ever more
//! replicas (processes) until they fought over the cores.

use std::fmt;
use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::executor::thread_times::{read_schedstat, READ_EVERY};
use crate::stage::StageCounters;

/// Where a replica tells the tuner of CPU spent for it elsewhere. Given
/// by [`ReplicaContext::off_thread_cpu`](crate::ReplicaContext::off_thread_cpu)
/// only where it is read: to a blocking stage of a run with a stage on
/// auto.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use baton_engine::{BoxError, Mode, OffThreadCpu, Pipeline, ReplicaContext, Stage};
///
/// /// Hands each item to a helper that computes for it elsewhere, and says so.
/// struct Remote(Option<OffThreadCpu>);
/// impl Stage<u64, u64> for Remote {
///     fn open(&mut self, ctx: &ReplicaContext) -> Result<(), BoxError> {
///         self.0 = ctx.off_thread_cpu().cloned();
///         Ok(())
///     }
///     fn process(&mut self, item: u64, out: &mut Vec<u64>) -> Result<(), BoxError> {
///         if let Some(cpu) = &self.0 {
///             cpu.add(Duration::from_micros(50), Duration::ZERO);
///         }
///         out.push(item + 1);
///         Ok(())
///     }
/// }
///
/// let out = Pipeline::from_iter(0..100u64)
///     .stage("remote", Mode::auto().blocking())
///     .apply(|| Ok(Remote(None)))
///     .collect()
///     .unwrap();
/// assert_eq!(out.len(), 100);
/// ```
#[derive(Clone)]
pub struct OffThreadCpu {
    counters: Arc<StageCounters>,
}

impl fmt::Debug for OffThreadCpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OffThreadCpu").finish_non_exhaustive()
    }
}

impl OffThreadCpu {
    pub(crate) fn new(counters: Arc<StageCounters>) -> Self {
        Self { counters }
    }

    /// Counts `on_cpu` spent on a core for the stage elsewhere, and
    /// `waited_for_core` runnable but waiting for one, since the last time
    /// this replica told it.
    ///
    /// # Examples
    ///
    /// See [`OffThreadCpu`].
    pub fn add(&self, on_cpu: Duration, waited_for_core: Duration) {
        self.counters
            .cpu_ns
            .fetch_add(on_cpu.as_nanos() as u64, Ordering::Relaxed);
        self.counters
            .runnable_ns
            .fetch_add(waited_for_core.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Starts watching process `pid`, which works for this replica: from
    /// now on [`ProcessCpu::update`] counts what it spends.
    ///
    /// # Examples
    ///
    /// See [`ProcessCpu`].
    pub fn watch(&self, pid: u32) -> ProcessCpu {
        ProcessCpu::new(self.clone(), pid)
    }

    /// Tells the tuner that `took` of the call now running went to
    /// starting what this replica works with (a worker process: an
    /// interpreter, its imports), once, and that starting it cost `cpu`
    /// on a core. The tuner leaves the first out of the time the items
    /// spend in flight (it would take it for waiting, and add replicas,
    /// which start in turn), and adds replicas no faster than a quarter of
    /// its CPU budget can start them.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use baton_engine::{BoxError, Mode, OffThreadCpu, Pipeline, ReplicaContext, Stage};
    ///
    /// /// Connects on its first item, which takes a while.
    /// struct Client { cpu: Option<OffThreadCpu>, connected: bool }
    /// impl Stage<u64, u64> for Client {
    ///     fn open(&mut self, ctx: &ReplicaContext) -> Result<(), BoxError> {
    ///         self.cpu = ctx.off_thread_cpu().cloned();
    ///         Ok(())
    ///     }
    ///     fn process(&mut self, item: u64, out: &mut Vec<u64>) -> Result<(), BoxError> {
    ///         if !self.connected {
    ///             std::thread::sleep(Duration::from_millis(5)); // the connection
    ///             self.connected = true;
    ///             if let Some(cpu) = &self.cpu {
    ///                 cpu.started(Duration::from_millis(5), Duration::from_micros(100));
    ///             }
    ///         }
    ///         out.push(item);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let out = Pipeline::from_iter(0..50u64)
    ///     .stage("client", Mode::auto().blocking())
    ///     .apply(|| Ok(Client { cpu: None, connected: false }))
    ///     .collect()
    ///     .unwrap();
    /// assert_eq!(out.len(), 50);
    /// ```
    pub fn started(&self, took: Duration, cpu: Duration) {
        STARTING_NS
            .with(|starting| starting.set(starting.get().saturating_add(took.as_nanos() as u64)));
        self.counters.starts.fetch_add(1, Ordering::Relaxed);
        self.counters
            .start_cpu_ns
            .fetch_add(cpu.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Starts watching process `pid`, which has just become ready after
    /// `took` of starting: what it has spent on a core so far is its
    /// start's cost (see [`OffThreadCpu::started`]), and from now on
    /// [`ProcessCpu::update`] counts what it spends on items.
    ///
    /// # Examples
    ///
    /// See [`ProcessCpu`].
    pub fn watch_started(&self, pid: u32, took: Duration) -> ProcessCpu {
        let watched = ProcessCpu::new(self.clone(), pid);
        self.started(took, Duration::from_nanos(watched.last.0));
        watched
    }
}

thread_local! {
    /// Time of the call now running on this thread that went to starting
    /// a replica's machinery (see [`OffThreadCpu::started`]).
    static STARTING_NS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Takes what the call just ended on this thread spent starting (0 if
/// nothing was started).
pub(crate) fn take_starting_ns() -> u64 {
    STARTING_NS.with(|starting| starting.replace(0))
}

/// A process that works for a replica, watched: what it spends on a core
/// and waiting for one, as the kernel counts it (Linux: its main thread's
/// `/proc/PID/schedstat`, in ns; a worker that computes on other threads
/// of its own is under-counted), and the memory it holds (`statm`), which
/// the tuner counts against the run's memory budget before it adds a
/// replica, until this is dropped. Elsewhere it counts nothing.
///
/// # Examples
///
/// ```
/// use std::process::Command;
/// use baton_engine::{BoxError, Mode, Pipeline, ProcessCpu, ReplicaContext, Stage};
///
/// /// Runs `true` for every item, and tells the tuner what it cost.
/// struct Spawns(Option<baton_engine::OffThreadCpu>);
/// impl Stage<u64, u64> for Spawns {
///     fn open(&mut self, ctx: &ReplicaContext) -> Result<(), BoxError> {
///         self.0 = ctx.off_thread_cpu().cloned();
///         Ok(())
///     }
///     fn process(&mut self, item: u64, out: &mut Vec<u64>) -> Result<(), BoxError> {
///         let mut child = Command::new("true").spawn()?;
///         let mut watched: Option<ProcessCpu> =
///             self.0.as_ref().map(|cpu| cpu.watch(child.id()));
///         child.wait()?;
///         if let Some(watched) = &mut watched {
///             watched.update();
///         }
///         out.push(item);
///         Ok(())
///     }
/// }
///
/// let out = Pipeline::from_iter(0..3u64)
///     .stage("spawns", Mode::auto().blocking())
///     .apply(|| Ok(Spawns(None)))
///     .collect()
///     .unwrap();
/// assert_eq!(out, [0, 1, 2]);
/// ```
pub struct ProcessCpu {
    cpu: OffThreadCpu,
    file: Option<File>,
    /// Its `statm`, for the memory it holds.
    statm: Option<File>,
    /// ns on a core and waiting for one at the last read.
    last: (u64, u64),
    /// The resident bytes it held at the last read (counted in the stage's
    /// memory held elsewhere until it is dropped).
    held: u64,
    read_at: Instant,
}

impl fmt::Debug for ProcessCpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessCpu")
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl ProcessCpu {
    fn new(cpu: OffThreadCpu, pid: u32) -> Self {
        let file = Self::open(pid, "schedstat");
        let last = file.as_ref().and_then(read_schedstat).unwrap_or_default();
        cpu.counters.processes.fetch_add(1, Ordering::Relaxed);
        let mut watched = Self {
            cpu,
            file,
            statm: Self::open(pid, "statm"),
            last,
            held: 0,
            read_at: Instant::now(),
        };
        watched.read_held();
        watched
    }

    #[cfg(target_os = "linux")]
    fn open(pid: u32, name: &str) -> Option<File> {
        File::open(format!("/proc/{pid}/{name}")).ok()
    }

    #[cfg(not(target_os = "linux"))]
    fn open(_pid: u32, _name: &str) -> Option<File> {
        None
    }

    /// Reads the resident memory the process holds now into the stage's
    /// memory held elsewhere.
    fn read_held(&mut self) {
        let Some(now) = self.statm.as_ref().and_then(read_resident) else {
            return;
        };
        let held = &self.cpu.counters.held_elsewhere;
        held.fetch_add(now, Ordering::Relaxed);
        held.fetch_sub(self.held, Ordering::Relaxed);
        self.held = now;
    }

    /// Counts what the process spent since the last update; reads the
    /// kernel's figures at most every 2 ms (the tuner looks every 10 ms),
    /// so it may be called after every item.
    ///
    /// # Examples
    ///
    /// See [`ProcessCpu`].
    pub fn update(&mut self) {
        let now = Instant::now();
        if now.saturating_duration_since(self.read_at) < READ_EVERY {
            return;
        }
        self.read(now);
    }

    /// Counts what the process spent since the last update, whenever the
    /// last was (before the process is ended, say).
    ///
    /// # Examples
    ///
    /// See [`ProcessCpu`].
    pub fn update_now(&mut self) {
        self.read(Instant::now());
    }

    fn read(&mut self, now: Instant) {
        self.read_held();
        let Some(read) = self.file.as_ref().and_then(read_schedstat) else {
            return;
        };
        self.cpu.add(
            Duration::from_nanos(read.0.saturating_sub(self.last.0)),
            Duration::from_nanos(read.1.saturating_sub(self.last.1)),
        );
        self.last = read;
        self.read_at = now;
    }
}

impl Drop for ProcessCpu {
    fn drop(&mut self) {
        let counters = &self.cpu.counters;
        counters
            .held_elsewhere
            .fetch_sub(self.held, Ordering::Relaxed);
        counters.processes.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The resident bytes of a `statm` file, read afresh.
fn read_resident(file: &File) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let mut buffer = [0u8; 128];
        let read = file.read_at(&mut buffer, 0).ok()?;
        let text = std::str::from_utf8(&buffer[..read]).ok()?;
        let pages: u64 = text.split_ascii_whitespace().nth(1)?.parse().ok()?;
        Some(pages * rustix::param::page_size() as u64)
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

    fn watched(body: &str) -> (u64, u64) {
        let counters = Arc::new(StageCounters::default());
        let cpu = OffThreadCpu::new(Arc::clone(&counters));
        let mut child = std::process::Command::new("sh")
            .args(["-c", body])
            .spawn()
            .unwrap();
        let mut process = cpu.watch(child.id());
        // Read while it is still a zombie (not yet reaped): its figures
        // are final then.
        while std::fs::read_to_string(format!("/proc/{}/stat", child.id()))
            .map(|stat| !stat.contains(") Z"))
            .unwrap_or(false)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        process.update_now();
        child.wait().unwrap();
        (
            counters.cpu_ns.load(Ordering::Relaxed),
            counters.runnable_ns.load(Ordering::Relaxed),
        )
    }

    #[test]
    fn a_computing_process_is_counted_and_a_sleeping_one_is_not() {
        let (computed, _) = watched("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done");
        assert!(computed > 20_000_000, "{computed} ns on a core");
        let (slept, _) = watched("sleep 0.3");
        assert!(slept < 20_000_000, "{slept} ns on a core");
    }

    #[test]
    fn the_memory_a_watched_process_holds_is_counted_until_it_is_dropped() {
        let counters = Arc::new(StageCounters::default());
        let cpu = OffThreadCpu::new(Arc::clone(&counters));
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        // Until it has become `sleep`, the child is a fresh fork holding a
        // page or so.
        let comm = format!("/proc/{}/comm", child.id());
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(&comm).map_or(true, |name| name.trim() != "sleep") {
            assert!(Instant::now() < deadline, "the child never became `sleep`");
            std::thread::sleep(Duration::from_millis(1));
        }
        let watched = cpu.watch(child.id());
        let held = counters.held_elsewhere.load(Ordering::Relaxed);
        assert!(held > 100_000, "a process holds some memory: {held} bytes");
        assert_eq!(counters.processes.load(Ordering::Relaxed), 1);
        drop(watched);
        assert_eq!(counters.held_elsewhere.load(Ordering::Relaxed), 0);
        assert_eq!(counters.processes.load(Ordering::Relaxed), 0);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn a_process_that_is_gone_adds_nothing() {
        let counters = Arc::new(StageCounters::default());
        let cpu = OffThreadCpu::new(Arc::clone(&counters));
        let mut process = cpu.watch(u32::MAX - 7);
        process.update_now();
        assert_eq!(counters.cpu_ns.load(Ordering::Relaxed), 0);
    }
}
