//! `baton.Run`: one run of a pipeline, iterated by a Python loop.
//!
//! The engine's iterator lives on a thread of its own, which hands each
//! item over a channel of one; the loop waits on that channel with the GIL
//! released, waking every 50 ms to let Python see a Ctrl-C. Leaving the
//! loop early (a `break`, an exception, the `Run` collected, a `with` block
//! ended) aborts the run and joins that thread: nothing is left running.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use baton_config::Iterated;
use baton_engine::{PipelineError, PipelineHandle, StatsSnapshot};
use baton_ops::Item;
use baton_report::TraceFile;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::convert::item_to_python;
use crate::errors::{run_failure, Error};

/// How often a waiting loop looks for a Ctrl-C.
pub(crate) const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// One run of a pipeline: an iterator of dicts (see `baton.Pipeline`).
#[pyclass(module = "baton")]
#[derive(Debug)]
pub struct Run {
    items: Option<Receiver<Result<Item, PipelineError>>>,
    handle: Option<PipelineHandle>,
    feeder: Option<JoinHandle<()>>,
    /// Dicts made from one item and not handed out yet (a chunk of records).
    pending: VecDeque<Py<PyDict>>,
    /// The run's trace and summary, once it has ended.
    ended: Arc<Mutex<Option<TraceFile>>>,
    finished: bool,
    /// Set when the pipeline's `with` block ends (or `close` is called).
    stopped: Arc<AtomicBool>,
    len: Option<u64>,
}

impl Run {
    /// Starts handing `iterated`'s items over to a loop.
    pub(crate) fn start(
        _py: Python<'_>,
        iterated: Iterated,
        name: String,
        len: Option<u64>,
    ) -> Self {
        let Iterated { mut items, .. } = iterated;
        let handle = items.handle();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let ended = Arc::new(Mutex::new(None));
        let summary = ended.clone();
        let feeder = std::thread::Builder::new()
            .name("baton-py-feeder".into())
            .spawn(move || {
                for item in items.by_ref() {
                    if tx.send(item).is_err() {
                        // The loop has gone: dropping the iterator aborts the run.
                        return;
                    }
                }
                if let Some(report) = items.report() {
                    let trace = TraceFile::from_report(&name, report);
                    *summary.lock().unwrap_or_else(|e| e.into_inner()) = Some(trace);
                }
            })
            .ok();
        Run {
            items: Some(rx),
            handle,
            feeder,
            pending: VecDeque::new(),
            ended,
            finished: false,
            stopped: Arc::new(AtomicBool::new(false)),
            len,
        }
    }

    /// A handle on the engine's run.
    pub(crate) fn handle(&self) -> Option<PipelineHandle> {
        self.handle.clone()
    }

    /// The flag that stops the run from outside: once set, the loop ends
    /// at its next item.
    pub(crate) fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stopped.clone()
    }

    /// Aborts the run (if still going) and waits for its feeder to end.
    fn shut(&mut self) {
        if let Some(handle) = &self.handle {
            if !handle.is_finished() {
                handle.abort();
            }
        }
        self.items = None;
        self.pending.clear();
        if let Some(feeder) = self.feeder.take() {
            // Without the GIL: a stage that calls Python may be waiting for
            // it, and the run's threads end only once it has its turn.
            Python::attach(|py| py.detach(|| feeder.join())).ok();
        }
        self.finished = true;
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.shut();
    }
}

