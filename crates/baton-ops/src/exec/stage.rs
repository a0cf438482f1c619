//! One replica of an `exec` stage: its worker, restarted when it dies or
//! falls out of step, given up on when it keeps dying, and killed when the
//! run ends while it has an item.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_engine::{
    BoxError, Cancellation, ChunkOutputs, OffThreadCpu, ProcessCpu, ReplicaContext, Stage,
};

use super::error::ExecError;
use super::protocol::{batch_request, rows_batch, Protocol, RequestId};
use super::worker::{Failure, Idle, Worker, EXIT_GRACE};
use super::{ChunkSizing, WorkerSpec};
use crate::item::{rows_of, Item, Payload};

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
    /// Where to tell the tuner what the worker computes, if it is read.
    off_thread_cpu: Option<OffThreadCpu>,
    /// The running worker's process, watched (when the tuner reads it).
    watched: Option<ProcessCpu>,
    /// When the running worker was started, until its first answers.
    starting_since: Option<Instant>,
    /// How long starting a worker took in the call now running.
    start_took: Duration,
    /// How large the chunks it asks of the engine are.
    sizing: ChunkSizing,
}

impl ExecStage {
    pub(super) fn new(spec: Arc<WorkerSpec>, replica: usize, sizing: ChunkSizing) -> Self {
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
            off_thread_cpu: None,
            watched: None,
            starting_since: None,
            start_took: Duration::ZERO,
            sizing,
        }
    }

    /// The worker has answered: if these are its first answers, it is
    /// ready. What it spent starting (an interpreter, its imports) is told
    /// to the tuner as a start, once, and what it computes from now on is
    /// watched as the items' (when the tuner reads it).
    fn first_answers(&mut self) {
        let Some(since) = self.starting_since.take() else {
            return;
        };
        let took = since.elapsed();
        self.start_took += took;
        let pid = self.worker.as_ref().map(Worker::pid);
        self.watched = (self.off_thread_cpu.as_ref())
            .zip(pid)
            .map(|(cpu, pid)| cpu.watch_started(pid, took));
    }

    /// Tells the tuner what the worker computed since the last time:
    /// the replica's thread only waits for it, the work is the worker's.
    fn count_worker_cpu(&mut self, now: bool) {
        if let Some(watched) = &mut self.watched {
            match now {
                true => watched.update_now(),
                false => watched.update(),
            }
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
                let started = Worker::start(&self.spec, self.replica).map_err(|source| {
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
                })?;
                // Watched from its first answers on (see `first_answers`).
                self.watched = None;
                self.starting_since = Some(Instant::now());
                started
            }
        };
        Ok(self.worker.insert(worker))
    }

    /// Reaps the dead (or broken) worker and counts its death; how it died.
    fn bury(&mut self, cause: Option<String>) -> String {
        self.count_worker_cpu(true);
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

    /// A warning about this replica's worker (the program using baton
    /// shows it, through `tracing`).
    fn note(&self, message: &str) {
        tracing::warn!(
            target: "baton::exec",
            "[exec {} #{}] {message}",
            self.spec.label,
            self.replica
        );
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
        self.off_thread_cpu = ctx.off_thread_cpu().cloned();
        Ok(())
    }

    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        let mut result = Ok(());
        self.run(vec![item], |outcome| match outcome {
            Ok(outputs) => out.extend(outputs),
            Err((error, _)) => result = Err(error.into()),
        });
        self.count_worker_cpu(false);
        result
    }

    fn takes_chunks(&self) -> bool {
        true
    }

    fn process_chunk(&mut self, items: Vec<Item>, out: &mut ChunkOutputs<Item, Item>) {
        self.run(items, |outcome| match outcome {
            Ok(outputs) => {
                outputs.into_iter().for_each(|output| out.push(output));
                out.done();
            }
            Err((error, item)) => out.failed(error, Some(item)),
        });
        self.count_worker_cpu(false);
    }
}

/// One request to make of a chunk's items.
struct Plan {
    /// The items it is made of (one, or a run of rows for `arrow`).
    items: Range<usize>,
    what: Sent,
}

