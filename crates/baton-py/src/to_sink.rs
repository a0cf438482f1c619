//! `baton.run`: a pipeline file with a sink, run to its end from Python
//! (an ETL job whose stages may be Python functions).

use std::path::PathBuf;

use baton_config::{Ending, RunOptions};
use baton_ops::{Moment, Warnings};
use baton_report::TraceFile;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{run_failure, Error, Warning};
use crate::host::PythonHost;
use crate::pipeline::{read_file, Source};
use crate::run::SIGNAL_CHECK;

/// Runs the pipeline file at `path`, which ends in a sink, to its end, and
/// returns its summary (what `baton run --stats` writes) as a dict.
///
/// `overrides`, `env` and `threads` are as for `Pipeline.from_file`;
/// `report` writes the HTML report there. The run goes on every core with
/// the GIL released; Ctrl-C stops it (and raises `KeyboardInterrupt`). A
/// stage's warnings are issued as `baton.Warning`s once it ends.
#[pyfunction]
#[pyo3(signature = (path, *, overrides = None, env = None, threads = None, report = None))]
pub(crate) fn run<'py>(
    py: Python<'py>,
    path: PathBuf,
    overrides: Option<&Bound<'py, PyDict>>,
    env: Option<std::collections::BTreeMap<String, String>>,
    threads: Option<usize>,
    report: Option<PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    let text = read_file(&path)?;
    let source = Source::new(path, text, overrides, env, PythonHost::default())?;
    let built = source.build(Ending::Sink)?;
    let name = built.plan.name.clone();
    let options = RunOptions {
        trace: report.is_some(),
        threads,
        cpu_budget: None,
        memory_budget: None,
    };
    let started = built
        .start(&options)
        .map_err(|error| Error::new_err(error.to_string()))?;
    let warnings = started.warnings();
    let handle = started.handle.handle();
    while !py.detach(|| handle.wait_timeout(SIGNAL_CHECK)) {
        if let Err(interrupt) = py.check_signals() {
            handle.abort();
            let _ = py.detach(|| started.handle.join());
            return Err(interrupt);
        }
    }
    let ended = py.detach(|| started.handle.join());
    issue_warnings(py, &warnings)?;
    let ended = ended.map_err(|error| run_failure(py, &error))?;
    let trace = TraceFile::from_report(&name, &ended);
    if let Some(path) = report {
        std::fs::write(&path, baton_report::render_html(&trace)).map_err(|error| {
            Error::new_err(format!(
                "cannot write the report to {}: {error}",
                path.display()
            ))
        })?;
    }
    let json =
        serde_json::to_string(&trace.baton).map_err(|error| Error::new_err(error.to_string()))?;
    py.import("json")?.call_method1("loads", (json,))
}

/// Issues each of a run's warnings as a `baton.Warning`.
pub(crate) fn issue_warnings(py: Python<'_>, warnings: &Warnings) -> PyResult<()> {
    let category = py.get_type::<Warning>();
    for warning in warnings.read(Moment::Ended) {
        PyErr::warn(
            py,
            &category,
            &std::ffi::CString::new(warning.to_string())?,
            1,
        )?;
    }
    Ok(())
}
