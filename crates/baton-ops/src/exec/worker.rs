//! One worker process and the three threads that keep its pipes moving:
//! one writes requests to its stdin, one reads (and decodes) answers from
//! its stdout, one copies its stderr to ours. Requests go through a thread
//! so that a worker that stops reading cannot block the replica past its
//! timeout, and answers are read while requests are still being written:
//! a worker that writes much before it reads, or reads everything before it
//! answers, fills neither pipe for good.
//!
//! A worker leads a process group of its own: Ctrl-C on baton's terminal
//! reaches baton alone (which drains, asking the workers to finish their
//! items), and ending the group ends whatever the worker started too.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use baton_engine::Cancellation;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::protocol::{Decoded, Protocol, ReadFailure};
use super::WorkerSpec;

/// How long a worker whose stdin was closed may take to exit before it is
/// killed.
pub(super) const EXIT_GRACE: Duration = Duration::from_millis(500);

/// How long to wait for the last stderr lines of a worker that has exited.
const STDERR_GRACE: Duration = Duration::from_millis(200);

/// How often a replica waiting for an answer looks whether the run has
/// ended: an abort never waits longer than this for a worker.
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// What the pipe threads report.
enum Event {
    /// Whole answers, as many as had arrived together.
    Answers(Vec<Decoded>),
    /// An answer longer than the limit: the reader has stopped.
    TooLong,
    /// The worker closed its stdout.
    Closed,
    /// Reading its stdout failed (a frame cut short).
    ReadFailed(io::Error),
    /// Writing to its stdin failed (it is gone, or closed it).
    WriteFailed(io::Error),
}

/// Why a request got no answer.
pub(super) enum Failure {
    /// The worker is gone or broken; why, if more is known than that.
    Died(Option<String>),
    /// No answer in time.
    TimedOut,
    /// The answer is longer than the limit.
    TooLong,
    /// The run ended while waiting.
    Cancelled,
}

/// What a worker that is not in the middle of an item may be found in.
pub(super) enum Idle {
    /// Alive, with nothing unexpected to say.
    Ready,
    /// Dead: closed its stdout or exited.
    Dead,
    /// It wrote on stdout with no request waiting: out of step.
    Chatty,
}

/// A running worker process.
pub(super) struct Worker {
    child: Child,
    /// The worker's process group (its pid): what is killed to end it.
    group: Option<Pid>,
    /// Whether the group has been sent SIGKILL (once is enough).
    group_ended: bool,
    /// To the stdin thread; dropping it closes the worker's stdin.
    requests: Option<Sender<Vec<u8>>>,
    events: Receiver<Event>,
    /// The last non-empty line the worker wrote on stderr.
    last_stderr: Arc<Mutex<Option<String>>>,
    /// Disconnected once the stderr thread has read everything.
    stderr_done: Receiver<()>,
    /// Set once the process has been waited for.
    status: Option<ExitStatus>,
}

