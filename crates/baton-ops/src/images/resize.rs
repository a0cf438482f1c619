//! `resize`: scales an image to `width` x `height`, or, with
//! `keep_aspect = true`, to the largest size that fits inside them with the
//! same aspect ratio.
//!
//! Updates the fields `width` and `height`.
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, Item, Params, Payload};
//!
//! let params = Params::new(toml::from_str("width = 4\nheight = 4\nkeep_aspect = true").unwrap(), ".");
//! let op = baton_ops::find("resize").unwrap();
//! let BuiltOp::Stage(built) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut out = Vec::new();
//! let item = Item { payload: Payload::Image(image::DynamicImage::new_rgb8(8, 2)), ..Item::default() };
//! built.replica().unwrap().process(item, &mut out).unwrap();
//! assert_eq!((out[0].get("width").unwrap(), out[0].get("height").unwrap()), (&4.into(), &1.into()));
//! ```

use image::imageops::FilterType;
use serde::{Deserialize, Serialize};

use super::{map_stage, pixels, put_image, take_image, PIXELS};
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef, ParamType,
};

pub(super) const DEF: OpDef = OpDef {
    name: "resize",
    kind: OpKind::Transform,
    summary: "resizes an image to `width` x `height` (or to fit inside them, keeping its aspect)",
    params: &[
        ParamDef::required("width", ParamType::Int, "the new width in pixels")
            .between(PIXELS.0, PIXELS.1),
        ParamDef::required("height", ParamType::Int, "the new height in pixels")
            .between(PIXELS.0, PIXELS.1),
        ParamDef::with_default(
            "filter",
            ParamType::Str,
            "\"triangle\"",
            "the resampling filter: \"triangle\", \"nearest\", \"lanczos3\" or \"catmullrom\"",
        ),
        ParamDef::with_default(
            "keep_aspect",
            ParamType::Bool,
            "false",
            "fit inside `width` x `height` and keep the aspect ratio",
        ),
    ],
    modes: Modes::ANY,
    build: build_from::<ResizeConfig>,
};

/// The parameters of `resize`: the new size, or with `keep_aspect` the
/// box the image is fitted into, and the resampling filter.
///
/// # Examples
///
/// ```
/// use baton_engine::Stage;
/// use baton_ops::config::{BuildContext, OpConfig, ResizeConfig, ResizeFilter};
/// use baton_ops::{BuiltOp, Item, Payload};
///
/// let resize = ResizeConfig { width: 3, height: 5, filter: ResizeFilter::Nearest, keep_aspect: false };
/// let BuiltOp::Stage(built) = resize.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let item = Item { payload: Payload::Image(image::DynamicImage::new_rgb8(8, 2)), ..Item::default() };
/// let mut out = Vec::new();
/// built.replica().unwrap().process(item, &mut out).unwrap();
/// assert_eq!((out[0].get("width").unwrap(), out[0].get("height").unwrap()), (&3.into(), &5.into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResizeConfig {
    /// The new width in pixels.
    pub width: u32,
    /// The new height in pixels.
    pub height: u32,
    /// The resampling filter: "triangle", "nearest", "lanczos3" or
    /// "catmullrom".
    #[serde(default)]
    pub filter: ResizeFilter,
    /// Fit inside `width` x `height` and keep the aspect ratio.
    #[serde(default)]
    pub keep_aspect: bool,
}

/// The resampling filter of `resize`.
///
/// # Examples
///
/// ```
/// use baton_ops::config::ResizeFilter;
/// let filter: ResizeFilter = serde_json::from_str(r#""catmullrom""#).unwrap();
/// assert_eq!(filter, ResizeFilter::CatmullRom);
/// let error = serde_json::from_str::<ResizeFilter>(r#""cubic""#).unwrap_err();
/// assert!(error.to_string().contains(r#"unknown filter "cubic"; expected one of "triangle""#));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum ResizeFilter {
    /// Linear: smooth and quick.
    #[default]
    Triangle,
    /// The nearest pixel: no new colours.
    Nearest,
    /// Lanczos with a window of 3: sharp, the slowest.
    Lanczos3,
    /// Catmull-Rom cubic.
    CatmullRom,
}

