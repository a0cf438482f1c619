//! Stress: hundreds of small random pipelines, seeded so a failure can be
//! replayed, mixing modes, blocking stages, tight bounds, endless sources
//! with `take`, stops, aborts and early drops; every result is checked
//! against the sequential computation.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use baton_engine::{Config, OnError, Pipeline, PipelineError};
use common::model::{Fallible, ModeSpec, Model, Op, StageSpec};
use common::{eventually, sorted, watchdog, LIMIT};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ROUNDS: usize = 300;

fn random_mode(rng: &mut ChaCha8Rng) -> ModeSpec {
    match rng.gen_range(0..11) {
        0 | 1 => ModeSpec::SerialInOrder,
        2 | 3 => ModeSpec::Serial,
        4..=7 => ModeSpec::Parallel(rng.gen_range(1..5)),
        8 => ModeSpec::Blocking(rng.gen_range(1..4)),
        9 => ModeSpec::AutoBlocking,
        _ => ModeSpec::SerialBlocking,
    }
}

fn random_op(rng: &mut ChaCha8Rng) -> Op {
    match rng.gen_range(0..5) {
        0 => Op::Map {
            kind: rng.gen(),
            k: rng.gen(),
        },
        1 => {
            let m = rng.gen_range(2..6);
            Op::Filter {
                m,
                r: rng.gen_range(0..m),
            }
        }
        2 => Op::FlatMap { salt: rng.gen() },
        3 => Op::Batch {
            size: rng.gen_range(1..12),
            builtin_unbatch: rng.gen(),
        },
        _ => Op::Inspect,
    }
}

fn random_model(rng: &mut ChaCha8Rng, fallible: Option<OnError>) -> Model {
    let stages: Vec<StageSpec> = (0..rng.gen_range(1..=5))
        .map(|_| StageSpec {
            op: random_op(rng),
            mode: random_mode(rng),
            buffer: rng.gen_bool(0.3).then(|| rng.gen_range(0..8)),
        })
        .collect();
    let fallible = fallible.map(|policy| {
        let m = rng.gen_range(2..12);
        Fallible {
            at: rng.gen_range(0..=stages.len()),
            m,
            r: rng.gen_range(0..m),
            mode: random_mode(rng),
            policy,
        }
    });
    Model {
        stages,
        cost: rng.gen_range(0..30),
        fallible,
    }
}

fn random_config(rng: &mut ChaCha8Rng) -> Config {
    let mut config = Config::default()
        .threads(rng.gen_range(1..=3))
        .max_in_flight(rng.gen_range(1..=256))
        .max_chunk(rng.gen_range(1..=32));
    if rng.gen_bool(0.5) {
        config = config.max_chunks_in_flight(rng.gen_range(1..=12));
    }
    config
}

/// Records what an in-order sink sees.
fn recorder() -> (Arc<Mutex<Vec<u64>>>, impl FnMut(u64) + Send + 'static) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    (seen, move |x| sink.lock().unwrap().push(x))
}

fn taken(seen: &Arc<Mutex<Vec<u64>>>) -> Vec<u64> {
    std::mem::take(&mut *seen.lock().unwrap())
}

