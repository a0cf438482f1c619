//! An image's samples as CHW planes of f32: what `to_tensor` and
//! `normalize` hand to a model.

use image::DynamicImage;

use crate::item::Tensor;

/// The scale that maps an image's samples onto 0..=1: 1/255 for 8-bit
/// samples, 1/65535 for 16-bit ones, 1 for float ones.
pub(super) fn unit_scale(image: &DynamicImage) -> f64 {
    let color = image.color();
    match color.bytes_per_pixel() / color.channel_count() {
        1 => 1.0 / 255.0,
        2 => 1.0 / 65535.0,
        _ => 1.0,
    }
}

/// The samples of `image`, channel by channel (shape `[channels, height,
/// width]`), each mapped by `f(channel, sample * scale)`.
pub(super) fn planes(image: &DynamicImage, scale: f64, f: impl Fn(usize, f64) -> f64) -> Tensor {
    use DynamicImage as D;
    let (width, height) = (image.width() as usize, image.height() as usize);
    let layout = Layout {
        height,
        width,
        scale,
    };
    match image {
        D::ImageLuma8(b) => layout.chw(b.as_raw(), 1, f),
        D::ImageLumaA8(b) => layout.chw(b.as_raw(), 2, f),
        D::ImageRgb8(b) => layout.chw(b.as_raw(), 3, f),
        D::ImageRgba8(b) => layout.chw(b.as_raw(), 4, f),
        D::ImageLuma16(b) => layout.chw(b.as_raw(), 1, f),
        D::ImageLumaA16(b) => layout.chw(b.as_raw(), 2, f),
        D::ImageRgb16(b) => layout.chw(b.as_raw(), 3, f),
        D::ImageRgba16(b) => layout.chw(b.as_raw(), 4, f),
        D::ImageRgb32F(b) => layout.chw(b.as_raw(), 3, f),
        D::ImageRgba32F(b) => layout.chw(b.as_raw(), 4, f),
        // A layout added to the image crate later: go through RGBA floats.
        other => layout.chw(other.to_rgba32f().as_raw(), 4, f),
    }
}

/// The channel count `planes` gives for `image`.
pub(super) fn channel_count(image: &DynamicImage) -> usize {
    match image {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageLuma16(_) => 1,
        DynamicImage::ImageLumaA8(_) | DynamicImage::ImageLumaA16(_) => 2,
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgb16(_) | DynamicImage::ImageRgb32F(_) => {
            3
        }
        _ => 4,
    }
}

struct Layout {
    height: usize,
    width: usize,
    scale: f64,
}

impl Layout {
    /// Interleaved samples (HWC) to planes (CHW).
    fn chw<T: Copy + Into<f64>>(
        &self,
        raw: &[T],
        channels: usize,
        f: impl Fn(usize, f64) -> f64,
    ) -> Tensor {
        let plane = self.height * self.width;
        let mut data = vec![0.0f32; channels * plane];
        for (i, pixel) in raw.chunks_exact(channels).enumerate() {
            for (c, &sample) in pixel.iter().enumerate() {
                data[c * plane + i] = f(c, sample.into() * self.scale) as f32;
            }
        }
        Tensor {
            shape: vec![channels, self.height, self.width],
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    #[test]
    fn interleaved_pixels_become_one_plane_per_channel() {
        let mut rgb = RgbImage::new(2, 1);
        rgb.put_pixel(0, 0, Rgb([0, 51, 255]));
        rgb.put_pixel(1, 0, Rgb([255, 0, 102]));
        let image = DynamicImage::ImageRgb8(rgb);
        let tensor = planes(&image, unit_scale(&image), |_, v| v);
        assert_eq!(tensor.shape, vec![3, 1, 2]);
        assert_eq!(tensor.data, vec![0.0, 1.0, 0.2, 0.0, 1.0, 0.4]);
        assert_eq!(channel_count(&image), 3);
    }

    #[test]
    fn sixteen_bit_samples_scale_to_one() {
        let image = DynamicImage::ImageLuma16(image::ImageBuffer::from_pixel(
            1,
            1,
            image::Luma([65535u16]),
        ));
        assert_eq!(planes(&image, unit_scale(&image), |_, v| v).data, vec![1.0]);
    }
}
