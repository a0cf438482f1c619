//! Image stages: decode bytes into an image, resize, crop, flip, and turn
//! the pixels into a CHW tensor for a model.
//!
//! Every image stage is a pure function of one item, so all of them run in
//! parallel by default. The pixels travel in the item's payload
//! ([`Payload::Image`], then [`Payload::Tensor`]); the record keeps its
//! fields, and the stages that change the size keep `width` and `height` up
//! to date.
//!
//! Random choices (`crop` with `mode = "random"`, `flip`) do not depend on
//! which replica or thread runs an item: see [`random`] for how each item's
//! generator is seeded.

mod crop;
mod decode;
mod encode;
mod error;
mod flip;
mod normalize;
mod planes;
mod random;
mod resize;
mod to_tensor;

#[cfg(test)]
mod fixtures;

use std::sync::Arc;

use baton_engine::{BoxError, Stage};
use image::DynamicImage;

use crate::item::{Item, Payload};
use crate::registry::{BuiltOp, BuiltStage, OpDef, OpError};
use error::ImageError;

/// The image stages' typed parameters (see [`crate::config`]).
pub(crate) mod configs {
    pub use super::crop::{CropConfig, CropPosition};
    pub use super::decode::ImageDecodeConfig;
    pub use super::encode::{ImageEncodeConfig, ImageEncodeFormat};
    pub use super::flip::FlipConfig;
    pub use super::normalize::NormalizeConfig;
    pub use super::resize::{ResizeConfig, ResizeFilter};
    pub use super::to_tensor::ToTensorConfig;
}

/// Every image stage.
pub(crate) const DEFS: &[OpDef] = &[
    decode::DEF,
    encode::DEF,
    resize::DEF,
    crop::DEF,
    flip::DEF,
    normalize::DEF,
    to_tensor::DEF,
];

/// The one mechanism under every image stage: a function from an item to
/// an item, shared by all replicas (it holds no state).
struct MapStage<F>(Arc<F>);

impl<F> Stage<Item, Item> for MapStage<F>
where
    F: Fn(Item) -> Result<Item, ImageError> + Send + Sync + 'static,
{
    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        out.push((self.0)(item)?);
        Ok(())
    }
}

/// A stage that applies `map` to every item.
fn map_stage<F>(map: F) -> BuiltOp
where
    F: Fn(Item) -> Result<Item, ImageError> + Send + Sync + 'static,
{
    let map = Arc::new(map);
    BuiltOp::Stage(BuiltStage::replicas(move || Ok(MapStage(Arc::clone(&map)))))
}

/// Takes an item's image out of it, leaving the record with no payload.
fn take_image(item: &mut Item) -> Result<DynamicImage, ImageError> {
    match std::mem::take(&mut item.payload) {
        Payload::Image(image) => Ok(image),
        other => Err(ImageError::WrongPayload {
            expected: "image",
            found: other.kind(),
            hint: if matches!(other, Payload::Bytes(_)) {
                " (decode it first with `image_decode`)"
            } else {
                ""
            },
        }),
    }
}

/// Puts an image back in an item, with its size in `width` and `height`.
fn put_image(mut item: Item, image: DynamicImage) -> Item {
    item.set("width", image.width());
    item.set("height", image.height());
    item.payload = Payload::Image(image);
    item
}

/// The bounds of a size in pixels (the image crate's sizes are `u32`).
const PIXELS: (i64, i64) = (1, u32::MAX as i64);

/// A size in pixels, `value` of the parameter `name`: at least 1 (the
/// file checker says so too, but a config built in Rust is not checked).
fn pixels(name: &str, value: u32) -> Result<u32, OpError> {
    match value {
        0 => Err(OpError::param(
            name,
            format!("must be a number of pixels from 1 to {}, not 0", u32::MAX),
        )),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests;
