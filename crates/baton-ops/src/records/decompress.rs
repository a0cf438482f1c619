//! `decompress`: decompresses the bytes payload (gzip or zstd).
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, Item, Params, Payload};
//!
//! let params = Params::new(toml::from_str(r#"codec = "zstd""#).unwrap(), ".");
//! let op = baton_ops::find("decompress").unwrap();
//! let BuiltOp::Stage(built) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut out = Vec::new();
//! let item = Item { payload: Payload::Bytes(b"not zstd".to_vec()), ..Item::default() };
//! let error = built.replica().unwrap().process(item, &mut out).unwrap_err();
//! assert!(error.to_string().starts_with("zstd decompression failed"));
//! ```

use serde::{Deserialize, Serialize};

use super::error::RecordError;
use super::replicas;
use crate::codec::Codec;
use crate::item::{Item, Payload};
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef, ParamType,
};
use baton_engine::{BoxError, Stage};

pub(crate) const DEF: OpDef = OpDef {
    name: "decompress",
    kind: OpKind::Transform,
    summary:
        "decompresses the bytes payload (gzip or zstd); an item with another payload is an error",
    params: &[ParamDef::required(
        "codec",
        ParamType::Str,
        "\"gzip\" or \"zstd\"",
    )],
    modes: Modes::ANY,
    build: build_from::<DecompressConfig>,
};

/// The parameters of `decompress`: decompresses the bytes payload with
/// `codec`.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, DecompressConfig, OpConfig, Codec};
/// use baton_ops::{BuiltOp, Item, Payload};
///
/// let config = DecompressConfig { codec: Codec::Zstd };
/// let BuiltOp::Stage(built) = config.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let item = Item { payload: Payload::Bytes(b"not zstd".to_vec()), ..Item::default() };
/// let error = built.replica().unwrap().process(item, &mut Vec::new()).unwrap_err();
/// assert!(error.to_string().starts_with("zstd decompression failed"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecompressConfig {
    /// "gzip" or "zstd".
    pub codec: Codec,
}

impl OpConfig for DecompressConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        Ok(replicas(Decompress { codec: self.codec }))
    }
}

/// The stage.
#[derive(Clone, Debug)]
struct Decompress {
    codec: Codec,
}

impl Stage<Item, Item> for Decompress {
    fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        let Payload::Bytes(bytes) = &item.payload else {
            return Err(RecordError::NotBytes {
                found: item.payload.kind(),
            }
            .into());
        };
        let unpacked = self
            .codec
            .decompress(bytes)
            .map_err(|error| RecordError::Codec {
                codec: self.codec,
                action: "decompression",
                error,
            })?;
        item.payload = Payload::Bytes(unpacked);
        out.push(item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{params, run_stage};

    #[test]
    fn bytes_that_are_not_compressed_are_an_error_naming_the_codec() {
        let item = Item {
            payload: Payload::Bytes(b"plain text, not gzip".to_vec()),
            ..Item::default()
        };
        for codec in ["gzip", "zstd"] {
            let toml = format!("codec = \"{codec}\"");
            let (out, _) = run_stage(&DEF, &params(&DEF, &toml, ".".as_ref()), vec![item.clone()]);
            let message = out[0].as_ref().unwrap_err();
            assert!(
                message.starts_with(&format!("{codec} decompression failed: ")),
                "{message}"
            );
        }
    }
}
