//! `image_decode`: a bytes payload (a PNG or JPEG file's contents) becomes
//! an image payload; the format is guessed from the bytes.
//!
//! Sets the fields `width` and `height`.
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, Item, Params, Payload};
//!
//! let mut png = std::io::Cursor::new(Vec::new());
//! image::DynamicImage::new_rgb8(4, 3).write_to(&mut png, image::ImageFormat::Png).unwrap();
//!
//! let op = baton_ops::find("image_decode").unwrap();
//! let BuiltOp::Stage(built) = (op.build)(&Params::default()).unwrap() else { unreachable!() };
//! let mut out = Vec::new();
//! let item = Item { payload: Payload::Bytes(png.into_inner()), ..Item::default() };
//! built.replica().unwrap().process(item, &mut out).unwrap();
//! assert_eq!(out[0].get("width").unwrap(), 4);
//! assert!(matches!(out[0].payload, Payload::Image(_)));
//! ```

use serde::{Deserialize, Serialize};

use super::error::ImageError;
use super::{map_stage, put_image};
use crate::item::{Item, Payload};
use crate::registry::{build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind};

pub(super) const DEF: OpDef = OpDef {
    name: "image_decode",
    kind: OpKind::Transform,
    summary: "decodes a bytes payload (PNG, JPEG) into an image; sets `width` and `height`",
    params: &[],
    modes: Modes::ANY,
    build: build_from::<ImageDecodeConfig>,
};

/// The parameters of `image_decode`: none, the format is guessed from the
/// bytes.
///
/// # Examples
///
/// ```
/// use baton_engine::Stage;
/// use baton_ops::config::{BuildContext, ImageDecodeConfig, OpConfig};
/// use baton_ops::{BuiltOp, Item, Payload};
///
/// let mut png = std::io::Cursor::new(Vec::new());
/// image::DynamicImage::new_luma8(5, 2).write_to(&mut png, image::ImageFormat::Png).unwrap();
///
/// let BuiltOp::Stage(built) = ImageDecodeConfig {}.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let item = Item { payload: Payload::Bytes(png.into_inner()), ..Item::default() };
/// let mut out = Vec::new();
/// built.replica().unwrap().process(item, &mut out).unwrap();
/// assert_eq!((out[0].get("width").unwrap(), out[0].get("height").unwrap()), (&5.into(), &2.into()));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageDecodeConfig {}

impl OpConfig for ImageDecodeConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        Ok(map_stage(decode))
    }
}

fn decode(mut item: Item) -> Result<Item, ImageError> {
    let bytes = match std::mem::take(&mut item.payload) {
        Payload::Bytes(bytes) => bytes,
        other => {
            return Err(ImageError::WrongPayload {
                expected: "bytes",
                found: other.kind(),
                hint: "",
            })
        }
    };
    let image = image::load_from_memory(&bytes).map_err(|source| ImageError::Decode {
        len: bytes.len(),
        source,
    })?;
    Ok(put_image(item, image))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{encode, gradient, image_of, item, rgb_at, run};
    use super::*;
    use image::ImageFormat;

    #[test]
    fn a_png_decodes_to_its_exact_pixels_and_size() {
        let png = encode(&gradient(12, 8), ImageFormat::Png);
        let out = run(&DEF, "", item("a.png", Payload::Bytes(png))).unwrap();
        assert_eq!(out.get("width").unwrap(), 12);
        assert_eq!(out.get("height").unwrap(), 8);
        assert_eq!(out.get("path").unwrap(), "a.png");
        assert_eq!(rgb_at(&out, 0, 0), [0, 0, 200]);
        assert_eq!(rgb_at(&out, 11, 7), [110, 70, 200]);
    }

    #[test]
    fn a_jpeg_decodes_to_its_size_and_close_pixels() {
        let jpeg = encode(&gradient(16, 16), ImageFormat::Jpeg);
        let out = run(&DEF, "", item("a.jpg", Payload::Bytes(jpeg))).unwrap();
        assert_eq!((image_of(&out).width(), image_of(&out).height()), (16, 16));
        let [r, g, b] = rgb_at(&out, 15, 0);
        assert!(
            r.abs_diff(150) < 16 && g < 16 && b.abs_diff(200) < 16,
            "{r} {g} {b}"
        );
    }

    #[test]
    fn bytes_that_are_no_image_fail_with_the_decoders_message() {
        let error = run(
            &DEF,
            "",
            item("a.png", Payload::Bytes(b"not an image".to_vec())),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with("cannot decode the 12 bytes as an image: "),
            "{error}"
        );
        assert!(error.len() > "cannot decode the 12 bytes as an image: ".len());
    }

    #[test]
    fn a_payload_that_is_not_bytes_is_named() {
        let error = run(&DEF, "", Item::with_field("line", "x")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "expected a payload of kind `bytes`, found `none`"
        );
    }
}
