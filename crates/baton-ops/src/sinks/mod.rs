//! Sinks: the last stage of a pipeline file. Each runs serially (one
//! instance, made when the run starts, so building a pipeline to check it
//! writes nothing); `finish` flushes what is buffered and closes encoders,
//! so a file is complete when the run ends without error.

mod count;
mod csv;
mod discard;
mod error;
mod files;
mod jsonl;
mod stdout;

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use baton_engine::Sink;

use crate::item::Item;
use crate::registry::{BuiltOp, OpDef};
use error::SinkError;

/// Every built-in sink.
pub(crate) const DEFS: &[OpDef] = &[
    stdout::DEF,
    jsonl::DEF,
    csv::DEF,
    files::DEF,
    discard::DEF,
    count::DEF,
];

/// A sink made by `make` when the run starts.
fn sink<K, F>(make: F) -> BuiltOp
where
    K: Sink<Item>,
    F: FnOnce() -> Result<K, SinkError> + Send + 'static,
{
    BuiltOp::Sink(Box::new(move || {
        Ok(Box::new(make()?) as Box<dyn Sink<Item>>)
    }))
}

/// Creates (or truncates) a file to write, and the folders it goes in.
fn create_file(path: &Path) -> Result<BufWriter<File>, SinkError> {
    let file_error = |error| SinkError::File {
        path: path.display().to_string(),
        error,
    };
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(file_error)?;
    }
    Ok(BufWriter::with_capacity(
        1 << 16,
        File::create(path).map_err(file_error)?,
    ))
}
