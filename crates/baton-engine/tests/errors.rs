//! Failures: fail-fast with the stage's name and the item's sequence
//! number, panics caught as failures, skip to the dead letters, retry, and
//! runs that fail without hanging or leaving threads behind.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use baton_engine::{
    BoxError, Config, DeadLetter, Interleave, Mode, OnError, Pipeline, PipelineError, RunReport,
    StageFailure,
};
use common::{
    eventually, quiet_intended_panics, sorted, thread_count, thread_names, watchdog, INTENDED,
    LIMIT,
};

/// Tests take it shared; the one that counts the process's threads takes it
/// alone, so no other test's threads come and go while it counts.
static THREADS: RwLock<()> = RwLock::new(());

fn run<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    let _shared = THREADS.read().unwrap_or_else(|e| e.into_inner());
    quiet_intended_panics();
    watchdog(LIMIT, body)
}

/// The modes a failing stage is tried in.
fn modes() -> Vec<Mode> {
    vec![
        Mode::parallel(4),
        Mode::parallel(1),
        Mode::serial(),
        Mode::serial_in_order(),
        Mode::parallel(3).blocking(),
        Mode::serial_in_order().blocking(),
    ]
}

fn configs() -> Vec<Config> {
    vec![
        Config::default(),
        Config::default().max_chunk(1),
        Config::default().threads(1).max_in_flight(3),
        Config::default()
            .threads(3)
            .max_chunk(5)
            .max_chunks_in_flight(2),
    ]
}

/// Takes apart a stage failure, or panics saying what came instead.
fn stage_failure<T: std::fmt::Debug>(
    result: Result<T, PipelineError>,
) -> (String, u64, StageFailure) {
    match result {
        Err(PipelineError::Stage {
            stage,
            seq,
            failure,
        }) => (stage, seq, failure),
        other => {
            let mut shown = format!("{other:?}");
            shown.truncate(300);
            panic!("expected a stage failure, got {shown}")
        }
    }
}

fn fail_on(bad: u64) -> impl Fn(u64) -> Result<u64, BoxError> + Send + Sync + 'static {
    move |x| {
        if x == bad {
            Err(format!("bad item {x}").into())
        } else {
            Ok(x)
        }
    }
}

// ---------------------------------------------------------------- fail fast

#[test]
fn fail_fast_names_the_stage_and_the_exact_seq() {
    run(|| {
        for config in configs() {
            for mode in modes() {
                let result = Pipeline::from_iter(0..3_000u64)
                    .config(config.clone())
                    .map(Mode::parallel(2), |x| x)
                    .stage("check", mode)
                    .try_map(fail_on(777))
                    .collect();
                let (stage, seq, failure) = stage_failure(result);
                assert_eq!((stage.as_str(), seq), ("check", 777), "{mode} {config:?}");
                assert!(matches!(failure, StageFailure::Error(_)), "{failure:?}");
                assert_eq!(failure.to_string(), "bad item 777");
            }
        }
    });
}

#[test]
fn the_error_message_names_stage_item_and_cause() {
    run(|| {
        let error = Pipeline::from_iter(0..100u64)
            .stage("check", Mode::parallel(2))
            .try_map(fail_on(42))
            .for_each(|_| {})
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "stage `check` failed on item 42: bad item 42"
        );
        let source = std::error::Error::source(&error).expect("the failure is the error's source");
        assert_eq!(source.to_string(), "bad item 42");
    });
}

#[test]
fn fail_fast_through_every_end() {
    run(|| {
        let pipeline = || {
            Pipeline::from_iter(0..2_000u64)
                .map(Mode::parallel(3), |x| x)
                .stage("check", Mode::parallel(3))
                .try_map(fail_on(1_234))
        };
        let expect = |result: Result<(), PipelineError>, end: &str| {
            let (stage, seq, _) = stage_failure(result);
            assert_eq!((stage.as_str(), seq), ("check", 1_234), "{end}");
        };
        expect(pipeline().collect().map(drop), "collect");
        expect(pipeline().fold(0u64, |a, x| a + x).map(drop), "fold");
        expect(pipeline().reduce(|a, b| a + b).map(drop), "reduce");
        expect(pipeline().for_each(|_| {}).map(drop), "for_each");
        expect(
            pipeline().for_each_unordered(|_| {}).map(drop),
            "for_each_unordered",
        );
        expect(
            pipeline().spawn_for_each(|_| {}).unwrap().join().map(drop),
            "spawn_for_each",
        );
        // The iterator yields a prefix in order, then the error, then nothing.
        for unordered in [false, true] {
            let mut iter = if unordered {
                pipeline().into_iter_unordered()
            } else {
                pipeline().into_iter()
            };
            let mut items = Vec::new();
            let error = loop {
                match iter.next() {
                    Some(Ok(item)) => items.push(item),
                    Some(Err(error)) => break error,
                    None => panic!("the iterator ended without the error"),
                }
            };
            expect(Err(error), "into_iter");
            assert!(iter.next().is_none());
            assert!(items.iter().all(|x| *x != 1_234));
            if !unordered {
                assert_eq!(items, (0..items.len() as u64).collect::<Vec<_>>());
            }
        }
    });
}

#[test]
fn with_several_failing_items_the_error_names_one_of_them() {
    run(|| {
        let bad = |x: u64| x % 100 == 37;
        for config in configs() {
            for mode in modes() {
                let result = Pipeline::from_iter(0..5_000u64)
                    .config(config.clone())
                    .map(Mode::parallel(4), |x| x)
                    .stage("check", mode)
                    .try_map(move |x| if bad(x) { Err("bad".into()) } else { Ok(x) })
                    .collect();
                let (stage, seq, _) = stage_failure(result);
                assert_eq!(stage, "check");
                assert!(bad(seq), "{mode}: seq {seq} is not a failing item");
            }
        }
    });
}

