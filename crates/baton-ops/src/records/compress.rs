//! `compress`: compresses the bytes payload with gzip or zstd.
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, Item, Params, Payload};
//!
//! let params = Params::new(toml::from_str(r#"codec = "gzip""#).unwrap(), ".");
//! let op = baton_ops::find("compress").unwrap();
//! let BuiltOp::Stage(built) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut out = Vec::new();
//! let item = Item { payload: Payload::Bytes(b"aaaa".repeat(100)), ..Item::default() };
//! built.replica().unwrap().process(item, &mut out).unwrap();
//! let Payload::Bytes(packed) = &out[0].payload else { unreachable!() };
//! assert_eq!(packed[..2], [0x1f, 0x8b]);
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
    name: "compress",
    kind: OpKind::Transform,
    summary:
        "compresses the bytes payload (gzip or zstd); an item with another payload is an error",
    params: &[
        ParamDef::required("codec", ParamType::Str, "\"gzip\" or \"zstd\""),
        ParamDef::optional(
            "level",
            ParamType::Int,
            "the compression level: gzip 0-9 (default 6), zstd 1-22 (default 3)",
        ),
    ],
    modes: Modes::ANY,
    build: build_from::<CompressConfig>,
};

/// The parameters of `compress`: compresses the bytes payload with `codec`
/// at `level` (the codec's default level when not given).
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, CompressConfig, DecompressConfig, OpConfig, Codec};
/// use baton_ops::{BuiltOp, Item, Payload};
///
/// let context = BuildContext::default();
/// let compress = CompressConfig { codec: Codec::Gzip, level: Some(9) };
/// let BuiltOp::Stage(built) = compress.build(&context).unwrap() else { unreachable!() };
/// let mut packed = Vec::new();
/// let item = Item { payload: Payload::Bytes(b"aaaa".repeat(100)), ..Item::default() };
/// built.replica().unwrap().process(item.clone(), &mut packed).unwrap();
/// let Payload::Bytes(bytes) = &packed[0].payload else { unreachable!() };
/// assert_eq!(bytes[..2], [0x1f, 0x8b]);
///
/// let decompress = DecompressConfig { codec: Codec::Gzip };
/// let BuiltOp::Stage(built) = decompress.build(&context).unwrap() else { unreachable!() };
/// let mut back = Vec::new();
/// built.replica().unwrap().process(packed.remove(0), &mut back).unwrap();
/// assert_eq!(back, [item]);
///
/// let too_high = CompressConfig { codec: Codec::Gzip, level: Some(10) };
/// assert_eq!(too_high.build(&context).unwrap_err().to_string(), "`level`: gzip levels go from 0 to 9, not 10");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompressConfig {
    /// "gzip" or "zstd".
    pub codec: Codec,
    /// The compression level: gzip 0-9 (default 6), zstd 1-22 (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<i32>,
}

impl OpConfig for CompressConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let codec = self.codec;
        if let Some(level) = self.level {
            codec.check_level(level, "level")?;
        }
        Ok(replicas(Compress {
            codec,
            level: self.level,
        }))
    }
}

/// The stage.
#[derive(Clone, Debug)]
struct Compress {
    codec: Codec,
    level: Option<i32>,
}

impl Stage<Item, Item> for Compress {
    fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        let Payload::Bytes(bytes) = &item.payload else {
            return Err(RecordError::NotBytes {
                found: item.payload.kind(),
            }
            .into());
        };
        let packed =
            self.codec
                .compress(bytes, self.level)
                .map_err(|error| RecordError::Codec {
                    codec: self.codec,
                    action: "compression",
                    error,
                })?;
        item.payload = Payload::Bytes(packed);
        out.push(item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{build_error, params, run_stage};

    fn bytes_item(bytes: &[u8]) -> Item {
        let mut item = Item::with_field("name", "a");
        item.payload = Payload::Bytes(bytes.to_vec());
        item
    }

    #[test]
    #[cfg(feature = "zstd")]
    fn round_trips_through_decompress_with_both_codecs() {
        let text = "a line that repeats\n".repeat(100);
        for toml in [
            "codec = \"gzip\"",
            "codec = \"zstd\"",
            "codec = \"gzip\"\nlevel = 9",
            "codec = \"zstd\"\nlevel = 19",
        ] {
            let dir = ".".as_ref();
            let (packed, _) = run_stage(
                &DEF,
                &params(&DEF, toml, dir),
                vec![bytes_item(text.as_bytes())],
            );
            let packed = packed.into_iter().next().unwrap().unwrap();
            let Payload::Bytes(small) = &packed[0].payload else {
                panic!("not bytes")
            };
            assert!(
                small.len() < text.len() / 5,
                "{toml}: {} bytes",
                small.len()
            );

            let codec_only = toml.lines().next().unwrap();
            let undo = &super::super::decompress::DEF;
            let (back, _) = run_stage(undo, &params(undo, codec_only, dir), packed);
            let back = back.into_iter().next().unwrap().unwrap();
            assert_eq!(back[0], bytes_item(text.as_bytes()), "{toml}");
        }
    }

    #[test]
    fn a_payload_that_is_not_bytes_is_an_error_saying_what_it_is() {
        let (out, _) = run_stage(
            &DEF,
            &params(&DEF, "codec = \"zstd\"", ".".as_ref()),
            vec![Item::with_field("a", 1)],
        );
        assert_eq!(
            out[0].as_ref().unwrap_err(),
            "the item's payload is `none`, not bytes"
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        for (toml, param) in [
            ("codec = \"lz4\"", "codec"),
            ("codec = \"gzip\"\nlevel = 10", "level"),
        ] {
            let error = build_error(&DEF, &params(&DEF, toml, ".".as_ref()));
            assert_eq!(error.param.as_deref(), Some(param), "{toml}");
        }
    }
}
