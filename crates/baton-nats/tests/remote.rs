//! Distributed runs against a real nats-server (no mocks): a remote stage
//! gives what a local run gives, a killed worker or server node loses
//! nothing and repeats nothing, a poison item ends in the dead-letter
//! stream, and bad connections fail fast and clearly.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_engine::{Mode, Pipeline};
use baton_nats::wire::{Entry, Outcome};
use baton_nats::{
    dead_letters, hop, serve, worker_stats, Auth, Boundary, ConnectError, ConnectOptions, Error,
    HopOptions, Leftover, MakeReplica, Order, Secret, Settings, Storage, Topology, WorkerSpec,
};
use baton_ops::{BuiltOp, Item, Params, Payload};
use common::{doubler, run_async, ChildGuard, Doubler, Server, ServerSetup};

const LIMIT: Duration = Duration::from_secs(120);

fn memory() -> Settings {
    Settings {
        storage: Storage::Memory,
        ..Settings::default()
    }
}

async fn connect(url: &str) -> async_nats::Client {
    ConnectOptions::new(url)
        .connect()
        .await
        .expect("connects to the test server")
}

/// Feeds `items` through a hop and collects what comes out; `during` is
/// called with the number of entries collected so far after each one.
async fn drive(
    client: &async_nats::Client,
    run: &Topology,
    stage: &str,
    items: Vec<Item>,
    options: HopOptions,
    mut during: impl FnMut(usize),
) -> (Vec<Entry>, u64) {
    let js = baton_nats::jetstream(client);
    let (mut feeder, mut collector) =
        hop(&js, run, Boundary::stage(stage), Boundary::Sink, options)
            .await
            .expect("the hop opens");
    let feeding = tokio::spawn(async move {
        for item in items {
            feeder.feed(item).await?;
        }
        feeder.finish().await
    });
    let mut entries = Vec::new();
    while let Some(entry) = collector.next().await {
        entries.push(entry.expect("an entry"));
        during(entries.len());
    }
    let total = feeding.await.expect("the feeder").expect("feeding");
    (entries, total)
}

/// Every sequence number below `total` exactly once.
fn assert_exactly_once(entries: &[Entry], total: u64) {
    let mut seen = BTreeMap::new();
    for entry in entries {
        *seen.entry(entry.seq).or_insert(0) += 1;
    }
    let repeated: Vec<_> = seen.iter().filter(|(_, &n)| n > 1).collect();
    assert!(
        repeated.is_empty(),
        "repeated sequence numbers: {repeated:?}"
    );
    let missing: Vec<u64> = (0..total).filter(|s| !seen.contains_key(s)).collect();
    assert!(missing.is_empty(), "missing sequence numbers: {missing:?}");
    assert_eq!(entries.len() as u64, total);
}

fn values(n: i64) -> Vec<Item> {
    (0..n).map(|v| Item::with_field("value", v)).collect()
}

fn built_filter(expr: &str) -> baton_ops::BuiltStage {
    built("filter", &format!("expr = {expr:?}"))
}

/// A built-in stage, built from its parameters in TOML.
fn built(op: &str, params: &str) -> baton_ops::BuiltStage {
    let values = toml::from_str(params).expect("parameters in TOML");
    match (baton_ops::find(op).expect("a built-in op").build)(&Params::new(values, ".")) {
        Ok(BuiltOp::Stage(stage)) => stage,
        _ => panic!("{op} builds a stage"),
    }
}

#[test]
fn a_remote_stage_gives_what_a_local_run_gives() {
    run_async(LIMIT, || async {
        let server = Server::start();
        let client = connect(&server.url()).await;
        let js = baton_nats::jetstream(&client);
        let expr = "value % 3 != 0";
        let local: Vec<Item> = built_filter(expr)
            .attach(Pipeline::from_iter(values(3000)).stage("filter", Mode::parallel(2)))
            .collect()
            .expect("the local run");

        for (name, order) in [("in-order", Order::Source), ("arrival", Order::Arrival)] {
            let run = Topology::new(name, memory()).unwrap();
            let boundaries = [Boundary::stage("filter"), Boundary::Sink];
            run.prepare(&js, &boundaries, Leftover::Fail).await.unwrap();
            let built = Arc::new(built_filter(expr));
            let make: MakeReplica = Arc::new(move || built.replica());
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let mut workers = Vec::new();
            for _ in 0..2 {
                let spec = WorkerSpec::new("filter", Boundary::Sink, 2, make.clone());
                let (client, run, mut stopped) = (client.clone(), run.clone(), stopped.clone());
                workers.push(tokio::spawn(async move {
                    serve(&client, &run, spec, async move {
                        let _ = stopped.wait_for(|&s| s).await;
                    })
                    .await
                }));
            }
            let options = HopOptions {
                order,
                chunk_items: 100,
                ..HopOptions::default()
            };
            let (mut entries, total) =
                drive(&client, &run, "filter", values(3000), options, |_| {}).await;
            assert_exactly_once(&entries, total);
            if order == Order::Arrival {
                entries.sort_by_key(|e| e.seq);
            } else {
                assert!(
                    entries.windows(2).all(|w| w[0].seq < w[1].seq),
                    "source order"
                );
            }
            let remote: Vec<Item> = entries
                .into_iter()
                .flat_map(|entry| match entry.outcome {
                    Outcome::Items(items) => items,
                    Outcome::Failed(failure) => panic!("unexpected failure {failure:?}"),
                })
                .collect();
            assert_eq!(remote, local, "{name}");
            stop.send(true).unwrap();
            let mut items = 0;
            for worker in workers {
                items += worker.await.unwrap().expect("the worker ends well").items;
            }
            assert_eq!(items, 3000, "each item through a replica once");
            run.remove(&js, &boundaries, false).await.unwrap();
        }
    });
}

