//! `idx`: the samples of an IDX file (the format of MNIST and
//! Fashion-MNIST), with their labels from a second IDX file; gzip'd or not.
//!
//! An IDX file is a header (two zero bytes, a type code, the number of
//! dimensions, then each dimension as a big-endian u32) and the values,
//! big-endian, row-major: the first dimension counts the samples. Both
//! headers are read and checked when the stage is built (so `baton check`
//! finds a bad file), and the samples are read one at a time as the run
//! asks for them. A sample of unsigned bytes with two dimensions (rows,
//! columns) is a grey image, ready for `crop`, `flip`, `to_tensor`; any
//! other sample is a tensor of f32 with the sample's dimensions. Errors
//! name the file and the byte (of the decompressed data) where it goes
//! wrong.
//!
//! # Examples
//!
//! ```
//! use baton_ops::{BuiltOp, OpKind, Params, Payload};
//!
//! let dir = tempfile::tempdir().unwrap();
//! // Two 2x3 images of bytes, and their labels.
//! let mut images = vec![0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3];
//! images.extend(0..12u8);
//! std::fs::write(dir.path().join("images.idx"), images).unwrap();
//! std::fs::write(dir.path().join("labels.idx"), [0, 0, 0x08, 1, 0, 0, 0, 2, 7, 9]).unwrap();
//! let toml = r#"images = "images.idx"
//! labels = "labels.idx""#;
//! let params = Params::new(toml::from_str(toml).unwrap(), dir.path());
//! let op = baton_ops::find_kind("idx", OpKind::Source).unwrap();
//! let BuiltOp::Source(source) = (op.build)(&params).unwrap() else { unreachable!() };
//! assert_eq!(source.len, Some(2));
//! let items: Vec<_> = source.items.map(Result::unwrap).collect();
//! assert_eq!(items[1].get("label").unwrap(), 9);
//! assert_eq!(items[1].get("index").unwrap(), 1);
//! let Payload::Image(image) = &items[1].payload else { panic!() };
//! assert_eq!((image.width(), image.height()), (3, 2));
//! assert_eq!(image.to_luma8().into_raw(), (6..12).collect::<Vec<u8>>());
//! ```

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage};
use serde::{Deserialize, Serialize};

use super::error::SourceError;
use super::text::open;
use crate::item::{Item, Payload, Tensor};
use crate::registry::{
    build_from, BuildContext, BuiltOp, BuiltSource, Modes, OpConfig, OpDef, OpError, OpKind,
    ParamDef, ParamType, Paths,
};

pub(crate) const DEF: OpDef = OpDef {
    name: "idx",
    kind: OpKind::Source,
    summary: "the samples of an IDX file (MNIST, Fashion-MNIST), each as {index, label} with a grey image (bytes, rows x columns) or a tensor as its payload; .gz files are decompressed",
    params: &[
        ParamDef::required(
            "images",
            ParamType::Str,
            "the IDX file of the samples (its first dimension counts them), relative to the pipeline file",
        )
        .input(),
        ParamDef::optional(
            "labels",
            ParamType::Str,
            "an IDX file of one number per sample, put in the field `label`",
        )
        .input(),
    ],
    modes: Modes::SERIAL_BLOCKING,
    build: build_from::<IdxConfig>,
};

/// The parameters of `idx`: the samples of an IDX file (MNIST,
/// Fashion-MNIST), with their labels from a second one.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, IdxConfig, OpConfig};
/// use baton_ops::{BuiltOp, Payload};
///
/// let dir = tempfile::tempdir().unwrap();
/// // Two samples of three i16 values, and their labels.
/// let mut samples = vec![0, 0, 0x0B, 2, 0, 0, 0, 2, 0, 0, 0, 3];
/// for n in [1i16, -2, 3, 4, 5, -6] {
///     samples.extend(n.to_be_bytes());
/// }
/// std::fs::write(dir.path().join("x.idx"), samples).unwrap();
/// std::fs::write(dir.path().join("y.idx"), [0, 0, 0x08, 1, 0, 0, 0, 2, 1, 0]).unwrap();
/// let config = IdxConfig { images: "x.idx".into(), labels: Some("y.idx".into()) };
/// let BuiltOp::Source(source) = config.build(&BuildContext::new(dir.path())).unwrap() else { unreachable!() };
/// assert_eq!(source.len, Some(2));
/// let items: Vec<_> = source.items.map(Result::unwrap).collect();
/// assert_eq!(items[1].get("label").unwrap(), 0);
/// let Payload::Tensor(tensor) = &items[1].payload else { panic!() };
/// assert_eq!(tensor.shape, [3]);
/// assert_eq!(tensor.data, [4.0, 5.0, -6.0]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdxConfig {
    /// The IDX file of the samples (its first dimension counts them),
    /// relative to the pipeline file.
    pub images: Paths,
    /// An IDX file of one number per sample, put in the field `label`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Paths>,
}