#[pymethods]
impl Run {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next item, as a dict; waits for it with the GIL released.
    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyDict>>> {
        if self.stopped.load(Ordering::Acquire) {
            self.shut();
            return Ok(None);
        }
        if let Some(dict) = self.pending.pop_front() {
            return Ok(Some(dict));
        }
        loop {
            let Some(items) = &self.items else {
                return Ok(None);
            };
            let items = items.clone();
            match py.detach(|| items.recv_timeout(SIGNAL_CHECK)) {
                Ok(Ok(item)) => {
                    let mut dicts = item_to_python(py, item)?.into_iter();
                    let Some(first) = dicts.next() else { continue };
                    self.pending.extend(dicts.map(Bound::unbind));
                    return Ok(Some(first.unbind()));
                }
                Ok(Err(PipelineError::Aborted)) => {
                    // Stopped on purpose (`stop`, a `with` block left): the loop ends.
                    self.shut();
                    return Ok(None);
                }
                Ok(Err(error)) => {
                    let raised = run_failure(py, &error);
                    self.shut();
                    return Err(raised);
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(interrupt) = py.check_signals() {
                        // Ctrl-C (or any signal handler raising): stop, then raise it.
                        self.shut();
                        return Err(interrupt);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // A Ctrl-C that also ended the input (a producer piped
                    // in, killed by the same Ctrl-C) is raised here, not
                    // when the interpreter exits.
                    py.check_signals()?;
                    self.items = None;
                    if let Some(feeder) = self.feeder.take() {
                        let _ = py.detach(|| feeder.join());
                    }
                    self.finished = true;
                    return Ok(None);
                }
            }
        }
    }

    /// The number of items the run gives, when known (see `Pipeline.__len__`).
    fn __len__(&self) -> PyResult<usize> {
        self.len
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                pyo3::exceptions::PyTypeError::new_err(
                    "the run does not know how many items it gives",
                )
            })
    }

    /// Whether the run has ended (all items taken, failed, or stopped).
    #[getter]
    fn finished(&self) -> bool {
        self.finished
    }

    /// Stops the run at once; the loop ends.
    fn stop(&mut self) {
        self.shut();
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&mut self, _args: &Bound<'_, PyTuple>) {
        self.shut();
    }

    /// What every stage has done so far, as a dict: `elapsed_s`, `source`,
    /// `stages` (each with `items_in`, `items_out`, `busy_s`,
    /// `waiting_for_input_s`, `blocked_on_output_s`, `replicas`, ...) and
    /// `bottleneck` (the stage that limits the run, and why). Once the run
    /// has ended, the run's summary as `baton run --stats` writes it.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if let Some(trace) = &*self.ended.lock().unwrap_or_else(|e| e.into_inner()) {
            let json = serde_json::to_string(&trace.baton)
                .map_err(|error| Error::new_err(error.to_string()))?;
            return py.import("json")?.call_method1("loads", (json,));
        }
        match &self.handle {
            Some(handle) => Ok(snapshot_dict(py, &handle.stats())?.into_any()),
            None => Err(Error::new_err("the run never started")),
        }
    }

    /// Writes the run's HTML report (as `baton run --report`) to `path`:
    /// the timeline of what overlapped, each stage's load, the bottleneck.
    /// Needs `trace=True` on the pipeline for the timeline, and the run to
    /// have ended.
    fn report(&self, path: std::path::PathBuf) -> PyResult<()> {
        let ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        let Some(trace) = &*ended else {
            return Err(Error::new_err(
                "the run has not ended: its report is written once every item is taken",
            ));
        };
        std::fs::write(&path, baton_report::render_html(trace)).map_err(|error| {
            Error::new_err(format!(
                "cannot write the report to {}: {error}",
                path.display()
            ))
        })
    }
}

/// A live snapshot of the stats as a dict.
fn snapshot_dict<'py>(py: Python<'py>, stats: &StatsSnapshot) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("elapsed_s", stats.elapsed.as_secs_f64())?;
    dict.set_item("threads", stats.threads)?;
    dict.set_item("items_in_flight", stats.items_in_flight)?;
    let source = PyDict::new(py);
    source.set_item("name", &stats.source.name)?;
    source.set_item("items", stats.source.items)?;
    source.set_item("busy_s", stats.source.busy.as_secs_f64())?;
    source.set_item("blocked_s", stats.source.blocked.as_secs_f64())?;
    source.set_item(
        "waiting_for_input_s",
        stats.source.waiting_for_input.as_secs_f64(),
    )?;
    source.set_item("done", stats.source.done)?;
    dict.set_item("source", source)?;
    let stages = PyList::empty(py);
    for stage in &stats.stages {
        let one = PyDict::new(py);
        one.set_item("name", &stage.name)?;
        one.set_item("replicas", stage.replicas)?;
        one.set_item("tuning", stage.tuning.as_deref())?;
        one.set_item("buffer", stage.buffer)?;
        one.set_item("buffer_tuning", stage.buffer_tuning.as_deref())?;
        one.set_item("fused_into", stage.fused_into.as_deref())?;
        one.set_item("items_in", stage.items_in)?;
        one.set_item("items_out", stage.items_out)?;
        one.set_item("busy_s", stage.busy.as_secs_f64())?;
        one.set_item("waiting_for_input_s", stage.waiting_for_input.as_secs_f64())?;
        one.set_item("blocked_on_output_s", stage.blocked_on_output.as_secs_f64())?;
        one.set_item("queued", stage.queued)?;
        one.set_item("errors", stage.errors)?;
        one.set_item("skipped", stage.skipped)?;
        stages.append(one)?;
    }
    dict.set_item("stages", stages)?;
    // As the run's summary names them, once it has ended.
    let memory = PyDict::new(py);
    memory.set_item("budget_bytes", stats.memory.budget)?;
    memory.set_item("peak_rss_bytes", stats.memory.peak_rss)?;
    memory.set_item("max_in_flight", stats.memory.max_in_flight)?;
    memory.set_item("held_back", stats.memory.lowered.as_deref())?;
    dict.set_item("memory", memory)?;
    match stats.bottleneck() {
        Some(bottleneck) => {
            let one = PyDict::new(py);
            one.set_item("stage", &bottleneck.stage)?;
            one.set_item("bound_items_per_s", bottleneck.bound_items_per_s)?;
            one.set_item("achieved_items_per_s", bottleneck.achieved_items_per_s)?;
            one.set_item("verdict", &bottleneck.verdict)?;
            dict.set_item("bottleneck", one)?;
        }
        None => dict.set_item("bottleneck", py.None())?,
    }
    Ok(dict)
}
