//! `baton.Pipeline`: a pipeline file read for a Python loop. Each `for`
//! over it is a run of its own (an epoch); the loop is the pipeline's sink.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use baton_config::{Built, Ending, MemoryBudget, Plan, RunOptions, Setting, Variables};
use baton_engine::{OnError, PipelineHandle};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::errors::{Error, PipelineFileError};
use crate::host::{callables_of, PythonHost};
use crate::run::Run;
use baton_ops::SharedHost;

/// A pipeline file whose items a Python loop takes.
///
/// Read with `Pipeline.from_file(path, overrides=..., env=..., threads=...,
/// cpu_budget=..., trace=...)`. The file is checked at once (a bad one raises
/// `baton.PipelineFileError` with the located message `baton check`
/// gives) and may end without a sink: the loop is its sink. Iterating
/// starts a run on every core, outside the GIL.
#[pyclass(module = "baton", frozen)]
#[derive(Debug)]
pub struct Pipeline {
    source: Source,
    threads: Option<usize>,
    /// Cores the tuner may fill (over the file's `cpu_budget`).
    cpu_budget: Option<usize>,
    /// The memory budget (over the file's `memory_budget`).
    memory_budget: Option<MemoryBudget>,
    trace: bool,
    name: String,
    stage_names: Vec<String>,
    len: Option<u64>,
    /// The stages that take a `seed`, with the seed the file gives.
    seeds: Vec<(String, i64)>,
    /// The epoch the next run is (see `set_epoch`).
    epoch: AtomicU64,
    /// The runs started from it, for stopping them when a `with` block ends.
    runs: Mutex<Vec<(PipelineHandle, Arc<AtomicBool>)>>,
}

/// A pipeline file's text and what goes with it: everything a run reads
/// its plan from again (a plan is built, and so used up, by each run).
#[derive(Debug)]
pub(crate) struct Source {
    file: PathBuf,
    text: String,
    vars: Variables,
    settings: Vec<Setting>,
    host: SharedHost,
}

impl Source {
    /// The text of `file`, with `overrides` (`{"stage.key": value}`) and
    /// `env` (values of `${VAR}` the environment does not set).
    pub(crate) fn new(
        file: PathBuf,
        text: String,
        overrides: Option<&Bound<'_, PyDict>>,
        env: Option<BTreeMap<String, String>>,
        host: PythonHost,
    ) -> PyResult<Self> {
        let mut vars = Variables::from_env();
        for (name, value) in env.unwrap_or_default() {
            vars = vars.with(name, value);
        }
        let settings = match overrides {
            Some(overrides) => settings_of(overrides)?,
            None => Vec::new(),
        };
        Ok(Source {
            file,
            text,
            vars,
            settings,
            host: Arc::new(host),
        })
    }

    /// The plan, read and built, with `more` settings after the source's
    /// own: a bad file raises `PipelineFileError`.
    pub(crate) fn build_with(&self, ending: Ending, more: &[Setting]) -> PyResult<Built> {
        let settings: Vec<Setting> = self.settings.iter().chain(more).cloned().collect();
        let plan = Plan::parse_ending(&self.file, &self.text, &self.vars, &settings, ending)
            .map_err(|problems| PipelineFileError::new_err(problems.to_string()))?;
        plan.build_hosted(Some(self.host.clone()))
            .map_err(|problems| PipelineFileError::new_err(problems.to_string()))
    }

    /// The plan, read and built: a bad file raises `PipelineFileError`.
    pub(crate) fn build(&self, ending: Ending) -> PyResult<Built> {
        self.build_with(ending, &[])
    }

    /// The stages of the file that take a `seed`, with the seed it gives
    /// them (or the default).
    fn seeds(&self) -> PyResult<Vec<(String, i64)>> {
        let plan = Plan::parse_ending(
            &self.file,
            &self.text,
            &self.vars,
            &self.settings,
            Ending::Loop,
        )
        .map_err(|problems| PipelineFileError::new_err(problems.to_string()))?;
        Ok(plan
            .stages
            .iter()
            .filter(|stage| stage.op.param("seed").is_some())
            .map(|stage| {
                let seed = stage.params.int("seed").ok().flatten().unwrap_or(0);
                (stage.name.clone(), seed)
            })
            .collect())
    }
}