/// The type of an IDX file's values, from its third byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ValueType {
    U8,
    I8,
    I16,
    I32,
    F32,
    F64,
}

impl ValueType {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x08 => Self::U8,
            0x09 => Self::I8,
            0x0B => Self::I16,
            0x0C => Self::I32,
            0x0D => Self::F32,
            0x0E => Self::F64,
            _ => return None,
        })
    }

    fn width(self) -> usize {
        match self {
            Self::U8 | Self::I8 => 1,
            Self::I16 => 2,
            Self::I32 | Self::F32 => 4,
            Self::F64 => 8,
        }
    }

    /// The values of `bytes` (big-endian), as f64 (exact for every type).
    fn values(self, bytes: &[u8]) -> impl Iterator<Item = f64> + '_ {
        bytes.chunks_exact(self.width()).map(move |b| match self {
            Self::U8 => f64::from(b[0]),
            Self::I8 => f64::from(b[0] as i8),
            Self::I16 => f64::from(i16::from_be_bytes([b[0], b[1]])),
            Self::I32 => f64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            Self::F32 => f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            Self::F64 => f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        })
    }
}

/// An open IDX file past its header.
struct IdxFile {
    name: String,
    reader: Box<dyn Read + Send>,
    value: ValueType,
    /// The samples the header promises.
    count: usize,
    /// The dimensions of one sample.
    shape: Vec<usize>,
    /// Bytes of one sample.
    sample_bytes: usize,
    /// Where the next sample starts, in the decompressed data.
    offset: u64,
    /// Samples read so far.
    read: usize,
}

/// The message for a file whose first bytes are not an IDX header.
const NOT_IDX: &str = "not an IDX file: it must start with two zero bytes, a type code (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64) and the number of dimensions";