#[test]
fn the_seq_is_the_source_items_after_filter_flat_map_and_batch() {
    run(|| {
        // After a filter: the item's own number, not its place in the filtered stream.
        let result = Pipeline::from_iter(0..5_000u64)
            .filter(Mode::parallel(2), |x| x % 3 == 0)
            .stage("check", Mode::parallel(2))
            .try_map(fail_on(2_997))
            .collect();
        assert_eq!(stage_failure(result).1, 2_997);
        // After a flat_map: every output carries its input's number.
        let result = Pipeline::from_iter(0..1_000u64)
            .flat_map(Mode::parallel(2), |x| [x * 10, x * 10 + 1, x * 10 + 2])
            .stage("check", Mode::parallel(2))
            .try_map(fail_on(4_321))
            .collect();
        assert_eq!(stage_failure(result).1, 432);
        // After a batch: the number of its first item.
        let result = Pipeline::from_iter(0..1_000u64)
            .batch(10)
            .stage("check", Mode::parallel(2))
            .try_map(|b: Vec<u64>| {
                if b.contains(&555) {
                    Err("bad batch".into())
                } else {
                    Ok(b)
                }
            })
            .collect();
        assert_eq!(stage_failure(result).1, 550);
        // After a skip of a failed source item.
        let items = (0..100u64).map(|i| if i == 5 { Err("bad line") } else { Ok(i) });
        let result = Pipeline::from_results(items)
            .source_on_error(OnError::Skip)
            .stage("check", Mode::parallel(2))
            .try_map(fail_on(50))
            .collect();
        assert_eq!(stage_failure(result).1, 50);
    });
}

#[test]
fn a_failure_on_an_endless_source_ends_the_run() {
    run(|| {
        for mode in modes() {
            let result = Pipeline::from_iter(0u64..)
                .map(Mode::parallel(2), |x| x)
                .stage("check", mode)
                .try_map(fail_on(20_000))
                .for_each(|_| {});
            assert_eq!(stage_failure(result).1, 20_000, "{mode}");
        }
    });
}

#[test]
fn a_source_that_panics_fails_the_run_at_that_item() {
    run(|| {
        let items = (0u64..).map(|i| {
            if i == 10 {
                panic!("{INTENDED} in the source")
            } else {
                i
            }
        });
        let result = Pipeline::from_iter(items)
            .name_source("numbers")
            .map(Mode::parallel(2), |x| x)
            .collect();
        let (stage, seq, failure) = stage_failure(result);
        assert_eq!((stage.as_str(), seq), ("numbers", 10));
        assert!(
            matches!(&failure, StageFailure::Panic(m) if m.contains(INTENDED)),
            "{failure:?}"
        );
    });
}

// ---------------------------------------------------------------- panics

fn boom(at: u64) -> impl Fn(u64) -> bool + Send + Sync + Clone + 'static {
    move |x| {
        if x == at {
            panic!("{INTENDED} at {x}");
        }
        true
    }
}

fn expect_panic<T: std::fmt::Debug>(result: Result<T, PipelineError>, stage: &str, seq: u64) {
    let (got_stage, got_seq, failure) = stage_failure(result);
    assert_eq!((got_stage.as_str(), got_seq), (stage, seq), "{failure}");
    match failure {
        StageFailure::Panic(message) => assert_eq!(message, format!("{INTENDED} at {seq}")),
        other => panic!("expected a panic, got {other:?}"),
    }
}

#[test]
fn panics_in_user_code_are_stage_failures() {
    run(|| {
        for mode in [
            Mode::parallel(3),
            Mode::serial(),
            Mode::serial_in_order(),
            Mode::parallel(2).blocking(),
        ] {
            let p = boom(700);
            let source = || Pipeline::from_iter(0..2_000u64).map(Mode::parallel(2), |x| x);
            let b = p.clone();
            expect_panic(
                source()
                    .stage("m", mode)
                    .map(move |x| b(x).then_some(x))
                    .collect(),
                "m",
                700,
            );
            let b = p.clone();
            expect_panic(
                source()
                    .stage("t", mode)
                    .try_map(move |x| Ok(b(x)))
                    .collect(),
                "t",
                700,
            );
            let b = p.clone();
            expect_panic(
                source().stage("f", mode).filter(move |x| b(*x)).collect(),
                "f",
                700,
            );
            let b = p.clone();
            expect_panic(
                source()
                    .stage("i", mode)
                    .inspect(move |x| {
                        b(*x);
                    })
                    .collect(),
                "i",
                700,
            );
            let b = p.clone();
            expect_panic(
                source()
                    .stage("fm", mode)
                    .flat_map(move |x| vec![b(x); 2])
                    .collect(),
                "fm",
                700,
            );
            let b = p.clone();
            expect_panic(
                source()
                    .stage("fi", mode)
                    .filter_map(move |x| b(x).then_some(x))
                    .collect(),
                "fi",
                700,
            );
            let b = p.clone();
            expect_panic(
                source()
                    .stage("mi", mode)
                    .map_init(|| 0u64, move |_, x| b(x))
                    .collect(),
                "mi",
                700,
            );
        }
        let source = || Pipeline::from_iter(0..2_000u64).map(Mode::parallel(2), |x| x);
        let b = boom(700);
        let result = source()
            .stage("state", Mode::serial_in_order())
            .map_with(0u64, move |_, x| b(x))
            .collect();
        expect_panic(result, "state", 700);
        let b = boom(700);
        expect_panic(
            source().for_each(move |x| {
                b(x);
            }),
            "sink",
            700,
        );
        let b = boom(700);
        expect_panic(
            source().for_each_unordered(move |x| {
                b(x);
            }),
            "sink",
            700,
        );
        let b = boom(700);
        expect_panic(
            source().stage("print", Mode::serial()).for_each(move |x| {
                b(x);
            }),
            "print",
            700,
        );
        let b = boom(700);
        expect_panic(
            source().fold(0u64, move |a, x| a + u64::from(b(x))),
            "sink",
            700,
        );
        let b = boom(700);
        expect_panic(
            source().reduce(move |a, x| a + u64::from(b(x))),
            "sink",
            700,
        );
        let b = boom(700);
        let mut iter = source().stage("m", Mode::parallel(2)).map(b).into_iter();
        let error = iter.find_map(Result::err).expect("the error comes last");
        expect_panic::<()>(Err(error), "m", 700);
    });
}

#[test]
fn a_panicking_replica_factory_fails_the_run() {
    run(|| {
        for mode in [
            Mode::parallel(2),
            Mode::serial(),
            Mode::parallel(2).blocking(),
        ] {
            let result = Pipeline::from_iter(0..100u64)
                .stage("init", mode)
                .map_init(|| -> u64 { panic!("{INTENDED} in init") }, |s, x| x + *s)
                .collect();
            let (stage, _, failure) = stage_failure(result);
            assert_eq!(stage, "init", "{mode}");
            assert!(
                matches!(&failure, StageFailure::Panic(m) if m.contains(INTENDED)),
                "{failure:?}"
            );
        }
    });
}

