//! Every operator, source, end and mode of the builder, checked against the
//! plain sequential iterator computation, plus the edge cases of sizes and
//! settings (empty, one item, huge items, bounds of 1, many stages).

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_engine::{Config, Interleave, Mode, OnError, Pipeline, PipelineError};
use common::{eventually, sorted, watchdog, LIMIT};

/// The modes a per-item stage may run in.
fn modes() -> Vec<Mode> {
    vec![
        Mode::serial_in_order(),
        Mode::serial(),
        Mode::parallel(1),
        Mode::parallel(4),
        Mode::parallel(3).blocking(),
        Mode::serial().blocking(),
    ]
}

/// Settings worth running every pipeline under: the defaults and each bound at its smallest.
fn configs() -> Vec<(&'static str, Config)> {
    vec![
        ("default", Config::default()),
        ("threads(1)", Config::default().threads(1)),
        ("max_in_flight(1)", Config::default().max_in_flight(1)),
        (
            "max_chunks_in_flight(1)",
            Config::default().max_chunks_in_flight(1),
        ),
        ("max_chunk(1)", Config::default().max_chunk(1)),
        (
            "all at 1",
            Config::default()
                .threads(1)
                .max_in_flight(1)
                .max_chunks_in_flight(1)
                .max_chunk(1),
        ),
        (
            "threads(3), small bounds",
            Config::default()
                .threads(3)
                .max_in_flight(7)
                .max_chunk(3)
                .max_chunks_in_flight(2),
        ),
    ]
}

/// Collects what a sink sees, in the order it sees it.
fn recorder<T: Send + 'static>() -> (Arc<Mutex<Vec<T>>>, impl FnMut(T) + Send + 'static) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    (seen, move |item| sink.lock().unwrap().push(item))
}

fn taken<T>(seen: &Arc<Mutex<Vec<T>>>) -> Vec<T> {
    std::mem::take(&mut *seen.lock().unwrap())
}

// ---------------------------------------------------------------- per-item operators

#[test]
fn map_keeps_every_item_in_order_in_every_mode() {
    watchdog(LIMIT, || {
        for mode in modes() {
            let out = Pipeline::from_iter(0..5_000u64)
                .map(mode, |x| x * 3 + 1)
                .collect()
                .unwrap();
            assert_eq!(
                out,
                (0..5_000u64).map(|x| x * 3 + 1).collect::<Vec<_>>(),
                "mode {mode}"
            );
        }
    });
}

#[test]
fn try_map_passes_oks_in_every_mode() {
    watchdog(LIMIT, || {
        for mode in modes() {
            let out = Pipeline::from_iter(0..2_000u32)
                .try_map(mode, |x| Ok(u64::from(x) * 2))
                .collect()
                .unwrap();
            assert_eq!(
                out,
                (0..2_000u64).map(|x| x * 2).collect::<Vec<_>>(),
                "mode {mode}"
            );
        }
    });
}

#[test]
fn filter_keeps_exactly_the_matching_items() {
    watchdog(LIMIT, || {
        for mode in modes() {
            let out = Pipeline::from_iter(0..3_000u64)
                .filter(mode, |x| x % 7 == 3)
                .collect()
                .unwrap();
            assert_eq!(
                out,
                (0..3_000u64).filter(|x| x % 7 == 3).collect::<Vec<_>>(),
                "mode {mode}"
            );
            let none = Pipeline::from_iter(0..3_000u64)
                .filter(mode, |_| false)
                .collect()
                .unwrap();
            assert!(none.is_empty(), "mode {mode}");
        }
    });
}

#[test]
fn filter_map_keeps_the_somes() {
    watchdog(LIMIT, || {
        for mode in modes() {
            let out = Pipeline::from_iter(0..3_000u64)
                .filter_map(mode, |x| (x % 3 != 0).then(|| format!("{x}")))
                .collect()
                .unwrap();
            let expected: Vec<String> = (0..3_000u64)
                .filter(|x| x % 3 != 0)
                .map(|x| format!("{x}"))
                .collect();
            assert_eq!(out, expected, "mode {mode}");
        }
    });
}

#[test]
fn flat_map_emits_every_output_in_order() {
    watchdog(LIMIT, || {
        let expand = |x: u64| (0..x % 4).map(move |i| x * 10 + i).collect::<Vec<_>>();
        for mode in modes() {
            let out = Pipeline::from_iter(0..2_000u64)
                .flat_map(mode, expand)
                .collect()
                .unwrap();
            assert_eq!(
                out,
                (0..2_000u64).flat_map(expand).collect::<Vec<_>>(),
                "mode {mode}"
            );
        }
        // A large fan-out from few items, and nothing at all from many.
        let out = Pipeline::from_iter(0..3u64)
            .flat_map(Mode::parallel(2), |x| vec![x; 50_000])
            .collect()
            .unwrap();
        assert_eq!(
            out,
            (0..3u64).flat_map(|x| vec![x; 50_000]).collect::<Vec<_>>()
        );
        let out = Pipeline::from_iter(0..10_000u64)
            .flat_map(Mode::parallel(2), |_| Vec::<u64>::new())
            .collect()
            .unwrap();
        assert!(out.is_empty());
    });
}

#[test]
fn inspect_sees_every_item_once_and_passes_it_on() {
    watchdog(LIMIT, || {
        for mode in modes() {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let log = Arc::clone(&seen);
            let out = Pipeline::from_iter(0..2_000u64)
                .inspect(mode, move |x| log.lock().unwrap().push(*x))
                .collect()
                .unwrap();
            assert_eq!(out, (0..2_000u64).collect::<Vec<_>>(), "mode {mode}");
            let seen = taken(&seen);
            assert_eq!(
                sorted(&seen),
                (0..2_000u64).collect::<Vec<_>>(),
                "mode {mode}"
            );
            if mode.keeps_order() {
                assert_eq!(
                    seen,
                    (0..2_000u64).collect::<Vec<_>>(),
                    "mode {mode} must see source order"
                );
            }
        }
    });
}

#[test]
fn map_init_makes_at_most_one_state_per_replica() {
    watchdog(LIMIT, || {
        for replicas in [1usize, 2, 3, 8] {
            for blocking in [false, true] {
                let mode = if blocking {
                    Mode::parallel(replicas).blocking()
                } else {
                    Mode::parallel(replicas)
                };
                let made = Arc::new(AtomicUsize::new(0));
                let counter = Arc::clone(&made);
                let out = Pipeline::from_iter(0..4_000u64)
                    .config(Config::default().max_chunk(16))
                    .map_init(
                        mode,
                        move || (counter.fetch_add(1, Ordering::SeqCst), 0u64),
                        |(id, calls), x| {
                            *calls += 1;
                            (*id, *calls, x)
                        },
                    )
                    .collect()
                    .unwrap();
                let made = made.load(Ordering::SeqCst);
                assert!(
                    (1..=replicas).contains(&made),
                    "{mode}: factory called {made} times"
                );
                assert_eq!(
                    out.iter().map(|o| o.2).collect::<Vec<_>>(),
                    (0..4_000u64).collect::<Vec<_>>()
                );
                // Each state counted its own calls: per id the counts are 1..=k, no gaps, no repeats.
                for id in 0..made {
                    let calls = sorted(
                        &out.iter()
                            .filter(|o| o.0 == id)
                            .map(|o| o.1)
                            .collect::<Vec<_>>(),
                    );
                    assert_eq!(
                        calls,
                        (1..=calls.len() as u64).collect::<Vec<_>>(),
                        "{mode}: state {id}"
                    );
                }
            }
        }
    });
}

