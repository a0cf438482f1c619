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

#[cfg(test)]
mod tests {
    use crate::config::*;
    use crate::registry::OpConfig;

    /// `C`'s fields are its table's parameters, and its defaults the
    /// table's, given the parameters in `required` (TOML).
    fn holds_to_its_table<C: OpConfig>(required: &str) {
        let table = crate::testing::params(C::DEF, required, ".".as_ref());
        let with_table_defaults: C = table.config().unwrap();
        let with_own_defaults: C = toml::from_str(required).unwrap();
        assert_eq!(with_own_defaults, with_table_defaults, "{}", C::DEF.name);
        let toml::Value::Table(fields) = toml::Value::try_from(&with_own_defaults).unwrap() else {
            panic!("{} is not a table", C::DEF.name)
        };
        let names: Vec<&str> = C::DEF.params.iter().map(|p| p.name).collect();
        for field in fields.keys() {
            assert!(names.contains(&field.as_str()), "{}.{field}", C::DEF.name);
        }
        for param in C::DEF.params {
            let given = fields.contains_key(param.name);
            assert!(
                given || (param.default.is_none() && !param.required),
                "{}.{}",
                C::DEF.name,
                param.name
            );
        }
    }

    #[test]
    fn every_config_holds_to_its_table() {
        holds_to_its_table::<CompressConfig>(r#"codec = "gzip""#);
        holds_to_its_table::<DecompressConfig>(r#"codec = "zstd""#);
        #[cfg(feature = "script")]
        holds_to_its_table::<FilterConfig>(r#"expr = "a > 1""#);
        holds_to_its_table::<HashConfig>("");
        holds_to_its_table::<JsonParseConfig>("");
        #[cfg(feature = "regex")]
        holds_to_its_table::<RegexExtractConfig>(r#"pattern = "(?P<a>.)""#);
        #[cfg(feature = "script")]
        holds_to_its_table::<RemapConfig>(r#"fields = { a = "1" }"#);
        holds_to_its_table::<RenameConfig>(r#"fields = { a = "b" }"#);
        holds_to_its_table::<SelectConfig>(r#"fields = ["a"]"#);
    }
}