// ---------------------------------------------------------------- skip

/// Runs a pipeline to its end with an in-order `for_each` sink; returns what
/// the sink saw and the report (with the dead letters).
fn run_to_end<T: Send + 'static>(pipeline: Pipeline<T>) -> (Vec<T>, RunReport) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let report = pipeline
        .for_each(move |item| sink.lock().unwrap().push(item))
        .unwrap();
    let items = std::mem::take(&mut *seen.lock().unwrap());
    (items, report)
}

fn seqs(letters: &[DeadLetter]) -> Vec<u64> {
    sorted(&letters.iter().map(|d| d.seq).collect::<Vec<_>>())
}

#[test]
fn skip_sends_every_failing_item_to_the_dead_letters() {
    run(|| {
        let bad = |x: u64| x % 7 == 3;
        let crash = |x: u64| x % 11 == 5 && x % 7 != 3;
        for config in configs() {
            for mode in modes() {
                let pipeline = Pipeline::from_iter(0..3_000u64)
                    .config(config.clone())
                    .map(Mode::parallel(3), |x| x)
                    .stage("parse", mode)
                    .on_error(OnError::Skip)
                    .try_map(move |x| {
                        if crash(x) {
                            panic!("{INTENDED} at {x}");
                        }
                        if bad(x) {
                            Err(format!("bad {x}").into())
                        } else {
                            Ok(x * 2)
                        }
                    });
                let (out, report) = run_to_end(pipeline);
                let expected: Vec<u64> = (0..3_000u64)
                    .filter(|x| !bad(*x) && !crash(*x))
                    .map(|x| x * 2)
                    .collect();
                assert_eq!(out, expected, "{mode} {config:?}");
                let dead = &report.dead_letters;
                let failing: Vec<u64> = (0..3_000u64).filter(|x| bad(*x) || crash(*x)).collect();
                assert_eq!(seqs(dead), failing, "{mode}");
                for letter in dead {
                    assert_eq!(letter.stage, "parse");
                    assert_eq!(letter.item::<u64>(), Some(&letter.seq), "the item is kept");
                    assert_eq!(letter.item::<String>(), None, "of its own type only");
                    match &letter.failure {
                        StageFailure::Error(e) => {
                            assert!(bad(letter.seq));
                            assert_eq!(e.to_string(), format!("bad {}", letter.seq));
                        }
                        StageFailure::Panic(m) => {
                            assert!(crash(letter.seq));
                            assert_eq!(m, &format!("{INTENDED} at {}", letter.seq));
                        }
                        other => panic!("unexpected failure {other:?}"),
                    }
                }
                let parse = report.stage("parse").unwrap();
                assert_eq!(parse.skipped, failing.len() as u64);
                assert_eq!(parse.errors, failing.len() as u64);
            }
        }
    });
}

#[test]
fn skip_in_a_sink_and_in_flat_map_keeps_the_items() {
    run(|| {
        let bad = |x: u64| x % 5 == 0;
        let (tx, rx) = std::sync::mpsc::channel();
        let mut report = Pipeline::from_iter(0..1_000u64)
            .map(Mode::parallel(2), |x| x)
            .stage("print", Mode::serial_in_order())
            .on_error(OnError::Skip)
            .for_each(move |x| {
                if bad(x) {
                    panic!("{INTENDED} at {x}");
                }
                tx.send(x).unwrap();
            })
            .unwrap();
        assert_eq!(
            rx.iter().collect::<Vec<_>>(),
            (0..1_000u64).filter(|x| !bad(*x)).collect::<Vec<_>>()
        );
        assert_eq!(
            seqs(&report.dead_letters),
            (0..1_000u64).filter(|x| bad(*x)).collect::<Vec<_>>()
        );
        for letter in &mut report.dead_letters {
            assert_eq!(letter.take_item::<u64>(), Some(letter.seq));
            assert_eq!(letter.take_item::<u64>(), None, "taken once");
        }
        let pipeline = Pipeline::from_iter(0..1_000u64)
            .stage("explode", Mode::parallel(3))
            .on_error(OnError::Skip)
            .flat_map(move |x| {
                if bad(x) {
                    panic!("{INTENDED} at {x}");
                }
                vec![x; 2]
            });
        let (out, report) = run_to_end(pipeline);
        assert_eq!(
            out,
            (0..1_000u64)
                .filter(|x| !bad(*x))
                .flat_map(|x| [x, x])
                .collect::<Vec<_>>()
        );
        let dead = &report.dead_letters;
        assert_eq!(
            seqs(dead),
            (0..1_000u64).filter(|x| bad(*x)).collect::<Vec<_>>()
        );
        assert!(dead.iter().all(|d| d.item::<u64>() == Some(&d.seq)));
    });
}

/// `OnError::Skip` says the item goes to the dead letters with its error; a
/// filter (or inspect) stage has the item at hand, and `on_error` made it
/// keep a copy (`T: Clone`), yet its dead letters come without the item.
#[test]
fn skip_in_a_filter_keeps_the_item_in_the_dead_letter() {
    run(|| {
        let pipeline = Pipeline::from_iter(0..100u64)
            .stage("even", Mode::parallel(2))
            .on_error(OnError::Skip)
            .filter(|x| {
                if x % 10 == 0 {
                    panic!("{INTENDED} at {x}");
                }
                x % 2 == 0
            });
        let (out, report) = run_to_end(pipeline);
        assert_eq!(
            out,
            (0..100u64)
                .filter(|x| x % 2 == 0 && x % 10 != 0)
                .collect::<Vec<_>>()
        );
        let dead = &report.dead_letters;
        assert_eq!(seqs(dead), (0..100u64).step_by(10).collect::<Vec<_>>());
        for letter in dead {
            assert!(matches!(letter.failure, StageFailure::Panic(_)));
            assert_eq!(
                letter.item::<u64>(),
                Some(&letter.seq),
                "the dead letter of seq {} has no item",
                letter.seq
            );
        }
    });
}

// ---------------------------------------------------------------- retry

