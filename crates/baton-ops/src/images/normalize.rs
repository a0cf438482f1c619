//! `normalize`: `(value * scale - mean[c]) / std[c]` for every value of
//! channel `c`, turning an image into a CHW tensor (or normalising a tensor
//! in place, its first dimension being the channels).
//!
//! An image has as many channels as its colour layout (luma 1, RGB 3, RGBA
//! 4; use `to_tensor` with `channels` to convert first); `mean` and `std`
//! give one value per channel. `scale` defaults to what maps the samples
//! onto 0..1: 1/255 for 8-bit images, 1/65535 for 16-bit ones, and 1 for
//! float images and tensors (`to_tensor` has already scaled them).
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, Item, Params, Payload};
//!
//! let params = Params::new(toml::from_str("mean = [0.5]\nstd = [0.5]").unwrap(), ".");
//! let op = baton_ops::find("normalize").unwrap();
//! let BuiltOp::Stage(built) = (op.build)(&params).unwrap() else { unreachable!() };
//! let white = image::GrayImage::from_pixel(2, 2, image::Luma([255]));
//! let item = Item { payload: Payload::Image(white.into()), ..Item::default() };
//! let mut out = Vec::new();
//! built.replica().unwrap().process(item, &mut out).unwrap();
//! let Payload::Tensor(tensor) = &out[0].payload else { unreachable!() };
//! assert_eq!((tensor.shape.as_slice(), tensor.data[0]), (&[1, 2, 2][..], 1.0));
//! ```

use serde::{Deserialize, Serialize};

use super::error::ImageError;
use super::map_stage;
use super::planes::{channel_count, planes, unit_scale};
use crate::item::{Item, Payload};
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef, ParamType,
};

pub(super) const DEF: OpDef = OpDef {
    name: "normalize",
    kind: OpKind::Transform,
    summary: "subtracts a per-channel `mean` and divides by `std`: an image or tensor becomes a CHW tensor",
    params: &[
        ParamDef::required("mean", ParamType::FloatList, "one mean per channel"),
        ParamDef::required(
            "std",
            ParamType::FloatList,
            "one standard deviation per channel (not 0)",
        ),
        ParamDef::optional(
            "scale",
            ParamType::Float,
            "multiplies every value first; default 1/255 for 8-bit images, 1/65535 for 16-bit, 1 for float images and tensors",
        ),
    ],
    modes: Modes::ANY,
    build: build_from::<NormalizeConfig>,
};

/// The parameters of `normalize`: `(value * scale - mean[c]) / std[c]`
/// for every value of channel `c`.
///
/// # Examples
///
/// ```
/// use baton_engine::Stage;
/// use baton_ops::config::{BuildContext, NormalizeConfig, OpConfig};
/// use baton_ops::{BuiltOp, Item, Payload, Tensor};
///
/// let normalize = NormalizeConfig { mean: vec![1.0, 10.0], std: vec![2.0, 5.0], scale: None };
/// let BuiltOp::Stage(built) = normalize.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let tensor = Tensor { shape: vec![2, 1, 1], data: vec![5.0, 20.0] };
/// let item = Item { payload: Payload::Tensor(tensor), ..Item::default() };
/// let mut out = Vec::new();
/// built.replica().unwrap().process(item, &mut out).unwrap();
/// let Payload::Tensor(tensor) = &out[0].payload else { unreachable!() };
/// assert_eq!(tensor.data, [2.0, 2.0]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizeConfig {
    /// One mean per channel.
    pub mean: Vec<f64>,
    /// One standard deviation per channel (not 0).
    pub std: Vec<f64>,
    /// Multiplies every value first; default 1/255 for 8-bit images,
    /// 1/65535 for 16-bit, 1 for float images and tensors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
}

impl OpConfig for NormalizeConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let NormalizeConfig { mean, std, scale } = self.clone();
        if mean.is_empty() {
            return Err(OpError::param(
                "mean",
                "needs one value per channel, not none",
            ));
        }
        if std.len() != mean.len() {
            return Err(OpError::param(
                "std",
                format!("has {} values but `mean` has {}", std.len(), mean.len()),
            ));
        }
        if let Some(c) = std.iter().position(|s| *s == 0.0) {
            return Err(OpError::param(
                "std",
                format!("the value for channel {c} is 0"),
            ));
        }
        Ok(map_stage(move |mut item: Item| {
            let normal = |c: usize, v: f64| (v - mean[c]) / std[c];
            let tensor = match std::mem::take(&mut item.payload) {
                Payload::Image(image) => {
                    check_channels(&mean, channel_count(&image), || {
                        format!("image ({:?})", image.color())
                    })?;
                    planes(&image, scale.unwrap_or_else(|| unit_scale(&image)), normal)
                }
                Payload::Tensor(mut tensor) => {
                    let channels = *tensor.shape.first().ok_or(ImageError::Shapeless)?;
                    check_channels(&mean, channels, || {
                        format!("tensor (shape {:?})", tensor.shape)
                    })?;
                    let scale = scale.unwrap_or(1.0);
                    let plane = tensor.len() / channels.max(1);
                    for (i, value) in tensor.data.iter_mut().enumerate() {
                        *value = normal(i / plane, f64::from(*value) * scale) as f32;
                    }
                    tensor
                }
                other => {
                    return Err(ImageError::WrongPayload {
                        expected: "image` or `tensor",
                        found: other.kind(),
                        hint: "",
                    })
                }
            };
            item.payload = Payload::Tensor(tensor);
            Ok(item)
        }))
    }
}

