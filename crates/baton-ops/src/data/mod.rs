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

use crate::registry::{OpDef, OpError};

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

#[cfg(test)]
mod tests {
    use crate::config::*;

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
