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

use super::error::RecordError;
use super::replicas;
use crate::codec::Codec;
use crate::item::{Item, Payload};
use crate::registry::{BuiltOp, Modes, OpDef, OpError, OpKind, ParamDef, ParamType, Params};
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
    build,
};

/// The stage.
#[derive(Clone, Debug)]
struct Compress {
    codec: Codec,
    level: Option<i32>,
}

fn build(params: &Params) -> Result<BuiltOp, OpError> {
    let codec = Params::need("codec", Codec::from_param(params, "codec")?)?;
    Ok(replicas(Compress {
        codec,
        level: codec.level_param(params, "level")?,
    }))
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