/// A function that fails the first `failures(x)` times it sees `x`, counting
/// every try.
#[allow(clippy::type_complexity)]
fn flaky(
    failures: impl Fn(u64) -> u32 + Send + Sync + 'static,
) -> (
    Arc<Mutex<HashMap<u64, u32>>>,
    impl Fn(u64) -> Result<u64, BoxError> + Send + Sync + 'static,
) {
    let tries = Arc::new(Mutex::new(HashMap::new()));
    let log = Arc::clone(&tries);
    let f = move |x: u64| {
        let mut log = log.lock().unwrap();
        let count = log.entry(x).or_insert(0);
        *count += 1;
        if *count <= failures(x) {
            Err(format!("try {count} of {x} failed").into())
        } else {
            Ok(x + 1)
        }
    };
    (tries, f)
}

#[test]
fn retry_succeeds_when_an_item_fails_fewer_times_than_the_attempts() {
    run(|| {
        let policy = OnError::Retry {
            attempts: 3,
            backoff: Duration::from_micros(100),
        };
        for mode in [
            Mode::parallel(4),
            Mode::serial_in_order(),
            Mode::parallel(3).blocking(),
        ] {
            let failures = |x: u64| if x % 3 == 0 { (x % 4) as u32 } else { 0 };
            let (tries, f) = flaky(failures);
            let pipeline = Pipeline::from_iter(0..600u64)
                .map(Mode::parallel(2), |x| x)
                .stage("flaky", mode)
                .on_error(policy)
                .try_map(f);
            let (out, report) = run_to_end(pipeline);
            assert_eq!(out, (1..=600u64).collect::<Vec<_>>(), "{mode}");
            let tries = tries.lock().unwrap();
            for x in 0..600u64 {
                assert_eq!(tries[&x], failures(x) + 1, "{mode}: tries of {x}");
            }
            let retries: u64 = (0..600u64).map(|x| u64::from(failures(x))).sum();
            assert_eq!(report.stage("flaky").unwrap().retries, retries, "{mode}");
            assert!(report.dead_letters.is_empty());
        }
    });
}

#[test]
fn retry_fails_once_the_attempts_are_used_up() {
    run(|| {
        for attempts in [0u32, 1, 2] {
            let policy = OnError::Retry {
                attempts,
                backoff: Duration::from_micros(100),
            };
            let (tries, f) = flaky(|x| if x == 50 { u32::MAX } else { 0 });
            let result = Pipeline::from_iter(0..200u64)
                .stage("flaky", Mode::parallel(3))
                .on_error(policy)
                .try_map(f)
                .collect();
            let (stage, seq, failure) = stage_failure(result);
            assert_eq!((stage.as_str(), seq), ("flaky", 50));
            assert_eq!(
                failure.to_string(),
                format!("try {} of 50 failed", attempts + 1)
            );
            assert_eq!(
                tries.lock().unwrap()[&50],
                attempts + 1,
                "one try and {attempts} more"
            );
        }
    });
}

#[test]
fn retry_covers_panics_and_filters() {
    run(|| {
        let policy = OnError::Retry {
            attempts: 2,
            backoff: Duration::from_micros(50),
        };
        let tries = Arc::new(Mutex::new(HashMap::<u64, u32>::new()));
        let log = Arc::clone(&tries);
        let out = Pipeline::from_iter(0..300u64)
            .stage("flaky-filter", Mode::parallel(3))
            .on_error(policy)
            .filter(move |x| {
                let count = {
                    let mut log = log.lock().unwrap();
                    let count = log.entry(*x).or_insert(0);
                    *count += 1;
                    *count
                };
                if x % 10 == 0 && count <= 2 {
                    panic!("{INTENDED} at {x}");
                }
                x % 2 == 0
            })
            .collect()
            .unwrap();
        assert_eq!(out, (0..300u64).filter(|x| x % 2 == 0).collect::<Vec<_>>());
        let tries = tries.lock().unwrap();
        assert!((0..300u64).all(|x| tries[&x] == if x % 10 == 0 { 3 } else { 1 }));
    });
}

#[test]
fn retry_then_skip_retries_then_sends_to_the_dead_letters() {
    run(|| {
        let policy = OnError::RetryThenSkip {
            attempts: 2,
            backoff: Duration::from_micros(100),
        };
        // Multiples of 5 fail once (and then pass); multiples of 7 always fail.
        let failures = |x: u64| {
            if x % 7 == 0 {
                u32::MAX
            } else if x % 5 == 0 {
                1
            } else {
                0
            }
        };
        let (tries, f) = flaky(failures);
        let pipeline = Pipeline::from_iter(0..500u64)
            .map(Mode::parallel(2), |x| x)
            .stage("flaky", Mode::parallel(3))
            .on_error(policy)
            .try_map(f);
        let (out, report) = run_to_end(pipeline);
        assert_eq!(
            out,
            (0..500u64)
                .filter(|x| x % 7 != 0)
                .map(|x| x + 1)
                .collect::<Vec<_>>()
        );
        let dead = &report.dead_letters;
        assert_eq!(
            seqs(dead),
            (0..500u64).filter(|x| x % 7 == 0).collect::<Vec<_>>()
        );
        assert!(dead
            .iter()
            .all(|d| d.item::<u64>() == Some(&d.seq) && d.stage == "flaky"));
        let tries = tries.lock().unwrap();
        for x in 0..500u64 {
            let expected = if x % 7 == 0 { 3 } else { failures(x) + 1 };
            assert_eq!(tries[&x], expected, "tries of {x}");
        }
    });
}

#[test]
fn a_long_retry_backoff_does_not_hold_up_a_failed_run() {
    run(|| {
        // Item 0 waits an hour between tries in one stage; item 10 fails
        // another stage at once: the run ends with that failure, promptly.
        // (Item 0 holds up the in-order sink, so the in-flight bounds must
        // leave room for item 10 to be made.)
        let result = Pipeline::from_iter(0..1_000u64)
            .config(
                Config::default()
                    .threads(2)
                    .max_chunk(1)
                    .max_chunks_in_flight(64),
            )
            .stage("patient", Mode::parallel(2).blocking())
            .on_error(OnError::Retry {
                attempts: 5,
                backoff: Duration::from_secs(3_600),
            })
            .try_map(|x| if x == 0 { Err("not yet".into()) } else { Ok(x) })
            .stage("check", Mode::parallel(2))
            .try_map(fail_on(10))
            .collect();
        let (stage, seq, _) = stage_failure(result);
        assert_eq!((stage.as_str(), seq), ("check", 10));
        // And an abort ends a run waiting in a backoff.
        let run = Pipeline::from_iter(0..10u64)
            .stage("patient", Mode::parallel(2))
            .on_error(OnError::Retry {
                attempts: 5,
                backoff: Duration::from_secs(3_600),
            })
            .try_map(|_| -> Result<u64, BoxError> { Err("never".into()) })
            .spawn_for_each(|_| {})
            .unwrap();
        let handle = run.handle();
        assert!(eventually(LIMIT, || handle.stats().stages[0].retries > 0));
        handle.abort();
        assert!(matches!(run.join(), Err(PipelineError::Aborted)));
    });
}