/// What a request carries.
enum Sent {
    /// The item itself.
    Item,
    /// One row of the item's chunk of records (`jsonl`, `bytes`).
    Row(Item),
    /// The items, rows all, as one record batch (`arrow`).
    Rows,
}

/// A request made: sent, or failed before it could be.
struct Request {
    /// Its id, once sent.
    id: Option<RequestId>,
    /// Its plan's index.
    plan: usize,
    sent: Instant,
    /// Its outputs or its failure, once known.
    result: Option<Result<Vec<Item>, ExecError>>,
}

/// What a chunk's item is waiting for.
#[derive(Default)]
struct Slot {
    /// Requests of the item not yet done.
    left: usize,
    outputs: Vec<Item>,
    error: Option<ExecError>,
}

/// A chunk's requests on their way: the oldest first.
struct Flight {
    requests: VecDeque<Request>,
    /// Requests sent and not answered.
    unanswered: usize,
}

impl Flight {
    /// The oldest request sent and not answered.
    fn oldest(&mut self) -> Option<&mut Request> {
        self.requests
            .iter_mut()
            .find(|r| r.id.is_some() && r.result.is_none())
    }

    fn answer(&mut self, index: usize, result: Result<Vec<Item>, ExecError>) {
        self.requests[index].result = Some(result);
        self.unanswered -= 1;
    }

    /// Fails every request not answered: the oldest with `first`, if
    /// given, the others with what `others` makes.
    fn fail_all(&mut self, mut first: Option<ExecError>, others: impl Fn() -> ExecError) {
        for request in &mut self.requests {
            if request.id.is_some() && request.result.is_none() {
                let error = first.take().unwrap_or_else(&others);
                request.result = Some(Err(error));
            }
        }
        self.unanswered = 0;
    }
}

impl ExecStage {
    /// Sends the requests of `items`, up to `in_flight` at a time, matches
    /// the answers to them by id, and reports on every item, in order, to
    /// `report`: its outputs, or its error with the item itself.
    fn run(
        &mut self,
        items: Vec<Item>,
        mut report: impl FnMut(Result<Vec<Item>, (ExecError, Item)>),
    ) {
        let started = Instant::now();
        let count = items.len();
        self.run_items(items, &mut report);
        // The items' pace, without the start of a worker.
        let took = started
            .elapsed()
            .saturating_sub(std::mem::take(&mut self.start_took));
        self.sizing.learn(count, took);
    }

    fn run_items(
        &mut self,
        items: Vec<Item>,
        mut report: impl FnMut(Result<Vec<Item>, (ExecError, Item)>),
    ) {
        let mut items = items;
        let plans = self.plans(&items);
        let mut slots: Vec<Slot> = items.iter().map(|_| Slot::default()).collect();
        for plan in &plans {
            plan.items.clone().for_each(|i| slots[i].left += 1);
        }
        let mut flight = Flight {
            requests: VecDeque::new(),
            unanswered: 0,
        };
        let mut next_plan = 0;
        let mut next_report = 0;
        let mut last_answer = Instant::now();
        loop {
            self.send_more(&plans, &items, &mut next_plan, &mut flight);
            // Done requests leave the flight in order, and their items with them.
            while flight.requests.front().is_some_and(|r| r.result.is_some()) {
                let Some(Request {
                    plan,
                    result: Some(result),
                    ..
                }) = flight.requests.pop_front()
                else {
                    break;
                };
                let range = plans[plan].items.clone();
                match result {
                    Ok(outputs) => slots[range.start].outputs.extend(outputs),
                    Err(error) => {
                        let cause = error.to_string();
                        slots[range.start].error.get_or_insert(error);
                        for i in range.clone().skip(1) {
                            slots[i].error.get_or_insert(ExecError::InBatch {
                                cause: cause.clone(),
                            });
                        }
                    }
                }
                range.for_each(|i| slots[i].left -= 1);
            }
            while next_report < slots.len() && slots[next_report].left == 0 {
                let slot = std::mem::take(&mut slots[next_report]);
                let item = std::mem::take(&mut items[next_report]);
                next_report += 1;
                match slot.error {
                    None => report(Ok(slot.outputs)),
                    Some(error) => report(Err((error, item))),
                }
            }
            if flight.unanswered == 0 {
                if next_plan == plans.len() && flight.requests.is_empty() {
                    return;
                }
                continue;
            }
            self.receive(&plans, &items, &mut flight, &mut last_answer);
        }
    }

