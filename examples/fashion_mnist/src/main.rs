//! ETL into training, end to end on Fashion-MNIST: a baton pipeline
//! prepares the batches on some cores while a candle model trains on the
//! others, and `--sequential` does the same work one batch at a time
//! (prepare, then train) to compare against.
//!
//! ```text
//! extract (shards, 4 at once, interleaved) → transform (decode, crop,
//! flip, normalise; parallel) → shuffle → batch → load → train (a serial
//! stage that owns the model) → validate (test set, after each epoch)
//! ```
//!
//! Run it (the first run writes the shards from Debian's
//! `dataset-fashion-mnist`):
//!
//! ```text
//! cargo run --release -p fashion-mnist -- --model mlp --epochs 10
//! cargo run --release -p fashion-mnist -- --model cnn --epochs 10 --checkpoints target/fmnist
//! cargo run --release -p fashion-mnist -- --model cnn --epochs 12 --checkpoints target/fmnist \
//!     --resume --learning-rate 3e-4     # two more epochs at a lower rate: 91.7%
//! ```

mod data;
mod model;
mod run;

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;

/// Trains a model on Fashion-MNIST, fed by a baton pipeline.
#[derive(Debug, Parser)]
#[command(name = "fashion-mnist", version)]
pub(crate) struct Args {
    /// The network.
    #[arg(long, value_enum, default_value = "mlp")]
    pub(crate) model: model::Kind,
    /// Epochs to train (in all, counting those a resumed run already did).
    #[arg(long, default_value_t = 10)]
    pub(crate) epochs: u64,
    /// Images per batch.
    #[arg(long, default_value_t = 128)]
    pub(crate) batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub(crate) learning_rate: f64,
    /// Threads of the transform (the engine's CPU threads).
    #[arg(long, default_value_t = 1)]
    pub(crate) transform_threads: usize,
    /// Threads of the trainer (candle's), standing for the accelerator.
    #[arg(long, default_value_t = 1)]
    pub(crate) trainer_threads: usize,
    /// How many times the transform's work is done per image (a heavier
    /// transform: the extra results are thrown away).
    #[arg(long, default_value_t = 1)]
    pub(crate) transform_cost: usize,
    /// Batches kept ready in front of the trainer (the Load's prefetch).
    #[arg(long, default_value_t = 4)]
    pub(crate) prefetch: usize,
    /// The augmentation of the training images: none, a random flip, or a
    /// random 28x28 window of the image padded by 2 and a flip (default:
    /// none for the MLP, which has no translation invariance to gain from
    /// shifts; a flip for the CNN, whose ten epochs are too few to gain
    /// from shifts as well: crop-flip learns slower, to pay off later).
    #[arg(long, value_enum)]
    pub(crate) augment: Option<data::Augment>,
    /// Prepare a batch, then train on it, one at a time: no overlap.
    #[arg(long)]
    pub(crate) sequential: bool,
    /// Only the first N training images (and N/6 test images): a quick run.
    #[arg(long)]
    pub(crate) limit: Option<usize>,
    /// The seed of the weights, the shard order, the shuffle and the
    /// augmentation.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Where Debian's package puts the IDX files.
    #[arg(long, default_value = "/usr/share/datasets/fashion-mnist")]
    pub(crate) data: PathBuf,
    /// Where the WebDataset shards are written (once) and read.
    #[arg(long, default_value = "target/fashion_mnist/shards")]
    pub(crate) shards: PathBuf,
    /// Save the model after each epoch in this folder.
    #[arg(long)]
    pub(crate) checkpoints: Option<PathBuf>,
    /// Go on from the last checkpoint in `--checkpoints`.
    #[arg(long, requires = "checkpoints")]
    pub(crate) resume: bool,
    /// Write the last epoch's HTML report (the overlap of preparing and
    /// training) here.
    #[arg(long)]
    pub(crate) report: Option<PathBuf>,
    /// Write every epoch's figures as JSON here.
    #[arg(long)]
    pub(crate) summary: Option<PathBuf>,
    /// No live view while an epoch runs (only the epoch lines).
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    run::main(&args)
}
