//! `crop`: cuts a `width` x `height` window out of an image, from its
//! centre or, with `position = "random"`, from a random place that depends only
//! on `seed` and the item's record (see the `random` module: the same crop
//! on every run, whichever replica runs the item).
//!
//! With `padding`, the image first gets a border of that many black pixels
//! on every side (torchvision's `RandomCrop(28, padding=4)`, the usual
//! augmentation of small images). An image smaller than the window is an
//! error for that item. Updates the fields `width` and `height`.
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, Item, Params, Payload};
//!
//! let params = Params::new(toml::from_str("width = 2\nheight = 2").unwrap(), ".");
//! let op = baton_ops::find("crop").unwrap();
//! let BuiltOp::Stage(built) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut out = Vec::new();
//! let item = Item { payload: Payload::Image(image::DynamicImage::new_rgb8(6, 4)), ..Item::default() };
//! built.replica().unwrap().process(item, &mut out).unwrap();
//! assert_eq!(out[0].get("width").unwrap(), 2);
//! ```

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::error::ImageError;
use super::random::item_rng;
use super::{map_stage, pixels, put_image, take_image, PIXELS};
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef,
    ParamType, Seed,
};

pub(super) const DEF: OpDef = OpDef {
    name: "crop",
    kind: OpKind::Transform,
    summary: "cuts a `width` x `height` window from the centre of an image, or from a seeded random place",
    params: &[
        ParamDef::required("width", ParamType::Int, "the window's width in pixels")
            .between(PIXELS.0, PIXELS.1),
        ParamDef::required("height", ParamType::Int, "the window's height in pixels")
            .between(PIXELS.0, PIXELS.1),
        ParamDef::with_default(
            "position",
            ParamType::Str,
            "\"center\"",
            "where the window is: \"center\" or \"random\"",
        ),
        ParamDef::with_default(
            "seed",
            ParamType::Int,
            "0",
            "random seed (with the item's record, decides a random window)",
        ),
        ParamDef::with_default(
            "padding",
            ParamType::Int,
            "0",
            "black pixels added on every side before cutting (28x28 with padding 4 and a random 28x28 window: shifts of up to 4 pixels)",
        )
        .between(0, PIXELS.1),
    ],
    modes: Modes::ANY,
    build: build_from::<CropConfig>,
};

/// The parameters of `crop`: a `width` x `height` window, cut from the
/// centre of the image (padded first by `padding` black pixels) or from a
/// random place decided by `seed` and the item's record.
///
/// # Examples
///
/// ```
/// use baton_engine::Stage;
/// use baton_ops::config::{BuildContext, CropConfig, CropPosition, OpConfig, Seed};
/// use baton_ops::{BuiltOp, Item, Payload};
///
/// let crop = CropConfig {
///     width: 3,
///     height: 2,
///     position: CropPosition::Random,
///     seed: Seed(7),
///     padding: 1,
/// };
/// let BuiltOp::Stage(built) = crop.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let item = Item { payload: Payload::Image(image::DynamicImage::new_rgb8(6, 4)), ..Item::default() };
/// let mut out = Vec::new();
/// built.replica().unwrap().process(item, &mut out).unwrap();
/// assert_eq!((out[0].get("width").unwrap(), out[0].get("height").unwrap()), (&3.into(), &2.into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CropConfig {
    /// The window's width in pixels.
    pub width: u32,
    /// The window's height in pixels.
    pub height: u32,
    /// Where the window is: "center" or "random".
    #[serde(default)]
    pub position: CropPosition,
    /// Random seed (with the item's record, decides a random window).
    #[serde(default)]
    pub seed: Seed,
    /// Black pixels added on every side before cutting (28x28 with padding
    /// 4 and a random 28x28 window: shifts of up to 4 pixels).
    #[serde(default)]
    pub padding: u32,
}

/// Where `crop` cuts its window.
///
/// # Examples
///
/// ```
/// use baton_ops::config::CropPosition;
/// let position: CropPosition = serde_json::from_str(r#""random""#).unwrap();
/// assert_eq!(position, CropPosition::Random);
/// let error = serde_json::from_str::<CropPosition>(r#""middle""#).unwrap_err();
/// assert!(error.to_string().contains(r#"expected "center" or "random""#));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum CropPosition {
    /// In the middle of the image.
    #[default]
    Center,
    /// At a random place, decided by the seed and the item's record.
    Random,
}

impl TryFrom<String> for CropPosition {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        match name.as_str() {
            "center" => Ok(CropPosition::Center),
            "random" => Ok(CropPosition::Random),
            other => Err(format!(
                "unknown position \"{other}\"; expected \"center\" or \"random\""
            )),
        }
    }
}

