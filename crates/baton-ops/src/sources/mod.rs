//! Sources: the first stage of a pipeline file. The file sources take a
//! glob relative to the pipeline file, expanded (and checked to match) when
//! the stage is built; files are opened one at a time as the run reaches
//! them, and a bad file or line is one `Err` item naming it.

mod arrow;
mod blocks;
mod csv;
mod error;
mod files;
mod idx;
mod jsonl;
mod lines;
mod parquet;
pub(crate) mod paths;
mod range;
mod stdin;
mod text;
mod webdataset;

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
    idx::DEF,
    webdataset::DEF,
];

/// The `columns` parameter of a columnar source: the names to read, each
/// once, in the order first given (`None`: every column).
fn column_names(params: &crate::Params) -> Result<Option<Vec<String>>, crate::OpError> {
    match params.str_list("columns")? {
        Some(names) if names.is_empty() => {
            Err(crate::OpError::param("columns", "name at least one column"))
        }
        Some(mut names) => {
            let mut seen = std::collections::HashSet::new();
            names.retain(|c| seen.insert(c.clone()));
            Ok(Some(names))
        }
        None => Ok(None),
    }
}
