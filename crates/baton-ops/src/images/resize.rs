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

use super::{map_stage, pixels, put_image, take_image, PIXELS};
use crate::registry::{BuiltOp, Modes, OpDef, OpError, OpKind, ParamDef, ParamType, Params};

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
    build,
};

const FILTERS: [(&str, FilterType); 4] = [
    ("triangle", FilterType::Triangle),
    ("nearest", FilterType::Nearest),
    ("lanczos3", FilterType::Lanczos3),
    ("catmullrom", FilterType::CatmullRom),
];

fn build(params: &Params) -> Result<BuiltOp, OpError> {
    let width = pixels(params, "width")?;
    let height = pixels(params, "height")?;
    let name = params.str("filter")?.unwrap_or("triangle");
    let filter = FILTERS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .ok_or_else(|| {
            let names: Vec<_> = FILTERS.iter().map(|(n, _)| format!("\"{n}\"")).collect();
            OpError::param(
                "filter",
                format!(
                    "unknown filter \"{name}\"; expected one of {}",
                    names.join(", ")
                ),
            )
        })?;
    let keep_aspect = params.bool("keep_aspect")?.unwrap_or(false);
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