#[test]
fn map_init_on_a_serial_stage_makes_one_state() {
    watchdog(LIMIT, || {
        for mode in [Mode::serial(), Mode::serial_in_order()] {
            let made = Arc::new(AtomicUsize::new(0));
            let counter = Arc::clone(&made);
            let out = Pipeline::from_iter(0..1_000u64)
                .map_init(
                    mode,
                    move || {
                        counter.fetch_add(1, Ordering::SeqCst);
                        0u64
                    },
                    |n, _| {
                        *n += 1;
                        *n
                    },
                )
                .collect()
                .unwrap();
            assert_eq!(made.load(Ordering::SeqCst), 1, "{mode}");
            assert_eq!(sorted(&out), (1..=1_000u64).collect::<Vec<_>>(), "{mode}");
        }
    });
}

#[test]
fn map_with_runs_one_state_in_source_order() {
    watchdog(LIMIT, || {
        let out = Pipeline::from_iter(1..=3_000u64)
            .map(Mode::parallel(4), |x| x)
            .stage("running_sum", Mode::serial_in_order())
            .map_with(0u64, |sum, x| {
                *sum += x;
                *sum
            })
            .collect()
            .unwrap();
        let expected: Vec<u64> = (1..=3_000u64)
            .scan(0, |sum, x| {
                *sum += x;
                Some(*sum)
            })
            .collect();
        assert_eq!(out, expected);
    });
}

#[test]
fn map_with_on_an_unordered_serial_stage_sees_each_item_once_alone() {
    watchdog(LIMIT, || {
        for blocking in [false, true] {
            let mode = if blocking {
                Mode::serial().blocking()
            } else {
                Mode::serial()
            };
            let out = Pipeline::from_iter(0..3_000u64)
                .map(Mode::parallel(4), |x| x)
                .stage("count", mode)
                .map_with(0u64, |count, x| {
                    *count += 1;
                    (x, *count)
                })
                .collect()
                .unwrap();
            // Items come back in source order; the counter values are a permutation of 1..=n.
            assert_eq!(
                out.iter().map(|o| o.0).collect::<Vec<_>>(),
                (0..3_000u64).collect::<Vec<_>>()
            );
            assert_eq!(
                sorted(&out.iter().map(|o| o.1).collect::<Vec<_>>()),
                (1..=3_000u64).collect::<Vec<_>>()
            );
        }
    });
}

#[test]
fn stateful_stages_refuse_a_parallel_mode() {
    watchdog(LIMIT, || {
        let result = Pipeline::from_iter(0..10u64)
            .stage("state", Mode::parallel(2))
            .map_with(0u64, |_, x| x)
            .collect();
        match result {
            Err(PipelineError::Build(message)) => assert!(message.contains("state"), "{message}"),
            other => panic!("expected a build error, got {other:?}"),
        }
        let result = Pipeline::from_iter(0..10u64)
            .stage("b", Mode::parallel(2))
            .batch(2)
            .collect();
        assert!(matches!(result, Err(PipelineError::Build(_))), "{result:?}");
        let mut iter = Pipeline::from_iter(0..10u64)
            .stage("w", Mode::parallel(2))
            .window(2, 1)
            .into_iter();
        assert!(matches!(iter.next(), Some(Err(PipelineError::Build(_)))));
        assert!(iter.next().is_none());
    });
}

// ---------------------------------------------------------------- combining operators

#[test]
fn batch_groups_in_source_order_with_a_short_last_batch() {
    watchdog(LIMIT, || {
        for n in [0u64, 1, 2, 9, 10, 11, 1_000] {
            for size in [1usize, 2, 3, 10, 64, 2_000] {
                let items: Vec<u64> = (0..n).collect();
                let expected: Vec<Vec<u64>> = items.chunks(size).map(<[u64]>::to_vec).collect();
                let out = Pipeline::from_iter(0..n)
                    .map(Mode::parallel(3), |x| x)
                    .batch(size)
                    .collect()
                    .unwrap();
                assert_eq!(out, expected, "n {n} size {size}");
                let exact: Vec<Vec<u64>> = items.chunks_exact(size).map(<[u64]>::to_vec).collect();
                let out = Pipeline::from_iter(0..n)
                    .map(Mode::parallel(3), |x| x)
                    .batch_exact(size)
                    .collect()
                    .unwrap();
                assert_eq!(out, exact, "exact: n {n} size {size}");
            }
        }
    });
}

#[test]
fn batch_on_an_unordered_serial_stage_keeps_every_item() {
    watchdog(LIMIT, || {
        let out = Pipeline::from_iter(0..1_001u64)
            .map(Mode::parallel(4), |x| x)
            .stage("batch", Mode::serial())
            .batch(10)
            .collect()
            .unwrap();
        assert_eq!(out.len(), 101);
        assert!(out[..100].iter().all(|b| b.len() == 10));
        let all: Vec<u64> = out.into_iter().flatten().collect();
        assert_eq!(sorted(&all), (0..1_001u64).collect::<Vec<_>>());
    });
}

#[test]
fn unbatch_undoes_batch() {
    watchdog(LIMIT, || {
        for size in [1usize, 3, 64] {
            let out = Pipeline::from_iter(0..2_000u64)
                .map(Mode::parallel(2), |x| x + 1)
                .batch(size)
                .map(Mode::parallel(3), |mut b| {
                    b.reverse();
                    b
                })
                .unbatch()
                .collect()
                .unwrap();
            let expected: Vec<u64> = (1..=2_000u64)
                .collect::<Vec<_>>()
                .chunks(size)
                .flat_map(|c| c.iter().rev().copied())
                .collect();
            assert_eq!(out, expected, "size {size}");
        }
    });
}