fn check_channels(
    mean: &[f64],
    channels: usize,
    what: impl FnOnce() -> String,
) -> Result<(), ImageError> {
    if mean.len() == channels {
        Ok(())
    } else {
        Err(ImageError::Channels {
            param: "mean",
            given: mean.len(),
            channels,
            what: what(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{build, gradient, item, run};
    use super::*;
    use crate::item::Tensor;

    fn tensor_of(item: &Item) -> &Tensor {
        match &item.payload {
            Payload::Tensor(tensor) => tensor,
            other => panic!("expected a tensor, found {}", other.kind()),
        }
    }

    fn close(a: f32, b: f64) -> bool {
        (f64::from(a) - b).abs() < 1e-6
    }

    #[test]
    fn an_rgb_image_becomes_normalised_chw_planes() {
        let params = "mean = [0.5, 0.25, 0.0]\nstd = [0.5, 0.25, 2.0]";
        let out = run(&DEF, params, item("a.png", Payload::Image(gradient(4, 3)))).unwrap();
        let tensor = tensor_of(&out);
        assert_eq!(tensor.shape, vec![3, 3, 4]);
        let at = |c: usize, y: usize, x: usize| tensor.data[c * 12 + y * 4 + x];
        // Pixel (3, 2) is [30, 20, 200].
        assert!(close(at(0, 2, 3), (30.0 / 255.0 - 0.5) / 0.5));
        assert!(close(at(1, 2, 3), (20.0 / 255.0 - 0.25) / 0.25));
        assert!(close(at(2, 2, 3), (200.0 / 255.0) / 2.0));
        assert!(close(at(0, 0, 0), -1.0));
    }

    #[test]
    fn an_explicit_scale_replaces_the_default() {
        let params = "mean = [0, 0, 0]\nstd = [1, 1, 1]\nscale = 1";
        let out = run(&DEF, params, item("a.png", Payload::Image(gradient(4, 3)))).unwrap();
        assert_eq!(tensor_of(&out).data[3], 30.0);
    }

    #[test]
    fn a_tensor_is_normalised_per_channel() {
        let tensor = Tensor {
            shape: vec![2, 1, 2],
            data: vec![1.0, 3.0, 10.0, 20.0],
        };
        let params = "mean = [1, 10]\nstd = [2, 5]";
        let out = run(&DEF, params, item("t", Payload::Tensor(tensor))).unwrap();
        assert_eq!(tensor_of(&out).data, vec![0.0, 1.0, 0.0, 2.0]);
        assert_eq!(tensor_of(&out).shape, vec![2, 1, 2]);
    }

    #[test]
    fn a_mean_per_channel_is_required() {
        let error = run(
            &DEF,
            "mean = [0.5]\nstd = [0.5]",
            item("a.png", Payload::Image(gradient(4, 3))),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "`mean` has 1 values, but the image (Rgb8) has 3 channels"
        );
        let tensor = Tensor {
            shape: vec![2, 1, 1],
            data: vec![0.0, 0.0],
        };
        let error = run(
            &DEF,
            "mean = [0.5]\nstd = [0.5]",
            item("t", Payload::Tensor(tensor)),
        )
        .unwrap_err();
        assert!(error
            .to_string()
            .contains("tensor (shape [2, 1, 1]) has 2 channels"));
    }

    #[test]
    fn bad_parameters_name_the_parameter() {
        let error = build(&DEF, "mean = [0.5, 0.5]\nstd = [0.5]").unwrap_err();
        assert_eq!(error.param.as_deref(), Some("std"));
        let error = build(&DEF, "mean = [0.5]\nstd = [0]").unwrap_err();
        assert_eq!(error.param.as_deref(), Some("std"));
        let error = build(&DEF, "mean = []\nstd = []").unwrap_err();
        assert_eq!(error.param.as_deref(), Some("mean"));
    }

    #[test]
    fn bytes_cannot_be_normalised() {
        let error = run(
            &DEF,
            "mean = [0]\nstd = [1]",
            item("a", Payload::Bytes(vec![])),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "expected a payload of kind `image` or `tensor`, found `bytes`"
        );
    }
}
