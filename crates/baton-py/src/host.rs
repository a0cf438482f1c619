//! Python functions as stages: the `python` op, made by [`PythonHost`].
//!
//! A stage calls its function on each item with the GIL held: the item
//! goes in as the `dict` a loop would see (see [`item_to_python`]), and
//! what the function returns comes back as items (see [`outputs_of`]). A
//! function that raises fails the item, as any stage does; the exception
//! is kept, and is the `__cause__` of the `baton.StageError` the loop
//! raises.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use baton_engine::{BoxError, Stage};
use baton_ops::config::BuildContext;
use baton_ops::{BuiltStage, FunctionHost, Item};
use pyo3::prelude::*;

use crate::convert::{item_to_python, outputs_of};

/// Makes the stages that call Python functions: those the program handed
/// over by name (the builder's callables), else `"module:name"`, imported
/// as Python imports it, with the pipeline file's folder searched last.
#[derive(Debug, Default)]
pub(crate) struct PythonHost {
    callables: BTreeMap<String, Arc<Py<PyAny>>>,
}

impl PythonHost {
    /// A host that knows `callables` by name, besides importing.
    pub(crate) fn new(callables: BTreeMap<String, Py<PyAny>>) -> Self {
        Self {
            callables: callables
                .into_iter()
                .map(|(name, callable)| (name, Arc::new(callable)))
                .collect(),
        }
    }
}

impl FunctionHost for PythonHost {
    fn stage(&self, function: &str, context: &BuildContext) -> Result<BuiltStage, String> {
        let callable = match self.callables.get(function) {
            Some(callable) => callable.clone(),
            None => Arc::new(Python::attach(|py| {
                import_function(py, function, context.base_dir())
            })?),
        };
        let function = function.to_string();
        Ok(BuiltStage::replicas(move || {
            Ok(PythonStage {
                callable: callable.clone(),
                function: function.clone(),
            })
        }))
    }
}

/// `"module:name"` (the name may be dotted: `"module:Class.method"`),
/// imported; the pipeline file's folder is searched after `sys.path`.
fn import_function(py: Python<'_>, function: &str, base_dir: &Path) -> Result<Py<PyAny>, String> {
    let Some((module, name)) = function.split_once(':') else {
        return Err(format!(
            "`{function}` is not a function's place: write \"module:name\" (\"cleaning:clean\" is \
             `clean` in cleaning.py)"
        ));
    };
    let folder = if base_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base_dir
    };
    let folder = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
    let imported = (|| -> PyResult<Bound<'_, PyAny>> {
        let path = py.import("sys")?.getattr("path")?;
        let folder = folder.to_string_lossy().into_owned();
        if !path.contains(&folder)? {
            path.call_method1("append", (folder,))?;
        }
        Ok(py.import(module)?.into_any())
    })()
    .map_err(|error| format!("cannot import `{module}` for `{function}`: {error}"))?;
    let mut found = imported;
    for part in name.split('.') {
        found = found
            .getattr(part)
            .map_err(|_| format!("`{module}` has no `{name}` (for `{function}`)"))?;
    }
    if !found.is_callable() {
        let kind = found
            .get_type()
            .name()
            .map_or_else(|_| "value".to_string(), |n| n.to_string());
        return Err(format!("`{function}` is a {kind}, not a function"));
    }
    Ok(found.unbind())
}

/// One replica of a `python` stage.
struct PythonStage {
    callable: Arc<Py<PyAny>>,
    function: String,
}

impl Stage<Item, Item> for PythonStage {
    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        Python::attach(|py| {
            let failed = |error: PyErr| -> BoxError {
                Box::new(FunctionFailed {
                    function: self.function.clone(),
                    place: place_of(py, &error),
                    error,
                })
            };
            for dict in item_to_python(py, item).map_err(failed)? {
                let returned = self.callable.bind(py).call1((dict,)).map_err(failed)?;
                outputs_of(&returned, out).map_err(|error| -> BoxError {
                    format!(
                        "`{}` returned what is not items: {}",
                        self.function,
                        error.value(py)
                    )
                    .into()
                })?;
            }
            Ok(())
        })
    }
}

/// A Python function that raised: the exception, and where.
#[derive(Debug)]
pub(crate) struct FunctionFailed {
    function: String,
    place: Option<String>,
    pub(crate) error: PyErr,
}

impl fmt::Display for FunctionFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` raised {}", self.function, self.error)?;
        if let Some(place) = &self.place {
            write!(f, " ({place})")?;
        }
        Ok(())
    }
}

impl std::error::Error for FunctionFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// "file.py, line 12": where the exception was raised (its traceback's
/// last frame).
fn place_of(py: Python<'_>, error: &PyErr) -> Option<String> {
    let mut frame = error.traceback(py)?.into_any();
    loop {
        match frame.getattr("tb_next") {
            Ok(next) if !next.is_none() => frame = next,
            _ => break,
        }
    }
    let line: u32 = frame.getattr("tb_lineno").ok()?.extract().ok()?;
    let file: String = frame
        .getattr("tb_frame")
        .and_then(|f| f.getattr("f_code"))
        .and_then(|c| c.getattr("co_filename"))
        .ok()?
        .extract()
        .ok()?;
    Some(format!("{file}, line {line}"))
}

/// The callables a builder hands over, from a `{name: callable}` mapping.
pub(crate) fn callables_of(
    functions: Option<&Bound<'_, pyo3::types::PyDict>>,
) -> PyResult<BTreeMap<String, Py<PyAny>>> {
    let mut callables = BTreeMap::new();
    if let Some(functions) = functions {
        for (name, callable) in functions.iter() {
            if !callable.is_callable() {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "the function `{name}` is not callable"
                )));
            }
            callables.insert(name.extract()?, callable.unbind());
        }
    }
    Ok(callables)
}
