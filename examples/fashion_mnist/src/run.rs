//! The epochs: pipelined (baton prepares while the model trains) or
//! sequential (prepare a batch, then train on it), validation after each,
//! checkpoints, and the figures: wall time, the trainer's busy share,
//! images per second through the transform, loss and accuracy.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use baton_engine::{BoxError, Config, Mode, Pipeline, RunReport, Sink, Stage};
use baton_live::{Live, View};
use serde_json::json;

use crate::data::{self, Batch, TransformSpec};
use crate::model::{Model, Step};
use crate::Args;

/// What the trainer saw in an epoch.
#[derive(Clone, Copy, Debug, Default)]
struct Meter {
    /// Time spent computing (not waiting for a batch).
    busy: Duration,
    /// When the first batch was done, and the computing since: the steady
    /// state, once the pipeline has filled.
    first_done: Option<Instant>,
    last_done: Option<Instant>,
    busy_after_first: Duration,
    /// The waits for a batch after the first: in all, the longest, and how
    /// many took over a millisecond.
    waited: Duration,
    longest_wait: Duration,
    waits_over_1ms: usize,
    loss_sum: f64,
    correct: usize,
    images: usize,
    batches: usize,
}

impl Meter {
    /// Notes a wait of `waited` for the next batch.
    fn wait(&mut self, waited: Duration) {
        self.waited += waited;
        self.longest_wait = self.longest_wait.max(waited);
        if waited > Duration::from_millis(1) {
            self.waits_over_1ms += 1;
        }
    }

    fn add(&mut self, step: Step, took: Duration) {
        self.busy += took;
        let now = Instant::now();
        match self.first_done {
            None => self.first_done = Some(now),
            Some(_) => self.busy_after_first += took,
        }
        self.last_done = Some(now);
        self.loss_sum += f64::from(step.loss) * step.images as f64;
        self.correct += step.correct;
        self.images += step.images;
        self.batches += 1;
    }

    fn loss(&self) -> f64 {
        self.loss_sum / self.images.max(1) as f64
    }

