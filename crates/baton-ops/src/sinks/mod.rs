//! Sinks: the last stage of a pipeline file. Each runs serially (one
//! instance, made when the run starts, so building a pipeline to check it
//! writes nothing); `finish` flushes what is buffered and closes encoders,
//! so a file is complete when the run ends without error.
//!
//! A file sink writes `<name>.partial` and only `finish` renames it to its
//! name (see `staged`): a run that fails or is aborted leaves the previous
//! file as it was, and warns where the partial output is. The `files` sink
//! writes each item's file the same way, under a temporary name.

mod arrow;
mod chunks;
mod count;
#[cfg(feature = "csv")]
mod csv;
mod discard;
mod error;
mod files;
mod jsonl;
#[cfg(feature = "parquet")]
mod parquet;
mod staged;
mod stdout;
#[cfg(feature = "tensors")]
mod tensors;
#[cfg(feature = "tensors")]
mod webdataset;
pub use stdout::around_stdout_writes;

use baton_engine::Sink;

use crate::item::Item;
use crate::registry::{BuiltOp, OpDef};
use error::SinkError;

/// The sinks' typed parameters (see [`crate::config`]).
pub(crate) mod configs {
    pub use super::arrow::{ArrowSinkCompression, ArrowSinkConfig, ArrowSinkFormat};
    pub use super::count::CountConfig;
    #[cfg(feature = "csv")]
    pub use super::csv::CsvSinkConfig;
    pub use super::discard::DiscardConfig;
    pub use super::files::{FilesSinkConfig, OnConflict};
    pub use super::jsonl::JsonlSinkConfig;
    #[cfg(feature = "parquet")]
    pub use super::parquet::{ParquetSinkCompression, ParquetSinkConfig};
    pub use super::stdout::StdoutConfig;
    #[cfg(feature = "tensors")]
    pub use super::tensors::{NpyConfig, SafetensorsConfig};
    #[cfg(feature = "tensors")]
    pub use super::webdataset::WebdatasetSinkConfig;
}

/// Every built-in sink.
pub(crate) const DEFS: &[OpDef] = &[
    stdout::DEF,
    jsonl::DEF,
    #[cfg(feature = "csv")]
    csv::DEF,
    #[cfg(feature = "parquet")]
    parquet::DEF,
    arrow::DEF,
    files::DEF,
    #[cfg(feature = "tensors")]
    tensors::NPY,
    #[cfg(feature = "tensors")]
    tensors::SAFETENSORS,
    #[cfg(feature = "tensors")]
    webdataset::DEF,
    discard::DEF,
    count::DEF,
];

/// A sink made by `make` when the run starts.
/// Writes the rows of a chunk of records as JSON lines, fields in column
/// order, nulls written as null.
fn write_json_rows(
    batch: &baton_records::RecordBatch,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let mut writer = arrow_json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow_json::writer::LineDelimited>(out);
    writer
        .write(batch)
        .and_then(|()| writer.finish())
        .map_err(|e| std::io::Error::other(e.to_string()))
}

fn sink<K, F>(make: F) -> BuiltOp
where
    K: Sink<Item>,
    F: FnOnce() -> Result<K, SinkError> + Send + 'static,
{
    BuiltOp::Sink(Box::new(move || {
        Ok(Box::new(make()?) as Box<dyn Sink<Item>>)
    }))
}
