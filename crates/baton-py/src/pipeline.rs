//! `baton.Pipeline`: a pipeline file read for a Python loop. Each `for`
//! over it is a run of its own (an epoch); the loop is the pipeline's sink.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use baton_config::{Ending, Plan, RunOptions, Setting, Variables};
use baton_engine::{OnError, PipelineHandle};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::errors::{Error, PipelineFileError};
use crate::run::Run;

/// A pipeline file whose items a Python loop takes.
///
/// Read with `Pipeline.from_file(path, overrides=..., env=..., threads=...,
/// trace=...)`. The file is checked at once (a bad one raises
/// `baton.PipelineFileError` with the located message `baton check`
/// gives) and may end without a sink: the loop is its sink. Iterating
/// starts a run on every core, outside the GIL.
#[pyclass(module = "baton", frozen)]
#[derive(Debug)]
pub struct Pipeline {
    file: PathBuf,
    text: String,
    vars: Variables,
    settings: Vec<Setting>,
    threads: Option<usize>,
    trace: bool,
    name: String,
    stage_names: Vec<String>,
    len: Option<u64>,
    /// The runs started from it, for stopping them when a `with` block ends.
    runs: Mutex<Vec<(PipelineHandle, Arc<AtomicBool>)>>,
}

impl Pipeline {
    /// The plan, read again from the file's text (a plan is built, and so
    /// used up, by each run).
    fn plan(&self) -> Result<Plan, baton_config::Diagnostics> {
        Plan::parse_ending(
            &self.file,
            &self.text,
            &self.vars,
            &self.settings,
            Ending::Loop,
        )
    }
}

#[pymethods]
impl Pipeline {
    /// Reads and checks the pipeline file at `path`.
    ///
    /// `overrides` sets any key of any stage, as `baton run --set` does:
    /// `{"batch.size": 64, "read.path": "data/*.csv"}`. `env` gives values
    /// to the file's `${VAR}` the environment does not set. `threads` is
    /// the number of CPU threads (default: the file's, else every core).
    /// `trace` records what each stage did, for `Run.report`.
    #[staticmethod]
    #[pyo3(signature = (path, *, overrides = None, env = None, threads = None, trace = false))]
    fn from_file(
        path: PathBuf,
        overrides: Option<&Bound<'_, PyDict>>,
        env: Option<BTreeMap<String, String>>,
        threads: Option<usize>,
        trace: bool,
    ) -> PyResult<Self> {
        let text = std::fs::read_to_string(&path).map_err(|error| {
            PipelineFileError::new_err(format!(
                "cannot read the pipeline file {}: {error}",
                path.display()
            ))
        })?;
        let mut vars = Variables::from_env();
        for (name, value) in env.unwrap_or_default() {
            vars = vars.with(name, value);
        }
        let settings = match overrides {
            Some(overrides) => settings_of(overrides)?,
            None => Vec::new(),
        };
        let mut pipeline = Pipeline {
            file: path,
            text,
            vars,
            settings,
            threads,
            trace,
            name: String::new(),
            stage_names: Vec::new(),
            len: None,
            runs: Mutex::new(Vec::new()),
        };
        let plan = pipeline
            .plan()
            .map_err(|problems| PipelineFileError::new_err(problems.to_string()))?;
        pipeline.name = plan.name.clone();
        pipeline.stage_names = plan.stages.iter().map(|s| s.name.clone()).collect();
        // Building opens the inputs: a glob matching nothing is found now.
        let built = plan
            .build()
            .map_err(|problems| PipelineFileError::new_err(problems.to_string()))?;
        pipeline.len = known_len(&built.plan, built.source_len);
        Ok(pipeline)
    }

    /// The pipeline's name (`[pipeline] name`, else the file's stem).
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The stages' names, source first.
    #[getter]
    fn stages(&self) -> Vec<String> {
        self.stage_names.clone()
    }

    /// Starts a run: every `for` over the pipeline is a run of its own.
    fn __iter__(&self, py: Python<'_>) -> PyResult<Run> {
        let plan = self
            .plan()
            .map_err(|problems| PipelineFileError::new_err(problems.to_string()))?;
        let built = plan
            .build()
            .map_err(|problems| PipelineFileError::new_err(problems.to_string()))?;
        let options = RunOptions {
            trace: self.trace,
            threads: self.threads,
        };
        let iterated = built
            .iter(&options)
            .map_err(|error| Error::new_err(error.to_string()))?;
        let run = Run::start(py, iterated, self.name.clone(), self.len);
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.retain(|(handle, _)| !handle.is_finished());
        if let Some(handle) = run.handle() {
            runs.push((handle, run.stop_flag()));
        }
        Ok(run)
    }