    /// What requests `items` make: one per item, or per row of a chunk of
    /// records (`jsonl`, `bytes`); for `arrow`, one per chunk of records,
    /// and one per run of other items (at most `batch_rows` of them).
    fn plans(&self, items: &[Item]) -> Vec<Plan> {
        let mut plans = Vec::with_capacity(items.len());
        let mut rows_from = None;
        for (i, item) in items.iter().enumerate() {
            let records = match &item.payload {
                Payload::Records(batch) => Some(batch),
                _ => None,
            };
            if self.spec.protocol == Protocol::Arrow {
                if let Some(start) = rows_from
                    .filter(|&start| records.is_some() || i - start == self.spec.batch_rows)
                {
                    plans.push(Plan {
                        items: start..i,
                        what: Sent::Rows,
                    });
                    rows_from = None;
                }
                match records {
                    Some(_) => plans.push(Plan {
                        items: i..i + 1,
                        what: Sent::Item,
                    }),
                    None => {
                        rows_from.get_or_insert(i);
                    }
                }
                continue;
            }
            match records {
                Some(batch) => plans.extend(rows_of(batch).map(|row| Plan {
                    items: i..i + 1,
                    what: Sent::Row(row),
                })),
                None => plans.push(Plan {
                    items: i..i + 1,
                    what: Sent::Item,
                }),
            }
        }
        if let Some(start) = rows_from {
            plans.push(Plan {
                items: start..items.len(),
                what: Sent::Rows,
            });
        }
        plans
    }

    /// Sends the next requests, while fewer than `in_flight` wait, all in
    /// one write.
    fn send_more(
        &mut self,
        plans: &[Plan],
        items: &[Item],
        next_plan: &mut usize,
        flight: &mut Flight,
    ) {
        let mut buffer = Vec::new();
        let mut sent = Vec::new();
        while *next_plan < plans.len() && flight.unanswered + sent.len() < self.spec.in_flight {
            let index = *next_plan;
            *next_plan += 1;
            let plan = &plans[index];
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            let request = match &plan.what {
                Sent::Item => self.spec.protocol.request(&items[plan.items.start], id),
                Sent::Row(row) => self.spec.protocol.request(row, id),
                Sent::Rows => rows_batch(&items[plan.items.clone()])
                    .and_then(|batch| batch_request(&batch, id)),
            };
            // A bad item costs no worker; nor does it get one started.
            let request = request.and_then(|request| {
                if flight.unanswered == 0 && sent.is_empty() {
                    self.worker()?;
                }
                Ok(request)
            });
            match request {
                Ok(request) => {
                    buffer.extend_from_slice(&request);
                    sent.push(Request {
                        id: Some(id),
                        plan: index,
                        sent: Instant::now(),
                        result: None,
                    });
                }
                Err(error) => {
                    // Requests keep their order: those made before this
                    // one go first, and it is made again after them.
                    if !sent.is_empty() {
                        *next_plan = index;
                        break;
                    }
                    flight.requests.push_back(Request {
                        id: None,
                        plan: index,
                        sent: Instant::now(),
                        result: Some(Err(error)),
                    });
                }
            }
        }
        if sent.is_empty() {
            return;
        }
        flight.unanswered += sent.len();
        flight.requests.extend(sent);
        let delivered = self
            .worker
            .as_mut()
            .is_some_and(|worker| worker.send(buffer));
        if !delivered {
            self.lose_worker(flight, Failure::Died(Some("its stdin is closed".into())));
        }
    }