#[test]
fn shuffle_is_a_reproducible_permutation() {
    watchdog(LIMIT, || {
        let run = |seed: u64, buffer: usize| {
            Pipeline::from_iter(0..2_000u64)
                .config(Config::default().max_chunk(7))
                .map(Mode::parallel(4), |x| x)
                .shuffle(buffer, seed)
                .collect()
                .unwrap()
        };
        let a = run(7, 64);
        let b = run(7, 64);
        let c = run(8, 64);
        assert_eq!(a, b, "same seed, same order");
        assert_ne!(a, c, "another seed, another order");
        assert_ne!(a, (0..2_000u64).collect::<Vec<_>>(), "it shuffles");
        assert_eq!(
            sorted(&a),
            (0..2_000u64).collect::<Vec<_>>(),
            "a permutation"
        );
        assert_eq!(
            sorted(&c),
            (0..2_000u64).collect::<Vec<_>>(),
            "a permutation"
        );
        // A buffer bigger than the stream still gives a permutation.
        assert_eq!(sorted(&run(1, 10_000)), (0..2_000u64).collect::<Vec<_>>());
        // A buffer of one item cannot move anything.
        assert_eq!(run(7, 1), (0..2_000u64).collect::<Vec<_>>());
    });
}

#[test]
fn shuffle_of_nothing_and_of_one_item() {
    watchdog(LIMIT, || {
        assert!(Pipeline::from_iter(0..0u64)
            .shuffle(16, 1)
            .collect()
            .unwrap()
            .is_empty());
        assert_eq!(
            Pipeline::from_iter(0..1u64)
                .shuffle(16, 1)
                .collect()
                .unwrap(),
            vec![0]
        );
    });
}

#[test]
fn prefetch_passes_items_through_in_order() {
    watchdog(LIMIT, || {
        for n in [0usize, 1, 8] {
            let out = Pipeline::from_iter(0..3_000u64)
                .config(Config::default().max_in_flight(16))
                .map(Mode::parallel(2), |x| x * 2)
                .prefetch(n)
                .stage("slow", Mode::parallel(2).blocking())
                .map(|x| x + 1)
                .collect()
                .unwrap();
            assert_eq!(
                out,
                (0..3_000u64).map(|x| x * 2 + 1).collect::<Vec<_>>(),
                "prefetch({n})"
            );
        }
    });
}

#[test]
fn take_keeps_the_first_items() {
    watchdog(LIMIT, || {
        for n in [0usize, 1, 5, 999, 1_000, 5_000] {
            let out = Pipeline::from_iter(0..1_000u64)
                .map(Mode::parallel(3), |x| x + 1)
                .take(n)
                .collect()
                .unwrap();
            assert_eq!(out, (1..=1_000u64).take(n).collect::<Vec<_>>(), "take({n})");
        }
    });
}

#[test]
fn take_stops_an_endless_source() {
    watchdog(LIMIT, || {
        for (name, config) in configs() {
            for n in [0usize, 1, 10, 10_000] {
                let out = Pipeline::from_iter(0u64..)
                    .config(config.clone())
                    .map(Mode::parallel(4), |x| x * 2)
                    .filter(Mode::parallel(2), |x| x % 3 != 0)
                    .take(n)
                    .collect()
                    .unwrap();
                let expected: Vec<u64> = (0u64..)
                    .map(|x| x * 2)
                    .filter(|x| x % 3 != 0)
                    .take(n)
                    .collect();
                assert_eq!(out, expected, "take({n}) under {name}");
            }
        }
    });
}

#[test]
fn take_on_an_endless_source_through_blocking_and_serial_stages() {
    watchdog(LIMIT, || {
        let out = Pipeline::from_iter(0u64..)
            .stage("io", Mode::parallel(4).blocking())
            .map(|x| x + 1)
            .stage("count", Mode::serial())
            .map_with(0u64, |_, x| x)
            .take(500)
            .collect()
            .unwrap();
        assert_eq!(out, (1..=500u64).collect::<Vec<_>>());
    });
}

