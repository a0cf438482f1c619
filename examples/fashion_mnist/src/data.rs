//! The data side, made of baton's built-in ops: Fashion-MNIST written once
//! into WebDataset shards (from Debian's IDX files), then per epoch the
//! Extract (shards read four at a time, interleaved, in a shuffled order)
//! and the Transform (decode, random crop with padding, random flip,
//! normalise: seeded by the epoch, so reproducible).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use baton_engine::{BoxError, Mode, Pipeline, Stage};
use baton_ops::{BuiltOp, BuiltSource, BuiltStage, Item, OpKind, Params, Payload};
use candle_core::{Device, Tensor};

/// The training set's mean and standard deviation (of pixels in 0..1).
pub(crate) const MEAN: f64 = 0.2860;
pub(crate) const STD: f64 = 0.3530;

/// An op of baton's registry, built from TOML parameters.
fn op(name: &str, kind: OpKind, toml: &str, base: &Path) -> Result<BuiltOp> {
    let def = baton_ops::find_kind(name, kind).ok_or_else(|| anyhow!("no op `{name}`"))?;
    let values = toml::from_str(toml).with_context(|| format!("parameters of `{name}`"))?;
    (def.build)(&Params::new(values, base)).map_err(|e| anyhow!("`{name}`: {e}"))
}

fn source(name: &str, toml: &str, base: &Path) -> Result<BuiltSource> {
    match op(name, OpKind::Source, toml, base)? {
        BuiltOp::Source(source) => Ok(source),
        _ => bail!("`{name}` is not a source"),
    }
}

fn stage(name: &str, toml: &str) -> Result<BuiltStage> {
    match op(name, OpKind::Transform, toml, Path::new("."))? {
        BuiltOp::Stage(stage) => Ok(stage),
        _ => bail!("`{name}` is not a stage"),
    }
}

/// The shards of one split, written from the IDX files if not there yet
/// (`limit`: only the first images, for a quick run).
pub(crate) fn ensure_shards(
    idx_dir: &Path,
    shards: &Path,
    split: &str,
    limit: Option<usize>,
) -> Result<PathBuf> {
    let dir = shards.join(split);
    let done = dir.join("DONE");
    if done.exists() {
        return Ok(dir);
    }
    let prefix = if split == "train" { "train" } else { "t10k" };
    let images = idx_dir.join(format!("{prefix}-images-idx3-ubyte.gz"));
    let labels = idx_dir.join(format!("{prefix}-labels-idx1-ubyte.gz"));
    if !images.exists() {
        bail!(
            "{} is missing: apt-get install dataset-fashion-mnist (or --data DIR)",
            images.display()
        );
    }
    let read = source(
        "idx",
        &format!(
            "images = {:?}\nlabels = {:?}",
            images.display().to_string(),
            labels.display().to_string()
        ),
        Path::new("."),
    )?;
    let items = read.items.take(limit.unwrap_or(usize::MAX));
    let write = match op(
        "webdataset",
        OpKind::Sink,
        &format!(
            "path = {:?}\nmax_items = 1000\nfields = {{ label = \"cls\" }}\njson = false",
            dir.join("shard-%04d.tar").display().to_string()
        ),
        Path::new("."),
    )? {
        BuiltOp::Sink(make) => make().map_err(|e| anyhow!("{e}"))?,
        _ => bail!("`webdataset` is not a sink"),
    };
    Pipeline::from_results(items)
        .stage("write", Mode::serial_in_order().blocking())
        .sink(write)
        .map_err(|e| anyhow!("writing the {split} shards: {e}"))?;
    std::fs::write(&done, "")?;
    Ok(dir)
}

/// The Extract: the shards of `dir`, `at_once` read at a time, their
/// samples interleaved, the shards in an order shuffled by `seed`.
pub(crate) fn extract(dir: &Path, at_once: usize, seed: u64) -> Result<BuiltSource> {
    source(
        "webdataset",
        &format!(
            "path = \"*.tar\"\nshards_at_once = {at_once}\norder = \"shuffled\"\nseed = {seed}"
        ),
        dir,
    )
}