impl OpConfig for CropConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let width = pixels("width", self.width)?;
        let height = pixels("height", self.height)?;
        let random = self.position == CropPosition::Random;
        let Seed(seed) = self.seed;
        let padding = self.padding;
        Ok(map_stage(move |mut item| {
            let image = padded(take_image(&mut item)?, padding);
            let (free_x, free_y) = match (
                image.width().checked_sub(width),
                image.height().checked_sub(height),
            ) {
                (Some(x), Some(y)) => (x, y),
                _ => {
                    return Err(ImageError::TooSmall {
                        width: image.width(),
                        height: image.height(),
                        crop_width: width,
                        crop_height: height,
                    })
                }
            };
            let (x, y) = if random {
                let mut rng = item_rng(seed, "crop", &item);
                (rng.gen_range(0..=free_x), rng.gen_range(0..=free_y))
            } else {
                (free_x / 2, free_y / 2)
            };
            let window = image.crop_imm(x, y, width, height);
            Ok(put_image(item, window))
        }))
    }
}

/// `image` with a black border `padding` pixels wide.
fn padded(image: image::DynamicImage, padding: u32) -> image::DynamicImage {
    if padding == 0 {
        return image;
    }
    let mut canvas = image::DynamicImage::new(
        image.width() + 2 * padding,
        image.height() + 2 * padding,
        image.color(),
    );
    image::imageops::replace(&mut canvas, &image, i64::from(padding), i64::from(padding));
    canvas
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{build, gradient, item, rgb_at, run};
    use super::*;
    use crate::item::{Item, Payload};

    fn crop(params: &str, path: &str) -> Item {
        run(&DEF, params, item(path, Payload::Image(gradient(20, 10)))).unwrap()
    }

    #[test]
    fn a_centre_crop_starts_at_half_the_free_space() {
        let out = crop("width = 6\nheight = 4", "a.png");
        assert_eq!(
            (out.get("width").unwrap(), out.get("height").unwrap()),
            (&6.into(), &4.into())
        );
        // Free space 14x6: the window starts at (7, 3).
        assert_eq!(rgb_at(&out, 0, 0), [70, 30, 200]);
        assert_eq!(rgb_at(&out, 5, 3), [120, 60, 200]);
    }

    #[test]
    fn a_random_crop_is_the_same_for_the_same_seed_and_item() {
        let params = "width = 5\nheight = 5\nposition = \"random\"\nseed = 3";
        let first = crop(params, "a.png");
        // Another replica, later: the same window.
        assert_eq!(crop(params, "a.png"), first);
        // The window lies inside the image and keeps the gradient's steps.
        let [x0, y0, _] = rgb_at(&first, 0, 0);
        assert!(x0 <= 150 && y0 <= 50, "{x0} {y0}");
        assert_eq!(rgb_at(&first, 4, 4), [x0 + 40, y0 + 40, 200]);
    }

    #[test]
    fn random_crops_vary_with_the_item_and_the_seed() {
        let origin = |params: &str, path: &str| rgb_at(&crop(params, path), 0, 0);
        let params =
            |seed: u32| format!("width = 2\nheight = 2\nposition = \"random\"\nseed = {seed}");
        let by_path: std::collections::HashSet<_> = (0..20)
            .map(|i| origin(&params(1), &format!("{i}.png")))
            .collect();
        assert!(by_path.len() > 5, "{by_path:?}");
        let by_seed: std::collections::HashSet<_> =
            (0..20).map(|seed| origin(&params(seed), "a.png")).collect();
        assert!(by_seed.len() > 5, "{by_seed:?}");
    }

    #[test]
    fn padding_adds_a_black_border_that_a_random_window_may_take_in() {
        let grey = |value: u8| {
            Payload::Image(image::DynamicImage::ImageLuma8(
                image::GrayImage::from_pixel(4, 4, image::Luma([value])),
            ))
        };
        // The centre window of the padded image is the image itself.
        let out = run(
            &DEF,
            "width = 4\nheight = 4\npadding = 2",
            item("a", grey(200)),
        )
        .unwrap();
        let Payload::Image(image) = &out.payload else {
            panic!()
        };
        assert!(image.to_luma8().pixels().all(|p| p.0 == [200]));
        // Random windows: shifted by up to 2 pixels each way, with black
        // where they leave the image.
        let mut shifts = std::collections::HashSet::new();
        for i in 0..40 {
            let params = "width = 4\nheight = 4\npadding = 2\nposition = \"random\"";
            let out = run(&DEF, params, item(&format!("{i}"), grey(200))).unwrap();
            let Payload::Image(image) = &out.payload else {
                panic!()
            };
            let image = image.to_luma8();
            assert_eq!(image.dimensions(), (4, 4));
            let black = image.pixels().filter(|p| p.0 == [0]).count();
            let grey = image.pixels().filter(|p| p.0 == [200]).count();
            assert_eq!(black + grey, 16);
            assert!(grey >= 4, "at least 2x2 of the image is in any window");
            shifts.insert(black);
        }
        assert!(shifts.len() > 3, "{shifts:?}");
    }

    #[test]
    fn an_image_smaller_than_the_window_fails() {
        let error = run(
            &DEF,
            "width = 21\nheight = 4",
            item("a.png", Payload::Image(gradient(20, 10))),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the image is 20x10, smaller than the 21x4 crop"
        );
    }

    #[test]
    fn an_unknown_position_names_the_parameter() {
        let error = build(&DEF, "width = 2\nheight = 2\nposition = \"middle\"").unwrap_err();
        assert_eq!(error.param.as_deref(), Some("position"));
    }
}