// ---------------------------------------------------------------- serial and blocking stages

#[test]
fn errors_in_serial_stages() {
    run(|| {
        for mode in [
            Mode::serial_in_order(),
            Mode::serial(),
            Mode::serial_in_order().blocking(),
            Mode::serial().blocking(),
        ] {
            let b = boom(123);
            let result = Pipeline::from_iter(0..2_000u64)
                .map(Mode::parallel(4), |x| x)
                .stage("running", mode)
                .map_with(0u64, move |sum, x| {
                    b(x);
                    *sum += x;
                    *sum
                })
                .collect();
            expect_panic(result, "running", 123);
            let result = Pipeline::from_iter(0..2_000u64)
                .map(Mode::parallel(4), |x| x)
                .batch(7)
                .stage("batches", mode)
                .try_map(|b: Vec<u64>| {
                    if b[0] == 700 {
                        Err("bad batch".into())
                    } else {
                        Ok(b)
                    }
                })
                .collect();
            let (stage, seq, _) = stage_failure(result);
            assert_eq!((stage.as_str(), seq), ("batches", 700), "{mode}");
        }
    });
}

#[test]
fn a_failure_while_other_stages_block_or_wait_does_not_hang() {
    run(|| {
        // A slow blocking stage and a full queue behind a slow serial sink.
        let result = Pipeline::from_iter(0u64..)
            .config(Config::default().max_in_flight(64))
            .stage("io", Mode::parallel(4).blocking())
            .map(|x| {
                std::thread::sleep(Duration::from_micros(100));
                x
            })
            .stage("check", Mode::parallel(2))
            .buffer(1)
            .try_map(fail_on(300))
            .stage("slow", Mode::serial_in_order().blocking())
            .buffer(1)
            .map(|x| {
                std::thread::sleep(Duration::from_micros(50));
                x
            })
            .for_each(|_| {});
        assert_eq!(stage_failure(result).1, 300);
        // A failure while the consumer of an iterator is not reading.
        let mut iter = Pipeline::from_iter(0u64..)
            .stage("check", Mode::parallel(2))
            .try_map(fail_on(5_000))
            .into_iter();
        assert_eq!(iter.next().unwrap().unwrap(), 0);
        std::thread::sleep(Duration::from_millis(20));
        let error = iter.find_map(Result::err).expect("the error comes last");
        assert_eq!(stage_failure::<()>(Err(error)).1, 5_000);
    });
}

// ---------------------------------------------------------------- threads

/// Runs that fail, are aborted or are dropped in every way, so their threads
/// can be counted afterwards.
fn failing_runs() {
    let endless_shards = || (0..3u64).map(|s| (0u64..).map(move |i| s * 1_000_000 + i));
    for round in 0..8u64 {
        let bad = 100 + round * 37;
        let result = Pipeline::from_iter(0u64..)
            .stage("io", Mode::parallel(3).blocking())
            .map(|x| x)
            .stage("check", Mode::parallel(2))
            .try_map(fail_on(bad))
            .collect();
        assert_eq!(stage_failure(result).1, bad);
        let b = boom(bad);
        let result = Pipeline::interleave(endless_shards(), Interleave::new(3).parallel())
            .stage("seq", Mode::serial_in_order().blocking())
            .map(move |x| b(x % 1_000_000).then_some(x))
            .for_each(|_| {});
        assert!(matches!(result, Err(PipelineError::Stage { .. })));
        let result = Pipeline::interleave(endless_shards(), Interleave::new(3).as_ready())
            .take(50)
            .collect();
        assert_eq!(result.unwrap().len(), 50);
        let mut iter = Pipeline::from_iter(0u64..)
            .stage("check", Mode::parallel(2).blocking())
            .try_map(fail_on(bad))
            .into_iter();
        assert!(iter.find_map(Result::err).is_some());
        let mut iter =
            Pipeline::interleave(endless_shards(), Interleave::new(2).parallel()).into_iter();
        assert!(iter.next().unwrap().is_ok());
        drop(iter);
        let run = Pipeline::from_iter(0u64..)
            .stage("io", Mode::parallel(2).blocking())
            .map(|x| x)
            .spawn_for_each(|_| {})
            .unwrap();
        run.handle().abort();
        assert!(run.join().is_err());
        let run = Pipeline::from_iter(0u64..).spawn_for_each(|_| {}).unwrap();
        drop(run);
    }
}

#[test]
fn failing_runs_leave_no_threads_behind() {
    let _alone = THREADS.write().unwrap_or_else(|e| e.into_inner());
    quiet_intended_panics();
    watchdog(LIMIT, || {
        // One round first, so that anything the process starts once is there.
        failing_runs();
        std::thread::sleep(Duration::from_millis(50));
        let baseline = thread_count();
        for _ in 0..3 {
            failing_runs();
        }
        // A test thread of the harness may start meanwhile (it waits for the lock).
        let settled = eventually(Duration::from_secs(10), || thread_count() <= baseline + 2);
        assert!(
            settled,
            "threads: {baseline} before, {} after: {:?}",
            thread_count(),
            thread_names()
        );
    });
}

/// Serial stages, as the builder's stateful operators require; every item
/// visits them once, whatever the failures around.
#[test]
fn items_reach_a_skip_stage_exactly_once() {
    run(|| {
        let visits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&visits);
        let pipeline = Pipeline::from_iter(0..2_000u64)
            .stage("check", Mode::parallel(3))
            .on_error(OnError::Skip)
            .try_map(move |x| {
                counter.fetch_add(1, Ordering::SeqCst);
                if x % 3 == 0 {
                    Err("no".into())
                } else {
                    Ok(x)
                }
            });
        let (out, report) = run_to_end(pipeline);
        let out: BTreeSet<u64> = out.into_iter().collect();
        assert_eq!(out.len() + report.dead_letters.len(), 2_000);
        assert_eq!(
            visits.load(Ordering::SeqCst),
            2_000,
            "Skip tries each item once"
        );
    });
}

