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
#[cfg(feature = "parquet")]
mod parquet;
pub(crate) mod paths;
mod range;
mod stdin;
mod text;
#[cfg(feature = "tensors")]
mod webdataset;

use crate::registry::OpDef;

/// The delimiter of the sink `csv` is read as the source's.
#[cfg(feature = "csv")]
pub(crate) use self::csv::delimiter_byte;
pub(crate) use self::paths::matching;

/// The sources' typed parameters (see [`crate::config`]).
pub(crate) mod configs {
    pub use super::arrow::{ArrowFormat, ArrowSourceConfig};
    pub use super::csv::CsvSourceConfig;
    pub use super::files::{BadShard, FileOrder, FilesSourceConfig, Shard};
    pub use super::idx::IdxConfig;
    pub use super::jsonl::JsonlSourceConfig;
    pub use super::lines::LinesConfig;
    #[cfg(feature = "parquet")]
    pub use super::parquet::ParquetSourceConfig;
    pub use super::range::RangeConfig;
    pub use super::stdin::{StdinConfig, StdinFormat};
    #[cfg(feature = "tensors")]
    pub use super::webdataset::WebdatasetSourceConfig;
}

/// Every built-in source.
pub(crate) const DEFS: &[OpDef] = &[
    range::DEF,
    files::DEF,
    lines::DEF,
    csv::DEF,
    jsonl::DEF,
    #[cfg(feature = "parquet")]
    parquet::DEF,
    arrow::DEF,
    stdin::DEF,
    idx::DEF,
    #[cfg(feature = "tensors")]
    webdataset::DEF,
];

/// The `columns` parameter of a columnar source: the names to read, each
/// once, in the order first given (`None`: every column).
fn column_names(columns: Option<&[String]>) -> Result<Option<Vec<String>>, crate::OpError> {
    match columns {
        Some([]) => Err(crate::OpError::param("columns", "name at least one column")),
        Some(names) => {
            let mut seen = std::collections::HashSet::new();
            Ok(Some(
                names.iter().filter(|c| seen.insert(*c)).cloned().collect(),
            ))
        }
        None => Ok(None),
    }
}

/// The size or count `value` of the parameter `param`, which must not be
/// 0 (the file checker's bounds say so too, but a config built in Rust
/// is not checked by it).
fn positive(param: &str, value: usize) -> Result<usize, crate::OpError> {
    if value == 0 {
        return Err(crate::OpError::param(param, "must be positive, not 0"));
    }
    Ok(value)
}