/// Not a test of its own: the body of a worker process, which the tests
/// start as a child (this test binary again) and may `kill -9`.
#[test]
fn child_worker() {
    let Ok(setup) = std::env::var("BATON_NATS_CHILD_WORKER") else {
        return;
    };
    let parts: Vec<&str> = setup.split(' ').collect();
    // The ack wait (parts[2]) is the consumer's: the worker reads it there.
    let (url, run, sleep_us) = (parts[0], parts[1], parts[3]);
    let abort_on: Vec<i64> = parts[4..].iter().map(|v| v.parse().unwrap()).collect();
    let settings = memory();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = connect(url).await;
        let run = Topology::new(run, settings).unwrap();
        let stage = Doubler {
            sleep: Duration::from_micros(sleep_us.parse().unwrap()),
            abort_on,
            ..Doubler::default()
        };
        let spec = WorkerSpec::new("double", Boundary::Sink, 2, doubler(stage));
        serve(&client, &run, spec, std::future::pending())
            .await
            .unwrap();
    });
}

fn start_child_worker(url: &str, run: &str, ack_wait_ms: u64, sleep_us: u64) -> ChildGuard {
    start_child_worker_aborting(url, run, ack_wait_ms, sleep_us, &[])
}

fn start_child_worker_aborting(
    url: &str,
    run: &str,
    ack_wait_ms: u64,
    sleep_us: u64,
    abort_on: &[i64],
) -> ChildGuard {
    let mut setup = format!("{url} {run} {ack_wait_ms} {sleep_us}");
    for value in abort_on {
        setup.push_str(&format!(" {value}"));
    }
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["child_worker", "--exact", "--nocapture", "--test-threads=1"])
        .env("BATON_NATS_CHILD_WORKER", setup)
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the worker process starts");
    ChildGuard(child)
}

fn assert_doubled(entries: &[Entry]) {
    for entry in entries {
        let Outcome::Items(items) = &entry.outcome else {
            panic!("seq {} failed: {:?}", entry.seq, entry.outcome)
        };
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].get("value").unwrap(), entry.seq as i64);
        assert_eq!(items[0].get("doubled").unwrap(), 2 * entry.seq as i64);
    }
}

#[test]
fn a_killed_worker_loses_nothing_and_repeats_nothing() {
    run_async(LIMIT, || async {
        let server = Server::start();
        let client = connect(&server.url()).await;
        let js = baton_nats::jetstream(&client);
        let ack_wait = 1000;
        let run = Topology::new(
            "kill-a-worker",
            Settings {
                ack_wait: Duration::from_millis(ack_wait),
                ..memory()
            },
        )
        .unwrap();
        let boundaries = [Boundary::stage("double"), Boundary::Sink];
        run.prepare(&js, &boundaries, Leftover::Fail).await.unwrap();
        let mut doomed = start_child_worker(&server.url(), run.run(), ack_wait, 1000);
        let _survivor = start_child_worker(&server.url(), run.run(), ack_wait, 1000);
        let mut killed_at = None;
        let options = HopOptions {
            chunk_items: 20,
            ..HopOptions::default()
        };
        let (entries, total) = drive(&client, &run, "double", values(4000), options, |n| {
            if n == 600 && killed_at.is_none() {
                doomed.kill();
                killed_at = Some(Instant::now());
            }
        })
        .await;
        assert!(killed_at.is_some(), "the worker was killed mid-run");
        assert_exactly_once(&entries, total);
        assert_doubled(&entries);
        let stats = worker_stats(&js, &run).await.unwrap();
        assert_eq!(stats.len(), 2, "both workers reported: {stats:?}");
        assert!(
            stats.iter().all(|s| s.pid > 0 && !s.host.is_empty()),
            "{stats:?}"
        );
        assert!(stats.iter().any(|s| s.items > 0), "{stats:?}");
        run.remove(&js, &boundaries, false).await.unwrap();
    });
}

#[test]
fn a_poison_item_ends_in_the_dead_letter_stream_and_the_rest_completes() {
    common::quiet_intended_panics();
    run_async(LIMIT, || async {
        let server = Server::start();
        let client = connect(&server.url()).await;
        let js = baton_nats::jetstream(&client);
        let run = Topology::new(
            "poison",
            Settings {
                max_deliver: 3,
                ..memory()
            },
        )
        .unwrap();
        let boundaries = [Boundary::stage("double"), Boundary::Sink];
        run.prepare(&js, &boundaries, Leftover::Fail).await.unwrap();
        let stage = Doubler {
            fail_on: vec![13],
            panic_on: vec![27],
            ..Doubler::default()
        };
        let spec = WorkerSpec::new("double", Boundary::Sink, 2, doubler(stage));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn({
            let (client, run) = (client.clone(), run.clone());
            async move {
                serve(&client, &run, spec, async {
                    let _ = stopped.await;
                })
                .await
            }
        });
        let options = HopOptions {
            chunk_items: 8,
            ..HopOptions::default()
        };
        let (entries, total) = drive(&client, &run, "double", values(200), options, |_| {}).await;
        assert_exactly_once(&entries, total);
        let (failed, fine): (Vec<Entry>, Vec<Entry>) =
            entries.into_iter().partition(|e| e.outcome.is_failed());
        assert_eq!(failed.iter().map(|e| e.seq).collect::<Vec<_>>(), [13, 27]);
        assert_doubled(&fine);
        let mut letters = dead_letters(&js, &run).await.unwrap();
        letters.sort_by_key(|l| l.seq);
        assert_eq!(letters.len(), 2, "{letters:?}");
        assert_eq!(letters[0].seq, 13);
        assert!(
            letters[0].error.contains("13 is poison"),
            "{}",
            letters[0].error
        );
        assert!(
            letters[1].error.contains("panicked"),
            "{}",
            letters[1].error
        );
        for letter in &letters {
            assert_eq!(letter.stage, "double");
            assert_eq!(letter.deliveries, 3);
            assert_eq!(letter.items, [Item::with_field("value", letter.seq as i64)]);
        }
        let _ = stop.send(());
        let report = worker.await.unwrap().unwrap();
        assert_eq!(report.dead_letters, 2);
        assert!(report.retries >= 4, "{report:?}");
        // Nothing is left in the work queue.
        let mut stream = js
            .get_stream(run.stream(&Boundary::stage("double")))
            .await
            .unwrap();
        assert_eq!(stream.info().await.unwrap().state.messages, 0);
        run.remove(&js, &boundaries, false).await.unwrap();
    });
}