impl Worker {
    /// Starts the worker of replica `replica`.
    pub(super) fn start(spec: &WorkerSpec, replica: usize) -> io::Result<Worker> {
        let mut command = Command::new(&spec.program);
        if spec.env_clear {
            command.env_clear();
            for name in &spec.env_allow {
                if let Some(value) = std::env::var_os(name) {
                    command.env(name, value);
                }
            }
        }
        let mut child = command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&spec.cwd)
            // A group of its own: the terminal's SIGINT is for baton, which
            // drains; `stop` ends the group, the worker's own children too.
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let group = i32::try_from(child.id()).ok();
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            // Cannot happen: all three were asked for as pipes.
            let mut worker = Worker::new(
                child,
                group,
                mpsc::channel::<Event>().1,
                mpsc::channel::<()>().1,
            );
            worker.stop(Duration::ZERO);
            return Err(io::Error::other("the worker's pipes were not set up"));
        };
        let name = format!("exec-{}-{replica}", spec.label);
        let (requests, requests_rx) = mpsc::channel();
        let (events_tx, events) = mpsc::channel();
        let last_stderr = Arc::new(Mutex::new(None));
        let (stderr_tx, stderr_done) = mpsc::channel::<()>();
        let prefix = format!("[exec {} #{replica}]", spec.label);
        let spawned = thread::Builder::new()
            .name(format!("{name}-stdin"))
            .spawn({
                let events = events_tx.clone();
                move || write_requests(stdin, &requests_rx, &events)
            })
            .and_then(|_| {
                let (protocol, limit) = (spec.protocol, spec.max_answer);
                thread::Builder::new()
                    .name(format!("{name}-stdout"))
                    .spawn(move || read_answers(protocol, stdout, limit, &events_tx))
            })
            .and_then(|_| {
                let last = Arc::clone(&last_stderr);
                thread::Builder::new()
                    .name(format!("{name}-stderr"))
                    .spawn(move || copy_stderr(stderr, &prefix, &last, stderr_tx))
            });
        let mut worker = Worker::new(child, group, events, stderr_done);
        worker.requests = Some(requests);
        worker.last_stderr = last_stderr;
        match spawned {
            Ok(_) => Ok(worker),
            Err(error) => {
                worker.stop(Duration::ZERO);
                Err(io::Error::new(
                    error.kind(),
                    format!("cannot start a thread for its pipes: {error}"),
                ))
            }
        }
    }

    fn new(
        child: Child,
        group: Option<i32>,
        events: Receiver<Event>,
        stderr_done: Receiver<()>,
    ) -> Worker {
        Worker {
            child,
            group: group.map(Pid::from_raw),
            group_ended: false,
            requests: None,
            events,
            last_stderr: Arc::default(),
            stderr_done,
            status: None,
        }
    }

    /// The worker's process id.
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether a worker between items is still fit to take one.
    pub(super) fn idle(&mut self) -> Idle {
        match self.events.try_recv() {
            Ok(Event::Answers(_) | Event::TooLong) => Idle::Chatty,
            Ok(_) | Err(TryRecvError::Disconnected) => Idle::Dead,
            Err(TryRecvError::Empty) => match self.child.try_wait() {
                Ok(None) => Idle::Ready,
                Ok(Some(status)) => {
                    self.status = Some(status);
                    Idle::Dead
                }
                Err(_) => Idle::Dead,
            },
        }
    }

    /// Sends requests (any number of them, written back to back) to the
    /// worker; false when its stdin is gone.
    pub(super) fn send(&mut self, requests: Vec<u8>) -> bool {
        self.requests
            .as_ref()
            .is_some_and(|sender| sender.send(requests).is_ok())
    }

    /// Waits for answers: until `deadline` if there is one, and never past
    /// the end of the run (`cancel`).
    pub(super) fn answers(
        &mut self,
        deadline: Option<Instant>,
        cancel: &Cancellation,
    ) -> Result<Vec<Decoded>, Failure> {
        let event = loop {
            let wait = deadline.map_or(CANCEL_POLL, |deadline| {
                deadline
                    .saturating_duration_since(Instant::now())
                    .min(CANCEL_POLL)
            });
            match self.events.recv_timeout(wait) {
                Ok(event) => break Some(event),
                Err(RecvTimeoutError::Disconnected) => break None,
                Err(RecvTimeoutError::Timeout) if cancel.is_cancelled() => {
                    return Err(Failure::Cancelled)
                }
                Err(RecvTimeoutError::Timeout)
                    if deadline.is_some_and(|deadline| Instant::now() >= deadline) =>
                {
                    return Err(Failure::TimedOut)
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        };
        match event {
            Some(Event::Answers(answers)) => Ok(answers),
            Some(Event::TooLong) => Err(Failure::TooLong),
            Some(Event::Closed) | None => Err(Failure::Died(None)),
            Some(Event::ReadFailed(e)) => Err(Failure::Died(Some(format!(
                "reading its answer failed: {e}"
            )))),
            Some(Event::WriteFailed(e)) => Err(Failure::Died(Some(format!(
                "writing to its stdin failed: {e}"
            )))),
        }
    }

    /// Closes the worker's stdin, gives it `grace` to exit, then kills its
    /// whole process group (whatever the worker started is ended with it,
    /// even when the worker itself exited in time); waits for it either way
    /// (no zombie). Its exit status, if it could be had.
    pub(super) fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        self.requests = None;
        let deadline = Instant::now() + grace;
        let mut pause = Duration::from_millis(1);
        while self.status.is_none() {
            match self.child.try_wait() {
                Ok(Some(status)) => self.status = Some(status),
                Ok(None) if Instant::now() < deadline => {
                    thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Ok(None) | Err(_) => break,
            }
        }
        self.end_group();
        if self.status.is_none() {
            self.status = self.child.wait().ok();
        }
        self.status
    }

    /// Sends SIGKILL to the worker's process group, once. While the worker
    /// is not reaped its pid names the group; once it is, the group id is
    /// not reused while any member lives (POSIX), so the signal reaches only
    /// what the worker left behind, if anything.
    fn end_group(&mut self) {
        if self.group_ended {
            return;
        }
        self.group_ended = true;
        let killed = self
            .group
            .is_some_and(|group| killpg(group, Signal::SIGKILL).is_ok());
        if !killed && self.status.is_none() {
            // No group to signal (it cannot be had, or is gone): the worker at least.
            let _ = self.child.kill();
        }
    }

    /// The last non-empty line the worker wrote on stderr, once the stderr
    /// thread has read what is left (up to a short wait).
    pub(super) fn last_stderr(&self) -> Option<String> {
        let _ = self.stderr_done.recv_timeout(STDERR_GRACE);
        self.last_stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop(EXIT_GRACE);
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("pid", &self.child.id())
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

fn write_requests(mut stdin: ChildStdin, requests: &Receiver<Vec<u8>>, events: &Sender<Event>) {
    for request in requests {
        if let Err(e) = stdin.write_all(&request).and_then(|()| stdin.flush()) {
            let _ = events.send(Event::WriteFailed(e));
            return;
        }
    }
    // The sender is gone: dropping `stdin` closes it, and the worker sees the end of input.
}

fn read_answers(protocol: Protocol, stdout: ChildStdout, limit: usize, events: &Sender<Event>) {
    let mut stdout = BufReader::with_capacity(1 << 16, stdout);
    let mut answers = Vec::new();
    loop {
        let end = match protocol.read_answer(&mut stdout, limit) {
            Ok(Some(answer)) => {
                answers.push(protocol.decode(answer));
                None
            }
            Ok(None) => Some(Event::Closed),
            Err(ReadFailure::TooLong) => Some(Event::TooLong),
            Err(ReadFailure::Io(e)) => Some(Event::ReadFailed(e)),
        };
        // Answers that arrived together go together (one wake-up of the
        // replica), but none waits behind one not whole yet.
        let more = end.is_none() && protocol.has_whole_answer(stdout.buffer());
        if !more
            && !answers.is_empty()
            && events
                .send(Event::Answers(std::mem::take(&mut answers)))
                .is_err()
        {
            return;
        }
        if let Some(event) = end {
            let _ = events.send(event);
            return;
        }
    }
}

fn copy_stderr(stderr: ChildStderr, prefix: &str, last: &Mutex<Option<String>>, _done: Sender<()>) {
    let mut stderr = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match stderr.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']);
                tracing::info!(target: "baton::exec", "{prefix} {text}");
                if !text.trim().is_empty() {
                    *last.lock().unwrap_or_else(PoisonError::into_inner) = Some(text.to_string());
                }
            }
        }
    }
}
