//! Sources: the first stage of a pipeline file. The file sources take a
//! glob relative to the pipeline file, expanded (and checked to match) when
//! the stage is built; files are opened one at a time as the run reaches
//! them, and a bad file or line is one `Err` item naming it.

mod arrow;
mod blocks;
mod csv;
mod error;
mod files;
mod jsonl;
mod lines;
mod parquet;
mod paths;
mod range;
mod stdin;
mod text;

use crate::registry::OpDef;

pub(crate) use self::csv::delimiter;
pub(crate) use self::paths::matching;

/// Every built-in source.
pub(crate) const DEFS: &[OpDef] = &[
    range::DEF,
    files::DEF,
    lines::DEF,
    csv::DEF,
    jsonl::DEF,
    parquet::DEF,
    arrow::DEF,
    stdin::DEF,
];