/// The Transform as one stage: decode, then (when augmenting) a random
/// 28x28 window of the image padded by 2 and a random flip, then
/// normalise; done `cost` times per image (the extra times thrown away), to
/// stand for a heavier transform.
pub(crate) struct Transform {
    ops: Vec<Box<dyn Stage<Item, Item>>>,
    cost: usize,
}

impl std::fmt::Debug for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transform")
            .field("cost", &self.cost)
            .finish_non_exhaustive()
    }
}

/// The augmentation of training images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Augment {
    /// None.
    None,
    /// A random left-right flip.
    Flip,
    /// A random 28x28 window of the image padded by 2 (the items are
    /// centred: a shift of up to 2 pixels), and a random flip.
    CropFlip,
}

/// How to make a replica of the transform.
#[derive(Clone, Debug)]
pub(crate) struct TransformSpec {
    /// Random crop and flip.
    pub(crate) augment: Augment,
    /// Their seed (with the image's key).
    pub(crate) seed: u64,
    /// Times the work is done per image.
    pub(crate) cost: usize,
}

impl TransformSpec {
    pub(crate) fn make(&self) -> Result<Transform, BoxError> {
        let mut stages = vec![stage("image_decode", "")?];
        if self.augment == Augment::CropFlip {
            stages.push(stage(
                "crop",
                &format!(
                    "width = 28\nheight = 28\npadding = 2\nposition = \"random\"\nseed = {}",
                    self.seed
                ),
            )?);
        }
        if self.augment != Augment::None {
            stages.push(stage(
                "flip",
                &format!("horizontal = 0.5\nseed = {}", self.seed),
            )?);
        }
        stages.push(stage(
            "normalize",
            &format!("mean = [{MEAN}]\nstd = [{STD}]"),
        )?);
        let ops = stages
            .iter()
            .map(BuiltStage::replica)
            .collect::<Result<Vec<_>, BoxError>>()?;
        Ok(Transform {
            ops,
            cost: self.cost.max(1),
        })
    }
}

impl Transform {
    fn once(&mut self, item: Item) -> Result<Vec<Item>, BoxError> {
        let mut items = vec![item];
        for op in &mut self.ops {
            let mut next = Vec::with_capacity(items.len());
            for item in items {
                op.process(item, &mut next)?;
            }
            items = next;
        }
        Ok(items)
    }
}

impl Stage<Item, Item> for Transform {
    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        for _ in 1..self.cost {
            std::hint::black_box(self.once(item.clone())?);
        }
        out.extend(self.once(item)?);
        Ok(())
    }
}

/// A batch as the trainer takes it.
#[derive(Debug)]
pub(crate) struct Batch {
    /// `[n, 1, 28, 28]`, f32.
    pub(crate) images: Tensor,
    /// `[n]`, u32.
    pub(crate) labels: Tensor,
}

/// The `batch` op, stacking tensors and labels.
pub(crate) fn batcher(size: usize) -> Result<BuiltStage> {
    stage("batch", &format!("size = {size}\nstack = true"))
}

/// The `shuffle` op.
pub(crate) fn shuffler(buffer: usize, seed: u64) -> Result<BuiltStage> {
    stage("shuffle", &format!("buffer_size = {buffer}\nseed = {seed}"))
}

/// A stacked batch item into tensors on the device: the Load.
pub(crate) fn load(item: Item) -> Result<Batch, BoxError> {
    let labels: Vec<u32> = item
        .get("cls")
        .and_then(serde_json::Value::as_array)
        .ok_or("a batch without its `cls` labels")?
        .iter()
        .map(|v| {
            v.as_u64()
                .map(|v| v as u32)
                .ok_or("a label that is not a class number")
        })
        .collect::<Result<_, _>>()?;
    let Payload::Tensor(tensor) = item.payload else {
        return Err("a batch without its stacked tensor".into());
    };
    let images = Tensor::from_vec(tensor.data, tensor.shape, &Device::Cpu)?;
    let labels = Tensor::from_vec(labels.clone(), labels.len(), &Device::Cpu)?;
    Ok(Batch { images, labels })
}
