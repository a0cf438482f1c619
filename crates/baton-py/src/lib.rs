//! # baton-py
//!
//! baton from Python: `import baton`, read a pipeline file, and iterate its
//! last stage's items in a training loop. The pipeline runs on baton's
//! engine, on every core and outside the GIL; the loop takes each item as
//! a `dict` whose tensors are NumPy arrays that own the buffers baton
//! filled (no copy).
//!
//! ```python
//! import baton
//!
//! loader = baton.Pipeline.from_file("train.toml", overrides={"batch.size": 128})
//! for batch in loader:          # each `for` is a run (an epoch)
//!     images, labels = batch["tensor"], batch["label"]
//! ```
//!
//! The Python package is built with maturin (`pip install ./crates/baton-py`);
//! this crate is its native module, `baton._baton`. Its Rust side is usable
//! on its own too: [`item_to_python`] turns an item into Python objects.

#![forbid(unsafe_code)]

mod convert;
mod errors;
mod host;
mod pipeline;
mod run;
mod to_sink;

use pyo3::prelude::*;

pub use convert::{item_to_python, outputs_of};
pub use errors::{Error, PipelineFileError, StageError, Warning};
pub use pipeline::Pipeline;
pub use run::Run;

/// Every built-in op as `(name, kind, summary)`, kind being `"source"`,
/// `"stage"` or `"sink"`.
#[pyfunction]
fn ops() -> Vec<(&'static str, String, &'static str)> {
    baton_ops::all()
        .into_iter()
        .map(|op| (op.name, op.kind.to_string(), op.summary))
        .collect()
}

/// The native module: `baton._baton`, re-exported by the `baton` package.
#[pymodule]
fn _baton(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Pipeline>()?;
    m.add_class::<Run>()?;
    m.add("Error", py.get_type::<Error>())?;
    m.add("PipelineFileError", py.get_type::<PipelineFileError>())?;
    m.add("StageError", py.get_type::<StageError>())?;
    m.add("Warning", py.get_type::<Warning>())?;
    m.add_function(wrap_pyfunction!(to_sink::run, m)?)?;
    m.add_function(wrap_pyfunction!(ops, m)?)?;
    m.add_function(wrap_pyfunction!(pipeline::pipeline_text, m)?)?;
    Ok(())
}
