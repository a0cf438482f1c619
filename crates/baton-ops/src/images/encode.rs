//! `image_encode`: an image payload becomes the bytes of a PNG or JPEG file,
//! ready for the `files` sink.

use serde::{Deserialize, Serialize};

use super::error::ImageError;
use super::{map_stage, take_image};
use crate::item::{Item, Payload};
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef, ParamType,
};

pub(super) const DEF: OpDef = OpDef {
    name: "image_encode",
    kind: OpKind::Transform,
    summary: "encodes an image payload as PNG or JPEG bytes",
    params: &[
        ParamDef::with_default("format", ParamType::Str, "\"png\"", "\"png\" or \"jpeg\""),
        ParamDef::with_default("quality", ParamType::Int, "85", "JPEG quality, 1 to 100")
            .between(1, 100),
    ],
    modes: Modes::ANY,
    build: build_from::<ImageEncodeConfig>,
};

/// The parameters of `image_encode`: the file format of the bytes, and
/// the quality of a JPEG.
///
/// # Examples
///
/// ```
/// use baton_engine::Stage;
/// use baton_ops::config::{BuildContext, ImageEncodeConfig, ImageEncodeFormat, OpConfig};
/// use baton_ops::{BuiltOp, Item, Payload};
///
/// let encode = ImageEncodeConfig { format: ImageEncodeFormat::Jpeg, quality: 90 };
/// let BuiltOp::Stage(built) = encode.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let item = Item { payload: Payload::Image(image::DynamicImage::new_rgb8(8, 8)), ..Item::default() };
/// let mut out = Vec::new();
/// built.replica().unwrap().process(item, &mut out).unwrap();
/// let Payload::Bytes(jpeg) = &out[0].payload else { unreachable!() };
/// assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageEncodeConfig {
    /// "png" or "jpeg".
    #[serde(default)]
    pub format: ImageEncodeFormat,
    /// JPEG quality, 1 to 100.
    #[serde(default = "default_quality")]
    pub quality: u8,
}

fn default_quality() -> u8 {
    85
}

/// The file format `image_encode` writes (`"jpg"` is read as `"jpeg"`).
///
/// # Examples
///
/// ```
/// use baton_ops::config::ImageEncodeFormat;
/// let format: ImageEncodeFormat = serde_json::from_str(r#""jpg""#).unwrap();
/// assert_eq!(format, ImageEncodeFormat::Jpeg);
/// let error = serde_json::from_str::<ImageEncodeFormat>(r#""gif""#).unwrap_err();
/// assert!(error.to_string().contains(r#"must be "png" or "jpeg", not "gif""#));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum ImageEncodeFormat {
    /// PNG: lossless.
    #[default]
    Png,
    /// JPEG, at the config's `quality`.
    Jpeg,
}

impl TryFrom<String> for ImageEncodeFormat {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        match name.as_str() {
            "png" => Ok(ImageEncodeFormat::Png),
            "jpeg" | "jpg" => Ok(ImageEncodeFormat::Jpeg),
            other => Err(format!("must be \"png\" or \"jpeg\", not {other:?}")),
        }
    }
}

#[derive(Clone, Copy)]
enum Format {
    Png,
    Jpeg(u8),
}

impl OpConfig for ImageEncodeConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let quality = self.quality;
        if !(1..=100).contains(&quality) {
            return Err(OpError::param(
                "quality",
                format!("must be between 1 and 100, not {quality}"),
            ));
        }
        let format = match self.format {
            ImageEncodeFormat::Png => Format::Png,
            ImageEncodeFormat::Jpeg => Format::Jpeg(quality),
        };
        Ok(map_stage(move |item| encode(item, format)))
    }
}

fn encode(mut item: Item, format: Format) -> Result<Item, ImageError> {
    let image = take_image(&mut item)?;
    let mut bytes = std::io::Cursor::new(Vec::new());
    let result = match format {
        Format::Png => image.write_to(&mut bytes, image::ImageFormat::Png),
        Format::Jpeg(quality) => {
            let rgb = image.to_rgb8();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
                .encode_image(&rgb)
        }
    };
    result.map_err(|source| ImageError::Encode { source })?;
    item.payload = Payload::Bytes(bytes.into_inner());
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Params;
    use std::collections::BTreeMap;

    fn build(params: &Params) -> Result<BuiltOp, OpError> {
        build_from::<ImageEncodeConfig>(params)
    }

    fn run(format: &str, image: image::DynamicImage) -> Result<Item, String> {
        let mut values = BTreeMap::new();
        values.insert("format".to_string(), toml::Value::String(format.into()));
        let BuiltOp::Stage(make) = build(&Params::new(values, ".")).map_err(|e| e.to_string())?
        else {
            unreachable!("image_encode is a stage")
        };
        let mut out = Vec::new();
        let item = Item {
            payload: Payload::Image(image),
            ..Item::default()
        };
        make.replica()
            .unwrap()
            .process(item, &mut out)
            .map_err(|e| e.to_string())?;
        Ok(out.remove(0))
    }

    #[test]
    fn png_round_trips_exactly() {
        let mut picture = image::RgbImage::new(5, 4);
        picture.put_pixel(3, 2, image::Rgb([10, 200, 30]));
        let out = run("png", image::DynamicImage::ImageRgb8(picture.clone())).unwrap();
        let Payload::Bytes(bytes) = out.payload else {
            panic!("not bytes")
        };
        let back = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(back, picture);
    }

    #[test]
    fn jpeg_decodes_to_the_same_size() {
        let out = run("jpeg", image::DynamicImage::new_rgb8(16, 8)).unwrap();
        let Payload::Bytes(bytes) = out.payload else {
            panic!("not bytes")
        };
        assert_eq!(&bytes[..2], &[0xFF, 0xD8]);
        assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 16);
    }

    #[test]
    fn an_unknown_format_names_its_parameter() {
        let mut values = BTreeMap::new();
        values.insert("format".to_string(), toml::Value::String("gif".into()));
        let error = build(&Params::new(values, ".")).err().unwrap();
        assert_eq!(error.param.as_deref(), Some("format"));
    }

    #[test]
    fn bytes_must_be_decoded_first() {
        let mut values = BTreeMap::new();
        values.insert("format".to_string(), toml::Value::String("png".into()));
        let BuiltOp::Stage(make) = build(&Params::new(values, ".")).unwrap() else {
            unreachable!()
        };
        let item = Item {
            payload: Payload::Bytes(vec![1]),
            ..Item::default()
        };
        let error = make
            .replica()
            .unwrap()
            .process(item, &mut Vec::new())
            .unwrap_err();
        assert!(error.to_string().contains("image_decode"), "{error}");
    }
}