#[test]
fn a_wrong_password_or_no_server_is_a_clear_error_within_seconds() {
    run_async(LIMIT, || async {
        let server = Server::start_with(ServerSetup {
            user: Some(("baton".into(), "right-password".into())),
            ..ServerSetup::default()
        });
        let with = |password: &str| {
            ConnectOptions::new(&server.url()).auth(Auth::UserPassword {
                user: "baton".into(),
                password: Secret::new(password),
            })
        };
        let started = Instant::now();
        let error = with("wrong-password").connect().await.expect_err("refused");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(error, ConnectError::Refused { .. }), "{error:?}");
        let shown = format!("{error} {error:?}");
        assert!(shown.contains("wrong user, password"), "{shown}");
        assert!(
            !shown.contains("wrong-password"),
            "a secret was shown: {shown}"
        );
        with("right-password")
            .connect()
            .await
            .expect("the right password works");

        let nobody = format!("nats://127.0.0.1:{}", common::free_port());
        let started = Instant::now();
        let error = ConnectOptions::new(&nobody)
            .connect_timeout(Duration::from_secs(2))
            .connect()
            .await
            .expect_err("nobody there");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            matches!(
                error,
                ConnectError::Unreachable { .. } | ConnectError::TimedOut { .. }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("127.0.0.1"), "{error}");
    });
}

#[test]
fn a_stream_left_by_an_earlier_run_is_reported_or_replaced() {
    run_async(LIMIT, || async {
        let server = Server::start();
        let client = connect(&server.url()).await;
        let js = baton_nats::jetstream(&client);
        let run = Topology::new("crashed", memory()).unwrap();
        let boundaries = [Boundary::stage("double"), Boundary::Sink];
        run.prepare(&js, &boundaries, Leftover::Fail).await.unwrap();
        // A driver that published and then died.
        let (mut feeder, _collector) = hop(
            &js,
            &run,
            Boundary::stage("double"),
            Boundary::Sink,
            HopOptions::default(),
        )
        .await
        .unwrap();
        for item in values(5) {
            feeder.feed(item).await.unwrap();
        }
        feeder.flush().await.unwrap();
        drop(feeder);

        let error = run
            .prepare(&js, &boundaries, Leftover::Fail)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::LeftoverRun { messages: 1, .. }),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("BATON_crashed_S_double"),
            "{error}"
        );
        run.prepare(&js, &boundaries, Leftover::Replace)
            .await
            .unwrap();
        let mut stream = js
            .get_stream(run.stream(&Boundary::stage("double")))
            .await
            .unwrap();
        assert_eq!(stream.info().await.unwrap().state.messages, 0);
        // The fresh run is not mistaken for the old one's duplicates.
        let spec = WorkerSpec::new("double", Boundary::Sink, 1, doubler(Doubler::default()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn({
            let (client, run) = (client.clone(), run.clone());
            async move {
                serve(&client, &run, spec, async {
                    let _ = stopped.await;
                })
                .await
            }
        });
        let (entries, total) = drive(
            &client,
            &run,
            "double",
            values(5),
            HopOptions::default(),
            |_| {},
        )
        .await;
        assert_exactly_once(&entries, total);
        let _ = stop.send(());
        worker.await.unwrap().unwrap();
    });
}

