//! Real images for the image stages' tests: gradients whose pixel values
//! are known, encoded as PNG and JPEG with the image crate.

use std::io::Cursor;
use std::path::Path;

use baton_engine::BoxError;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

use crate::item::{Item, Payload};
use crate::registry::{BuiltOp, OpDef, OpError};
use crate::testing;

/// A `width`x`height` RGB gradient: pixel (x, y) is `[10x, 10y, 200]`.
pub(super) fn gradient(width: u32, height: u32) -> DynamicImage {
    assert!(width <= 25 && height <= 25, "keeps 10x within a byte");
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([(10 * x) as u8, (10 * y) as u8, 200])
    }))
}

/// `image` encoded in `format`.
pub(super) fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).expect("encodes");
    bytes.into_inner()
}

/// An item for the file `path` holding `payload`.
pub(super) fn item(path: &str, payload: Payload) -> Item {
    let mut item = Item::with_field("path", path);
    item.payload = payload;
    item
}

/// Builds the stage `def` with `toml_text` as its parameters (checked and
/// with defaults filled in, as the pipeline-file parser does).
pub(super) fn build(def: &OpDef, toml_text: &str) -> Result<BuiltOp, OpError> {
    (def.build)(&testing::params(def, toml_text, Path::new(".")))
}

/// Runs one item through a fresh replica of `def` built with `toml_text`.
pub(super) fn run(def: &OpDef, toml_text: &str, input: Item) -> Result<Item, BoxError> {
    let BuiltOp::Stage(factory) = build(def, toml_text).expect("valid parameters") else {
        panic!("`{}` is not a stage", def.name)
    };
    let mut stage = factory.replica()?;
    let mut out = Vec::new();
    stage.process(input, &mut out)?;
    assert_eq!(out.len(), 1, "an image stage gives one item per item");
    Ok(out.pop().expect("one item"))
}

/// The image of an item.
pub(super) fn image_of(item: &Item) -> &DynamicImage {
    match &item.payload {
        Payload::Image(image) => image,
        other => panic!("expected an image, found {}", other.kind()),
    }
}

/// The RGB value of a pixel.
pub(super) fn rgb_at(item: &Item, x: u32, y: u32) -> [u8; 3] {
    image_of(item).to_rgb8().get_pixel(x, y).0
}