impl IdxFile {
    /// Opens `path` and reads its header.
    fn open(path: &Path) -> Result<Self, SourceError> {
        let name = path.display().to_string();
        let mut reader: Box<dyn Read + Send> = Box::new(open(path)?);
        let at = |offset: u64, message: String| SourceError::At {
            path: name.clone(),
            offset,
            message,
        };
        let mut magic = [0u8; 4];
        let got = read_full(&mut reader, &mut magic).map_err(|e| file_error(path, e))?;
        if got < 4 {
            return Err(at(
                got as u64,
                format!("the header ends after {got} bytes: {NOT_IDX}"),
            ));
        }
        if magic[0] != 0 || magic[1] != 0 {
            let hint = if magic[..2] == [0x1f, 0x8b] {
                " (these are gzip's first bytes: name the file .gz)"
            } else {
                ""
            };
            return Err(at(
                0,
                format!("{NOT_IDX}; found {:02x} {:02x}{hint}", magic[0], magic[1]),
            ));
        }
        let value = ValueType::from_code(magic[2]).ok_or_else(|| {
            at(
                2,
                format!("unknown type code 0x{:02X}: {NOT_IDX}", magic[2]),
            )
        })?;
        let dims = usize::from(magic[3]);
        if dims == 0 {
            return Err(at(
                3,
                "0 dimensions: the first one counts the samples".into(),
            ));
        }
        let mut sizes = vec![0u8; dims * 4];
        let got = read_full(&mut reader, &mut sizes).map_err(|e| file_error(path, e))?;
        if got < sizes.len() {
            return Err(at(
                4 + got as u64,
                format!(
                    "the header ends here: {dims} dimensions need {} bytes of sizes, the file has {got}",
                    dims * 4
                ),
            ));
        }
        let sizes: Vec<usize> = sizes
            .chunks_exact(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .collect();
        let shape = sizes[1..].to_vec();
        let sample_bytes = shape
            .iter()
            .try_fold(value.width(), |bytes, d| bytes.checked_mul(*d))
            .filter(|bytes| *bytes <= 1 << 31)
            .ok_or_else(|| at(8, format!("a sample of {shape:?} values is too large")))?;
        Ok(Self {
            name,
            reader,
            value,
            count: sizes[0],
            shape,
            sample_bytes,
            offset: 4 + 4 * dims as u64,
            read: 0,
        })
    }

    /// The next sample's bytes; `None` after the last one the header
    /// promises.
    fn next_sample(&mut self) -> Option<Result<Vec<u8>, SourceError>> {
        if self.read == self.count {
            return None;
        }
        let mut bytes = vec![0u8; self.sample_bytes];
        let got = match read_full(&mut self.reader, &mut bytes) {
            Ok(got) => got,
            Err(error) => {
                // Stop here: what follows a damaged stream cannot be trusted.
                self.read = self.count;
                return Some(Err(SourceError::At {
                    path: self.name.clone(),
                    offset: self.offset,
                    message: format!("cannot read sample {}: {error}", self.read),
                }));
            }
        };
        if got < bytes.len() {
            let error = SourceError::At {
                path: self.name.clone(),
                offset: self.offset + got as u64,
                message: format!(
                    "the data ends in sample {} of the {} the header promises (truncated)",
                    self.read, self.count
                ),
            };
            self.read = self.count;
            return Some(Err(error));
        }
        self.offset += bytes.len() as u64;
        self.read += 1;
        Some(Ok(bytes))
    }

    /// What a sample's bytes become: a grey image for bytes in rows and
    /// columns, a tensor otherwise.
    fn payload(&self, bytes: Vec<u8>) -> Payload {
        if let (ValueType::U8, [rows, columns]) = (self.value, self.shape.as_slice()) {
            let image = GrayImage::from_raw(*columns as u32, *rows as u32, bytes)
                .expect("a sample holds rows x columns bytes");
            return Payload::Image(DynamicImage::ImageLuma8(image));
        }
        Payload::Tensor(Tensor {
            shape: self.shape.clone(),
            data: self.value.values(&bytes).map(|v| v as f32).collect(),
        })
    }

    /// A label: the one value of a sample, as an integer when it is one.
    fn label(&self, bytes: &[u8]) -> serde_json::Value {
        let value = self.value.values(bytes).next().unwrap_or_default();
        match self.value {
            ValueType::F32 | ValueType::F64 => serde_json::json!(value),
            _ => serde_json::json!(value as i64),
        }
    }
}

/// Reads until `buf` is full or the stream ends; how much was read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

fn file_error(path: &Path, error: io::Error) -> SourceError {
    SourceError::File {
        path: path.display().to_string(),
        error,
    }
}

/// The one file a path parameter names.
fn one_file(paths: &Paths, name: &str, context: &BuildContext) -> Result<PathBuf, OpError> {
    let mut files = paths.files(name, context)?;
    match files.len() {
        1 => Ok(files.remove(0)),
        n => Err(OpError::param(
            name,
            format!("names {n} files; give one IDX file"),
        )),
    }
}

impl OpConfig for IdxConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, context: &BuildContext) -> Result<BuiltOp, OpError> {
        let images_path = one_file(&self.images, "images", context)?;
        let mut images =
            IdxFile::open(&images_path).map_err(|e| OpError::param("images", e.to_string()))?;
        let mut labels = match &self.labels {
            None => None,
            Some(labels) => {
                let path = one_file(labels, "labels", context)?;
                let labels =
                    IdxFile::open(&path).map_err(|e| OpError::param("labels", e.to_string()))?;
                if labels.count != images.count {
                    return Err(OpError::param(
                        "labels",
                        format!(
                            "{} holds {} labels, but {} holds {} samples",
                            labels.name, labels.count, images.name, images.count
                        ),
                    ));
                }
                if labels.sample_bytes != labels.value.width() {
                    return Err(OpError::param(
                        "labels",
                        format!(
                            "{}: a label must be one value, these have the dimensions {:?}",
                            labels.name, labels.shape
                        ),
                    ));
                }
                Some(labels)
            }
        };
        let len = images.count as u64;
        let mut index = 0u64;
        let items = std::iter::from_fn(move || {
            let sample = images.next_sample()?;
            let label = labels.as_mut().and_then(IdxFile::next_sample);
            let item = sample.and_then(|bytes| {
                let mut item = Item::with_field("index", index);
                if let Some(label) = label {
                    let label = label?;
                    let labels = labels.as_ref().expect("labels were read");
                    item.set("label", labels.label(&label));
                }
                item.payload = images.payload(bytes);
                Ok(item)
            });
            index += 1;
            Some(item.map_err(Into::into))
        });
        Ok(BuiltOp::Source(BuiltSource {
            items: Box::new(items),
            len: Some(len),
            streaming: false,
            parse: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;
    use crate::testing::{build_error, params, read_source};

    /// An IDX file of `code` values with the dimensions `dims`.
    fn idx(code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0, 0, code, dims.len() as u8];
        for d in dims {
            bytes.extend(d.to_be_bytes());
        }
        bytes.extend(data);
        bytes
    }

    fn error_of(dir: &Path, toml: &str) -> String {
        build_error(&DEF, &params(&DEF, toml, dir)).to_string()
    }

    #[test]
    fn gzip_images_and_labels_come_as_grey_images_with_their_label() {
        let dir = tempfile::tempdir().unwrap();
        let pixels: Vec<u8> = (0..3 * 4 * 5).map(|v| v as u8).collect();
        let images = Codec::Gzip
            .compress(&idx(0x08, &[3, 4, 5], &pixels), None)
            .unwrap();
        std::fs::write(dir.path().join("i.idx.gz"), images).unwrap();
        std::fs::write(dir.path().join("l.idx"), idx(0x08, &[3], &[4, 0, 9])).unwrap();
        let items = read_source(
            &DEF,
            &params(
                &DEF,
                "images = \"i.idx.gz\"\nlabels = \"l.idx\"",
                dir.path(),
            ),
        );
        let items: Vec<Item> = items.into_iter().map(Result::unwrap).collect();
        assert_eq!(items.len(), 3);
        for (n, item) in items.iter().enumerate() {
            assert_eq!(item.get("index").unwrap(), n);
            let Payload::Image(image) = &item.payload else {
                panic!("{:?}", item.payload.kind())
            };
            assert_eq!((image.width(), image.height()), (5, 4));
            assert_eq!(image.to_luma8().into_raw(), &pixels[n * 20..(n + 1) * 20]);
        }
        let labels: Vec<i64> = items
            .iter()
            .map(|i| i.get("label").unwrap().as_i64().unwrap())
            .collect();
        assert_eq!(labels, [4, 0, 9]);
    }

    #[test]
    fn other_types_and_shapes_come_as_tensors() {
        let dir = tempfile::tempdir().unwrap();
        let values: Vec<u8> = [-2i16, 300, 7, -1, 0, 5]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        std::fs::write(dir.path().join("t.idx"), idx(0x0B, &[2, 3], &values)).unwrap();
        let items = read_source(&DEF, &params(&DEF, "images = \"t.idx\"", dir.path()));
        let tensors: Vec<Tensor> = items
            .into_iter()
            .map(|i| match i.unwrap().payload {
                Payload::Tensor(t) => t,
                other => panic!("{}", other.kind()),
            })
            .collect();
        assert_eq!(tensors[0].shape, [3]);
        assert_eq!(tensors[0].data, [-2.0, 300.0, 7.0]);
        assert_eq!(tensors[1].data, [-1.0, 0.0, 5.0]);
    }

    #[test]
    fn bad_headers_are_named_by_file_and_byte() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, bytes: &[u8]| {
            std::fs::write(dir.path().join(name), bytes).unwrap();
            dir.path().join(name).display().to_string()
        };
        let short = file("short.idx", &[0, 0]);
        assert!(
            error_of(dir.path(), "images = \"short.idx\"")
                .contains(&format!("{short}: byte 2: the header ends after 2 bytes")),
            "{}",
            error_of(dir.path(), "images = \"short.idx\"")
        );
        let gz = file(
            "gz.idx",
            &Codec::Gzip.compress(&idx(8, &[1], &[1]), None).unwrap(),
        );
        let error = error_of(dir.path(), "images = \"gz.idx\"");
        assert!(
            error.contains(&format!("{gz}: byte 0: not an IDX file")),
            "{error}"
        );
        assert!(error.contains("name the file .gz"), "{error}");
        let code = file("code.idx", &[0, 0, 0x07, 1, 0, 0, 0, 1, 1]);
        assert!(error_of(dir.path(), "images = \"code.idx\"")
            .contains(&format!("{code}: byte 2: unknown type code 0x07")));
        let dims = file("dims.idx", &[0, 0, 8, 3, 0, 0, 0, 2, 0, 0]);
        let error = error_of(dir.path(), "images = \"dims.idx\"");
        assert!(
            error.contains(&format!(
                "{dims}: byte 10: the header ends here: 3 dimensions need 12 bytes of sizes, the file has 6"
            )),
            "{error}"
        );
    }

    #[test]
    fn truncated_data_is_an_error_at_its_byte_after_the_whole_samples() {
        let dir = tempfile::tempdir().unwrap();
        // Three samples of 2x2 promised, two and a half there.
        let bytes = idx(0x08, &[3, 2, 2], &[1; 10]);
        std::fs::write(dir.path().join("cut.idx"), bytes).unwrap();
        let items = read_source(&DEF, &params(&DEF, "images = \"cut.idx\"", dir.path()));
        assert_eq!(items.len(), 3);
        assert!(items[0].is_ok() && items[1].is_ok());
        let name = dir.path().join("cut.idx").display().to_string();
        assert_eq!(
            items[2].as_ref().unwrap_err(),
            &format!("{name}: byte 26: the data ends in sample 2 of the 3 the header promises (truncated)")
        );
    }

    #[test]
    fn labels_must_match_the_samples_in_number_and_be_single_values() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("i.idx"), idx(8, &[2, 1, 1], &[1, 2])).unwrap();
        std::fs::write(dir.path().join("three.idx"), idx(8, &[3], &[1, 2, 3])).unwrap();
        std::fs::write(dir.path().join("pairs.idx"), idx(8, &[2, 2], &[1, 2, 3, 4])).unwrap();
        let error = error_of(dir.path(), "images = \"i.idx\"\nlabels = \"three.idx\"");
        assert!(error.contains("holds 3 labels, but"), "{error}");
        assert!(error.contains("i.idx holds 2 samples"), "{error}");
        let error = error_of(dir.path(), "images = \"i.idx\"\nlabels = \"pairs.idx\"");
        assert!(
            error.contains("a label must be one value, these have the dimensions [2]"),
            "{error}"
        );
    }

    /// The real Fashion-MNIST files, from Debian's package (the test command
    /// installs it): the test set's header, first and last
    /// samples.
    #[test]
    fn reads_the_real_fashion_mnist_test_set() {
        let dir = Path::new("/usr/share/datasets/fashion-mnist");
        assert!(
            dir.join("t10k-images-idx3-ubyte.gz").exists(),
            "Fashion-MNIST is missing: apt-get install dataset-fashion-mnist (scripts/test.sh does)"
        );
        let toml = "images = \"t10k-images-idx3-ubyte.gz\"\nlabels = \"t10k-labels-idx1-ubyte.gz\"";
        let op = params(&DEF, toml, dir);
        let BuiltOp::Source(source) = (DEF.build)(&op).unwrap() else {
            unreachable!()
        };
        assert_eq!(source.len, Some(10_000));
        let items: Vec<Item> = source.items.map(Result::unwrap).collect();
        assert_eq!(items.len(), 10_000);
        let mut per_class = [0usize; 10];
        for item in &items {
            per_class[item.get("label").unwrap().as_u64().unwrap() as usize] += 1;
            let Payload::Image(image) = &item.payload else {
                panic!()
            };
            assert_eq!((image.width(), image.height()), (28, 28));
        }
        // The test set has 1,000 images of each of the 10 classes; the
        // first is an ankle boot (9), the second a pullover (2).
        assert_eq!(per_class, [1000; 10]);
        assert_eq!(items[0].get("label").unwrap(), 9);
        assert_eq!(items[1].get("label").unwrap(), 2);
    }
}