#[test]
fn items_of_several_megabytes_go_through_a_remote_stage() {
    run_async(LIMIT, || async {
        let server = Server::start();
        let client = connect(&server.url()).await;
        let js = baton_nats::jetstream(&client);
        let run = Topology::new("big", memory()).unwrap();
        let boundaries = [Boundary::stage("double"), Boundary::Sink];
        run.prepare(&js, &boundaries, Leftover::Fail).await.unwrap();
        let spec = WorkerSpec::new("double", Boundary::Sink, 2, doubler(Doubler::default()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn({
            let (client, run) = (client.clone(), run.clone());
            async move {
                serve(&client, &run, spec, async {
                    let _ = stopped.await;
                })
                .await
            }
        });
        let size = 5 << 20;
        let items: Vec<Item> = (0..8i64)
            .map(|v| {
                let mut item = Item::with_field("value", v);
                item.payload = Payload::Bytes(vec![v as u8; size]);
                item
            })
            .collect();
        let (entries, total) = drive(
            &client,
            &run,
            "double",
            items,
            HopOptions::default(),
            |_| {},
        )
        .await;
        assert_exactly_once(&entries, total);
        for entry in &entries {
            let Outcome::Items(items) = &entry.outcome else {
                panic!("failed: {:?}", entry.outcome)
            };
            assert_eq!(
                items[0].payload,
                Payload::Bytes(vec![entry.seq as u8; size])
            );
        }
        let _ = stop.send(());
        worker.await.unwrap().unwrap();
        run.remove(&js, &boundaries, false).await.unwrap();
    });
}

#[test]
fn a_cluster_node_killed_and_restarted_mid_run_loses_and_repeats_nothing() {
    run_async(Duration::from_secs(240), || async {
        let ports: Vec<u16> = (0..3).map(|_| common::free_port()).collect();
        let cluster_ports: Vec<u16> = (0..3).map(|_| common::free_port()).collect();
        let mut nodes: Vec<Server> = (0..3)
            .map(|i| {
                let routes = cluster_ports
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, &p)| p)
                    .collect();
                Server::start_on(
                    ports[i],
                    ServerSetup {
                        cluster: Some((format!("n{i}"), cluster_ports[i], routes)),
                        ..ServerSetup::default()
                    },
                )
            })
            .collect();
        let urls: Vec<String> = nodes.iter().map(Server::url).collect();
        let client = connect(&urls.join(",")).await;
        let js = baton_nats::jetstream(&client);
        let run = Topology::new(
            "cluster",
            Settings {
                replicas: 3,
                storage: Storage::File,
                ack_wait: Duration::from_secs(2),
                ..Settings::default()
            },
        )
        .unwrap();
        let boundaries = [Boundary::stage("double"), Boundary::Sink];
        // The cluster elects its JetStream leader first.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match run.prepare(&js, &boundaries, Leftover::Replace).await {
                Ok(()) => break,
                Err(error) if Instant::now() < deadline => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(error) => panic!("the cluster never took the streams: {error}"),
            }
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut workers = Vec::new();
        for url in [&urls[1], &urls[2]] {
            let worker_client = connect(&urls.join(",")).await;
            let _ = url;
            let stage = Doubler {
                sleep: Duration::from_micros(500),
                ..Doubler::default()
            };
            let spec = WorkerSpec::new("double", Boundary::Sink, 2, doubler(stage));
            let (run, mut stopped) = (run.clone(), stopped.clone());
            workers.push(tokio::spawn(async move {
                serve(&worker_client, &run, spec, async move {
                    let _ = stopped.wait_for(|&s| s).await;
                })
                .await
            }));
        }
        let options = HopOptions {
            chunk_items: 20,
            ..HopOptions::default()
        };
        let (kill, mut killed) = tokio::sync::mpsc::unbounded_channel::<()>();
        let chaos = tokio::spawn(async move {
            let _ = killed.recv().await;
            nodes[0].kill();
            tokio::time::sleep(Duration::from_secs(2)).await;
            nodes[0].restart();
            nodes
        });
        let mut killed_mid_run = false;
        let (entries, total) = drive(&client, &run, "double", values(3000), options, |n| {
            if n == 500 {
                killed_mid_run = kill.send(()).is_ok();
            }
        })
        .await;
        assert!(killed_mid_run, "a node was killed mid-run");
        assert_exactly_once(&entries, total);
        assert_doubled(&entries);
        stop.send(true).unwrap();
        for worker in workers {
            worker.await.unwrap().expect("the worker ends well");
        }
        let _nodes = chaos.await.unwrap();
    });
}

/// Serves the `double` stage in this process until `stop` says so.
fn spawn_worker(
    client: &async_nats::Client,
    run: &Topology,
    stage: Doubler,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Result<baton_nats::WorkerReport, Error>> {
    let spec = WorkerSpec::new("double", Boundary::Sink, 2, doubler(stage));
    let (client, run) = (client.clone(), run.clone());
    tokio::spawn(async move {
        serve(&client, &run, spec, async move {
            let _ = stop.wait_for(|&s| s).await;
        })
        .await
    })
}

#[test]
fn a_worker_joins_mid_run_and_another_stops_gracefully() {
    run_async(LIMIT, || async {
        let server = Server::start();
        let client = connect(&server.url()).await;
        let js = baton_nats::jetstream(&client);
        // A long ack wait: the stopped worker's items must come back by
        // its nak, not by the ack wait running out.
        let run = Topology::new(
            "join-and-leave",
            Settings {
                ack_wait: Duration::from_secs(30),
                ..memory()
            },
        )
        .unwrap();
        let boundaries = [Boundary::stage("double"), Boundary::Sink];
        run.prepare(&js, &boundaries, Leftover::Fail).await.unwrap();
        let slow = Doubler {
            sleep: Duration::from_micros(1500),
            ..Doubler::default()
        };
        let (stop_first, first_stops) = tokio::sync::watch::channel(false);
        let (stop_second, second_stops) = tokio::sync::watch::channel(false);
        let first = spawn_worker(&client, &run, slow.clone(), first_stops);
        let (signal, mut signals) = tokio::sync::mpsc::unbounded_channel::<usize>();
        let control = tokio::spawn({
            let (client, run) = (client.clone(), run.clone());
            async move {
                let mut second = None;
                while let Some(n) = signals.recv().await {
                    if n == 200 {
                        second = Some(spawn_worker(
                            &client,
                            &run,
                            slow.clone(),
                            second_stops.clone(),
                        ));
                    }
                    if n == 700 {
                        stop_first.send(true).unwrap();
                    }
                }
                second
            }
        });
        let started = Instant::now();
        let options = HopOptions {
            chunk_items: 10,
            ..HopOptions::default()
        };
        let (entries, total) = drive(&client, &run, "double", values(2000), options, |n| {
            let _ = signal.send(n);
        })
        .await;
        drop(signal);
        assert_exactly_once(&entries, total);
        assert_doubled(&entries);
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "the stopped worker's items came back at once, not after the ack wait"
        );
        let first = first.await.unwrap().expect("the first worker stops well");
        let second = control.await.unwrap().expect("the second worker started");
        stop_second.send(true).unwrap();
        let second = second.await.unwrap().expect("the second worker stops well");
        assert!(first.items > 0 && second.items > 0, "{first:?} {second:?}");
        assert!(
            first.items < 2000,
            "the first stopped before the end: {first:?}"
        );
        assert_eq!(
            first.messages + second.messages,
            200,
            "every message acked once"
        );
        run.remove(&js, &boundaries, false).await.unwrap();
    });
}

