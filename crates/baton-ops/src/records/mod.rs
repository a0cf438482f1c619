//! Record stages: per-item transforms of an item's fields (and its bytes
//! payload). Each is stateless, so any mode suits it; a replica is a cheap
//! clone of the stage built from the parameters. A stage drops an item by
//! pushing nothing; an item it cannot handle is an `Err` naming the field
//! at fault, which the engine numbers and hands to the stage's policy.

mod compress;
mod decompress;
mod error;
#[cfg(feature = "script")]
mod filter;
mod hash;
mod json_parse;
#[cfg(feature = "regex")]
mod regex_extract;
#[cfg(feature = "script")]
mod remap;
mod rename;
mod select;

use baton_engine::Stage;

use crate::item::Item;
use crate::registry::{BuiltOp, BuiltStage, OpDef};
use error::RecordError;

/// The record stages' typed parameters (see [`crate::config`]).
pub(crate) mod configs {
    pub use super::compress::CompressConfig;
    pub use super::decompress::DecompressConfig;
    #[cfg(feature = "script")]
    pub use super::filter::FilterConfig;
    pub use super::hash::{HashAlgorithm, HashConfig};
    pub use super::json_parse::JsonParseConfig;
    #[cfg(feature = "regex")]
    pub use super::regex_extract::RegexExtractConfig;
    #[cfg(feature = "script")]
    pub use super::remap::RemapConfig;
    pub use super::rename::RenameConfig;
    pub use super::select::SelectConfig;
}

/// Every built-in record stage.
pub(crate) const DEFS: &[OpDef] = &[
    json_parse::DEF,
    select::DEF,
    rename::DEF,
    #[cfg(feature = "script")]
    filter::DEF,
    #[cfg(feature = "script")]
    remap::DEF,
    #[cfg(feature = "regex")]
    regex_extract::DEF,
    hash::DEF,
    compress::DEF,
    decompress::DEF,
];

/// A stage whose replicas are clones of `stage`, taking a record at a time.
fn replicas<S>(stage: S) -> BuiltOp
where
    S: Stage<Item, Item> + Clone + Sync,
{
    BuiltOp::Stage(BuiltStage::replicas(move || Ok(stage.clone())))
}

/// A stage whose replicas are clones of `stage`, taking chunks of records
/// in columns as they are.
fn record_replicas<S>(stage: S) -> BuiltOp
where
    S: Stage<Item, Item> + Clone + Sync,
{
    BuiltOp::Stage(BuiltStage::record_replicas(move || Ok(stage.clone())))
}

/// The text of the string field `field`.
fn string_field<'a>(item: &'a Item, field: &str) -> Result<&'a str, RecordError> {
    match item.get(field) {
        Some(serde_json::Value::String(text)) => Ok(text),
        Some(other) => Err(RecordError::NotAString {
            field: field.to_string(),
            found: crate::json::kind(other),
        }),
        None => Err(RecordError::MissingField {
            field: field.to_string(),
        }),
    }
}
