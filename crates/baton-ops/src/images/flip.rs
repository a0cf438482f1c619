//! `flip`: mirrors an image left to right with probability `horizontal`
//! and top to bottom with probability `vertical`. The coin tosses depend
//! only on `seed` and the item's record (see the `random` module), so a run
//! flips the same items whichever replica runs them.
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, Item, Params, Payload};
//!
//! let params = Params::new(toml::from_str("horizontal = 1.0").unwrap(), ".");
//! let op = baton_ops::find("flip").unwrap();
//! let BuiltOp::Stage(built) = (op.build)(&params).unwrap() else { unreachable!() };
//! let image = image::RgbImage::from_fn(2, 1, |x, _| image::Rgb([x as u8, 0, 0]));
//! let item = Item { payload: Payload::Image(image.into()), ..Item::default() };
//! let mut out = Vec::new();
//! built.replica().unwrap().process(item, &mut out).unwrap();
//! let Payload::Image(flipped) = &out[0].payload else { unreachable!() };
//! assert_eq!(flipped.to_rgb8().get_pixel(0, 0).0, [1, 0, 0]);
//! ```

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::random::item_rng;
use super::{map_stage, take_image};
use crate::item::Payload;
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef,
    ParamType, Seed,
};

pub(super) const DEF: OpDef = OpDef {
    name: "flip",
    kind: OpKind::Transform,
    summary: "mirrors images at random, left to right and/or top to bottom, the same way for the same seed",
    params: &[
        ParamDef::with_default(
            "horizontal",
            ParamType::Float,
            "0.5",
            "the probability (0 to 1) of mirroring left to right",
        )
        .between(0, 1),
        ParamDef::with_default(
            "vertical",
            ParamType::Float,
            "0.0",
            "the probability (0 to 1) of mirroring top to bottom",
        )
        .between(0, 1),
        ParamDef::with_default(
            "seed",
            ParamType::Int,
            "0",
            "random seed (with the item's record, decides the flips)",
        ),
    ],
    modes: Modes::ANY,
    build: build_from::<FlipConfig>,
};

/// The parameters of `flip`: the probabilities of mirroring an image
/// each way, and the seed that (with the item's record) tosses the coins.
///
/// # Examples
///
/// ```
/// use baton_engine::Stage;
/// use baton_ops::config::{BuildContext, FlipConfig, OpConfig, Seed};
/// use baton_ops::{BuiltOp, Item, Payload};
///
/// let flip = FlipConfig { horizontal: 0.0, vertical: 1.0, seed: Seed(0) };
/// let BuiltOp::Stage(built) = flip.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let image = image::GrayImage::from_fn(1, 2, |_, y| image::Luma([y as u8]));
/// let item = Item { payload: Payload::Image(image.into()), ..Item::default() };
/// let mut out = Vec::new();
/// built.replica().unwrap().process(item, &mut out).unwrap();
/// let Payload::Image(flipped) = &out[0].payload else { unreachable!() };
/// assert_eq!(flipped.to_luma8().get_pixel(0, 0).0, [1]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlipConfig {
    /// The probability (0 to 1) of mirroring left to right.
    #[serde(default = "half")]
    pub horizontal: f64,
    /// The probability (0 to 1) of mirroring top to bottom.
    #[serde(default)]
    pub vertical: f64,
    /// Random seed (with the item's record, decides the flips).
    #[serde(default)]
    pub seed: Seed,
}

fn half() -> f64 {
    0.5
}

impl OpConfig for FlipConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let horizontal = probability("horizontal", self.horizontal)?;
        let vertical = probability("vertical", self.vertical)?;
        let Seed(seed) = self.seed;
        Ok(map_stage(move |mut item| {
            let mut image = take_image(&mut item)?;
            let mut rng = item_rng(seed, "flip", &item);
            // Both coins are always tossed, so one probability does not shift the other's draws.
            let (h, v) = (rng.gen::<f64>(), rng.gen::<f64>());
            if h < horizontal {
                image = image.fliph();
            }
            if v < vertical {
                image = image.flipv();
            }
            item.payload = Payload::Image(image);
            Ok(item)
        }))
    }
}

/// `p`, the value of the parameter `name`, if it is a probability.
fn probability(name: &str, p: f64) -> Result<f64, OpError> {
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(OpError::param(
            name,
            format!("must be a probability from 0 to 1, not {p}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{build, gradient, item, rgb_at, run};
    use super::*;
    use crate::item::Item;

    fn flip(params: &str, path: &str) -> Item {
        run(&DEF, params, item(path, Payload::Image(gradient(20, 10)))).unwrap()
    }

    #[test]
    fn a_certain_horizontal_flip_swaps_left_and_right() {
        let out = flip("horizontal = 1", "a.png");
        assert_eq!(rgb_at(&out, 0, 0), [190, 0, 200]);
        assert_eq!(rgb_at(&out, 19, 9), [0, 90, 200]);
        assert_eq!(out.get("path").unwrap(), "a.png");
    }

    #[test]
    fn a_certain_vertical_flip_swaps_top_and_bottom() {
        let out = flip("horizontal = 0\nvertical = 1", "a.png");
        assert_eq!(rgb_at(&out, 0, 0), [0, 90, 200]);
        assert_eq!(rgb_at(&out, 3, 9), [30, 0, 200]);
    }

    #[test]
    fn probability_zero_leaves_the_image_alone() {
        let out = flip("horizontal = 0", "a.png");
        assert_eq!(rgb_at(&out, 0, 0), [0, 0, 200]);
    }

    #[test]
    fn random_flips_repeat_for_the_same_seed_and_item_and_vary_across_items() {
        let flipped = |seed: u32| -> Vec<bool> {
            (0..40)
                .map(|i| {
                    let out = flip(&format!("seed = {seed}"), &format!("{i}.png"));
                    rgb_at(&out, 0, 0)[0] == 190
                })
                .collect()
        };
        let first = flipped(5);
        assert_eq!(flipped(5), first);
        let count = first.iter().filter(|f| **f).count();
        assert!(
            (8..=32).contains(&count),
            "{count} of 40 flipped at p = 0.5"
        );
        assert_ne!(flipped(6), first);
    }

    #[test]
    fn a_probability_above_one_names_the_parameter() {
        let error = build(&DEF, "vertical = 1.5").unwrap_err();
        assert_eq!(error.param.as_deref(), Some("vertical"));
    }
}