#[test]
fn stages_after_take_still_flush_and_take_composes() {
    watchdog(LIMIT, || {
        let out = Pipeline::from_iter(0u64..)
            .take(5)
            .batch(2)
            .collect()
            .unwrap();
        assert_eq!(out, vec![vec![0, 1], vec![2, 3], vec![4]]);
        let out = Pipeline::from_iter(0u64..)
            .take(10)
            .map(Mode::parallel(2), |x| x * 2)
            .take(3)
            .collect()
            .unwrap();
        assert_eq!(out, vec![0, 2, 4]);
        let out = Pipeline::from_iter(0u64..)
            .skip(5)
            .take(3)
            .collect()
            .unwrap();
        assert_eq!(out, vec![5, 6, 7]);
        let out = Pipeline::from_iter(0u64..).take(0).collect().unwrap();
        assert!(out.is_empty());
        let mut iter = Pipeline::from_iter(0u64..)
            .map(Mode::parallel(2), |x| x)
            .take(4)
            .into_iter();
        assert_eq!(
            iter.by_ref().map(Result::unwrap).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        let sum = Pipeline::from_iter(0u64..)
            .take(100)
            .fold(0u64, |a, x| a + x)
            .unwrap();
        assert_eq!(sum, 4_950);
    });
}

#[test]
fn skip_drops_the_first_items() {
    watchdog(LIMIT, || {
        for n in [0usize, 1, 5, 999, 1_000, 5_000] {
            let out = Pipeline::from_iter(0..1_000u64)
                .map(Mode::parallel(3), |x| x)
                .skip(n)
                .collect()
                .unwrap();
            assert_eq!(out, (0..1_000u64).skip(n).collect::<Vec<_>>(), "skip({n})");
        }
        let out = Pipeline::from_iter(0..100u64)
            .filter(Mode::parallel(2), |x| x % 2 == 0)
            .skip(10)
            .collect()
            .unwrap();
        assert_eq!(
            out,
            (0..100u64)
                .filter(|x| x % 2 == 0)
                .skip(10)
                .collect::<Vec<_>>()
        );
    });
}

#[test]
fn window_slides_by_its_step() {
    watchdog(LIMIT, || {
        let reference = |n: u64, size: usize, step: usize| -> Vec<Vec<u64>> {
            let items: Vec<u64> = (0..n).collect();
            (0..items.len())
                .step_by(step)
                .filter(|start| start + size <= items.len())
                .map(|start| items[start..start + size].to_vec())
                .collect()
        };
        for n in [0u64, 1, 2, 5, 6, 7, 100] {
            for (size, step) in [
                (1, 1),
                (3, 1),
                (2, 2),
                (2, 3),
                (3, 2),
                (5, 5),
                (4, 7),
                (10, 1),
                (200, 1),
            ] {
                let out = Pipeline::from_iter(0..n)
                    .map(Mode::parallel(2), |x| x)
                    .stage("window", Mode::serial_in_order())
                    .window(size, step)
                    .collect()
                    .unwrap();
                assert_eq!(
                    out,
                    reference(n, size, step),
                    "n {n}, window({size}, {step})"
                );
            }
        }
    });
}

// ---------------------------------------------------------------- ends

#[test]
fn for_each_sees_source_order_on_one_thread_at_a_time() {
    watchdog(LIMIT, || {
        let (seen, sink) = recorder();
        let report = Pipeline::from_iter(0..5_000u64)
            .map(Mode::parallel(4), |x| x + 1)
            .for_each(sink)
            .unwrap();
        assert_eq!(taken(&seen), (1..=5_000u64).collect::<Vec<_>>());
        assert_eq!(report.stats.source.items, 5_000);
        assert_eq!(report.stage("sink").unwrap().items_in, 5_000);
    });
}

#[test]
fn for_each_unordered_sees_every_item_once() {
    watchdog(LIMIT, || {
        let (seen, sink) = recorder();
        Pipeline::from_iter(0..5_000u64)
            .map(Mode::parallel(4), |x| x * 2)
            .for_each_unordered(sink)
            .unwrap();
        assert_eq!(
            sorted(&taken(&seen)),
            (0..5_000u64).map(|x| x * 2).collect::<Vec<_>>()
        );
    });
}

#[test]
fn collect_fold_and_reduce() {
    watchdog(LIMIT, || {
        let collected = Pipeline::from_iter(0..1_000u64)
            .map(Mode::parallel(2), |x| x * x)
            .collect()
            .unwrap();
        assert_eq!(collected, (0..1_000u64).map(|x| x * x).collect::<Vec<_>>());
        // A fold that is not commutative shows it runs in source order.
        let text = Pipeline::from_iter(0..200u64)
            .map(Mode::parallel(4), |x| x % 10)
            .fold(String::new(), |s, d| s + &d.to_string())
            .unwrap();
        assert_eq!(
            text,
            (0..200u64)
                .map(|x| (x % 10).to_string())
                .collect::<String>()
        );
        let first = Pipeline::from_iter(0..1_000u64)
            .map(Mode::parallel(4), |x| x)
            .reduce(|a, _| a)
            .unwrap();
        assert_eq!(first, Some(0));
        let last = Pipeline::from_iter(0..1_000u64)
            .map(Mode::parallel(4), |x| x)
            .reduce(|_, b| b)
            .unwrap();
        assert_eq!(last, Some(999));
        let max = Pipeline::from_iter(vec![3, 9, 2])
            .reduce(|a, b| a.max(b))
            .unwrap();
        assert_eq!(max, Some(9));
        let one = Pipeline::from_iter(vec![42]).reduce(|a, b| a + b).unwrap();
        assert_eq!(one, Some(42));
    });
}

#[test]
fn ends_on_an_empty_source() {
    watchdog(LIMIT, || {
        let empty = || Pipeline::from_iter(Vec::<u64>::new()).map(Mode::parallel(2), |x| x + 1);
        assert_eq!(empty().reduce(|a, b| a + b).unwrap(), None);
        assert_eq!(empty().fold(7u64, |a, x| a + x).unwrap(), 7);
        assert!(empty().collect().unwrap().is_empty());
        let (seen, sink) = recorder();
        let report = empty().for_each(sink).unwrap();
        assert!(taken(&seen).is_empty());
        assert_eq!(report.stats.source.items, 0);
        let (seen, sink) = recorder();
        empty().for_each_unordered(sink).unwrap();
        assert!(taken(&seen).is_empty());
        let mut iter = empty().into_iter();
        assert!(iter.next().is_none());
        assert!(iter.next().is_none());
        assert_eq!(iter.report().unwrap().stats.source.items, 0);
        assert!(empty().into_iter_unordered().next().is_none());
        let run = empty().spawn_for_each(|_| {}).unwrap();
        run.join().unwrap();
        // Every operator on nothing gives nothing.
        let out = empty()
            .filter(Mode::parallel(2), |_| true)
            .flat_map(Mode::serial(), |x| vec![x, x])
            .stage("w", Mode::serial_in_order())
            .window(2, 1)
            .batch(3)
            .unbatch()
            .shuffle(8, 1)
            .skip(1)
            .take(4)
            .prefetch(2)
            .collect()
            .unwrap();
        assert!(out.is_empty());
    });
}

#[test]
fn ends_on_a_single_item() {
    watchdog(LIMIT, || {
        let one = || Pipeline::from_iter(vec![5u64]).map(Mode::parallel(2), |x| x + 1);
        assert_eq!(one().collect().unwrap(), vec![6]);
        assert_eq!(one().reduce(|a, b| a + b).unwrap(), Some(6));
        assert_eq!(one().fold(1u64, |a, x| a * x).unwrap(), 6);
        assert_eq!(
            one().into_iter().map(Result::unwrap).collect::<Vec<_>>(),
            vec![6]
        );
        assert_eq!(
            one()
                .into_iter_unordered()
                .map(Result::unwrap)
                .collect::<Vec<_>>(),
            vec![6]
        );
        assert_eq!(one().batch(4).collect().unwrap(), vec![vec![6]]);
        assert!(one().batch_exact(4).collect().unwrap().is_empty());
        assert_eq!(one().shuffle(4, 9).collect().unwrap(), vec![6]);
        let (seen, sink) = recorder();
        one().for_each(sink).unwrap();
        assert_eq!(taken(&seen), vec![6]);
    });
}

#[test]
fn into_iter_yields_source_order_then_a_report() {
    watchdog(LIMIT, || {
        for (name, config) in configs() {
            let mut iter = Pipeline::from_iter(0..3_000u64)
                .config(config)
                .map(Mode::parallel(4), |x| x * 2)
                .filter(Mode::parallel(2), |x| x % 3 != 0)
                .into_iter();
            let out: Vec<u64> = iter.by_ref().map(Result::unwrap).collect();
            assert_eq!(
                out,
                (0..3_000u64)
                    .map(|x| x * 2)
                    .filter(|x| x % 3 != 0)
                    .collect::<Vec<_>>(),
                "{name}"
            );
            assert!(iter.next().is_none(), "{name}: the iterator stays ended");
            assert_eq!(
                iter.report()
                    .expect("a report once exhausted")
                    .stats
                    .source
                    .items,
                3_000,
                "{name}"
            );
        }
    });
}

#[test]
fn into_iter_unordered_yields_every_item_once() {
    watchdog(LIMIT, || {
        for (name, config) in configs() {
            let out: Vec<u64> = Pipeline::from_iter(0..3_000u64)
                .config(config)
                .map(Mode::parallel(4), |x| x + 1)
                .into_iter_unordered()
                .map(Result::unwrap)
                .collect();
            assert_eq!(sorted(&out), (1..=3_000u64).collect::<Vec<_>>(), "{name}");
        }
    });
}

#[test]
fn dropping_an_iterator_early_ends_an_endless_run() {
    watchdog(LIMIT, || {
        for (name, config) in configs() {
            let mut iter = Pipeline::from_iter(0u64..)
                .config(config.clone())
                .map(Mode::parallel(4), |x| x + 1)
                .stage("io", Mode::parallel(2).blocking())
                .map(|x| x)
                .into_iter();
            assert_eq!(iter.next().unwrap().unwrap(), 1, "{name}");
            drop(iter);
            // Dropped before reading anything, and unordered.
            drop(
                Pipeline::from_iter(0u64..)
                    .config(config.clone())
                    .map(Mode::parallel(2), |x| x)
                    .into_iter(),
            );
            let mut iter = Pipeline::from_iter(0u64..)
                .config(config)
                .into_iter_unordered();
            assert!(iter.next().unwrap().is_ok(), "{name}");
            drop(iter);
        }
    });
}

/// Engine bug (see the report): the executor hands a chunk to the iterator
/// after it has let go of the in-order output stage, so another worker can
/// hand over the next chunk first; the iterator takes chunks in arrival order
/// and ends at the first end marker. Items come out of order, and now and
/// then an item that arrives after the end marker is lost.
#[test]
fn into_iter_keeps_every_item_in_source_order_under_contention() {
    watchdog(LIMIT, || {
        let mut disordered = 0;
        let mut lost = 0;
        for _ in 0..20 {
            let out: Vec<u64> = Pipeline::from_iter(0..20_000u64)
                .config(Config::default().max_chunk(1))
                .map(Mode::parallel(2), |x| x)
                .into_iter()
                .map(Result::unwrap)
                .collect();
            if out.len() != 20_000 {
                lost += 1;
            } else if out != (0..20_000u64).collect::<Vec<_>>() {
                disordered += 1;
            }
        }
        for _ in 0..2_000 {
            let out: Vec<u64> = Pipeline::from_iter(0..8u64)
                .config(Config::default().max_chunk(1))
                .map(Mode::parallel(8), |x| x)
                .into_iter()
                .map(Result::unwrap)
                .collect();
            if out.len() != 8 {
                lost += 1;
            } else if out != (0..8u64).collect::<Vec<_>>() {
                disordered += 1;
            }
        }
        assert!(
            disordered + lost == 0,
            "into_iter: {disordered} runs out of order, {lost} runs lost items"
        );
    });
}

/// Engine bug (see the report): as above, an item can reach the unordered
/// iterator after the end marker, and is then lost.
#[test]
fn into_iter_unordered_never_loses_an_item() {
    watchdog(LIMIT, || {
        let mut lost = 0;
        for _ in 0..4_000 {
            let out = Pipeline::from_iter(0..8u64)
                .config(Config::default().max_chunk(1))
                .map(Mode::parallel(8), |x| x)
                .into_iter_unordered()
                .map(Result::unwrap)
                .count();
            if out != 8 {
                lost += 1;
            }
        }
        assert_eq!(
            lost, 0,
            "into_iter_unordered lost items in {lost} of 4000 runs"
        );
    });
}

/// Engine bug (see the report): after an abort, a chunk can reach the
/// iterator's channel after the `Ended` message; the iterator then reads it
/// and waits on the channel for ever, since the run that would send more is over.
#[test]
fn draining_an_aborted_iterator_never_hangs() {
    watchdog(Duration::from_secs(30), || {
        // More workers than cores make the window (a worker preempted between
        // its last check and its hand-over) wide enough to hit in a few hundred rounds.
        for round in 0..600 {
            let mut iter = Pipeline::from_iter(0u64..)
                .config(Config::default().max_chunk(1).threads(8))
                .map(Mode::parallel(4), |x| x)
                .into_iter();
            for _ in 0..round % 3 {
                assert!(iter.next().unwrap().is_ok());
            }
            iter.handle().unwrap().abort();
            let last = iter.by_ref().last().expect("at least the error");
            assert!(
                matches!(last, Err(PipelineError::Aborted)),
                "round {round}: {last:?}"
            );
        }
    });
}

#[test]
fn an_iterator_stopped_through_its_handle_drains_a_prefix() {
    watchdog(LIMIT, || {
        let mut iter = Pipeline::from_iter(0u64..)
            .map(Mode::parallel(4), |x| x * 3)
            .into_iter();
        assert_eq!(iter.next().unwrap().unwrap(), 0);
        iter.handle().expect("a handle while it runs").stop();
        let rest: Vec<u64> = iter.by_ref().map(Result::unwrap).collect();
        let made = iter.report().unwrap().stats.source.items;
        assert_eq!(
            rest,
            (1..made).map(|x| x * 3).collect::<Vec<_>>(),
            "every item the source made comes out"
        );
    });
}

#[test]
fn an_iterator_aborted_through_its_handle_ends_with_aborted() {
    watchdog(LIMIT, || {
        let mut iter = Pipeline::from_iter(0u64..)
            .map(Mode::parallel(4), |x| x)
            .into_iter();
        assert!(iter.next().unwrap().is_ok());
        iter.handle().unwrap().abort();
        let rest: Vec<Result<u64, PipelineError>> = iter.by_ref().collect();
        let (last, items) = rest.split_last().expect("at least the error");
        assert!(matches!(last, Err(PipelineError::Aborted)), "{last:?}");
        for (i, item) in items.iter().enumerate() {
            assert_eq!(
                *item.as_ref().unwrap(),
                i as u64 + 1,
                "items before the error stay in order"
            );
        }
        assert!(iter.next().is_none());
    });
}

#[test]
fn spawn_for_each_stops_an_endless_source_and_drains_in_order() {
    watchdog(LIMIT, || {
        let count = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&count);
        let mut expected = 0u64;
        let run = Pipeline::from_iter(0u64..)
            .map(Mode::parallel(4), |x| x + 1)
            .spawn_for_each(move |x| {
                expected += 1;
                assert_eq!(x, expected, "the sink sees source order");
                seen.store(expected as usize, Ordering::SeqCst);
            })
            .unwrap();
        assert!(eventually(LIMIT, || count.load(Ordering::SeqCst) >= 1_000));
        run.stop();
        let report = run.join().unwrap();
        assert_eq!(
            count.load(Ordering::SeqCst) as u64,
            report.stats.source.items,
            "everything made reaches the sink"
        );
        assert!(report.stats.source.done);
    });
}