/// The text of the pipeline file at `path`.
pub(crate) fn read_file(path: &std::path::Path) -> PyResult<String> {
    std::fs::read_to_string(path).map_err(|error| {
        PipelineFileError::new_err(format!(
            "cannot read the pipeline file {}: {error}",
            path.display()
        ))
    })
}

impl Pipeline {
    /// Checks and builds `source` once (a glob matching nothing is found
    /// now), for its name, stages and length.
    fn open(
        source: Source,
        threads: Option<usize>,
        cpu_budget: Option<usize>,
        memory_budget: Option<MemoryBudget>,
        trace: bool,
    ) -> PyResult<Self> {
        if cpu_budget == Some(0) {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "cpu_budget must be at least 1 core",
            ));
        }
        let built = source.build(Ending::Loop)?;
        let seeds = source.seeds()?;
        Ok(Pipeline {
            seeds,
            epoch: AtomicU64::new(0),
            name: built.plan.name.clone(),
            stage_names: built.plan.stages.iter().map(|s| s.name.clone()).collect(),
            len: known_len(&built.plan, built.source_len),
            source,
            threads,
            cpu_budget,
            memory_budget,
            trace,
            runs: Mutex::new(Vec::new()),
        })
    }
}

#[pymethods]
impl Pipeline {
    /// Reads and checks the pipeline file at `path`.
    ///
    /// `overrides` sets any key of any stage, as `baton run --set` does:
    /// `{"batch.size": 64, "read.path": "data/*.csv"}`. `env` gives values
    /// to the file's `${VAR}` the environment does not set. `threads` is
    /// the number of CPU threads (default: the file's, else every core);
    /// `cpu_budget` the cores the tuner may fill with `replicas = "auto"`
    /// stages (default: the file's, else the threads): leave the training
    /// loop its own. `memory_budget` is the most memory the process may
    /// hold (`"4 GiB"`, `"512 MB"`, bytes, or `"off"`; default: the
    /// file's, else three quarters of the machine's): past it the run holds
    /// fewer items in flight; the training loop's memory counts too.
    /// `trace` records what each stage did, for `Run.report`.
    #[staticmethod]
    #[pyo3(signature = (path, *, overrides = None, env = None, threads = None, cpu_budget = None, memory_budget = None, trace = false))]
    #[allow(clippy::too_many_arguments)]
    fn from_file(
        path: PathBuf,
        overrides: Option<&Bound<'_, PyDict>>,
        env: Option<BTreeMap<String, String>>,
        threads: Option<usize>,
        cpu_budget: Option<usize>,
        memory_budget: Option<&Bound<'_, PyAny>>,
        trace: bool,
    ) -> PyResult<Self> {
        let memory_budget = memory_budget_of(memory_budget)?;
        let text = read_file(&path)?;
        let source = Source::new(path, text, overrides, env, PythonHost::default())?;
        Pipeline::open(source, threads, cpu_budget, memory_budget, trace)
    }