#[test]
fn a_file_storage_server_restarted_mid_run_loses_and_repeats_nothing() {
    run_async(LIMIT, || async {
        let mut server = Server::start();
        let url = server.url();
        let client = connect(&url).await;
        let worker_client = connect(&url).await;
        let js = baton_nats::jetstream(&client);
        let run = Topology::new(
            "restart",
            Settings {
                ack_wait: Duration::from_secs(2),
                ..Settings::default()
            },
        )
        .unwrap();
        let boundaries = [Boundary::stage("double"), Boundary::Sink];
        run.prepare(&js, &boundaries, Leftover::Fail).await.unwrap();
        let (stop, stops) = tokio::sync::watch::channel(false);
        let stage = Doubler {
            sleep: Duration::from_micros(500),
            ..Doubler::default()
        };
        let worker = spawn_worker(&worker_client, &run, stage, stops);
        let (kill, mut killed) = tokio::sync::mpsc::unbounded_channel::<()>();
        let chaos = tokio::spawn(async move {
            let _ = killed.recv().await;
            server.kill();
            tokio::time::sleep(Duration::from_secs(1)).await;
            server.restart();
            server
        });
        let options = HopOptions {
            chunk_items: 20,
            ..HopOptions::default()
        };
        let mut killed_mid_run = false;
        let (entries, total) = drive(&client, &run, "double", values(3000), options, |n| {
            if n == 500 {
                killed_mid_run = kill.send(()).is_ok();
            }
        })
        .await;
        assert!(killed_mid_run, "the server was killed mid-run");
        assert_exactly_once(&entries, total);
        assert_doubled(&entries);
        stop.send(true).unwrap();
        worker.await.unwrap().expect("the worker ends well");
        let _server = chaos.await.unwrap();
    });
}

