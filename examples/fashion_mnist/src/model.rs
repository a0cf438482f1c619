//! The models, made with candle-nn (no layer or gradient written by hand):
//! an MLP and a small CNN, trained with Adam on cross-entropy, saved and
//! loaded as safetensors.

use std::path::Path;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{conv2d, linear, ops::dropout, Conv2d, Linear, Optimizer, VarBuilder, VarMap};

/// Which network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Kind {
    /// 784-512-256-10 with ReLU.
    Mlp,
    /// Two 3x3 convolutions (32, 64 channels) with max-pooling, then 128
    /// and 10 units.
    Cnn,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Mlp => "mlp",
            Kind::Cnn => "cnn",
        }
    }
}

enum Net {
    Mlp(Linear, Linear, Linear),
    Cnn {
        conv1: Conv2d,
        conv2: Conv2d,
        fc1: Linear,
        fc2: Linear,
    },
}

/// A model and its optimiser.
pub(crate) struct Model {
    kind: Kind,
    vars: VarMap,
    net: Net,
    optimizer: candle_nn::AdamW,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// What one batch did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Step {
    /// Mean loss over the batch.
    pub(crate) loss: f32,
    /// Images right.
    pub(crate) correct: usize,
    /// Images.
    pub(crate) images: usize,
}

impl Model {
    /// A new model of `kind`, its weights drawn from `seed`.
    pub(crate) fn new(kind: Kind, learning_rate: f64, seed: u64) -> Result<Self> {
        let device = Device::Cpu;
        let vars = VarMap::new();
        let vb = VarBuilder::from_varmap(&vars, DType::F32, &device);
        let net = match kind {
            Kind::Mlp => Net::Mlp(
                linear(784, 512, vb.pp("fc1"))?,
                linear(512, 256, vb.pp("fc2"))?,
                linear(256, 10, vb.pp("fc3"))?,
            ),
            Kind::Cnn => {
                let padded = candle_nn::Conv2dConfig {
                    padding: 1,
                    ..Default::default()
                };
                Net::Cnn {
                    conv1: conv2d(1, 32, 3, padded, vb.pp("conv1"))?,
                    conv2: conv2d(32, 64, 3, padded, vb.pp("conv2"))?,
                    fc1: linear(64 * 7 * 7, 128, vb.pp("fc1"))?,
                    fc2: linear(128, 10, vb.pp("fc2"))?,
                }
            }
        };
        let params = candle_nn::ParamsAdamW {
            lr: learning_rate,
            weight_decay: 0.0,
            ..Default::default()
        };
        seeded(&vars, seed)?;
        let optimizer = candle_nn::AdamW::new(vars.all_vars(), params)?;
        Ok(Self {
            kind,
            vars,
            net,
            optimizer,
        })
    }

    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// The logits of a batch of images `[n, 1, 28, 28]`.
    fn forward(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        Ok(match &self.net {
            Net::Mlp(fc1, fc2, fc3) => {
                let x = images.flatten_from(1)?;
                let x = fc1.forward(&x)?.relu()?;
                let x = fc2.forward(&x)?.relu()?;
                fc3.forward(&x)?
            }
            Net::Cnn {
                conv1,
                conv2,
                fc1,
                fc2,
            } => {
                let x = conv1.forward(images)?.relu()?.max_pool2d(2)?;
                let x = conv2.forward(&x)?.relu()?.max_pool2d(2)?;
                let x = x.flatten_from(1)?;
                let x = fc1.forward(&x)?.relu()?;
                let x = if train { dropout(&x, 0.3)? } else { x };
                fc2.forward(&x)?
            }
        })
    }

    /// One step of training on a batch.
    pub(crate) fn train(&mut self, images: &Tensor, labels: &Tensor) -> Result<Step> {
        let logits = self.forward(images, true)?;
        let loss = candle_nn::loss::cross_entropy(&logits, labels)?;
        self.optimizer.backward_step(&loss)?;
        score(&logits, labels, loss.to_scalar::<f32>()?)
    }

    /// Loss and accuracy on a batch, without learning.
    pub(crate) fn evaluate(&self, images: &Tensor, labels: &Tensor) -> Result<Step> {
        let logits = self.forward(images, false)?;
        let loss = candle_nn::loss::cross_entropy(&logits, labels)?;
        score(&logits, labels, loss.to_scalar::<f32>()?)
    }

    /// Saves the weights as safetensors.
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        self.vars
            .save(path)
            .with_context(|| format!("saving the model to {}", path.display()))
    }

    /// Loads weights saved by [`Model::save`] for the same kind of model.
    pub(crate) fn load(&mut self, path: &Path) -> Result<()> {
        self.vars
            .load(path)
            .with_context(|| format!("loading the model from {}", path.display()))
    }
}

/// Draws every weight again from `seed` (candle cannot seed its CPU
/// generator): He-uniform weights for the ReLUs, zero biases, each
/// variable from its own generator, so the same seed gives the same model.
fn seeded(vars: &VarMap, seed: u64) -> Result<()> {
    use rand::{Rng, SeedableRng};
    let data = vars
        .data()
        .lock()
        .map_err(|_| anyhow::anyhow!("the model's variables are poisoned"))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let dims = var.dims().to_vec();
        let count: usize = dims.iter().product();
        let values: Vec<f32> = if name.ends_with("bias") {
            vec![0.0; count]
        } else {
            let fan_in: usize = dims[1..].iter().product::<usize>().max(1);
            let bound = (6.0 / fan_in as f64).sqrt() as f32;
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&seed.to_le_bytes());
            for (i, b) in name.bytes().take(24).enumerate() {
                key[8 + i] = b;
            }
            let mut rng = rand_chacha::ChaCha8Rng::from_seed(key);
            (0..count).map(|_| rng.gen_range(-bound..bound)).collect()
        };
        var.set(&Tensor::from_vec(values, dims, var.device())?)?;
    }
    Ok(())
}

fn score(logits: &Tensor, labels: &Tensor, loss: f32) -> Result<Step> {
    let predicted = logits.argmax(D::Minus1)?;
    let correct = predicted
        .eq(&labels.to_dtype(predicted.dtype())?)?
        .to_dtype(DType::U32)?
        .sum_all()?
        .to_scalar::<u32>()? as usize;
    Ok(Step {
        loss,
        correct,
        images: labels.dims1()?,
    })
}