    /// The number of items a run gives, when the pipeline says it: a source
    /// that knows its length and stages that keep every item (or `batch`,
    /// `take`, `skip`). Else `TypeError`, as for any iterable without one.
    fn __len__(&self) -> PyResult<usize> {
        self.len
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                PyTypeError::new_err(format!(
                    "the pipeline `{}` does not know how many items it gives (a stage may drop or add some)",
                    self.name
                ))
            })
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Stops every run started from it that is still going.
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) {
        self.close();
    }

    /// Stops every run started from it that is still going (what leaving a
    /// `with` block does).
    fn close(&self) {
        let runs = std::mem::take(&mut *self.runs.lock().unwrap_or_else(|e| e.into_inner()));
        for (handle, stopped) in runs {
            stopped.store(true, Ordering::Release);
            handle.abort();
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "baton.Pipeline({:?}, stages={:?})",
            self.file.display().to_string(),
            self.stage_names
        )
    }
}

/// `{"stage.key": value}` as settings, each value written as TOML.
fn settings_of(overrides: &Bound<'_, PyDict>) -> PyResult<Vec<Setting>> {
    let json = overrides.py().import("json")?;
    let mut settings = Vec::new();
    for (key, value) in overrides.iter() {
        let key: String = key
            .extract()
            .map_err(|_| PyTypeError::new_err("an override's key is a string: \"stage.key\""))?;
        let Some((stage, name)) = key.split_once('.') else {
            return Err(PipelineFileError::new_err(format!(
                "override `{key}`: write \"stage.key\", as in {{\"batch.size\": 64}}"
            )));
        };
        let text: String = json.call_method1("dumps", (value,))?.extract()?;
        let parsed: serde_json::Value = serde_json::from_str(&text)
            .map_err(|error| PyTypeError::new_err(format!("override `{key}`: {error}")))?;
        let value = toml_text(&parsed).ok_or_else(|| {
            PyTypeError::new_err(format!(
                "override `{key}`: a pipeline file cannot hold {text} (no null, no mixed arrays)"
            ))
        })?;
        settings.push(Setting {
            stage: stage.to_string(),
            key: name.to_string(),
            value,
        });
    }
    Ok(settings)
}

/// A JSON value as TOML text, if TOML can hold it.
fn toml_text(value: &serde_json::Value) -> Option<String> {
    let value: toml::Value = serde_json::from_value(value.clone()).ok()?;
    let table: toml::Table = [("v".to_string(), value)].into_iter().collect();
    let text = toml::to_string(&table).ok()?;
    Some(text.strip_prefix("v = ")?.trim_end().to_string())
}

/// Ops that give exactly one item for each item they take.
const ONE_FOR_ONE: &[&str] = &[
    "image_decode",
    "image_encode",
    "resize",
    "crop",
    "flip",
    "normalize",
    "to_tensor",
    "rename",
    "select",
    "hash",
    "compress",
    "decompress",
    "prefetch",
    "shuffle",
    "delay",
    "spin",
    "remap",
];

/// How many items a run of `plan` gives, when that is known.
fn known_len(plan: &Plan, source_len: Option<u64>) -> Option<u64> {
    let mut len = source_len?;
    for stage in plan.stages.iter().skip(1) {
        if stage.on_error == OnError::Skip {
            return None;
        }
        let count = |key: &str| {
            stage
                .params
                .int(key)
                .ok()
                .flatten()
                .map(|n| n.max(0) as u64)
        };
        len = match stage.op.name {
            name if ONE_FOR_ONE.contains(&name) => len,
            "batch" => {
                let size = count("size")?.max(1);
                let drop = stage.params.bool("drop_remainder").ok().flatten() == Some(true);
                if drop {
                    len / size
                } else {
                    len.div_ceil(size)
                }
            }
            "take" => len.min(count("count")?),
            "skip" => len.saturating_sub(count("count")?),
            _ => return None,
        };
    }
    Some(len)
}
