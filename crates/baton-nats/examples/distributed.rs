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
//! ```
//!
//! Workers serve until Ctrl-C, which stops them gracefully (what they
//! started is finished, the rest goes to other workers at once).

use std::sync::Arc;
use std::time::Instant;

use baton_engine::{BoxError, Stage};
use baton_nats::{
    hop, serve, Boundary, ConnectOptions, HopOptions, Leftover, Topology, WorkerSpec,
};
use baton_ops::Item;

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
    nats: String,
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
        nats: "nats://127.0.0.1:4222".into(),
        run: "example".into(),
        replicas: 2,
        items: 10_000,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--nats" => parsed.nats = value,
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let client = ConnectOptions::new(&args.nats)
        .name(format!("baton {}", args.role))
        .connect()
        .await?;
    let run = Topology::new(&args.run, Default::default())?;
    let boundaries = [Boundary::stage(STAGE), Boundary::Sink];
    match args.role.as_str() {
        "worker" => {
            let make: baton_nats::MakeReplica = Arc::new(|| Ok(Box::new(SumOfSquares) as _));
            let spec = WorkerSpec::new(STAGE, Boundary::Sink, args.replicas, make);
            let report = serve(&client, &run, spec, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
            eprintln!("worker done: {report:?}");
        }
        "driver" => {
            let js = baton_nats::jetstream(&client);
            run.prepare(&js, &boundaries, Leftover::Replace).await?;
            let started = Instant::now();
            let (mut feeder, mut collector) = hop(
                &js,
                &run,
                Boundary::stage(STAGE),
                Boundary::Sink,
                HopOptions::default(),
            )
            .await?;
            let items = args.items;
            let feeding = tokio::spawn(async move {
                for n in 0..items {
                    feeder.feed(Item::with_field("n", n)).await?;
                }
                feeder.finish().await
            });
            let (mut total, mut count) = (0u64, 0u64);
            while let Some(entry) = collector.next().await {
                if let baton_nats::wire::Outcome::Items(items) = entry?.outcome {
                    for item in items {
                        total = total
                            .wrapping_add(item.get("sum").and_then(|v| v.as_u64()).unwrap_or(0));
                        count += 1;
                    }
                }
            }
            feeding.await??;
            for worker in baton_nats::worker_stats(&js, &run).await? {
                eprintln!(
                    "  {} pid {}: {} items, busy {} ms",
                    worker.host, worker.pid, worker.items, worker.busy_ms
                );
            }
            run.remove(&js, &boundaries, true).await?;
            println!(
                "{count} items in {:.2?}, checksum {total}",
                started.elapsed()
            );
        }
        other => return Err(format!("unknown role {other}: worker or driver").into()),
    }
    Ok(())
}