    /// A pipeline from the text of a pipeline file (what the builder
    /// writes): `name` names it, relative paths start in the current
    /// folder, and `functions` are the callables its `python` stages name
    /// (`{"name": callable}`; others are imported from `"module:name"`).
    #[staticmethod]
    #[pyo3(signature = (text, *, name = "pipeline", functions = None, threads = None, cpu_budget = None, memory_budget = None, trace = false))]
    #[allow(clippy::too_many_arguments)]
    fn from_text(
        text: String,
        name: &str,
        functions: Option<&Bound<'_, PyDict>>,
        threads: Option<usize>,
        cpu_budget: Option<usize>,
        memory_budget: Option<&Bound<'_, PyAny>>,
        trace: bool,
    ) -> PyResult<Self> {
        let memory_budget = memory_budget_of(memory_budget)?;
        let host = PythonHost::new(callables_of(functions)?);
        let source = Source::new(
            PathBuf::from(format!("{name}.toml")),
            text,
            None,
            None,
            host,
        )?;
        Pipeline::open(source, threads, cpu_budget, memory_budget, trace)
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
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel);
        // Epoch e: every seeded stage's seed + e (epoch 0 runs as written).
        let seeds: Vec<Setting> = self
            .seeds
            .iter()
            .map(|(stage, seed)| Setting {
                stage: stage.clone(),
                key: "seed".to_string(),
                value: seed.wrapping_add(epoch as i64).to_string(),
            })
            .collect();
        let built = if epoch == 0 {
            self.source.build(Ending::Loop)?
        } else {
            self.source.build_with(Ending::Loop, &seeds)?
        };
        let options = RunOptions {
            trace: self.trace,
            threads: self.threads,
            cpu_budget: self.cpu_budget,
            memory_budget: self.memory_budget,
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

    /// The epoch the next `for` runs: 0 at first, one more after each.
    /// Epoch `e` runs with every seeded stage's `seed` plus `e` (a shuffle,
    /// a random crop or flip draws anew each epoch, and the same again
    /// for the same epoch); epoch 0 runs with the seeds as written.
    #[getter]
    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Makes the next `for` run epoch `epoch` (as PyTorch's
    /// `DistributedSampler.set_epoch`): to resume a training at its epoch,
    /// or to run an epoch again.
    fn set_epoch(&self, epoch: u64) {
        self.epoch.store(epoch, Ordering::Release);
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
            self.source.file.display().to_string(),
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
            _ if stage.op.one_for_one() => len,
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

/// The text of a pipeline file: the `[pipeline]` table `pipeline` (if any
/// key), then a `[[stage]]` table for each of `stages`, `op` first, every
/// value written as TOML (what the builder writes).
#[pyfunction]
#[pyo3(signature = (pipeline, stages))]
pub(crate) fn pipeline_text(
    pipeline: &Bound<'_, PyDict>,
    stages: Vec<Bound<'_, PyDict>>,
) -> PyResult<String> {
    let mut text = String::new();
    if !pipeline.is_empty() {
        text.push_str("[pipeline]\n");
        text.push_str(&table_lines(pipeline, "pipeline")?);
        text.push('\n');
    }
    for (at, stage) in stages.iter().enumerate() {
        if at > 0 || !text.is_empty() {
            text.push('\n');
        }
        text.push_str("[[stage]]\n");
        text.push_str(&table_lines(stage, &format!("stage {}", at + 1))?);
    }
    Ok(text)
}

/// `key = value` lines of a table, `op` first.
fn table_lines(table: &Bound<'_, PyDict>, what: &str) -> PyResult<String> {
    let json = table.py().import("json")?;
    let mut lines = Vec::new();
    for (key, value) in table.iter() {
        let key: String = key
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("{what}: every key is a string")))?;
        let text: String = json
            .call_method1("dumps", (value,))
            .map_err(|error| {
                PyTypeError::new_err(format!(
                    "{what}: `{key}` cannot go in a pipeline file: {}",
                    error.value(table.py())
                ))
            })?
            .extract()?;
        let parsed: serde_json::Value = serde_json::from_str(&text)
            .map_err(|error| PyTypeError::new_err(format!("{what}: `{key}`: {error}")))?;
        let value = serde_json::from_value::<toml::Value>(parsed).map_err(|_| {
            PyTypeError::new_err(format!(
                "{what}: `{key}` cannot go in a pipeline file: {text} (no None, no mixed lists)"
            ))
        })?;
        let bare = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let key_text = if bare {
            key.clone()
        } else {
            toml::Value::String(key.clone()).to_string()
        };
        let line = format!("{key_text} = {value}\n");
        if key == "op" {
            lines.insert(0, line);
        } else {
            lines.push(line);
        }
    }
    Ok(lines.concat())
}

/// A memory budget as Python gives it: bytes as an `int`, or a size as a
/// `str` (`"4 GiB"`, `"off"`); anything else is a `ValueError`.
fn memory_budget_of(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<MemoryBudget>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let text = match value.extract::<u64>() {
        Ok(bytes) => bytes.to_string(),
        Err(_) => value.extract::<String>().map_err(|_| {
            pyo3::exceptions::PyValueError::new_err(
                "memory_budget must be a size such as \"4 GiB\", a number of bytes, or \"off\"",
            )
        })?,
    };
    text.parse::<MemoryBudget>()
        .map(Some)
        .map_err(|error| pyo3::exceptions::PyValueError::new_err(error.to_string()))
}
