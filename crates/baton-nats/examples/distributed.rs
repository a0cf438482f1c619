//! One binary, two roles: a pipeline whose heavy stage is your own Rust
//! code runs distributed by starting the same program as workers on any
//! machines that reach the NATS server, and once as the driver. A closure
//! cannot travel over the network; the program can.
//!
//! ```text
//! nats-server -js &                                   # or a 3-node cluster
//! cargo run -p baton-nats --example distributed -- worker --nats nats://127.0.0.1:4222 &
//! cargo run -p baton-nats --example distributed -- worker --nats nats://127.0.0.1:4222 &
//! cargo run -p baton-nats --example distributed -- driver --nats nats://127.0.0.1:4222 --items 100000
//! cargo run -p baton-nats --example distributed -- driver --items 100000   # the same pipeline, locally
//! ```
//!
//! The driver builds one engine pipeline either way: the stage is its own
//! replicas here, or a `Remote` stage that sends its items to the workers;
//! the rest of the pipeline (source, order, sink, stats) is the same.
//!
//! Workers serve until Ctrl-C, which stops them gracefully (what they
//! started is finished, the rest goes to other workers at once).

use std::sync::Arc;
use std::time::Instant;

use baton_engine::{BoxError, Mode, Pipeline, Stage};
use baton_nats::{
    serve, Boundary, ConnectOptions, HopOptions, Leftover, Remote, Topology, WorkerSpec,
};
use baton_ops::{BuiltStage, Item};

/// The stage only this program knows: the sum of the squares below `n`.
struct SumOfSquares;

impl Stage<Item, Item> for SumOfSquares {
    fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        let n = item
            .get("n")
            .and_then(|v| v.as_u64())
            .ok_or("no field `n`")?;
        item.set("sum", (0..n % 1000).map(|k| k * k).sum::<u64>());
        out.push(item);
        Ok(())
    }
}

/// The stage's name: the driver and the workers agree on it.
const STAGE: &str = "sum_of_squares";

struct Args {
    role: String,
    nats: Option<String>,
    run: String,
    replicas: usize,
    items: u64,
}

fn args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        role: args.next().ok_or(
            "usage: distributed worker|driver [--nats URL] [--run NAME] [--replicas K] [--items N]",
        )?,
        nats: None,
        run: "example".into(),
        replicas: 2,
        items: 10_000,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--nats" => parsed.nats = Some(value),
            "--run" => parsed.run = value,
            "--replicas" => {
                parsed.replicas = value.parse().map_err(|e| format!("--replicas: {e}"))?
            }
            "--items" => parsed.items = value.parse().map_err(|e| format!("--items: {e}"))?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(parsed)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let run = Topology::new(&args.run, Default::default())?;
    let boundaries = [Boundary::stage(STAGE), Boundary::Sink];
    let connect = |url: &str| {
        runtime.block_on(
            ConnectOptions::new(url)
                .name(format!("baton {}", args.role))
                .connect(),
        )
    };
    match args.role.as_str() {
        "worker" => {
            let client = connect(args.nats.as_deref().ok_or("a worker needs --nats URL")?)?;
            let make: baton_nats::MakeReplica = Arc::new(|| Ok(Box::new(SumOfSquares) as _));
            let spec = WorkerSpec::new(STAGE, Boundary::Sink, args.replicas, make);
            let report = runtime.block_on(serve(&client, &run, spec, async {
                let _ = tokio::signal::ctrl_c().await;
            }))?;
            eprintln!("worker done: {report:?}");
        }
        "driver" => {
            // The stage: its replicas here, or a stand-in for the workers'.
            let mut remote = None;
            let stage = match &args.nats {
                None => BuiltStage::replicas(|| Ok(SumOfSquares)),
                Some(url) => {
                    let client = connect(url)?;
                    let js = runtime.block_on(async { baton_nats::jetstream(&client) });
                    runtime.block_on(run.prepare(&js, &boundaries, Leftover::Replace))?;
                    let hop = runtime.block_on(Remote::open(
                        &js,
                        &run,
                        Boundary::stage(STAGE),
                        Boundary::Sink,
                        HopOptions::default(),
                    ))?;
                    let stage = hop.stage(false);
                    remote = Some((hop, js));
                    stage
                }
            };
            let started = Instant::now();
            let items = (0..args.items).map(|n| Item::with_field("n", n));
            // Locally, one replica per core; remotely, chunks in flight to
            // the workers (the replicas only wait for them).
            let mode = match remote {
                None => Mode::parallel(args.replicas),
                Some(_) => Mode::parallel(16).blocking(),
            };
            let builder = Pipeline::from_iter(items).stage(STAGE, mode);
            // In source order, however the work was spread.
            let out = stage.attach(builder).collect()?;
            let numbers: Vec<u64> = out.iter().filter_map(|i| i.get("n")?.as_u64()).collect();
            assert!(numbers.windows(2).all(|w| w[0] < w[1]), "in source order");
            let total = out.iter().fold(0u64, |total, item| {
                total.wrapping_add(item.get("sum").and_then(|v| v.as_u64()).unwrap_or(0))
            });
            if let Some((hop, js)) = remote {
                hop.close();
                // The workers write their figures four times a second:
                // read them after their last report.
                std::thread::sleep(std::time::Duration::from_millis(400));
                for worker in runtime.block_on(baton_nats::worker_stats(&js, &run))? {
                    eprintln!(
                        "  {} pid {}: {} items, busy {} ms",
                        worker.host, worker.pid, worker.items, worker.busy_ms
                    );
                }
                runtime.block_on(run.remove(&js, &boundaries, true))?;
            }
            println!(
                "{} items in {:.2?}, checksum {total}",
                out.len(),
                started.elapsed()
            );
        }
        other => return Err(format!("unknown role {other}: worker or driver").into()),
    }
    Ok(())
}
