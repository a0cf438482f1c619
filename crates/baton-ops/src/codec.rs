//! The compression codecs the built-in stages read and write: gzip and
//! zstd, chosen by name (`codec = "gzip"`) or by a file's extension
//! (`.gz`, `.zst`, `.zstd`).

use std::fmt;
use std::io::{self, Read, Write};
use std::ops::RangeInclusive;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::registry::OpError;

/// A compression format: what `compress`, `decompress` and the `jsonl`
/// sink's `compress` name.
///
/// # Examples
///
/// ```
/// use baton_ops::config::Codec;
/// let codec: Codec = serde_json::from_str(r#""zstd""#).unwrap();
/// assert_eq!(codec, Codec::Zstd);
/// let error = serde_json::from_str::<Codec>(r#""lz4""#).unwrap_err();
/// assert!(error.to_string().contains("expected `gzip` or `zstd`"), "{error}");
/// assert_eq!(Codec::Gzip.to_string(), "gzip");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Codec {
    /// gzip (deflate), levels 0 to 9, 6 by default.
    Gzip,
    /// Zstandard, levels 1 to 22 (and negative "fast" levels), 3 by default.
    Zstd,
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Codec {
    /// Its name in a pipeline file.
    fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }

    /// The codec a file's extension says it is compressed with, if any.
    pub(crate) fn from_extension(path: &Path) -> Option<Codec> {
        match path.extension()?.to_str()? {
            "gz" => Some(Codec::Gzip),
            "zst" | "zstd" => Some(Codec::Zstd),
            _ => None,
        }
    }

    fn levels(self) -> RangeInclusive<i32> {
        match self {
            Codec::Gzip => 0..=9,
            #[cfg(feature = "zstd")]
            Codec::Zstd => zstd::compression_level_range(),
            #[cfg(not(feature = "zstd"))]
            Codec::Zstd => 1..=22,
        }
    }

    /// `level`, if it is one of the codec's levels (the parameter `param`
    /// is named in the error).
    pub(crate) fn check_level(self, level: i32, param: &str) -> Result<i32, OpError> {
        let levels = self.levels();
        if levels.contains(&level) {
            return Ok(level);
        }
        Err(OpError::param(
            param,
            format!(
                "{self} levels go from {} to {}, not {level}",
                levels.start(),
                levels.end()
            ),
        ))
    }

    /// Decompresses what `reader` gives (several concatenated gzip members
    /// or zstd frames are read as one stream).
    pub(crate) fn reader<'r, R: Read + Send + 'r>(
        self,
        reader: R,
    ) -> io::Result<Box<dyn Read + Send + 'r>> {
        Ok(match self {
            Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
            #[cfg(feature = "zstd")]
            Codec::Zstd => Box::new(zstd::Decoder::new(reader)?),
            #[cfg(not(feature = "zstd"))]
            Codec::Zstd => return Err(zstd_left_out()),
        })
    }

    /// Compresses what is written to `writer`; call [`Encoder::finish`] at the end.
    pub(crate) fn encoder<W: Write>(self, writer: W, level: Option<i32>) -> io::Result<Encoder<W>> {
        Ok(match self {
            Codec::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                writer,
                level.map_or_else(flate2::Compression::default, |l| {
                    flate2::Compression::new(l as u32)
                }),
            )),
            #[cfg(feature = "zstd")]
            Codec::Zstd => Encoder::Zstd(zstd::Encoder::new(
                writer,
                level.unwrap_or(zstd::DEFAULT_COMPRESSION_LEVEL),
            )?),
            #[cfg(not(feature = "zstd"))]
            Codec::Zstd => return Err(zstd_left_out()),
        })
    }

    /// Compresses `bytes`.
    pub(crate) fn compress(self, bytes: &[u8], level: Option<i32>) -> io::Result<Vec<u8>> {
        let mut encoder = self.encoder(Vec::with_capacity(bytes.len() / 2 + 64), level)?;
        encoder.write_all(bytes)?;
        encoder.finish()
    }

    /// Decompresses `bytes`.
    pub(crate) fn decompress(self, bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(bytes.len() * 3);
        self.reader(bytes)?.read_to_end(&mut out)?;
        Ok(out)
    }
}

/// The error for zstd in a build without it.
#[cfg(not(feature = "zstd"))]
fn zstd_left_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "zstd is not in this build of baton (baton-ops' `zstd` feature is off)",
    )
}

/// A writer that may compress: plain, gzip or zstd.
pub(crate) enum Encoder<W: Write> {
    /// No compression.
    Plain(W),
    /// gzip.
    Gzip(flate2::write::GzEncoder<W>),
    /// zstd.
    #[cfg(feature = "zstd")]
    Zstd(zstd::Encoder<'static, W>),
}

impl<W: Write> fmt::Debug for Encoder<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoder::Plain(_) => "Encoder::Plain",
            Encoder::Gzip(_) => "Encoder::Gzip",
            #[cfg(feature = "zstd")]
            Encoder::Zstd(_) => "Encoder::Zstd",
        })
    }
}

impl<W: Write> Encoder<W> {
    /// Writes what compression still holds (the gzip trailer, the last zstd
    /// block) and gives the inner writer back, unflushed.
    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Plain(w) => Ok(w),
            Encoder::Gzip(e) => e.finish(),
            #[cfg(feature = "zstd")]
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            #[cfg(feature = "zstd")]
            Encoder::Zstd(e) => e.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.write_all(buf),
            Encoder::Gzip(e) => e.write_all(buf),
            #[cfg(feature = "zstd")]
            Encoder::Zstd(e) => e.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            #[cfg(feature = "zstd")]
            Encoder::Zstd(e) => e.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "zstd")]
    fn both_codecs_round_trip_and_really_compress() {
        let text = "the same line again\n".repeat(500);
        for codec in [Codec::Gzip, Codec::Zstd] {
            let packed = codec.compress(text.as_bytes(), None).unwrap();
            assert!(packed.len() < text.len() / 10, "{codec}: {}", packed.len());
            assert_eq!(codec.decompress(&packed).unwrap(), text.as_bytes());
        }
        // Magic numbers: the output is the real format, not something of our own.
        assert_eq!(Codec::Gzip.compress(b"x", None).unwrap()[..2], [0x1f, 0x8b]);
        assert_eq!(
            Codec::Zstd.compress(b"x", None).unwrap()[..4],
            [0x28, 0xb5, 0x2f, 0xfd]
        );
    }

    #[test]
    fn the_extension_names_the_codec() {
        assert_eq!(
            Codec::from_extension(Path::new("a/b.jsonl.gz")),
            Some(Codec::Gzip)
        );
        assert_eq!(Codec::from_extension(Path::new("b.zst")), Some(Codec::Zstd));
        assert_eq!(
            Codec::from_extension(Path::new("b.zstd")),
            Some(Codec::Zstd)
        );
        assert_eq!(Codec::from_extension(Path::new("b.txt")), None);
        assert_eq!(Codec::from_extension(Path::new("gz")), None);
    }

    #[test]
    fn a_level_out_of_range_names_the_parameter() {
        let error = Codec::Gzip.check_level(12, "level").unwrap_err();
        assert_eq!(error.param.as_deref(), Some("level"));
        assert!(error.message.contains("0 to 9"), "{error}");
        #[cfg(feature = "zstd")]
        assert_eq!(Codec::Zstd.check_level(12, "level").unwrap(), 12);
    }
}