#[test]
fn a_stage_name_no_thread_may_bear_still_runs() {
    let out = run(|| {
        Pipeline::from_iter(0..100u32)
            .stage("fetch\0bad", Mode::parallel(2).blocking())
            .map(|x| x + 1)
            .collect()
            .unwrap()
    });
    assert_eq!(out, (1..=100).collect::<Vec<_>>());
}

#[test]
fn dead_letters_reach_their_handler_as_they_happen_even_when_the_run_then_fails() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler_seen = Arc::clone(&seen);
    let result = run(move || {
        Pipeline::from_iter(0..10_000u64)
            .on_dead_letter(move |letter| {
                let item = letter.item::<u64>().copied();
                handler_seen.lock().unwrap().push((letter.seq, item));
                Ok(())
            })
            .stage("odd", Mode::parallel(2))
            .on_error(OnError::Skip)
            .try_map(|x| if x % 2 == 1 { Err("odd".into()) } else { Ok(x) })
            .stage("late", Mode::serial_in_order())
            .try_map(|x| {
                if x == 5_000 {
                    Err("late".into())
                } else {
                    Ok(x)
                }
            })
            .for_each(|_| {})
    });
    assert!(result.is_err(), "the run fails at item 5000");
    let seen = seen.lock().unwrap();
    // Every odd item before the failure was handed over, with its item.
    for seq in (1..5_000).step_by(2) {
        assert!(seen.contains(&(seq, Some(seq))), "letter {seq} lost");
    }
    assert!(seen
        .iter()
        .all(|(seq, item)| seq % 2 == 1 && *item == Some(*seq)));
}

#[test]
fn a_dead_letter_that_cannot_be_kept_fails_the_run_at_its_item() {
    let error = run(|| {
        Pipeline::from_iter(0..100u64)
            .on_dead_letter(|letter| {
                if letter.seq == 7 {
                    Err("the disk is full".into())
                } else {
                    Ok(())
                }
            })
            .stage("odd", Mode::parallel(2))
            .on_error(OnError::Skip)
            .try_map(|x| if x % 2 == 1 { Err("odd".into()) } else { Ok(x) })
            .for_each(|_| {})
            .unwrap_err()
    });
    let text = error.to_string();
    assert!(text.contains("item 7"), "{text}");
    assert!(text.contains("the disk is full"), "{text}");
}

// ---------------------------------------------------------------- failed parts

/// Splits each item (a run of numbers) into its numbers, keeping the good
/// ones; a multiple of 7 is a failed part.
struct Parts;

impl baton_engine::Stage<Vec<u64>, u64> for Parts {
    fn process(&mut self, item: Vec<u64>, out: &mut Vec<u64>) -> Result<(), BoxError> {
        match item.iter().find(|n| *n % 7 == 0) {
            Some(n) => Err(format!("{n} is a multiple of 7").into()),
            None => {
                out.extend(item);
                Ok(())
            }
        }
    }
    fn takes_chunks(&self) -> bool {
        true
    }
    fn process_chunk(
        &mut self,
        items: Vec<Vec<u64>>,
        out: &mut baton_engine::ChunkOutputs<Vec<u64>, u64>,
    ) {
        for item in items {
            for n in item {
                if n % 7 == 0 {
                    out.part_failed(format!("{n} is a multiple of 7"), n);
                } else {
                    out.push(n);
                }
            }
            out.done();
        }
    }
}

#[test]
fn failed_parts_go_to_the_dead_letters_under_skip_and_the_rest_of_their_items_go_on() {
    run(|| {
        let items: Vec<Vec<u64>> = (0..300u64).map(|i| (i * 5..i * 5 + 5).collect()).collect();
        for mode in modes() {
            for config in configs() {
                for policy in [
                    OnError::Skip,
                    OnError::RetryThenSkip {
                        attempts: 2,
                        backoff: Duration::ZERO,
                    },
                ] {
                    let mut iter = Pipeline::from_iter(items.clone())
                        .config(config.clone())
                        .stage("parts", mode)
                        .on_error(policy)
                        .apply(|| Ok(Parts))
                        .into_iter();
                    let got: Vec<u64> = iter.by_ref().map(Result::unwrap).collect();
                    let want: Vec<u64> = (0..1500).filter(|n| n % 7 != 0).collect();
                    // The iterator keeps source order.
                    assert_eq!(got, want, "{mode} {config:?} {policy}");
                    let mut letters: Vec<(u64, u64, String)> = iter
                        .dead_letters()
                        .iter()
                        .map(|l| (l.seq, *l.item::<u64>().unwrap(), l.failure.to_string()))
                        .collect();
                    letters.sort();
                    let want: Vec<(u64, u64, String)> = (0..1500)
                        .filter(|n| n % 7 == 0)
                        .map(|n| (n / 5, n, format!("{n} is a multiple of 7")))
                        .collect();
                    assert_eq!(letters, want, "{mode} {config:?} {policy}");
                    let report = iter.report().unwrap();
                    assert_eq!(report.stats.stages[0].skipped, want.len() as u64);
                }
            }
        }
    });
}

#[test]
fn a_failed_part_fails_the_run_at_its_item_under_fail_and_retry() {
    run(|| {
        for mode in modes() {
            for policy in [
                OnError::Fail,
                OnError::Retry {
                    attempts: 2,
                    backoff: Duration::ZERO,
                },
            ] {
                let items: Vec<Vec<u64>> = vec![vec![1, 2], vec![3, 14, 5], vec![6]];
                let result = Pipeline::from_iter(items)
                    .stage("parts", mode)
                    .on_error(policy)
                    .apply(|| Ok(Parts))
                    .collect();
                let (stage, seq, failure) = stage_failure(result);
                assert_eq!(
                    (stage.as_str(), seq, failure.to_string().as_str()),
                    ("parts", 1, "14 is a multiple of 7"),
                    "{mode} {policy}"
                );
            }
        }
    });
}

// ---------------------------------------------------------------- what a failure keeps