#[test]
fn a_full_stream_makes_publishers_wait_and_drops_nothing() {
    run_async(LIMIT, || async {
        let server = Server::start();
        let client = connect(&server.url()).await;
        let js = baton_nats::jetstream(&client);
        // Three messages fill a boundary: the feeder and the worker wait
        // on "maximum messages exceeded" all along the run.
        let run = Topology::new(
            "tight",
            Settings {
                max_messages: 3,
                ..memory()
            },
        )
        .unwrap();
        let boundaries = [Boundary::stage("double"), Boundary::Sink];
        run.prepare(&js, &boundaries, Leftover::Fail).await.unwrap();

        // What the publisher waits on: the server's refusal of a message
        // to a full stream (discard new) is an error, not a silent drop.
        for n in 0..3 {
            js.publish(run.subject(&Boundary::Sink), format!("filler {n}").into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        let refused = js
            .publish(run.subject(&Boundary::Sink), "one too many".into())
            .await
            .unwrap()
            .await
            .expect_err("a full stream refuses");
        assert!(
            refused.to_string().contains("maximum messages"),
            "{refused}"
        );
        js.get_stream(run.stream(&Boundary::Sink))
            .await
            .unwrap()
            .purge()
            .await
            .unwrap();

        let (stop, stops) = tokio::sync::watch::channel(false);
        let worker = spawn_worker(&client, &run, Doubler::default(), stops);
        let options = HopOptions {
            chunk_items: 5,
            window: 100_000,
            ..HopOptions::default()
        };
        let (entries, total) = drive(&client, &run, "double", values(1500), options, |_| {}).await;
        assert_exactly_once(&entries, total);
        assert_doubled(&entries);
        stop.send(true).unwrap();
        worker.await.unwrap().expect("the worker ends well");
    });
}

#[test]
fn a_hop_driven_from_engine_threads_sits_between_two_local_pipelines() {
    use baton_nats::BlockingHop;
    common::watchdog(LIMIT, || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let server = Server::start();
        let client = runtime.block_on(connect(&server.url()));
        let _context = runtime.enter();
        let js = baton_nats::jetstream(&client);
        let run = Topology::new("between", memory()).unwrap();
        let boundaries = [Boundary::stage("double"), Boundary::Sink];
        runtime
            .block_on(run.prepare(&js, &boundaries, Leftover::Fail))
            .unwrap();
        let (stop, stops) = tokio::sync::watch::channel(false);
        let worker = spawn_worker(
            &client,
            &run,
            Doubler {
                drop_odd: true,
                ..Doubler::default()
            },
            stops,
        );

        // Local before: keep the multiples of 3; remote: double, dropping
        // odd values; local after: add one to `doubled`.
        let before = built_filter("value % 3 == 0")
            .attach(Pipeline::from_iter(values(1000)).stage("filter", Mode::parallel(2)))
            .into_iter()
            .map(|item| item.expect("a local item"));
        let (feeder, collector) = runtime
            .block_on(hop(
                &js,
                &run,
                Boundary::stage("double"),
                Boundary::Sink,
                HopOptions::default(),
            ))
            .unwrap();
        let remote =
            BlockingHop::start(runtime.handle().clone(), feeder, collector, before).map(|entry| {
                match entry.expect("an entry").outcome {
                    Outcome::Items(items) => items,
                    Outcome::Failed(failure) => panic!("{failure:?}"),
                }
            });
        let after: Vec<i64> = Pipeline::from_stream(remote)
            .map(Mode::parallel(2), |items: Vec<Item>| {
                items
                    .iter()
                    .map(|item| item.get("doubled").unwrap().as_i64().unwrap() + 1)
                    .collect::<Vec<i64>>()
            })
            .collect()
            .unwrap()
            .into_iter()
            .flatten()
            .collect();
        let expected: Vec<i64> = (0..1000)
            .filter(|v| v % 3 == 0 && v % 2 == 0)
            .map(|v| v * 2 + 1)
            .collect();
        assert_eq!(after, expected);
        stop.send(true).unwrap();
        runtime.block_on(worker).unwrap().unwrap();
    });
}

#[test]
fn an_item_that_crashes_its_worker_on_every_delivery_is_dead_lettered_alone() {
    run_async(LIMIT, || async {
        let server = Server::start();
        let client = connect(&server.url()).await;
        let js = baton_nats::jetstream(&client);
        let run = Topology::new(
            "crash-poison",
            Settings {
                ack_wait: Duration::from_millis(800),
                max_deliver: 2,
                ..memory()
            },
        )
        .unwrap();
        let boundaries = [Boundary::stage("double"), Boundary::Sink];
        run.prepare(&js, &boundaries, Leftover::Fail).await.unwrap();
        // Two worker processes, each restarted whenever it dies, as a
        // supervisor (systemd, Kubernetes) would.
        let (url, name) = (server.url(), run.run().to_string());
        let (done, mut finished) = tokio::sync::watch::channel(false);
        let supervisor = tokio::task::spawn_blocking(move || {
            let start = || start_child_worker_aborting(&url, &name, 800, 200, &[42]);
            let mut workers = [start(), start()];
            let mut restarts = 0;
            while !*finished.borrow_and_update() {
                for worker in &mut workers {
                    if worker.0.try_wait().unwrap().is_some() {
                        *worker = start();
                        restarts += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            restarts
        });
        let options = HopOptions {
            chunk_items: 4,
            ..HopOptions::default()
        };
        let (entries, total) = drive(&client, &run, "double", values(400), options, |_| {}).await;
        done.send(true).unwrap();
        let restarts = supervisor.await.unwrap();
        assert_exactly_once(&entries, total);
        // The message of 40..=43 crashed its worker on every delivery:
        // it goes to the dead-letter stream whole, and nothing else does.
        let failed: Vec<u64> = entries
            .iter()
            .filter(|e| e.outcome.is_failed())
            .map(|e| e.seq)
            .collect();
        assert_eq!(failed, [40, 41, 42, 43]);
        let fine: Vec<Entry> = entries
            .into_iter()
            .filter(|e| !e.outcome.is_failed())
            .collect();
        assert_doubled(&fine);
        assert!(
            restarts >= 2,
            "the poison crashed a worker on each of its deliveries: {restarts}"
        );
        let letters = dead_letters(&js, &run).await.unwrap();
        assert_eq!(
            letters.iter().map(|l| l.seq).collect::<Vec<_>>(),
            [40, 41, 42, 43]
        );
        assert!(letters[2].error.contains("crashed"), "{}", letters[2].error);
        assert_eq!(letters[2].items, [Item::with_field("value", 42)]);
        run.remove(&js, &boundaries, false).await.unwrap();
    });
}

#[test]
fn a_token_or_an_nkey_is_accepted_and_a_wrong_one_refused() {
    run_async(LIMIT, || async {
        let server = Server::start_with(ServerSetup {
            token: Some("right-token".into()),
            ..ServerSetup::default()
        });
        let token = |t: &str| ConnectOptions::new(&server.url()).auth(Auth::Token(Secret::new(t)));
        token("right-token")
            .connect()
            .await
            .expect("the right token works");
        let error = token("wrong-token").connect().await.expect_err("refused");
        assert!(matches!(error, ConnectError::Refused { .. }), "{error:?}");
        assert!(!format!("{error} {error:?}").contains("wrong-token"));

        let user = nkeys::KeyPair::new_user();
        let server = Server::start_with(ServerSetup {
            nkey: Some(user.public_key()),
            ..ServerSetup::default()
        });
        let nkey =
            |seed: String| ConnectOptions::new(&server.url()).auth(Auth::NKey(Secret::new(seed)));
        let client = nkey(user.seed().unwrap())
            .connect()
            .await
            .expect("the right key works");
        // Signed in: JetStream answers.
        let run = Topology::new("nkey", memory()).unwrap();
        run.prepare(
            &baton_nats::jetstream(&client),
            &[Boundary::Sink],
            Leftover::Fail,
        )
        .await
        .unwrap();
        let stranger = nkeys::KeyPair::new_user();
        let started = Instant::now();
        let error = nkey(stranger.seed().unwrap())
            .connect()
            .await
            .expect_err("refused");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(error, ConnectError::Refused { .. }), "{error:?}");
    });
}

#[test]
fn random_remote_stages_give_what_local_runs_give() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    common::watchdog(Duration::from_secs(240), || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let server = Server::start();
        let client = runtime.block_on(connect(&server.url()));
        let _context = runtime.enter();
        let js = baton_nats::jetstream(&client);
        let op = prop_oneof![
            (2i64..5, 0i64..3)
                .prop_map(|(k, r)| ("filter", format!("expr = \"value % {k} != {r}\""))),
            Just(("rename", "fields = { value = \"v\" }".to_string())),
            Just(("select", "fields = [\"value\"]".to_string())),
        ];
        let case = (
            op,
            0i64..300,
            1usize..3,
            1usize..4,
            1usize..60,
            any::<bool>(),
        );
        let mut runner = TestRunner::new(Config {
            cases: 12,
            failure_persistence: None,
            ..Config::default()
        });
        let number = std::sync::atomic::AtomicUsize::new(0);
        runner
            .run(
                &case,
                |((op, params), n, workers, replicas, chunk_items, in_order)| {
                    let number = number.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let items = || {
                        (0..n).map(|v| {
                            let mut item = Item::with_field("value", v);
                            item.set("other", format!("#{v}"));
                            item
                        })
                    };
                    let local: Vec<Item> = built(op, &params)
                        .attach(Pipeline::from_iter(items()).stage(op, Mode::parallel(2)))
                        .collect()
                        .unwrap();
                    let run = Topology::new(&format!("random-{number}"), memory()).unwrap();
                    let boundaries = [Boundary::stage(op), Boundary::Sink];
                    let remote = runtime.block_on(async {
                        run.prepare(&js, &boundaries, Leftover::Fail).await.unwrap();
                        let stage = Arc::new(built(op, &params));
                        let make: MakeReplica = Arc::new(move || stage.replica());
                        let (stop, stops) = tokio::sync::watch::channel(false);
                        let serving: Vec<_> = (0..workers)
                            .map(|_| {
                                let spec =
                                    WorkerSpec::new(op, Boundary::Sink, replicas, make.clone());
                                let (client, run, mut stops) =
                                    (client.clone(), run.clone(), stops.clone());
                                tokio::spawn(async move {
                                    serve(&client, &run, spec, async move {
                                        let _ = stops.wait_for(|&s| s).await;
                                    })
                                    .await
                                })
                            })
                            .collect();
                        let options = HopOptions {
                            chunk_items,
                            order: if in_order {
                                Order::Source
                            } else {
                                Order::Arrival
                            },
                            ..HopOptions::default()
                        };
                        let (mut entries, total) =
                            drive(&client, &run, op, items().collect(), options, |_| {}).await;
                        assert_exactly_once(&entries, total);
                        stop.send(true).unwrap();
                        for worker in serving {
                            worker.await.unwrap().unwrap();
                        }
                        run.remove(&js, &boundaries, false).await.unwrap();
                        entries.sort_by_key(|e| e.seq);
                        entries
                            .into_iter()
                            .flat_map(|entry| match entry.outcome {
                                Outcome::Items(items) => items,
                                Outcome::Failed(failure) => panic!("{failure:?}"),
                            })
                            .collect::<Vec<Item>>()
                    });
                    prop_assert_eq!(remote, local);
                    Ok(())
                },
            )
            .unwrap();
    });
}

/// Runs `items` through a [`Remote`] stage served by one worker of 2
/// replicas doubling them (`stage`), and returns how many items a message
/// carried at the end and how many messages the worker acknowledged.
fn through_remote(name: &str, stage: Doubler, items: i64, options: HopOptions) -> (usize, u64) {
    use baton_nats::Remote;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = Server::start();
    let client = runtime.block_on(connect(&server.url()));
    let _context = runtime.enter();
    let js = baton_nats::jetstream(&client);
    let run = Topology::new(name, memory()).unwrap();
    let boundaries = [Boundary::stage("double"), Boundary::Sink];
    runtime
        .block_on(run.prepare(&js, &boundaries, Leftover::Fail))
        .unwrap();
    let (stop, stops) = tokio::sync::watch::channel(false);
    let worker = spawn_worker(&client, &run, stage, stops);
    let remote = runtime
        .block_on(Remote::open(
            &js,
            &run,
            Boundary::stage("double"),
            Boundary::Sink,
            options,
        ))
        .unwrap();
    let builder = Pipeline::from_iter(values(items)).stage("double", Mode::parallel(8).blocking());
    let doubled: Vec<i64> = remote
        .stage(false)
        .attach(builder)
        .collect()
        .expect("the run")
        .iter()
        .map(|item| item.get("doubled").unwrap().as_i64().unwrap())
        .collect();
    assert_eq!(doubled, (0..items).map(|v| v * 2).collect::<Vec<_>>());
    let message_items = remote.message_items();
    remote.close();
    stop.send(true).unwrap();
    let report = runtime.block_on(worker).unwrap().unwrap();
    assert_eq!(report.items, items as u64);
    (message_items, report.messages)
}

#[test]
fn messages_carry_many_cheap_items_and_few_slow_ones() {
    common::watchdog(LIMIT, || {
        let options = HopOptions {
            window: 65_536,
            ..HopOptions::default()
        };
        let start = options.chunk_items;

        // Cheap items: messages grow well past where they start.
        let items = 200_000;
        let (cheap, messages) = through_remote("cheap", Doubler::default(), items, options);
        // (The bound is loose: on a loaded machine a descheduled replica
        // makes items look dearer than they are.)
        assert!(cheap > start, "{cheap} cheap items a message");
        assert!(
            messages < items as u64 / start as u64,
            "{messages} messages for {items} items: they did not grow"
        );

        // Items of 5 ms: about 20 ms of work a message, 4 items.
        let slow = Doubler {
            sleep: Duration::from_millis(5),
            ..Doubler::default()
        };
        let (few, _) = through_remote("slow", slow, 600, options);
        assert!((1..=4).contains(&few), "{few} slow items a message");

        // Without `message_work`, the count stays put.
        let fixed = HopOptions {
            message_work: None,
            ..options
        };
        let (count, messages) = through_remote("fixed", Doubler::default(), 20_000, fixed);
        assert_eq!(count, start);
        assert!(messages >= 20_000 / start as u64, "{messages} messages");
    });
}

#[test]
fn a_collector_behind_many_large_messages_is_not_cut_off_as_a_slow_consumer() {
    run_async(LIMIT, || async {
        // The server keeps at most 40 MB on its way to a client; past it,
        // it cuts the client off ("slow consumer") and what was on the way
        // waits for its ack wait. A pull bounded only by its count of
        // messages (200 of up to 8 MiB) asks for far more than that.
        let server = Server::start_with(ServerSetup {
            limits: Some((8 << 20, 40_000_000)),
            ..ServerSetup::default()
        });
        let client = connect(&server.url()).await;
        let js = baton_nats::jetstream(&client);
        let run = Topology::new("large", memory()).unwrap();
        let boundaries = [Boundary::stage("double"), Boundary::Sink];
        run.prepare(&js, &boundaries, Leftover::Fail).await.unwrap();
        let (stop, stops) = tokio::sync::watch::channel(false);
        let worker = spawn_worker(&client, &run, Doubler::default(), stops);

        // 1,200 items of 64 KiB (75 MiB), all worked before the collector
        // reads any: they wait in the sink's stream, for one pull.
        let count = 1200;
        let items = (0..count).map(|v| {
            let mut item = Item::with_field("value", v);
            item.payload = Payload::Bytes(vec![v as u8; 64 << 10]);
            item
        });
        let options = HopOptions {
            window: 4096,
            ..HopOptions::default()
        };
        let (mut feeder, mut collector) = hop(
            &js,
            &run,
            Boundary::stage("double"),
            Boundary::Sink,
            options,
        )
        .await
        .unwrap();
        for item in items {
            feeder.feed(item).await.unwrap();
        }
        feeder.finish().await.unwrap();
        while worker_stats(&js, &run)
            .await
            .unwrap()
            .iter()
            .map(|w| w.items)
            .sum::<u64>()
            < count as u64
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let mut entries = Vec::new();
        while let Some(entry) = collector.next().await {
            entries.push(entry.expect("an entry"));
        }
        assert_exactly_once(&entries, count as u64);
        assert_doubled(&entries);
        let connects = client
            .statistics()
            .connects
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(connects, 1, "the server cut the client off");
        stop.send(true).unwrap();
        worker.await.unwrap().unwrap();
    });
}

#[test]
fn what_a_worker_of_a_replaced_run_publishes_late_is_dropped_and_takes_no_id() {
    run_async(LIMIT, || async {
        let server = Server::start();
        let client = connect(&server.url()).await;
        let js = baton_nats::jetstream(&client);
        let run = Topology::new("again", memory()).unwrap();
        let boundaries = [Boundary::stage("double"), Boundary::Sink];
        run.prepare(&js, &boundaries, Leftover::Fail).await.unwrap();
        let old = run.epoch(&js, &Boundary::Sink).await.unwrap();
        // The driver crashed; a new one replaces the run's streams.
        run.prepare(&js, &boundaries, Leftover::Replace)
            .await
            .unwrap();
        let new = run.epoch(&js, &Boundary::Sink).await.unwrap();
        assert!(!old.is_empty());
        assert_ne!(old, new);

        // A worker of the old run, still alive, publishes its last outputs
        // into the new sink stream: wrong values for sequence numbers 0-9,
        // under the id the old code gave them and under the old epoch's.
        let wrong: Vec<_> = (0..10u64)
            .map(|seq| {
                let item = Item::with_field("value", -1);
                baton_nats::wire::encode_entry(&Entry::items(seq, vec![item])).unwrap()
            })
            .collect();
        let chunk = baton_nats::wire::pack(wrong, 1 << 20).unwrap().remove(0);
        let id = run.message_id(&Boundary::Sink, 0, 9, 10);
        for (id, epoch) in [(id.clone(), None), (format!("{id}@{old}"), Some(&old))] {
            let mut message = async_nats::jetstream::message::PublishMessage::build()
                .payload(chunk.body.clone())
                .message_id(&id);
            if let Some(epoch) = epoch {
                message = message.header("Baton-Epoch", epoch.as_str());
            }
            js.send_publish(run.subject(&Boundary::Sink), message)
                .await
                .unwrap()
                .await
                .unwrap();
        }

        let (stop, stops) = tokio::sync::watch::channel(false);
        let worker = spawn_worker(&client, &run, Doubler::default(), stops);
        let options = HopOptions {
            chunk_items: 10,
            ..HopOptions::default()
        };
        let js = baton_nats::jetstream(&client);
        let (mut feeder, mut collector) = hop(
            &js,
            &run,
            Boundary::stage("double"),
            Boundary::Sink,
            options,
        )
        .await
        .unwrap();
        for item in values(100) {
            feeder.feed(item).await.unwrap();
        }
        feeder.finish().await.unwrap();
        let mut entries = Vec::new();
        while let Some(entry) = collector.next().await {
            entries.push(entry.expect("an entry"));
        }
        assert_exactly_once(&entries, 100);
        assert_doubled(&entries);
        assert_eq!(collector.stale(), 2, "both late messages were dropped");
        stop.send(true).unwrap();
        worker.await.unwrap().unwrap();
    });
}
