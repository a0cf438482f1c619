//! What goes wrong with one item in an image stage.

/// An item an image stage cannot handle; the engine adds the stage's name
/// and the item's sequence number.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImageError {
    /// The payload is of another kind.
    #[error("expected a payload of kind `{expected}`, found `{found}`{hint}")]
    WrongPayload {
        expected: &'static str,
        found: &'static str,
        hint: &'static str,
    },
    /// The bytes are not an image the decoder knows.
    #[error("cannot decode the {len} bytes as an image: {source}")]
    Decode {
        len: usize,
        #[source]
        source: image::ImageError,
    },
    /// The encoder refused the image.
    #[error("cannot encode the image: {source}")]
    Encode {
        #[source]
        source: image::ImageError,
    },
    /// The image is smaller than the crop.
    #[error("the image is {width}x{height}, smaller than the {crop_width}x{crop_height} crop")]
    TooSmall {
        width: u32,
        height: u32,
        crop_width: u32,
        crop_height: u32,
    },
    /// Per-channel values that do not match the channels.
    #[error("`{param}` has {given} values, but the {what} has {channels} channels")]
    Channels {
        param: &'static str,
        given: usize,
        channels: usize,
        what: String,
    },
    /// A tensor with no dimensions, so no channels.
    #[error("the tensor has no dimensions (shape []), so no channels to normalise")]
    Shapeless,
}