/// Iterates to the end: the items before the error, then the error, which
/// must come last.
fn until_error<T: Send + 'static>(
    mut iter: baton_engine::PipelineIter<T>,
) -> (Vec<T>, PipelineError) {
    let mut items = Vec::new();
    let error = loop {
        match iter.next() {
            Some(Ok(item)) => items.push(item),
            Some(Err(error)) => break error,
            None => panic!("the iterator ended without the error"),
        }
    };
    assert!(iter.next().is_none(), "something came after the error");
    (items, error)
}

/// Items `0..n` in chunks of `chunk` (as far as the budget lets), checked
/// by a stage named `check` in `mode` that fails on item `bad`.
fn failing_at(n: u64, bad: u64, chunk: usize, mode: Mode) -> Pipeline<u64> {
    Pipeline::from_iter(0..n)
        .config(Config::default().max_chunk(chunk))
        .stage("check", mode)
        .min_chunk(chunk)
        .try_map(fail_on(bad))
}

fn expect_check_at(error: PipelineError, bad: u64, what: &str) {
    let (stage, seq, failure) = stage_failure::<()>(Err(error));
    assert_eq!((stage.as_str(), seq), ("check", bad), "{what}");
    assert_eq!(failure.to_string(), format!("bad item {bad}"), "{what}");
}

/// The chunk sizes tried: the failing item alone, first, inside or last in
/// its chunk, or in the one chunk of the run.
const CHUNKS: [usize; 7] = [1, 2, 3, 7, 8, 10, 100];

#[test]
fn the_iterator_yields_every_item_before_the_failing_one_then_the_error() {
    run(|| {
        for chunk in CHUNKS {
            let what = format!("chunks of {chunk}");
            let (items, error) =
                until_error(failing_at(100, 7, chunk, Mode::serial_in_order()).into_iter());
            assert_eq!(items, (0..7).collect::<Vec<_>>(), "{what}");
            expect_check_at(error, 7, &what);
            let (items, error) = until_error(
                failing_at(100, 7, chunk, Mode::serial_in_order()).into_iter_unordered(),
            );
            assert_eq!(
                sorted(&items),
                (0..7).collect::<Vec<_>>(),
                "{what}, unordered"
            );
            expect_check_at(error, 7, &what);
            // The very first item: nothing before it.
            let (items, error) =
                until_error(failing_at(100, 0, chunk, Mode::serial_in_order()).into_iter());
            assert!(items.is_empty(), "{what}: {items:?}");
            expect_check_at(error, 0, &what);
        }
    });
}

/// A sink that keeps what it is given.
struct Keep(Arc<Mutex<Vec<u64>>>);

impl baton_engine::Sink<u64> for Keep {
    fn write(&mut self, item: u64) -> Result<(), BoxError> {
        self.0.lock().unwrap().push(item);
        Ok(())
    }
}

#[test]
fn a_sink_gets_every_item_before_the_failing_one() {
    run(|| {
        for chunk in CHUNKS {
            for sink_mode in [Mode::serial_in_order(), Mode::serial()] {
                let what = format!("chunks of {chunk}, a {sink_mode} sink");
                let seen = Arc::new(Mutex::new(Vec::new()));
                let result = failing_at(100, 7, chunk, Mode::serial_in_order())
                    .stage("out", sink_mode)
                    .sink(Keep(Arc::clone(&seen)));
                expect_check_at(result.unwrap_err(), 7, &what);
                assert_eq!(*seen.lock().unwrap(), (0..7).collect::<Vec<_>>(), "{what}");
            }
            let seen = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&seen);
            let result = failing_at(100, 7, chunk, Mode::serial_in_order())
                .for_each(move |x| sink.lock().unwrap().push(x));
            expect_check_at(
                result.unwrap_err(),
                7,
                &format!("for_each, chunks of {chunk}"),
            );
            assert_eq!(*seen.lock().unwrap(), (0..7).collect::<Vec<_>>());
        }
    });
}

/// A sink that buffers what it writes until a flush, and fails on 7.
struct Buffered {
    buffer: Vec<u64>,
    written: Arc<Mutex<Vec<u64>>>,
}

impl baton_engine::Sink<u64> for Buffered {
    fn write(&mut self, item: u64) -> Result<(), BoxError> {
        fail_on(7)(item)?;
        self.buffer.push(item);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), BoxError> {
        self.written.lock().unwrap().append(&mut self.buffer);
        Ok(())
    }
}

#[test]
fn a_failing_sink_flushes_what_it_took_before_the_failing_item() {
    run(|| {
        for chunk in CHUNKS {
            let written = Arc::new(Mutex::new(Vec::new()));
            let sink = Buffered {
                buffer: Vec::new(),
                written: Arc::clone(&written),
            };
            let result = Pipeline::from_iter(0..100u64)
                .config(Config::default().max_chunk(chunk))
                .stage("check", Mode::serial_in_order())
                .min_chunk(chunk)
                .sink(sink);
            expect_check_at(result.unwrap_err(), 7, &format!("chunks of {chunk}"));
            assert_eq!(*written.lock().unwrap(), (0..7).collect::<Vec<_>>());
        }
    });
}

#[test]
fn the_stages_after_a_failing_one_see_every_item_before_it() {
    run(|| {
        for chunk in CHUNKS {
            for after in [Mode::parallel(2), Mode::serial(), Mode::serial_in_order()] {
                let what = format!("chunks of {chunk}, then a {after} stage");
                let seen = Arc::new(Mutex::new(Vec::new()));
                let inspected = Arc::clone(&seen);
                let (items, error) = until_error(
                    failing_at(100, 7, chunk, Mode::serial_in_order())
                        .inspect(after, move |x| inspected.lock().unwrap().push(*x))
                        .map(Mode::parallel(2), |x| x * 10)
                        .into_iter(),
                );
                assert_eq!(
                    sorted(&seen.lock().unwrap()),
                    (0..7).collect::<Vec<_>>(),
                    "{what}"
                );
                assert_eq!(items, (0..7).map(|x| x * 10).collect::<Vec<_>>(), "{what}");
                expect_check_at(error, 7, &what);
            }
        }
    });
}