#[test]
fn abort_ends_a_run_with_aborted() {
    watchdog(LIMIT, || {
        let count = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&count);
        let run = Pipeline::from_iter(0u64..)
            .map(Mode::parallel(4), |x| x)
            .stage("io", Mode::parallel(2).blocking())
            .map(|x| x)
            .spawn_for_each(move |_| {
                seen.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        let handle = run.handle();
        assert!(eventually(LIMIT, || count.load(Ordering::SeqCst) > 100));
        assert!(!handle.is_finished());
        handle.abort();
        assert!(matches!(run.join(), Err(PipelineError::Aborted)));
        assert!(handle.is_finished());
        // Abort before anything ran, and a second abort, are harmless.
        let run = Pipeline::from_iter(0u64..).spawn_for_each(|_| {}).unwrap();
        run.handle().abort();
        run.handle().abort();
        assert!(matches!(run.join(), Err(PipelineError::Aborted)));
    });
}

#[test]
fn dropping_a_run_handle_aborts_the_run() {
    watchdog(LIMIT, || {
        let count = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&count);
        let run = Pipeline::from_iter(0u64..)
            .map(Mode::parallel(2), |x| x)
            .spawn_for_each(move |_| {
                seen.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        let handle = run.handle();
        assert!(eventually(LIMIT, || count.load(Ordering::SeqCst) > 0));
        drop(run);
        assert!(handle.is_finished());
        let after = count.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            count.load(Ordering::SeqCst),
            after,
            "nothing runs after the drop"
        );
    });
}

#[test]
fn set_replicas_while_running() {
    watchdog(LIMIT, || {
        let count = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&count);
        let mut expected = 0u64;
        let run = Pipeline::from_iter(0u64..)
            .config(Config::default().max_chunk(8))
            .stage("work", Mode::parallel(1))
            .map(|x| x + 1)
            .stage("resize", Mode::parallel(1).blocking())
            .map(|x| x)
            .spawn_for_each(move |x| {
                expected += 1;
                assert_eq!(x, expected);
                seen.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        let handle = run.handle();
        let progress = |handle: &baton_engine::PipelineHandle| {
            let now = count.load(Ordering::SeqCst);
            assert!(
                eventually(LIMIT, || count.load(Ordering::SeqCst) > now + 100),
                "no progress"
            );
            assert!(!handle.is_finished());
        };
        progress(&handle);
        for (work, resize) in [(4, 6), (1, 1), (2, 3)] {
            handle.set_replicas("work", work).unwrap();
            handle.set_replicas("resize", resize).unwrap();
            let stats = handle.stats();
            assert_eq!(
                stats
                    .stages
                    .iter()
                    .find(|s| s.name == "work")
                    .unwrap()
                    .replicas,
                work
            );
            assert_eq!(
                stats
                    .stages
                    .iter()
                    .find(|s| s.name == "resize")
                    .unwrap()
                    .replicas,
                resize
            );
            progress(&handle);
        }
        assert!(
            common::thread_names()
                .iter()
                .any(|name| name == "baton-resize-5"),
            "a blocking stage raised to 6 replicas gets threads to match"
        );
        // Serial stages stay at one replica; 0 means 1; an unknown name is an error.
        handle.set_replicas("sink", 4).unwrap();
        handle.set_replicas("work", 0).unwrap();
        let stats = handle.stats();
        assert_eq!(
            stats
                .stages
                .iter()
                .find(|s| s.name == "sink")
                .unwrap()
                .replicas,
            1
        );
        assert_eq!(
            stats
                .stages
                .iter()
                .find(|s| s.name == "work")
                .unwrap()
                .replicas,
            1
        );
        assert!(matches!(
            handle.set_replicas("no such stage", 2),
            Err(PipelineError::Build(_))
        ));
        progress(&handle);
        run.stop();
        let report = run.join().unwrap();
        assert_eq!(
            count.load(Ordering::SeqCst) as u64,
            report.stats.source.items
        );
    });
}

// ---------------------------------------------------------------- sources

#[test]
fn from_iter_numbers_items_from_zero() {
    watchdog(LIMIT, || {
        let out = Pipeline::from_iter(vec!["a", "b", "c"]).collect().unwrap();
        assert_eq!(out, vec!["a", "b", "c"]);
        let report = Pipeline::from_iter(0..10u8)
            .name_source("numbers")
            .for_each(|_| {})
            .unwrap();
        assert_eq!(report.stats.source.name, "numbers");
        assert_eq!(report.stats.source.items, 10);
    });
}

#[test]
fn from_results_passes_oks() {
    watchdog(LIMIT, || {
        let items: Vec<Result<u64, String>> = (0..1_000).map(Ok).collect();
        let out = Pipeline::from_results(items)
            .map(Mode::parallel(2), |x| x + 1)
            .collect()
            .unwrap();
        assert_eq!(out, (1..=1_000u64).collect::<Vec<_>>());
    });
}

#[test]
fn from_results_fails_on_an_err_with_its_seq() {
    watchdog(LIMIT, || {
        let items = (0..1_000u64).map(|i| {
            if i == 321 {
                Err(format!("bad line {i}"))
            } else {
                Ok(i)
            }
        });
        let result = Pipeline::from_results(items)
            .name_source("lines")
            .map(Mode::parallel(2), |x| x)
            .collect();
        match result {
            Err(PipelineError::Stage {
                stage,
                seq,
                failure,
            }) => {
                assert_eq!(stage, "lines");
                assert_eq!(seq, 321);
                assert_eq!(failure.to_string(), "bad line 321");
            }
            other => panic!("expected a source failure, got {other:?}"),
        }
    });
}

#[test]
fn from_results_skips_errs_to_the_dead_letters() {
    watchdog(LIMIT, || {
        let bad = |i: u64| i % 10 == 3;
        let items = (0..1_000u64).map(move |i| {
            if bad(i) {
                Err(format!("bad {i}"))
            } else {
                Ok(i)
            }
        });
        let (seen, sink) = recorder();
        let report = Pipeline::from_results(items)
            .source_on_error(OnError::Skip)
            .map(Mode::parallel(3), |x| x * 2)
            .for_each(sink)
            .unwrap();
        assert_eq!(
            taken(&seen),
            (0..1_000u64)
                .filter(|i| !bad(*i))
                .map(|x| x * 2)
                .collect::<Vec<_>>()
        );
        let dead = report.dead_letters;
        let seqs: Vec<u64> = sorted(&dead.iter().map(|d| d.seq).collect::<Vec<_>>());
        assert_eq!(seqs, (0..1_000u64).filter(|i| bad(*i)).collect::<Vec<_>>());
        for letter in &dead {
            assert_eq!(letter.stage, "source");
            assert_eq!(letter.failure.to_string(), format!("bad {}", letter.seq));
        }
    });
}

/// The round-robin order of an interleave, computed plainly (as tf.data's
/// `interleave`: `cycle` sources open, `block` items from one before the next,
/// a finished source replaced by the next one).
fn interleave_reference(sources: &[Vec<u64>], cycle: usize, block: usize) -> Vec<u64> {
    let mut pending = sources
        .iter()
        .map(|s| s.iter().copied())
        .collect::<std::collections::VecDeque<_>>();
    let mut open = std::collections::VecDeque::new();
    let mut out = Vec::new();
    let mut taken = 0;
    loop {
        while open.len() < cycle {
            match pending.pop_front() {
                Some(source) => open.push_back(source),
                None => break,
            }
        }
        let Some(front) = open.front_mut() else {
            return out;
        };
        match front.next() {
            Some(item) => {
                out.push(item);
                taken += 1;
                if taken == block {
                    taken = 0;
                    open.rotate_left(1);
                }
            }
            None => {
                taken = 0;
                open.pop_front();
            }
        }
    }
}

#[test]
fn interleave_round_robin_by_blocks() {
    watchdog(LIMIT, || {
        let shards = vec![vec![0, 1, 2], vec![10, 11, 12], vec![20, 21]];
        let out = Pipeline::interleave(shards.clone(), Interleave::new(2))
            .collect()
            .unwrap();
        assert_eq!(out, vec![0, 10, 1, 11, 2, 12, 20, 21]);
        let uneven = vec![vec![0], vec![10, 11, 12], vec![20, 21]];
        let out = Pipeline::interleave(uneven.clone(), Interleave::new(2))
            .collect()
            .unwrap();
        assert_eq!(out, vec![0, 10, 11, 20, 12, 21]);
        let out = Pipeline::interleave(shards.clone(), Interleave::new(3).block(2))
            .collect()
            .unwrap();
        assert_eq!(out, vec![0, 1, 10, 11, 20, 21, 2, 12]);
        let out = Pipeline::interleave(shards.clone(), Interleave::new(1))
            .collect()
            .unwrap();
        assert_eq!(out, vec![0, 1, 2, 10, 11, 12, 20, 21]);
        let out = Pipeline::interleave(Vec::<Vec<u64>>::new(), Interleave::new(2))
            .collect()
            .unwrap();
        assert!(out.is_empty());
        let out = Pipeline::interleave(
            vec![vec![], vec![1u64], vec![]],
            Interleave::new(2).parallel(),
        )
        .collect()
        .unwrap();
        assert_eq!(out, vec![1]);
    });
}

#[test]
fn interleave_parallel_gives_the_same_order_as_round_robin() {
    watchdog(LIMIT, || {
        let shapes: Vec<Vec<usize>> = vec![
            vec![5, 0, 7, 1, 30],
            vec![100, 3, 57, 0],
            vec![1; 9],
            vec![0, 0, 4],
        ];
        for shape in shapes {
            let mut next = 0u64;
            let sources: Vec<Vec<u64>> = shape
                .iter()
                .map(|&len| {
                    let source = (next..next + len as u64).collect();
                    next += len as u64;
                    source
                })
                .collect();
            for cycle in [1usize, 2, 3, 8] {
                for block in [1usize, 2, 5] {
                    let expected = interleave_reference(&sources, cycle, block);
                    let options = Interleave::new(cycle).block(block);
                    let local = Pipeline::interleave(sources.clone(), options)
                        .collect()
                        .unwrap();
                    assert_eq!(local, expected, "{shape:?} cycle {cycle} block {block}");
                    let parallel = Pipeline::interleave(sources.clone(), options.parallel())
                        .map(Mode::parallel(2), |x| x)
                        .collect()
                        .unwrap();
                    assert_eq!(
                        parallel, expected,
                        "parallel: {shape:?} cycle {cycle} block {block}"
                    );
                }
            }
        }
    });
}

#[test]
fn interleave_as_ready_yields_every_item_once() {
    watchdog(LIMIT, || {
        let sources: Vec<Vec<u64>> = (0..6u64)
            .map(|s| (s * 1_000..s * 1_000 + s * 97).collect())
            .collect();
        let all: Vec<u64> = sources.iter().flatten().copied().collect();
        for cycle in [1usize, 2, 6] {
            let out =
                Pipeline::interleave(sources.clone(), Interleave::new(cycle).block(3).as_ready())
                    .collect()
                    .unwrap();
            assert_eq!(sorted(&out), sorted(&all), "cycle {cycle}");
            // Each source's own items keep their order.
            for source in &sources {
                let mine: Vec<u64> = out.iter().copied().filter(|x| source.contains(x)).collect();
                assert_eq!(&mine, source);
            }
        }
    });
}

#[test]
fn interleave_of_endless_sources_stops_with_take() {
    watchdog(LIMIT, || {
        let sources = (0..4u64).map(|s| (0u64..).map(move |i| s * 1_000_000 + i));
        let out = Pipeline::interleave(sources, Interleave::new(4).parallel())
            .take(8)
            .collect()
            .unwrap();
        assert_eq!(
            out,
            vec![0, 1_000_000, 2_000_000, 3_000_000, 1, 1_000_001, 2_000_001, 3_000_001]
        );
        let sources = (0..4u64).map(|s| (0u64..).map(move |i| s * 1_000_000 + i));
        let out = Pipeline::interleave(sources, Interleave::new(2).as_ready())
            .take(100)
            .collect()
            .unwrap();
        assert_eq!(out.len(), 100);
    });
}

// ---------------------------------------------------------------- sizes and settings

/// A pipeline with one of each kind of stage, and the same computation done plainly.
fn mixed(n: u64, config: Config) -> Pipeline<u64> {
    Pipeline::from_iter(0..n)
        .config(config)
        .map(Mode::parallel(3), |x| x * 3)
        .filter(Mode::parallel(2), |x| x % 2 == 0)
        .flat_map(Mode::serial(), |x| vec![x, x + 1])
        .stage("running", Mode::serial_in_order())
        .map_with(0u64, |n, x| {
            *n += 1;
            x + *n
        })
        .batch(5)
        .unbatch()
        .stage("io", Mode::parallel(2).blocking())
        .map(|x| x + 1)
        .inspect(Mode::parallel(4), |_| {})
}

fn mixed_reference(n: u64) -> Vec<u64> {
    (0..n)
        .map(|x| x * 3)
        .filter(|x| x % 2 == 0)
        .flat_map(|x| vec![x, x + 1])
        .scan(0u64, |n, x| {
            *n += 1;
            Some(x + *n)
        })
        .map(|x| x + 1)
        .collect()
}

#[test]
fn every_setting_at_its_smallest_gives_the_same_result() {
    watchdog(LIMIT, || {
        for (name, config) in configs() {
            for n in [0u64, 1, 2, 777] {
                assert_eq!(
                    mixed(n, config.clone()).collect().unwrap(),
                    mixed_reference(n),
                    "{name}, n {n}"
                );
                let via_iter: Vec<u64> = mixed(n, config.clone())
                    .into_iter()
                    .map(Result::unwrap)
                    .collect();
                assert_eq!(via_iter, mixed_reference(n), "{name}, n {n}, into_iter");
            }
        }
    });
}

#[test]
fn huge_items_pass_whole() {
    watchdog(LIMIT, || {
        const SIZE: usize = 8 << 20;
        let out = Pipeline::from_iter(0..4u8)
            .config(Config::default().max_in_flight(2))
            .map(Mode::parallel(2), |i| vec![i; SIZE])
            .map(Mode::parallel(2).blocking(), |mut v| {
                v[SIZE - 1] = v[0].wrapping_add(100);
                v
            })
            .map(Mode::serial(), |v| {
                (v.len(), v[0], v[SIZE / 2], v[SIZE - 1])
            })
            .collect()
            .unwrap();
        assert_eq!(
            out,
            (0..4u8).map(|i| (SIZE, i, i, i + 100)).collect::<Vec<_>>()
        );
    });
}

#[test]
fn stage_buffers_of_zero_and_one() {
    watchdog(LIMIT, || {
        for buffer in [0usize, 1, 2] {
            for mode in modes() {
                let out = Pipeline::from_iter(0..1_000u64)
                    .config(Config::default().max_chunk(4))
                    .map(Mode::parallel(4), |x| x + 1)
                    .stage("buffered", mode)
                    .buffer(buffer)
                    .map(|x| x * 2)
                    .stage("after", Mode::serial_in_order())
                    .buffer(buffer)
                    .map(|x| x)
                    .collect()
                    .unwrap();
                assert_eq!(
                    out,
                    (1..=1_000u64).map(|x| x * 2).collect::<Vec<_>>(),
                    "buffer({buffer}) {mode}"
                );
            }
        }
    });
}

#[test]
fn parallel_zero_is_one_replica() {
    watchdog(LIMIT, || {
        assert_eq!(Mode::parallel(0).replicas(), 1);
        let report = Pipeline::from_iter(0..500u64)
            .stage("zero", Mode::parallel(0))
            .map(|x| x + 1)
            .stage("zero-blocking", Mode::parallel(0).blocking())
            .map(|x| x)
            .for_each(|_| {})
            .unwrap();
        assert_eq!(report.stage("zero").unwrap().replicas, 1);
        assert_eq!(report.stage("zero").unwrap().items_out, 500);
        assert_eq!(report.stage("zero-blocking").unwrap().items_out, 500);
    });
}

#[test]
fn blocking_stages_that_sleep() {
    watchdog(LIMIT, || {
        let out = Pipeline::from_iter(0..400u64)
            .stage("fetch", Mode::parallel(8).blocking())
            .map(|x| {
                std::thread::sleep(Duration::from_micros(200));
                x * 2
            })
            .stage("write", Mode::serial_in_order().blocking())
            .map_with(Vec::new(), |log: &mut Vec<u64>, x| {
                std::thread::sleep(Duration::from_micros(20));
                log.push(x);
                log.len() as u64 - 1
            })
            .stage("unordered", Mode::serial().blocking())
            .map(|i| i + 1)
            .collect()
            .unwrap();
        assert_eq!(out, (1..=400u64).collect::<Vec<_>>());
    });
}

#[test]
fn thirty_chained_stages() {
    watchdog(LIMIT, || {
        let mut pipeline = Pipeline::from_iter(0..3_000u64);
        let all = modes();
        for i in 0..30u64 {
            pipeline = pipeline.map(all[i as usize % all.len()], move |x| x + i);
        }
        let report_pipeline = pipeline.map(Mode::parallel(2), |x| x);
        let out = report_pipeline.collect().unwrap();
        let added: u64 = (0..30u64).sum();
        assert_eq!(out, (0..3_000u64).map(|x| x + added).collect::<Vec<_>>());
    });
}

#[test]
fn stage_names_are_made_unique_and_counted() {
    watchdog(LIMIT, || {
        let report = Pipeline::from_iter(0..100u64)
            .map(Mode::parallel(2), |x| x)
            .map(Mode::parallel(2), |x| x)
            .stage("map", Mode::serial())
            .filter(|x| x % 2 == 0)
            .for_each(|_| {})
            .unwrap();
        let names: Vec<&str> = report
            .stats
            .stages
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, vec!["map", "map-2", "map-3", "sink"]);
        let unique: HashSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len());
        assert_eq!(report.stage("map-3").unwrap().items_in, 100);
        assert_eq!(report.stage("map-3").unwrap().items_out, 50);
        assert_eq!(report.stage("sink").unwrap().items_in, 50);
    });
}