/// One random run to a sink; panics, naming the round, if the result is wrong.
fn sink_round(round: usize, rng: &mut ChaCha8Rng) {
    let config = random_config(rng);
    let scenario = rng.gen_range(0..7);
    let context =
        |model: &Model| format!("round {round}, scenario {scenario}, {config:?}, {model:?}");
    // Shown only if the test fails: the round that hung is the last one.
    eprintln!("round {round}, scenario {scenario}");
    match scenario {
        // A finite source, collected.
        0 => {
            let model = random_model(rng, None);
            let n = rng.gen_range(0..=200);
            let out = model
                .build(Pipeline::from_iter(0..n).config(config.clone()))
                .collect();
            assert_eq!(
                out.unwrap(),
                model.expected(n, true).values(),
                "{}",
                context(&model)
            );
        }
        // A finite source, to an unordered sink, and folded.
        1 => {
            let model = random_model(rng, None);
            let n = rng.gen_range(0..=200);
            let (seen, sink) = recorder();
            model
                .build(Pipeline::from_iter(0..n).config(config.clone()))
                .for_each_unordered(sink)
                .unwrap();
            let expected = model.expected(n, true).values();
            assert_eq!(
                sorted(&taken(&seen)),
                sorted(&expected),
                "{}",
                context(&model)
            );
            let sum = model
                .build(Pipeline::from_iter(0..n).config(config.clone()))
                .fold(0u64, u64::wrapping_add);
            assert_eq!(
                sum.unwrap(),
                expected.iter().fold(0u64, |a, x| a.wrapping_add(*x)),
                "{}",
                context(&model)
            );
        }
        // An endless source cut by take.
        2 => {
            let model = random_model(rng, None);
            let k = rng.gen_range(0..=200);
            let out = model
                .build(Pipeline::from_iter(0u64..).config(config.clone()))
                .take(k)
                .collect();
            assert_eq!(
                out.unwrap(),
                model.expected_prefix(k),
                "{}",
                context(&model)
            );
        }
        // An endless source, stopped: everything the source made reaches the sink.
        3 => {
            let model = random_model(rng, None);
            let (seen, sink) = recorder();
            let run = model
                .build(Pipeline::from_iter(0u64..).config(config.clone()))
                .spawn_for_each(sink)
                .unwrap();
            let want = rng.gen_range(0..50);
            assert!(
                eventually(LIMIT, || seen.lock().unwrap().len() >= want),
                "{}",
                context(&model)
            );
            run.stop();
            let report = run.join().unwrap();
            let made = report.stats.source.items;
            assert_eq!(
                taken(&seen),
                model.expected(made, true).values(),
                "{} (made {made})",
                context(&model)
            );
        }
        // An endless source, aborted: the sink saw a prefix.
        4 => {
            let model = random_model(rng, None);
            let (seen, sink) = recorder();
            let run = model
                .build(Pipeline::from_iter(0u64..).config(config.clone()))
                .spawn_for_each(sink)
                .unwrap();
            let want = rng.gen_range(0..50);
            assert!(
                eventually(LIMIT, || seen.lock().unwrap().len() >= want),
                "{}",
                context(&model)
            );
            run.handle().abort();
            assert!(
                matches!(run.join(), Err(PipelineError::Aborted)),
                "{}",
                context(&model)
            );
            let seen = taken(&seen);
            assert_eq!(
                seen,
                model.expected_prefix(seen.len()),
                "{}",
                context(&model)
            );
        }
        // A fallible stage under Skip.
        5 => {
            let model = random_model(rng, Some(OnError::Skip));
            let n = rng.gen_range(0..=200);
            let (seen, sink) = recorder();
            let report = model
                .build(Pipeline::from_iter(0..n).config(config.clone()))
                .for_each(sink)
                .unwrap();
            let expected = model.expected(n, true);
            assert_eq!(taken(&seen), expected.values(), "{}", context(&model));
            let dead: Vec<(u64, u64)> = report
                .dead_letters
                .iter()
                .map(|d| (d.seq, *d.item::<u64>().unwrap()))
                .collect();
            assert_eq!(
                sorted(&dead),
                sorted(&expected.failed),
                "{}",
                context(&model)
            );
        }
        // A fallible stage under Fail.
        _ => {
            let model = random_model(rng, Some(OnError::Fail));
            let n = rng.gen_range(0..=200);
            let expected = model.expected(n, true);
            match model
                .build(Pipeline::from_iter(0..n).config(config.clone()))
                .collect()
            {
                Ok(out) => {
                    assert!(expected.failed.is_empty(), "{}", context(&model));
                    assert_eq!(out, expected.values(), "{}", context(&model));
                }
                Err(PipelineError::Stage { stage, seq, .. }) => {
                    assert_eq!(stage, Fallible::NAME, "{}", context(&model));
                    assert!(
                        expected.failed.iter().any(|(s, _)| *s == seq),
                        "seq {seq}: {}",
                        context(&model)
                    );
                }
                Err(other) => panic!("{other}: {}", context(&model)),
            }
        }
    }
}