#[test]
fn every_item_before_a_failing_item_of_any_stage_goes_on_in_order() {
    run(|| {
        for mode in modes() {
            for chunk in [1, 3, 10, 64] {
                for config in configs() {
                    let what = format!("{mode}, chunks of {chunk}, {config:?}");
                    let pipeline = || {
                        Pipeline::from_iter(0..1_000u64)
                            .config(config.clone().max_chunk(chunk))
                            .map(Mode::parallel(3), |x| x)
                            .stage("check", mode)
                            .min_chunk(chunk)
                            .try_map(fail_on(500))
                            .map(Mode::parallel(2), |x| x)
                    };
                    let (items, error) = until_error(pipeline().into_iter());
                    assert_eq!(items, (0..500).collect::<Vec<_>>(), "{what}");
                    expect_check_at(error, 500, &what);
                    // Out of order, items after it may come (before the
                    // failure), but every one before it does.
                    let (items, error) = until_error(pipeline().into_iter_unordered());
                    let items = sorted(&items);
                    assert!(!items.contains(&500), "{what}");
                    let before: Vec<u64> = items.iter().copied().filter(|x| *x < 500).collect();
                    assert_eq!(before, (0..500).collect::<Vec<_>>(), "{what}, unordered");
                    expect_check_at(error, 500, &what);
                }
            }
        }
    });
}

/// Pushes each item, then fails on `bad` after pushing it too, or panics
/// on it when `panics`.
struct PushThenFail {
    bad: u64,
    panics: bool,
}

impl baton_engine::Stage<u64, u64> for PushThenFail {
    fn process(&mut self, item: u64, out: &mut Vec<u64>) -> Result<(), BoxError> {
        out.push(item);
        if item == self.bad {
            if self.panics {
                panic!("{INTENDED} at {item}");
            }
            return Err(format!("bad item {item}").into());
        }
        Ok(())
    }
}

/// Takes whole chunks; reports `bad` failed.
struct ChunkFailing(u64);

impl baton_engine::Stage<u64, u64> for ChunkFailing {
    fn process(&mut self, item: u64, out: &mut Vec<u64>) -> Result<(), BoxError> {
        fail_on(self.0)(item).map(|x| out.push(x))
    }
    fn takes_chunks(&self) -> bool {
        true
    }
    fn process_chunk(&mut self, items: Vec<u64>, out: &mut baton_engine::ChunkOutputs<u64, u64>) {
        for item in items {
            out.push(item);
            if item == self.0 {
                out.failed(format!("bad item {item}"), Some(item));
            } else {
                out.done();
            }
        }
    }
}

#[test]
fn a_failure_keeps_the_items_before_it_whatever_the_stage_and_policy() {
    run(|| {
        let want: Vec<u64> = (0..7).collect();
        for chunk in CHUNKS {
            let base = || {
                Pipeline::from_iter(0..100u64)
                    .config(Config::default().max_chunk(chunk))
                    .stage("check", Mode::serial_in_order())
                    .min_chunk(chunk)
            };
            // A stage's own outputs of the failing item never go on.
            for panics in [false, true] {
                let (items, error) = until_error(
                    base()
                        .apply(move || Ok(PushThenFail { bad: 7, panics }))
                        .into_iter(),
                );
                assert_eq!(items, want, "chunks of {chunk}, panics: {panics}");
                let (stage, seq, _) = stage_failure::<()>(Err(error));
                assert_eq!((stage.as_str(), seq), ("check", 7));
            }
            let (items, error) = until_error(base().apply(|| Ok(ChunkFailing(7))).into_iter());
            assert_eq!(items, want, "whole chunks, chunks of {chunk}");
            expect_check_at(error, 7, "whole chunks");
            // A map that panics.
            let b = boom(7);
            let (items, error) = until_error(
                base()
                    .map(move |x| {
                        b(x);
                        x
                    })
                    .into_iter(),
            );
            assert_eq!(items, want, "a map, chunks of {chunk}");
            assert_eq!(stage_failure::<()>(Err(error)).1, 7);
            // A filter that panics.
            let b = boom(7);
            let (items, error) = until_error(base().filter(move |x| b(*x)).into_iter());
            assert_eq!(items, want, "a filter, chunks of {chunk}");
            assert_eq!(stage_failure::<()>(Err(error)).1, 7);
            // Retries used up.
            let (items, error) = until_error(
                base()
                    .on_error(OnError::Retry {
                        attempts: 2,
                        backoff: Duration::ZERO,
                    })
                    .try_map(fail_on(7))
                    .into_iter(),
            );
            assert_eq!(items, want, "retries, chunks of {chunk}");
            expect_check_at(error, 7, "retries");
        }
    });
}

#[test]
fn a_failing_source_keeps_the_items_before_the_failing_one() {
    run(|| {
        for chunk in CHUNKS {
            let config = Config::default().max_chunk(chunk);
            let lines = (0..100u64).map(|i| if i == 7 { Err("bad line") } else { Ok(i) });
            let (items, error) = until_error(
                Pipeline::from_results(lines)
                    .config(config.clone())
                    .name_source("lines")
                    .stage("work", Mode::parallel(2))
                    .min_chunk(chunk)
                    .map(|x| x)
                    .into_iter(),
            );
            assert_eq!(items, (0..7).collect::<Vec<_>>(), "chunks of {chunk}");
            let (stage, seq, _) = stage_failure::<()>(Err(error));
            assert_eq!((stage.as_str(), seq), ("lines", 7));
            let lines = (0..100u64).map(|i| if i == 7 { Err("bad line") } else { Ok(i) });
            let (items, error) = until_error(
                Pipeline::from_stream_results(lines)
                    .config(config.clone())
                    .name_source("stream")
                    .stage("work", Mode::parallel(2))
                    .min_chunk(chunk)
                    .map(|x| x)
                    .into_iter(),
            );
            assert_eq!(
                items,
                (0..7).collect::<Vec<_>>(),
                "a stream, chunks of {chunk}"
            );
            let (stage, seq, _) = stage_failure::<()>(Err(error));
            assert_eq!((stage.as_str(), seq), ("stream", 7));
            let numbers = (0u64..).inspect(|i| assert!(*i != 7, "{INTENDED} in the source"));
            let (items, error) = until_error(
                Pipeline::from_iter(numbers)
                    .config(config)
                    .stage("work", Mode::parallel(2))
                    .min_chunk(chunk)
                    .map(|x| x)
                    .into_iter(),
            );
            assert_eq!(items, (0..7).collect::<Vec<_>>(), "chunks of {chunk}");
            assert_eq!(stage_failure::<()>(Err(error)).1, 7);
        }
    });
}
