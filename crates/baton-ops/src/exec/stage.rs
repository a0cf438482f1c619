//! One replica of an `exec` stage: its worker, restarted when it dies or
//! falls out of step, given up on when it keeps dying, and killed when the
//! run ends while it has an item.

use std::sync::Arc;
use std::time::Duration;

use baton_engine::{BoxError, Cancellation, ReplicaContext, Stage};

use super::error::ExecError;
use super::protocol::RequestId;
use super::worker::{Failure, Idle, Worker, EXIT_GRACE};
use super::WorkerSpec;
use crate::item::Item;

/// Deaths in a row, with no answer between them, after which a replica
/// stops restarting its worker.
const MAX_DEATHS_IN_A_ROW: u32 = 3;

/// A replica of an `exec` stage.
#[derive(Debug)]
pub(super) struct ExecStage {
    spec: Arc<WorkerSpec>,
    replica: usize,
    /// The running worker, if any (started on the first item).
    worker: Option<Worker>,
    /// Workers started so far.
    starts: u64,
    /// Deaths since the last answer.
    deaths_in_a_row: u32,
    /// How the last worker died, for the message when giving up.
    last_death: String,
    /// The id of the next request.
    next_id: RequestId,
    /// Set when the run ends: a wait for an answer gives up then.
    cancel: Cancellation,
}

impl ExecStage {
    pub(super) fn new(spec: Arc<WorkerSpec>, replica: usize) -> Self {
        Self {
            spec,
            replica,
            worker: None,
            starts: 0,
            deaths_in_a_row: 0,
            last_death: String::new(),
            next_id: 1,
            // Replaced by the run's in `open`; a stage used alone is never cancelled.
            cancel: Cancellation::new(),
        }
    }

    /// A worker fit to take an item: the running one, or a fresh one.
    fn worker(&mut self) -> Result<&mut Worker, ExecError> {
        if let Some(worker) = &mut self.worker {
            match worker.idle() {
                Idle::Ready => {}
                Idle::Dead => {
                    let death = self.bury(None);
                    self.note(&format!("between items, the worker {death}"));
                }
                Idle::Chatty => {
                    self.note("the worker wrote on stdout between items (an answer too many); restarting it to stay in step");
                    self.worker = None;
                }
            }
        }
        if self.deaths_in_a_row >= MAX_DEATHS_IN_A_ROW {
            return Err(self.keeps_dying());
        }
        let worker = match self.worker.take() {
            Some(worker) => worker,
            None => {
                if self.starts > 0 {
                    self.note(&format!(
                        "starting the worker again (restart {})",
                        self.starts
                    ));
                }
                self.starts += 1;
                Worker::start(&self.spec, self.replica).map_err(|source| {
                    self.deaths_in_a_row += 1;
                    self.last_death = format!("could not start: {source}");
                    if self.deaths_in_a_row >= MAX_DEATHS_IN_A_ROW {
                        self.keeps_dying()
                    } else {
                        ExecError::Start {
                            command: self.spec.command_line.clone(),
                            source,
                        }
                    }
                })?
            }
        };
        Ok(self.worker.insert(worker))
    }

    /// Reaps the dead (or broken) worker and counts its death; how it died.
    fn bury(&mut self, cause: Option<String>) -> String {
        let Some(mut worker) = self.worker.take() else {
            return String::from("is gone");
        };
        let status = worker.stop(EXIT_GRACE);
        let mut death = match status {
            Some(status) => format!("exited ({status})"),
            None => String::from("died (exit status unknown)"),
        };
        if let Some(cause) = cause {
            death = format!("{death} after {cause}");
        }
        match worker.last_stderr() {
            Some(line) => death.push_str(&format!("; its last line on stderr: `{line}`")),
            None => death.push_str("; it wrote nothing on stderr"),
        }
        self.deaths_in_a_row += 1;
        self.last_death = death.clone();
        death
    }

    fn keeps_dying(&self) -> ExecError {
        ExecError::KeepsDying {
            command: self.spec.command_line.clone(),
            deaths: self.deaths_in_a_row,
            last: self.last_death.clone(),
        }
    }

    /// Kills the worker (and its group) at once, with no grace.
    fn kill_worker(&mut self) {
        if let Some(mut worker) = self.worker.take() {
            worker.stop(Duration::ZERO);
        }
    }

    /// A line on stderr about this replica's worker.
    fn note(&self, message: &str) {
        eprintln!("[exec {} #{}] {message}", self.spec.label, self.replica);
    }
}

impl Drop for ExecStage {
    fn drop(&mut self) {
        // After an abort nobody waits for the worker's answer or its tidy
        // exit: end its group at once, so that a forced exit of baton a
        // moment later leaves no worker behind. Otherwise the worker gets
        // its grace to see the end of its input and exit (`Worker`'s drop).
        if self.cancel.is_cancelled() {
            self.kill_worker();
        }
    }
}

impl Stage<Item, Item> for ExecStage {
    fn open(&mut self, ctx: &ReplicaContext) -> Result<(), BoxError> {
        self.cancel = ctx.cancellation().clone();
        Ok(())
    }

    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        // A bad item costs no worker.
        let request = self.spec.protocol.request(&item, id)?;
        let timeout = self.spec.timeout;
        let cancel = self.cancel.clone();
        let worker = self.worker()?;
        let pid = worker.pid();
        match worker.ask(request, timeout, &cancel) {
            Ok(answer) => {
                self.deaths_in_a_row = 0;
                let outputs =
                    self.spec
                        .protocol
                        .outputs(item, answer, id, self.spec.require_ids, out);
                if let Err(error) = &outputs {
                    if error.loses_step() {
                        // Only a fresh worker is surely in step.
                        self.note(&format!(
                            "restarting the worker to stay in step, after: {error}"
                        ));
                        self.worker = None;
                    }
                }
                Ok(outputs?)
            }
            Err(Failure::TimedOut) => {
                self.kill_worker();
                Err(ExecError::Timeout {
                    command: self.spec.command_line.clone(),
                    pid,
                    ms: timeout.unwrap_or_default().as_millis(),
                }
                .into())
            }
            Err(Failure::TooLong) => {
                // The rest of the answer is unread: the worker cannot be trusted again.
                self.kill_worker();
                Err(ExecError::AnswerTooLong {
                    command: self.spec.command_line.clone(),
                    pid,
                    limit: self.spec.max_answer,
                }
                .into())
            }
            Err(Failure::Cancelled) => {
                self.kill_worker();
                Err(ExecError::Cancelled {
                    command: self.spec.command_line.clone(),
                    pid,
                }
                .into())
            }
            Err(Failure::Died(cause)) => {
                let death = self.bury(cause);
                Err(if self.deaths_in_a_row >= MAX_DEATHS_IN_A_ROW {
                    self.keeps_dying()
                } else {
                    ExecError::Died {
                        command: self.spec.command_line.clone(),
                        pid,
                        death,
                    }
                }
                .into())
            }
        }
    }
}
