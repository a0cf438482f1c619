//! The exceptions baton raises in Python, all subclasses of `baton.Error`,
//! and how the Rust errors become them.

use baton_engine::PipelineError;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

pyo3::create_exception!(
    baton,
    Error,
    PyException,
    "Every error baton raises: catch this one to catch them all."
);
pyo3::create_exception!(
    baton,
    PipelineFileError,
    Error,
    "A pipeline file baton cannot run: the message names the file, line and key, as `baton check` does."
);
pyo3::create_exception!(
    baton,
    StageError,
    Error,
    "A stage failed on an item: `stage` is its name and `item` the item's number, counted from 0 at the source."
);

pyo3::create_exception!(
    baton,
    Warning,
    pyo3::exceptions::PyUserWarning,
    "What a stage warns of (a field missing from most records, a file skipped...), issued once its run ends."
);

/// The exception for a run's failure: a [`StageError`] naming the stage
/// and item when a stage failed, else an [`Error`].
pub(crate) fn run_failure(py: Python<'_>, error: &PipelineError) -> PyErr {
    match error {
        PipelineError::Stage { stage, seq, .. } => {
            let raised = StageError::new_err(error.to_string());
            let value = raised.value(py);
            // Attributes a handler can read (`except baton.StageError as e: e.stage`).
            let named = value
                .setattr("stage", stage.as_str())
                .and_then(|()| value.setattr("item", *seq));
            if let Err(failed) = named {
                return failed;
            }
            // A Python function that raised: its exception is the cause.
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
            while let Some(one) = cause {
                if let Some(raised_in_python) = one.downcast_ref::<PyErr>() {
                    raised.set_cause(py, Some(raised_in_python.clone_ref(py)));
                    break;
                }
                cause = one.source();
            }
            raised
        }
        other => Error::new_err(other.to_string()),
    }
}