/// One random run read through an iterator.
fn iterator_round(round: usize, rng: &mut ChaCha8Rng) {
    let config = random_config(rng);
    let scenario = rng.gen_range(0..5);
    let model = random_model(rng, None);
    let context = format!("round {round}, scenario {scenario}, {config:?}, {model:?}");
    // Shown only if the test fails: the round that hung is the last one.
    eprintln!("{context}");
    let endless = || model.build(Pipeline::from_iter(0u64..).config(config.clone()));
    // A model can drop every item (two filters that together keep nothing):
    // reading from its endless run would then wait for ever, rightly.
    let gives_items = !model.expected(4096, false).values().is_empty();
    let how_many_to_read = |rng: &mut ChaCha8Rng| {
        let read = rng.gen_range(0..=50);
        if gives_items {
            read
        } else {
            0
        }
    };
    match scenario {
        // A finite source, read to the end, in order and not.
        0 => {
            let n = rng.gen_range(0..=200);
            let expected = model.expected(n, true).values();
            let out: Result<Vec<u64>, _> = model
                .build(Pipeline::from_iter(0..n).config(config.clone()))
                .into_iter()
                .collect();
            assert_eq!(sorted(&out.unwrap()), sorted(&expected), "{context}");
            let out: Result<Vec<u64>, _> = model
                .build(Pipeline::from_iter(0..n).config(config.clone()))
                .into_iter_unordered()
                .collect();
            assert_eq!(sorted(&out.unwrap()), sorted(&expected), "{context}");
        }
        // An endless source, read a little, then dropped (or dropped unread).
        1 => {
            let read = how_many_to_read(rng);
            let mut iter = endless().into_iter();
            let out: Vec<u64> = iter.by_ref().take(read).map(Result::unwrap).collect();
            assert_eq!(
                sorted(&out).len(),
                model.expected_prefix(read).len(),
                "{context}"
            );
            drop(iter);
            drop(endless().into_iter_unordered());
        }
        // An endless source, read a little, then stopped: the rest drains.
        2 => {
            let read = how_many_to_read(rng);
            let mut iter = endless().into_iter();
            let mut out: Vec<u64> = iter.by_ref().take(read).map(Result::unwrap).collect();
            iter.handle().expect("a handle while it runs").stop();
            out.extend(iter.by_ref().map(Result::unwrap));
            let made = iter
                .report()
                .expect("a report at the end")
                .stats
                .source
                .items;
            assert_eq!(
                sorted(&out),
                sorted(&model.expected(made, true).values()),
                "{context} (made {made})"
            );
        }
        // An endless source, read a little, then aborted: a prefix, then Aborted.
        3 => {
            let read = how_many_to_read(rng);
            let mut iter = endless().into_iter();
            let mut out: Vec<u64> = iter.by_ref().take(read).map(Result::unwrap).collect();
            iter.handle().expect("a handle while it runs").abort();
            let mut last = None;
            for item in iter.by_ref() {
                match item {
                    Ok(x) => out.push(x),
                    Err(e) => last = Some(e),
                }
            }
            assert!(
                matches!(last, Some(PipelineError::Aborted)),
                "{context}: {last:?}"
            );
        }
        // An endless source cut by take, read through the iterator.
        _ => {
            let k = rng.gen_range(0..=200);
            let out: Result<Vec<u64>, _> = endless().take(k).into_iter().collect();
            assert_eq!(
                sorted(&out.unwrap()),
                sorted(&model.expected_prefix(k)),
                "{context}"
            );
        }
    }
}

#[test]
fn random_runs_to_sinks() {
    watchdog(LIMIT, || {
        let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0001);
        for round in 0..ROUNDS {
            sink_round(round, &mut rng);
        }
    });
}

#[test]
fn random_runs_through_iterators() {
    watchdog(LIMIT, || {
        let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0002);
        for round in 0..ROUNDS {
            iterator_round(round, &mut rng);
        }
    });
}

/// Many runs at once, sharing the machine: each must still be right.
#[test]
fn concurrent_runs() {
    watchdog(LIMIT, || {
        let failures = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let failures = Arc::clone(&failures);
                std::thread::spawn(move || {
                    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0100 + t);
                    for round in 0..40 {
                        let model = random_model(&mut rng, None);
                        let config = random_config(&mut rng);
                        let n = rng.gen_range(0..=300);
                        let out = model
                            .build(Pipeline::from_iter(0..n).config(config))
                            .collect();
                        if out.ok() != Some(model.expected(n, true).values()) {
                            eprintln!("thread {t} round {round}: wrong result for {model:?}");
                            failures.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(failures.load(Ordering::SeqCst), 0);
    });
}
