//! `to_tensor`: an image becomes a CHW tensor of f32 (one plane per
//! channel), every sample times `scale`.
//!
//! `channels = 1` converts to luma first, `channels = 3` to RGB (dropping
//! alpha); without it the image keeps its own channels (luma 1, luma with
//! alpha 2, RGB 3, RGBA 4). `scale` defaults to what maps the samples onto
//! 0..1: 1/255 for 8-bit images, 1/65535 for 16-bit ones, 1 for float ones.
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, Item, Params, Payload};
//!
//! let params = Params::new(toml::from_str("channels = 1").unwrap(), ".");
//! let op = baton_ops::find("to_tensor").unwrap();
//! let BuiltOp::Stage(built) = (op.build)(&params).unwrap() else { unreachable!() };
//! let item = Item { payload: Payload::Image(image::DynamicImage::new_rgb8(3, 2)), ..Item::default() };
//! let mut out = Vec::new();
//! built.replica().unwrap().process(item, &mut out).unwrap();
//! let Payload::Tensor(tensor) = &out[0].payload else { unreachable!() };
//! assert_eq!(tensor.shape, vec![1, 2, 3]);
//! ```

use image::{ColorType, DynamicImage};
use serde::{Deserialize, Serialize};

use super::planes::{planes, unit_scale};
use super::{map_stage, take_image};
use crate::item::Payload;
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef, ParamType,
};

pub(super) const DEF: OpDef = OpDef {
    name: "to_tensor",
    kind: OpKind::Transform,
    summary: "turns an image into a CHW tensor of f32, scaled to 0..1 unless told otherwise",
    params: &[
        ParamDef::optional(
            "channels",
            ParamType::Int,
            "1 (convert to luma) or 3 (convert to RGB); default: the image's own channels",
        )
        .between(1, 3),
        ParamDef::optional(
            "scale",
            ParamType::Float,
            "multiplies every sample; default 1/255 for 8-bit images, 1/65535 for 16-bit, 1 for float",
        ),
    ],
    modes: Modes::ANY,
    build: build_from::<ToTensorConfig>,
};

/// The parameters of `to_tensor`: the channels to convert the image to
/// first, if any, and what every sample is multiplied by.
///
/// # Examples
///
/// ```
/// use baton_engine::Stage;
/// use baton_ops::config::{BuildContext, OpConfig, ToTensorConfig};
/// use baton_ops::{BuiltOp, Item, Payload};
///
/// let to_tensor = ToTensorConfig { channels: Some(3), scale: Some(1.0) };
/// let BuiltOp::Stage(built) = to_tensor.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let white = image::GrayImage::from_pixel(2, 1, image::Luma([255]));
/// let item = Item { payload: Payload::Image(white.into()), ..Item::default() };
/// let mut out = Vec::new();
/// built.replica().unwrap().process(item, &mut out).unwrap();
/// let Payload::Tensor(tensor) = &out[0].payload else { unreachable!() };
/// assert_eq!((tensor.shape.as_slice(), tensor.data[0]), (&[3, 1, 2][..], 255.0));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToTensorConfig {
    /// 1 (convert to luma) or 3 (convert to RGB); default: the image's own
    /// channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<usize>,
    /// Multiplies every sample; default 1/255 for 8-bit images, 1/65535 for
    /// 16-bit, 1 for float.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
}

impl OpConfig for ToTensorConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let channels = match self.channels {
            None => None,
            Some(c @ (1 | 3)) => Some(c),
            Some(other) => {
                return Err(OpError::param(
                    "channels",
                    format!("must be 1 (luma) or 3 (RGB), not {other}"),
                ))
            }
        };
        let scale = self.scale;
        Ok(map_stage(move |mut item| {
            let mut image = take_image(&mut item)?;
            if let Some(channels) = channels {
                image = convert(image, channels);
            }
            let scale = scale.unwrap_or_else(|| unit_scale(&image));
            item.payload = Payload::Tensor(planes(&image, scale, |_, v| v));
            Ok(item)
        }))
    }
}

/// `image` with 1 (luma) or 3 (RGB) channels, at its own bit depth (float
/// images become 16-bit luma: the image crate has no float luma).
fn convert(image: DynamicImage, channels: usize) -> DynamicImage {
    let color = image.color();
    let eight_bit = color.bytes_per_pixel() == color.channel_count();
    match (channels, color) {
        (1, ColorType::L8 | ColorType::L16)
        | (3, ColorType::Rgb8 | ColorType::Rgb16 | ColorType::Rgb32F) => image,
        (1, _) if eight_bit => image.to_luma8().into(),
        (1, _) => image.to_luma16().into(),
        (_, _) if eight_bit => image.to_rgb8().into(),
        (_, ColorType::La16 | ColorType::Rgba16) => image.to_rgb16().into(),
        (_, _) => image.to_rgb32f().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{build, gradient, item, run};
    use super::*;
    use crate::item::{Item, Tensor};

    fn tensor(params: &str, image: DynamicImage) -> Tensor {
        match run(&DEF, params, item("a.png", Payload::Image(image)))
            .unwrap()
            .payload
        {
            Payload::Tensor(tensor) => tensor,
            other => panic!("expected a tensor, found {}", other.kind()),
        }
    }

    #[test]
    fn an_rgb_image_becomes_three_planes_scaled_to_one() {
        let t = tensor("", gradient(5, 2));
        assert_eq!(t.shape, vec![3, 2, 5]);
        // Pixel (4, 1) is [40, 10, 200]; planes are 10 values apart.
        assert!((t.data[5 + 4] - 40.0 / 255.0).abs() < 1e-7);
        assert!((t.data[10 + 5 + 4] - 10.0 / 255.0).abs() < 1e-7);
        assert!((t.data[20 + 5 + 4] - 200.0 / 255.0).abs() < 1e-7);
    }

    #[test]
    fn channels_and_scale_convert_and_multiply() {
        let gray = tensor("channels = 1\nscale = 1.0", gradient(5, 2));
        assert_eq!(gray.shape, vec![1, 2, 5]);
        let expected = image::DynamicImage::from(gradient(5, 2).to_luma8());
        assert_eq!(
            gray.data[0],
            f32::from(expected.to_luma8().get_pixel(0, 0).0[0])
        );

        let rgba = DynamicImage::from(gradient(2, 2).to_rgba8());
        assert_eq!(tensor("", rgba.clone()).shape, vec![4, 2, 2]);
        assert_eq!(tensor("channels = 3", rgba).shape, vec![3, 2, 2]);
        let luma = DynamicImage::from(gradient(2, 2).to_luma8());
        assert_eq!(tensor("channels = 3", luma).shape, vec![3, 2, 2]);
    }

    #[test]
    fn bad_channels_and_payloads_fail() {
        let error = build(&DEF, "channels = 2").unwrap_err();
        assert_eq!(error.param.as_deref(), Some("channels"));
        let error = run(&DEF, "", Item::with_field("line", "x")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "expected a payload of kind `image`, found `none`"
        );
    }
}