    /// Waits for answers and ties each to its request; or, if the worker
    /// fails, fails what it had.
    fn receive(
        &mut self,
        plans: &[Plan],
        items: &[Item],
        flight: &mut Flight,
        last_answer: &mut Instant,
    ) {
        let deadline = self.spec.timeout.and_then(|timeout| {
            let oldest = flight.oldest()?.sent.max(*last_answer);
            Some(oldest + timeout)
        });
        let cancel = self.cancel.clone();
        let Some(worker) = self.worker.as_mut() else {
            self.lose_worker(flight, Failure::Died(None));
            return;
        };
        let answers = match worker.answers(deadline, &cancel) {
            Ok(answers) => answers,
            Err(failure) => return self.lose_worker(flight, failure),
        };
        *last_answer = Instant::now();
        self.deaths_in_a_row = 0;
        self.first_answers();
        let protocol = self.spec.protocol;
        for answer in answers {
            // An answer that claims no id (a JSON line without one) is the
            // oldest request's: workers answer in order.
            let target = flight.requests.iter().position(|r| {
                r.result.is_none()
                    && r.id.is_some()
                    && answer.id.map_or(true, |claimed| r.id == Some(claimed))
            });
            let oldest = flight
                .requests
                .iter()
                .position(|r| r.result.is_none() && r.id.is_some());
            let Some(oldest) = oldest else {
                self.note("the worker wrote an answer with no request waiting (an answer too many); restarting it to stay in step");
                self.kill_worker();
                return;
            };
            let (index, result) = match target {
                Some(index) => {
                    let request = &flight.requests[index];
                    let plan = &plans[request.plan];
                    let item = match &plan.what {
                        Sent::Row(row) => row,
                        Sent::Item | Sent::Rows => &items[plan.items.start],
                    };
                    let mut outputs = Vec::new();
                    let id = request.id.unwrap_or_default();
                    let result = answer.body.and_then(|body| {
                        protocol.outputs(
                            item,
                            answer.id,
                            body,
                            id,
                            self.spec.require_ids,
                            &mut outputs,
                        )
                    });
                    (index, result.map(|()| outputs))
                }
                None => (
                    oldest,
                    Err(ExecError::OutOfStep {
                        expected: flight.requests[oldest].id.unwrap_or_default(),
                        got: answer.id.map_or_else(|| "none".into(), |id| id.to_string()),
                    }),
                ),
            };
            let lost_step = result
                .as_ref()
                .err()
                .filter(|e| e.loses_step())
                .map(ToString::to_string);
            flight.answer(index, result);
            if let Some(error) = lost_step {
                // Only a fresh worker is surely in step.
                self.note(&format!(
                    "restarting the worker to stay in step, after: {error}"
                ));
                let pid = self.worker.as_ref().map_or(0, Worker::pid);
                let command = self.spec.command_line.clone();
                flight.fail_all(None, || ExecError::Abandoned {
                    command: command.clone(),
                    pid,
                    cause: error.clone(),
                });
                self.kill_worker();
                return;
            }
        }
    }

    /// The worker failed while it had requests: the oldest fails with the
    /// failure, the others as abandoned; the worker is ended.
    fn lose_worker(&mut self, flight: &mut Flight, failure: Failure) {
        let pid = self.worker.as_ref().map_or(0, Worker::pid);
        let command = self.spec.command_line.clone();
        let error = match failure {
            Failure::TimedOut => {
                self.kill_worker();
                ExecError::Timeout {
                    command: command.clone(),
                    pid,
                    ms: self.spec.timeout.unwrap_or_default().as_millis(),
                }
            }
            Failure::TooLong => {
                // The rest of the answer is unread: the worker cannot be trusted again.
                self.kill_worker();
                ExecError::AnswerTooLong {
                    command: command.clone(),
                    pid,
                    limit: self.spec.max_answer,
                }
            }
            Failure::Cancelled => {
                self.kill_worker();
                return flight.fail_all(None, || ExecError::Cancelled {
                    command: command.clone(),
                    pid,
                });
            }
            Failure::Died(cause) => {
                let death = self.bury(cause);
                if self.deaths_in_a_row >= MAX_DEATHS_IN_A_ROW {
                    self.keeps_dying()
                } else {
                    ExecError::Died {
                        command: command.clone(),
                        pid,
                        death,
                    }
                }
            }
        };
        let cause = error.to_string();
        flight.fail_all(Some(error), || ExecError::Abandoned {
            command: command.clone(),
            pid,
            cause: cause.clone(),
        });
    }
}
