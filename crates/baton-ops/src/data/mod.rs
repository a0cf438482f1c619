//! Data-pipeline stages: `batch` and `unbatch` (items into one item whose
//! payload is the batch, and back), and the engine's own operators
//! `shuffle`, `prefetch`, `take` and `skip`, each attached as it is; and
//! `repeat`, which wraps the source.

mod batch;
mod cache_file;
mod limit;
mod prefetch;
mod repeat;
mod shuffle;

pub use repeat::{MakeSource, Repeat};

use crate::registry::{OpDef, OpError, Seed};

/// The data-pipeline stages' typed parameters (see [`crate::config`]).
pub(crate) mod configs {
    pub use super::batch::{BatchConfig, UnbatchConfig};
    pub use super::limit::{SkipConfig, TakeConfig};
    pub use super::prefetch::PrefetchConfig;
    pub use super::repeat::RepeatConfig;
    pub use super::shuffle::ShuffleConfig;
}

/// Every data-pipeline stage.
pub(crate) const DEFS: &[OpDef] = &[
    batch::BATCH,
    batch::UNBATCH,
    shuffle::DEF,
    prefetch::DEF,
    limit::TAKE,
    limit::SKIP,
    repeat::DEF,
];

/// The count `n` of the parameter `name`, which must be at least 1 (the
/// file checker says so first; a library user's config is checked here).
fn at_least_one(name: &str, n: usize) -> Result<usize, OpError> {
    match n {
        0 => Err(OpError::param(name, "must be at least 1")),
        n => Ok(n),
    }
}

/// The default seed of the seeded stages: 0.
fn seed_zero() -> Seed {
    Seed(0)
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
        holds_to_its_table::<BatchConfig>("size = 2");
        holds_to_its_table::<UnbatchConfig>("");
        holds_to_its_table::<TakeConfig>("count = 2");
        holds_to_its_table::<SkipConfig>("count = 2");
        holds_to_its_table::<PrefetchConfig>("size = 2");
        holds_to_its_table::<ShuffleConfig>("buffer_size = 2");
        holds_to_its_table::<RepeatConfig>("epochs = 2");
    }

    #[test]
    fn a_zero_where_one_is_the_least_is_refused_by_the_build() {
        let context = BuildContext::default();
        let error = BatchConfig {
            size: 0,
            drop_remainder: false,
            stack: false,
        }
        .build(&context)
        .unwrap_err();
        assert_eq!(error.to_string(), "`size`: must be at least 1");
        let error = ShuffleConfig {
            buffer_size: 0,
            seed: Seed(0),
        }
        .build(&context)
        .unwrap_err();
        assert_eq!(error.param.as_deref(), Some("buffer_size"));
        let error = RepeatConfig {
            epochs: 0,
            shuffle: false,
            seed: Seed(0),
            cache: false,
            cache_file: None,
        }
        .build(&context)
        .unwrap_err();
        assert_eq!(error.param.as_deref(), Some("epochs"));
    }

    #[test]
    fn a_cache_file_is_relative_to_the_base_folder() {
        let params = crate::testing::params(
            &super::repeat::DEF,
            "epochs = 2\ncache_file = \"c/x.bin\"",
            "/data".as_ref(),
        );
        let crate::BuiltOp::Repeat(repeat) = (super::repeat::DEF.build)(&params).unwrap() else {
            panic!("not a repeat")
        };
        assert_eq!(
            repeat.cache_file.as_deref(),
            Some(std::path::Path::new("/data/c/x.bin"))
        );
    }
}