    /// The share of the time from the first batch done to the last that
    /// the trainer computed.
    fn steady_busy(&self) -> f64 {
        match (self.first_done, self.last_done) {
            (Some(first), Some(last)) if last > first => {
                self.busy_after_first.as_secs_f64() / (last - first).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    fn accuracy(&self) -> f64 {
        self.correct as f64 / self.images.max(1) as f64
    }
}

/// The train stage: owns the model while the epoch runs.
struct Train {
    model: Arc<Mutex<Model>>,
    meter: Arc<Mutex<Meter>>,
    /// When the last batch was done.
    last_done: Option<Instant>,
}

impl Sink<Batch> for Train {
    fn write(&mut self, batch: Batch) -> Result<(), BoxError> {
        let started = Instant::now();
        let step = lock(&self.model).train(&batch.images, &batch.labels)?;
        let done = Instant::now();
        let mut meter = lock(&self.meter);
        if let Some(last) = self.last_done {
            meter.wait(started - last);
        }
        meter.add(step, done - started);
        self.last_done = Some(done);
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One epoch's figures.
#[derive(Debug)]
struct Epoch {
    number: u64,
    wall: Duration,
    train: Meter,
    /// Images per second the transform made (over the epoch's wall time).
    transform_rate: f64,
    /// The stage the engine names as the bottleneck, with its bound.
    bottleneck: Option<(String, f64)>,
    test: Meter,
}

impl Epoch {
    fn busy_share(&self) -> f64 {
        self.train.busy.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "epoch": self.number,
            "wall_s": self.wall.as_secs_f64(),
            "train_compute_s": self.train.busy.as_secs_f64(),
            "trainer_busy": self.busy_share(),
            "trainer_busy_after_first_batch": self.train.steady_busy(),
            "trainer_waited_s": self.train.waited.as_secs_f64(),
            "trainer_longest_wait_ms": 1e3 * self.train.longest_wait.as_secs_f64(),
            "trainer_waits_over_1ms": self.train.waits_over_1ms,
            "transform_images_per_s": self.transform_rate,
            "bottleneck": self.bottleneck.as_ref().map(|(stage, bound)| json!({"stage": stage, "bound_items_per_s": bound})),
            "train_loss": self.train.loss(),
            "train_accuracy": self.train.accuracy(),
            "test_loss": self.test.loss(),
            "test_accuracy": self.test.accuracy(),
        })
    }
}

pub(crate) fn main(args: &Args) -> Result<()> {
    // candle's CPU kernels use rayon's pool: the trainer's share of cores.
    std::env::set_var("RAYON_NUM_THREADS", args.trainer_threads.to_string());
    let train_dir = data::ensure_shards(&args.data, &args.shards_for(args), "train", args.limit)?;
    let test_dir = data::ensure_shards(
        &args.data,
        &args.shards_for(args),
        "test",
        args.limit.map(|n| (n / 6).max(1)),
    )?;
    let model = Arc::new(Mutex::new(Model::new(
        args.model,
        args.learning_rate,
        args.seed,
    )?));
    let mut first = 1;
    if args.resume {
        first = resume(args, &mut lock(&model))? + 1;
    }
    println!(
        "{} on Fashion-MNIST, {}: {} transform thread(s), {} trainer thread(s), batch {}, augment {:?}, transform cost x{}",
        args.model.name(),
        if args.sequential { "sequential (prepare, then train)" } else { "pipelined by baton" },
        args.transform_threads,
        args.trainer_threads,
        args.batch_size,
        augment(args),
        args.transform_cost,
    );
    let mut epochs = Vec::new();
    for number in first..=args.epochs {
        let (wall, train, rate, bottleneck, report) = if args.sequential {
            let (wall, train, rate) = sequential_epoch(args, &model, &train_dir, number)?;
            (wall, train, rate, None, None)
        } else {
            pipelined_epoch(args, &model, &train_dir, number)?
        };
        let test = validate(args, &model, &test_dir)?;
        let epoch = Epoch {
            number,
            wall,
            train,
            transform_rate: rate,
            bottleneck,
            test,
        };
        println!(
            "epoch {number}/{}: {:.2} s, trainer busy {:.1}% ({:.1}% after the first batch; computing {:.2} s; waited {:.2} s, longest {:.1} ms, {} waits over 1 ms), transform {:.0} images/s{}, train loss {:.4}, test loss {:.4}, test accuracy {:.2}%",
            args.epochs,
            wall.as_secs_f64(),
            100.0 * epoch.busy_share(),
            100.0 * train.steady_busy(),
            train.busy.as_secs_f64(),
            train.waited.as_secs_f64(),
            1e3 * train.longest_wait.as_secs_f64(),
            train.waits_over_1ms,
            rate,
            epoch
                .bottleneck
                .as_ref()
                .map(|(stage, bound)| format!(", bottleneck `{stage}` ({bound:.0} images/s)"))
                .unwrap_or_default(),
            train.loss(),
            test.loss(),
            100.0 * test.accuracy(),
        );
        if let Some(dir) = &args.checkpoints {
            checkpoint(args, &lock(&model), dir, &epoch)?;
        }
        if let (Some(path), Some(report), true) = (&args.report, report, number == args.epochs) {
            write_report(path, &report)?;
        }
        epochs.push(epoch);
    }
    if let Some(path) = &args.summary {
        let summary = json!({
            "model": args.model.name(),
            "mode": if args.sequential { "sequential" } else { "pipelined" },
            "transform_threads": args.transform_threads,
            "trainer_threads": args.trainer_threads,
            "transform_cost": args.transform_cost,
            "batch_size": args.batch_size,
            "augment": format!("{:?}", augment(args)),
            "limit": args.limit,
            "epochs": epochs.iter().map(Epoch::json).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&summary)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

impl Args {
    /// The shards' folder: a `--limit` run gets its own.
    fn shards_for(&self, args: &Args) -> PathBuf {
        match args.limit {
            Some(n) => self.shards.join(format!("first-{n}")),
            None => self.shards.join("all"),
        }
    }
}

/// The augmentation asked for, or the model's own.
fn augment(args: &Args) -> data::Augment {
    args.augment.unwrap_or(match args.model {
        crate::model::Kind::Mlp => data::Augment::None,
        crate::model::Kind::Cnn => data::Augment::Flip,
    })
}

/// The seed of an epoch's shard order, shuffle and augmentation.
fn epoch_seed(args: &Args, epoch: u64) -> u64 {
    args.seed.wrapping_mul(1_000_003).wrapping_add(epoch)
}

type Pipelined = (
    Duration,
    Meter,
    f64,
    Option<(String, f64)>,
    Option<RunReport>,
);

/// One epoch with baton: every stage overlapping the others.
fn pipelined_epoch(
    args: &Args,
    model: &Arc<Mutex<Model>>,
    train_dir: &Path,
    epoch: u64,
) -> Result<Pipelined> {
    let seed = epoch_seed(args, epoch);
    let extract = data::extract(train_dir, 4, seed)?;
    let images = extract.len;
    let spec = TransformSpec {
        augment: augment(args),
        seed,
        cost: args.transform_cost,
    };
    let meter = Arc::new(Mutex::new(Meter::default()));
    let config = Config::default()
        .threads(args.transform_threads)
        .trace(args.report.is_some());
    let started = Instant::now();
    let pipeline = Pipeline::from_results(extract.items)
        .config(config)
        .name_source("extract")
        .stage("transform", Mode::parallel(args.transform_threads))
        .apply(move || spec.make());
    let pipeline = data::shuffler(4 * args.batch_size, seed)?
        .attach(pipeline.stage("shuffle", Mode::serial_in_order()));
    let pipeline =
        data::batcher(args.batch_size)?.attach(pipeline.stage("batch", Mode::serial_in_order()));
    let run = pipeline
        .stage("load", Mode::serial_in_order())
        .try_map(data::load)
        .stage("train", Mode::serial_in_order().blocking())
        .buffer(args.prefetch.max(1))
        .spawn_sink(Train {
            model: Arc::clone(model),
            meter: Arc::clone(&meter),
            last_done: None,
        })
        .map_err(|e| anyhow!("{e}"))?;
    // The live view: a line per stage with a strip of its busy share over
    // the last seconds (the overlap of preparing and training, as it
    // happens), and the trainer's own figures under them.
    let trainer = || {
        let meter = *lock(&meter);
        vec![format!(
            "epoch {epoch}: {} batches trained, trainer busy {:.1}% (waited {:.2} s, longest {:.1} ms)",
            meter.batches,
            100.0 * meter.busy.as_secs_f64() / started.elapsed().as_secs_f64().max(1e-9),
            meter.waited.as_secs_f64(),
            1e3 * meter.longest_wait.as_secs_f64(),
        )]
    };
    let mut live = Live::new(View::choose(args.quiet)).extra(&trainer);
    if let Some(images) = images {
        live = live.total(images.div_ceil(args.batch_size as u64));
    }
    live.watch(&run.handle());
    let report = run.join().map_err(|e| anyhow!("epoch {epoch}: {e}"))?;
    let wall = started.elapsed();
    let transformed = report
        .stats
        .stages
        .iter()
        .find(|s| s.name == "transform")
        .map_or(0, |s| s.items_out);
    let bottleneck = report
        .bottleneck()
        .map(|b| (b.stage.clone(), b.bound_items_per_s));
    let train = *lock(&meter);
    let keep = args.report.is_some().then_some(report);
    Ok((
        wall,
        train,
        transformed as f64 / wall.as_secs_f64(),
        bottleneck,
        keep,
    ))
}

/// One epoch one batch at a time: prepare a batch on this thread with the
/// same ops, then train on it.
fn sequential_epoch(
    args: &Args,
    model: &Arc<Mutex<Model>>,
    train_dir: &Path,
    epoch: u64,
) -> Result<(Duration, Meter, f64)> {
    let seed = epoch_seed(args, epoch);
    // One shard at a time, in the same shuffled order.
    let extract = data::extract(train_dir, 1, seed)?;
    let mut transform = TransformSpec {
        augment: augment(args),
        seed,
        cost: args.transform_cost,
    }
    .make()
    .map_err(|e| anyhow!("{e}"))?;
    let mut batcher = data::batcher(args.batch_size)?
        .replica()
        .map_err(|e| anyhow!("{e}"))?;
    let mut meter = Meter::default();
    let mut preparing = Duration::ZERO;
    let started = Instant::now();
    let mut items = extract.items;
    loop {
        let prepared = Instant::now();
        let mut batches = Vec::new();
        let mut ended = true;
        for item in items.by_ref() {
            let mut out = Vec::new();
            transform
                .process(item.map_err(|e| anyhow!("{e}"))?, &mut out)
                .map_err(|e| anyhow!("{e}"))?;
            for image in out {
                batcher
                    .process(image, &mut batches)
                    .map_err(|e| anyhow!("{e}"))?;
            }
            if !batches.is_empty() {
                ended = false;
                break;
            }
        }
        if ended {
            batcher.finish(&mut batches).map_err(|e| anyhow!("{e}"))?;
        }
        preparing += prepared.elapsed();
        for batch in batches {
            let batch = data::load(batch).map_err(|e| anyhow!("{e}"))?;
            let trained = Instant::now();
            let step = lock(model).train(&batch.images, &batch.labels)?;
            meter.add(step, trained.elapsed());
        }
        if ended {
            break;
        }
    }
    let wall = started.elapsed();
    Ok((
        wall,
        meter,
        meter.images as f64 / preparing.as_secs_f64().max(1e-9),
    ))
}

/// Loss and accuracy on the test set (decoded and normalised, no
/// augmentation), prepared by baton.
fn validate(args: &Args, model: &Arc<Mutex<Model>>, test_dir: &Path) -> Result<Meter> {
    let extract = data::extract(test_dir, 4, 0)?;
    let spec = TransformSpec {
        augment: data::Augment::None,
        seed: 0,
        cost: 1,
    };
    let meter = Arc::new(Mutex::new(Meter::default()));
    let pipeline = Pipeline::from_results(extract.items)
        .config(Config::default().threads(args.transform_threads))
        .stage("transform", Mode::parallel(args.transform_threads))
        .apply(move || spec.make());
    let pipeline = data::batcher(1000)?.attach(pipeline.stage("batch", Mode::serial_in_order()));
    let model = Arc::clone(model);
    let into = Arc::clone(&meter);
    pipeline
        .stage("load", Mode::serial_in_order())
        .try_map(data::load)
        .stage("validate", Mode::serial_in_order().blocking())
        .try_map(move |batch: Batch| -> Result<(), BoxError> {
            let started = Instant::now();
            let step = lock(&model).evaluate(&batch.images, &batch.labels)?;
            lock(&into).add(step, started.elapsed());
            Ok(())
        })
        .for_each(|()| {})
        .map_err(|e| anyhow!("validating: {e}"))?;
    let meter = *lock(&meter);
    Ok(meter)
}

/// Saves the model after `epoch`, and notes it as the latest.
fn checkpoint(args: &Args, model: &Model, dir: &Path, epoch: &Epoch) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("making {}", dir.display()))?;
    let name = format!("{}-epoch-{}.safetensors", model.kind().name(), epoch.number);
    model.save(&dir.join(&name))?;
    let latest = json!({
        "model": model.kind().name(),
        "epoch": epoch.number,
        "weights": name,
        "test_accuracy": epoch.test.accuracy(),
        "seed": args.seed,
    });
    let path = dir.join(format!("{}-latest.json", model.kind().name()));
    std::fs::write(&path, serde_json::to_string_pretty(&latest)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// Loads the latest checkpoint; the epoch it was saved after.
fn resume(args: &Args, model: &mut Model) -> Result<u64> {
    let dir = args
        .checkpoints
        .as_ref()
        .context("--resume needs --checkpoints")?;
    let path = dir.join(format!("{}-latest.json", model.kind().name()));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (no checkpoint to resume from)", path.display()))?;
    let latest: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let epoch = latest["epoch"]
        .as_u64()
        .with_context(|| format!("{}: no `epoch`", path.display()))?;
    let weights = latest["weights"]
        .as_str()
        .with_context(|| format!("{}: no `weights`", path.display()))?;
    model.load(&dir.join(weights))?;
    println!(
        "resumed from {} (after epoch {epoch})",
        dir.join(weights).display()
    );
    Ok(epoch)
}

fn write_report(path: &Path, report: &RunReport) -> Result<()> {
    let trace = baton_report::TraceFile::from_report("fashion-mnist: an epoch", report);
    std::fs::write(path, baton_report::render_html(&trace))
        .with_context(|| format!("writing {}", path.display()))
}