const FILTERS: [(&str, ResizeFilter); 4] = [
    ("triangle", ResizeFilter::Triangle),
    ("nearest", ResizeFilter::Nearest),
    ("lanczos3", ResizeFilter::Lanczos3),
    ("catmullrom", ResizeFilter::CatmullRom),
];

impl TryFrom<String> for ResizeFilter {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        FILTERS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                let names: Vec<_> = FILTERS.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                format!(
                    "unknown filter \"{name}\"; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

impl From<ResizeFilter> for FilterType {
    fn from(filter: ResizeFilter) -> Self {
        match filter {
            ResizeFilter::Triangle => FilterType::Triangle,
            ResizeFilter::Nearest => FilterType::Nearest,
            ResizeFilter::Lanczos3 => FilterType::Lanczos3,
            ResizeFilter::CatmullRom => FilterType::CatmullRom,
        }
    }
}

impl OpConfig for ResizeConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let width = pixels("width", self.width)?;
        let height = pixels("height", self.height)?;
        let filter = FilterType::from(self.filter);
        let keep_aspect = self.keep_aspect;
        Ok(map_stage(move |mut item| {
            let image = take_image(&mut item)?;
            let resized = if keep_aspect {
                image.resize(width, height, filter)
            } else {
                image.resize_exact(width, height, filter)
            };
            Ok(put_image(item, resized))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{build, gradient, image_of, item, rgb_at, run};
    use super::*;
    use crate::item::Payload;

    #[test]
    fn resizes_to_the_exact_size_by_default() {
        let out = run(
            &DEF,
            "width = 7\nheight = 3",
            item("a.png", Payload::Image(gradient(20, 10))),
        )
        .unwrap();
        assert_eq!((image_of(&out).width(), image_of(&out).height()), (7, 3));
        assert_eq!(
            (out.get("width").unwrap(), out.get("height").unwrap()),
            (&7.into(), &3.into())
        );
    }

    #[test]
    fn nearest_halving_keeps_sampled_pixels() {
        let out = run(
            &DEF,
            "width = 10\nheight = 5\nfilter = \"nearest\"",
            item("a.png", Payload::Image(gradient(20, 10))),
        )
        .unwrap();
        // Pixel (x, y) of the half-size image samples source pixel (2x, 2y) or
        // (2x+1, 2y+1): its red is 20x or 20x+10.
        let [r, g, b] = rgb_at(&out, 3, 2);
        assert!(r == 60 || r == 70, "{r}");
        assert!(g == 40 || g == 50, "{g}");
        assert_eq!(b, 200);
    }

    #[test]
    fn keep_aspect_fits_inside_the_box() {
        for filter in ["triangle", "nearest", "lanczos3", "catmullrom"] {
            let out = run(
                &DEF,
                &format!("width = 8\nheight = 8\nkeep_aspect = true\nfilter = \"{filter}\""),
                item("a.png", Payload::Image(gradient(20, 10))),
            )
            .unwrap();
            assert_eq!((image_of(&out).width(), image_of(&out).height()), (8, 4));
        }
    }

    #[test]
    fn an_unknown_filter_or_a_zero_size_names_the_parameter() {
        let error = build(&DEF, "width = 8\nheight = 8\nfilter = \"cubic\"").unwrap_err();
        assert_eq!(error.param.as_deref(), Some("filter"));
        assert!(error.message.contains("\"lanczos3\""), "{error}");
        let error = build(&DEF, "width = 0\nheight = 8").unwrap_err();
        assert_eq!(error.param.as_deref(), Some("width"));
    }

    #[test]
    fn bytes_are_not_an_image() {
        let error = run(
            &DEF,
            "width = 2\nheight = 2",
            item("a.png", Payload::Bytes(vec![1])),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            "expected a payload of kind `image`, found `bytes` (decode it first with `image_decode`)"
        );
    }
}
