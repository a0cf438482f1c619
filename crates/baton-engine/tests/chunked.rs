//! Stages that take whole chunks (`Stage::process_chunk`): outputs keep
//! their items' order and sequence numbers, and each failed item goes
//! through the stage's error policy on its own.

mod common;

use std::time::Duration;

use baton_engine::{BoxError, ChunkOutputs, Config, Mode, OnError, Pipeline, PipelineError, Stage};
use common::watchdog;

const LIMIT: Duration = Duration::from_secs(60);

/// Answers a chunk at once: `n` becomes `n % 5` copies of `n`; in a
/// chunk, a multiple of 7 fails (after pushing an output, which is taken
/// back). Alone (a retry), it fails again unless `flaky`.
struct Copies {
    flaky: bool,
}

fn copies(n: u32, out: &mut impl Extend<u32>) {
    out.extend((0..n % 5).map(|_| n));
}

fn sevens(n: u32) -> bool {
    n % 7 == 0 && n > 0
}

impl Stage<u32, u32> for Copies {
    fn process(&mut self, item: u32, out: &mut Vec<u32>) -> Result<(), BoxError> {
        if sevens(item) && !self.flaky {
            return Err(format!("{item} is a multiple of 7").into());
        }
        copies(item, out);
        Ok(())
    }

    fn takes_chunks(&self) -> bool {
        true
    }

    fn process_chunk(&mut self, items: Vec<u32>, out: &mut ChunkOutputs<u32, u32>) {
        for item in items {
            if sevens(item) {
                out.push(u32::MAX);
                out.failed(format!("{item} is a multiple of 7"), Some(item));
            } else {
                let mut made = Vec::new();
                copies(item, &mut made);
                made.into_iter().for_each(|n| out.push(n));
                out.done();
            }
        }
    }
}

/// The expected output of `0..n`, without the items `dropped` says.
fn expected(n: u32, dropped: impl Fn(u32) -> bool) -> Vec<u32> {
    let mut out = Vec::new();
    (0..n)
        .filter(|&i| !dropped(i))
        .for_each(|i| copies(i, &mut out));
    out
}

#[test]
fn outputs_keep_the_order_of_their_items_across_replicas() {
    let out = watchdog(LIMIT, || {
        Pipeline::from_iter(0..20_000u32)
            .config(Config::default().threads(2))
            .stage("copies", Mode::parallel(3))
            .min_chunk(100)
            .on_error(OnError::Retry {
                attempts: 1,
                backoff: Duration::ZERO,
            })
            .apply(|| Ok(Copies { flaky: true }))
            .collect()
            .unwrap()
    });
    assert_eq!(out, expected(20_000, |_| false), "retried alone, in place");
}

#[test]
fn a_failed_item_is_skipped_alone_with_its_item_in_the_dead_letter() {
    let (out, letters) = watchdog(LIMIT, || {
        let mut iter = Pipeline::from_iter(0..300u32)
            .stage("picky", Mode::parallel(2))
            .on_error(OnError::RetryThenSkip {
                attempts: 1,
                backoff: Duration::ZERO,
            })
            .apply(|| Ok(Copies { flaky: false }))
            .into_iter();
        let out: Vec<u32> = iter.by_ref().map(Result::unwrap).collect();
        let mut letters: Vec<(u64, u32, String)> = iter
            .dead_letters()
            .iter()
            .map(|l| (l.seq, *l.item::<u32>().unwrap(), l.failure.to_string()))
            .collect();
        letters.sort();
        (out, letters)
    });
    assert_eq!(out, expected(300, sevens));
    let named: Vec<u32> = letters.iter().map(|l| l.1).collect();
    assert_eq!(named, (0..300).filter(|&i| sevens(i)).collect::<Vec<_>>());
    assert!(
        letters.iter().all(|l| l.0 == u64::from(l.1)),
        "its own sequence number"
    );
    assert_eq!(letters[0].2, "7 is a multiple of 7");
}

#[test]
fn fail_fast_fails_the_run_at_the_first_failed_item() {
    let error = watchdog(LIMIT, || {
        Pipeline::from_iter(0..300u32)
            .stage("picky", Mode::serial())
            .apply(|| Ok(Copies { flaky: true }))
            .collect()
            .unwrap_err()
    });
    match error {
        PipelineError::Stage { seq, .. } => assert_eq!(seq, 7),
        other => panic!("{other}"),
    }
}

#[test]
fn without_its_item_a_failure_fails_the_run_at_that_item() {
    struct Forgetful;
    impl Stage<u32, u32> for Forgetful {
        fn process(&mut self, item: u32, out: &mut Vec<u32>) -> Result<(), BoxError> {
            out.push(item);
            Ok(())
        }
        fn takes_chunks(&self) -> bool {
            true
        }
        fn process_chunk(&mut self, items: Vec<u32>, out: &mut ChunkOutputs<u32, u32>) {
            for item in items {
                if item == 42 {
                    out.failed("forty-two", None);
                } else {
                    out.push(item);
                    out.done();
                }
            }
        }
    }
    let error = watchdog(LIMIT, || {
        Pipeline::from_iter(0..100u32)
            .stage("forgetful", Mode::parallel(2))
            .on_error(OnError::Retry {
                attempts: 3,
                backoff: Duration::ZERO,
            })
            .apply(|| Ok(Forgetful))
            .collect()
            .unwrap_err()
    });
    let text = error.to_string();
    assert!(text.contains("forty-two") && text.contains("42"), "{text}");
}

#[test]
fn an_item_left_unreported_fails_the_run_at_that_item() {
    struct Lazy;
    impl Stage<u32, u32> for Lazy {
        fn process(&mut self, item: u32, out: &mut Vec<u32>) -> Result<(), BoxError> {
            out.push(item);
            Ok(())
        }
        fn takes_chunks(&self) -> bool {
            true
        }
        fn process_chunk(&mut self, items: Vec<u32>, out: &mut ChunkOutputs<u32, u32>) {
            for item in items.into_iter().take_while(|&i| i != 5) {
                out.push(item);
                out.done();
            }
        }
    }
    let error = watchdog(LIMIT, || {
        Pipeline::from_iter(0..10u32)
            .config(Config::default().max_chunk(1))
            .stage("lazy", Mode::serial())
            .apply(|| Ok(Lazy))
            .collect()
            .unwrap_err()
    });
    let text = error.to_string();
    assert!(
        text.contains("reported on 0 of the chunk's 1 items"),
        "{text}"
    );
}