// ---------------------------------------------------------------- counting

#[test]
fn weighed_items_are_counted_through_every_stage_in_every_mode_and_setting() {
    watchdog(LIMIT, || {
        // Batches of 0 to 9 numbers, counted as the numbers they hold;
        // a stage flattens them (the run is counted there), one keeps the
        // even numbers, one batches them again and is counted by batch size.
        let batches: Vec<Vec<u64>> = (0..400u64).map(|b| (0..b % 10).collect()).collect();
        let numbers: u64 = batches.iter().map(|b| b.len() as u64).sum();
        let evens = batches.iter().flatten().filter(|x| *x % 2 == 0).count() as u64;
        for (name, config) in configs() {
            for mode in modes() {
                let (seen, sink) = recorder();
                let report = Pipeline::from_iter(batches.clone())
                    .config(config.clone())
                    .count_by(|batch: &Vec<u64>| batch.len() as u64)
                    .flat_map(mode, |batch: Vec<u64>| batch)
                    .count_run_here()
                    .filter(mode, |x| x % 2 == 0)
                    .map(mode, |x| vec![x; 3])
                    .count_by(|triple: &Vec<u64>| triple.len() as u64)
                    .for_each(sink)
                    .unwrap();
                let stats = &report.stats;
                let counts: Vec<(u64, u64)> = stats
                    .stages
                    .iter()
                    .map(|s| (s.items_in, s.items_out))
                    .collect();
                assert_eq!(
                    counts,
                    vec![
                        (numbers, numbers),
                        (numbers, evens),
                        (evens, 3 * evens),
                        // The sink's output is one `()` per item.
                        (3 * evens, evens)
                    ],
                    "{name}, mode {mode}"
                );
                assert_eq!(stats.source.made, numbers, "{name}, mode {mode}");
                assert_eq!(stats.source.items, numbers, "{name}, mode {mode}");
                assert_eq!(taken(&seen).len() as u64, evens, "{name}, mode {mode}");
            }
        }
    });
}

#[test]
fn the_run_is_counted_by_the_source_unless_a_stage_is_named() {
    watchdog(LIMIT, || {
        let report = Pipeline::from_iter((0..50u64).map(|b| vec![b; 4]))
            .count_by(|_: &Vec<u64>| 1)
            .flat_map(Mode::parallel(2), |batch: Vec<u64>| batch)
            .for_each(|_| {})
            .unwrap();
        assert_eq!(
            (report.stats.source.items, report.stats.source.made),
            (50, 50)
        );
        assert_eq!(
            (
                report.stats.stages[0].items_in,
                report.stats.stages[0].items_out
            ),
            (50, 200)
        );
    });
}
