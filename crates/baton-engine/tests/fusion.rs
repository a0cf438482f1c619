//! Plan optimisation: adjacent parallel stages that can run as one run
//! fused, and keep their own stats, spans and failures.

mod common;

use baton_engine::{Config, Mode, OnError, Pipeline, PipelineError};
use common::{quiet_intended_panics, watchdog, INTENDED, LIMIT};
use proptest::prelude::*;

const N: u64 = 20_000;

fn fused_into(report: &baton_engine::RunReport, stage: &str) -> Option<String> {
    report.stage(stage).unwrap().fused_into.clone()
}

#[test]
fn adjacent_parallel_stages_run_fused_and_keep_their_own_stats_and_spans() {
    watchdog(LIMIT, || {
        let (sum, report) = Pipeline::from_iter(0..N)
            .config(Config::default().threads(2).trace(true).max_chunk(256))
            .stage("add", Mode::parallel(2))
            .map(|x| x + 1)
            .stage("drop-odd", Mode::parallel(2))
            .filter(|x| x % 2 == 0)
            .stage("double", Mode::parallel(2))
            .map(|x| x * 2)
            .fold_with_report(0u64, |a, x| a + x)
            .unwrap();
        let expected: u64 = (0..N)
            .map(|x| x + 1)
            .filter(|x| x % 2 == 0)
            .map(|x| x * 2)
            .sum();
        assert_eq!(sum, expected);
        assert_eq!(fused_into(&report, "add"), None);
        assert_eq!(fused_into(&report, "drop-odd").as_deref(), Some("add"));
        assert_eq!(fused_into(&report, "double").as_deref(), Some("add"));
        assert_eq!(fused_into(&report, "sink"), None);
        // The summary printed after a run says it too.
        let shown = report.to_string();
        let line = |name: &str| {
            shown
                .lines()
                .find(|l| l.starts_with(name))
                .unwrap()
                .to_string()
        };
        assert!(
            line("double").contains("parallel(2), fused into add"),
            "{shown}"
        );
        assert!(!line("add ").contains("fused"), "{shown}");
        let stage = |name| report.stage(name).unwrap();
        assert_eq!((stage("add").items_in, stage("add").items_out), (N, N));
        assert_eq!(
            (stage("drop-odd").items_in, stage("drop-odd").items_out),
            (N, N / 2)
        );
        assert_eq!(
            (stage("double").items_in, stage("double").items_out),
            (N / 2, N / 2)
        );
        for name in ["add", "drop-odd", "double"] {
            assert!(!stage(name).busy.is_zero(), "{name} was timed");
            assert_eq!(stage(name).chunks, stage("add").chunks, "{name}");
            assert_eq!(stage(name).replicas, 2, "{name}");
        }
        // Every stage has its spans, and a fused stage's span of a chunk
        // starts after the one before it ends (one replica carried it).
        for chunk in 0..stage("add").chunks {
            let spans: Vec<_> = report
                .trace
                .iter()
                .filter(|s| s.chunk == chunk + 1 && s.stage >= 1 && s.stage <= 3)
                .collect();
            if spans.len() < 3 {
                continue; // the end marker, or a chunk all of whose items were dropped
            }
            let at = |stage: usize| spans.iter().find(|s| s.stage == stage).unwrap();
            assert!(at(2).start >= at(1).start + at(1).duration);
            assert!(at(3).start >= at(2).start + at(2).duration);
        }
    });
}

#[test]
fn fusion_stops_at_another_mode_policy_queue_or_a_stage_kept_apart() {
    watchdog(LIMIT, || {
        let report = Pipeline::from_iter(0..1_000u64)
            .config(Config::default().threads(2))
            .stage("a", Mode::parallel(2))
            .map(|x| x + 1)
            .stage("b", Mode::parallel(3))
            .map(|x| x + 1)
            .stage("c", Mode::parallel(3))
            .on_error(OnError::Skip)
            .map(|x| x + 1)
            .stage("d", Mode::parallel(3))
            .on_error(OnError::Skip)
            .buffer(64)
            .map(|x| x + 1)
            .stage("e", Mode::parallel(3))
            .on_error(OnError::Skip)
            .fuse(false)
            .map(|x| x + 1)
            .stage("f", Mode::parallel(3))
            .on_error(OnError::Skip)
            .map(|x| x + 1)
            .stage("g", Mode::parallel(3).blocking())
            .on_error(OnError::Skip)
            .map(|x| x + 1)
            .stage("h", Mode::serial_in_order())
            .map(|x| x + 1)
            .stage("i", Mode::serial_in_order())
            .map(|x| x + 1)
            .stage("j", Mode::auto())
            .map(|x| x + 1)
            .stage("k", Mode::auto())
            .map(|x| x + 1)
            .for_each(|_| {})
            .unwrap();
        for name in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"] {
            assert_eq!(fused_into(&report, name), None, "{name} runs on its own");
        }
        // Switched off for the whole pipeline.
        let report = Pipeline::from_iter(0..1_000u64)
            .config(Config::default().fusion(false))
            .map(Mode::parallel(2), |x| x + 1)
            .map(Mode::parallel(2), |x| x + 1)
            .for_each(|_| {})
            .unwrap();
        assert!(report.stats.stages.iter().all(|s| s.fused_into.is_none()));
    });
}

#[test]
fn a_failure_in_a_fused_stage_is_its_own_and_every_item_before_it_goes_on() {
    watchdog(LIMIT, || {
        quiet_intended_panics();
        for panics in [false, true] {
            let mut iter = Pipeline::from_iter(0..N)
                .config(Config::default().threads(2).max_chunk(512))
                .stage("add", Mode::parallel(2))
                .map(|x| x + 1)
                .stage("check", Mode::parallel(2))
                .try_map(move |x: u64| {
                    if x == 7_778 {
                        if panics {
                            panic!("{INTENDED}");
                        }
                        return Err("seven seven seven".into());
                    }
                    Ok(x * 10)
                })
                .stage("after", Mode::parallel(2))
                .map(|x| x + 3)
                .into_iter();
            let mut items = Vec::new();
            let mut error = None;
            for next in iter.by_ref() {
                match next {
                    Ok(item) => items.push(item),
                    Err(e) => error = Some(e),
                }
            }
            let expected: Vec<u64> = (0..7_777).map(|x| (x + 1) * 10 + 3).collect();
            assert_eq!(
                items, expected,
                "every item before the failing one, in order"
            );
            match error {
                Some(PipelineError::Stage { stage, seq, .. }) => {
                    assert_eq!((stage.as_str(), seq), ("check", 7_777));
                }
                other => panic!("expected the failure of `check`, got {other:?}"),
            }
        }
    });
}

#[test]
fn a_skipped_item_of_a_fused_stage_goes_to_its_dead_letters() {
    watchdog(LIMIT, || {
        let mut iter = Pipeline::from_iter(0..N)
            .config(Config::default().threads(2))
            .stage("add", Mode::parallel(2))
            .on_error(OnError::Skip)
            .map(|x| x + 1)
            .stage("check", Mode::parallel(2))
            .on_error(OnError::Skip)
            .try_map(|x: u64| match x % 1_000 {
                0 => Err(format!("{x} is round").into()),
                _ => Ok(x),
            })
            .into_iter();
        let items: Vec<u64> = iter.by_ref().map(Result::unwrap).collect();
        let expected: Vec<u64> = (1..=N).filter(|x| x % 1_000 != 0).collect();
        assert_eq!(items, expected);
        let letters = iter.dead_letters();
        assert_eq!(letters.len(), (N / 1_000) as usize);
        for letter in &letters {
            assert_eq!(letter.stage, "check");
            assert_eq!(letter.item::<u64>(), Some(&(letter.seq + 1)));
        }
        let report = iter.report().unwrap();
        assert_eq!(
            report.stage("check").unwrap().fused_into.as_deref(),
            Some("add")
        );
        assert_eq!(report.stage("check").unwrap().skipped, N / 1_000);
        assert_eq!(report.stage("add").unwrap().skipped, 0);
    });
}

#[test]
fn a_fused_stage_whose_replica_cannot_be_made_fails_the_run_naming_it() {
    watchdog(LIMIT, || {
        quiet_intended_panics();
        // The same stages, whose replicas can be made, run fused.
        let report = Pipeline::from_iter(0..1_000u64)
            .map(Mode::parallel(2), |x| x + 1)
            .map_init(Mode::parallel(2), || 1u64, |s, x: u64| x + *s)
            .for_each(|_| {})
            .unwrap();
        assert_eq!(fused_into(&report, "map_init").as_deref(), Some("map"));
        let result = Pipeline::from_iter(0..1_000u64)
            .map(Mode::parallel(2), |x| x + 1)
            .map_init(
                Mode::parallel(2),
                || -> u64 { panic!("{INTENDED}: no state") },
                |s, x: u64| x + *s,
            )
            .for_each(|_| {});
        match result {
            Err(PipelineError::Stage { stage, .. }) => assert_eq!(stage, "map_init"),
            other => panic!("expected the failure of `map_init`, got {other:?}"),
        }
    });
}

#[test]
fn the_replicas_of_a_fused_stage_are_those_of_the_stage_it_runs_in() {
    watchdog(LIMIT, || {
        let run = Pipeline::from_iter(0..200_000u64)
            .config(Config::default().threads(2).max_chunk(64))
            .stage("a", Mode::parallel(2))
            .map(|x| x + 1)
            .stage("b", Mode::parallel(2))
            .map(|x| x * 2)
            .spawn_for_each(|_| std::thread::yield_now())
            .unwrap();
        let handle = run.handle();
        let refused = handle.set_replicas("b", 4).unwrap_err().to_string();
        assert!(refused.contains("`b` runs fused into `a`"), "{refused}");
        handle.set_replicas("a", 1).unwrap();
        let report = run.join().unwrap();
        assert_eq!(report.stage("a").unwrap().replicas, 1);
        assert_eq!(report.stage("b").unwrap().replicas, 1);
        assert_eq!(report.stage("b").unwrap().items_out, 200_000);
    });
}

/// A chain of parallel stages (maps, filters, flat maps; some failing
/// under fail or skip) gives the same items, dead letters and error with
/// fusion on as with it off.
#[derive(Clone, Debug)]
enum Step {
    Map(u64),
    Filter(u64),
    FlatMap,
    FailAt(u64),
}

fn build(steps: &[Step], policy: OnError, fusion: bool, n: u64, chunk: usize) -> Pipeline<u64> {
    let mut p = Pipeline::from_iter(0..n)
        .config(Config::default().threads(2).max_chunk(chunk).fusion(fusion));
    for (i, step) in steps.iter().enumerate() {
        let builder = p
            .stage(&format!("s{i}"), Mode::parallel(2))
            .on_error(policy);
        p = match *step {
            Step::Map(k) => builder.map(move |x| x.wrapping_mul(k) % 1_000_003),
            Step::Filter(m) => builder.filter(move |x| x % m != 0),
            Step::FlatMap => builder.flat_map(|x| [x, x + 1]),
            Step::FailAt(r) => builder.try_map(move |x: u64| match x % 97 == r {
                true => Err(format!("{x} fails").into()),
                false => Ok(x),
            }),
        };
    }
    p
}

fn outcome(p: Pipeline<u64>) -> (Vec<u64>, Vec<(String, u64)>, Option<String>) {
    let mut iter = p.into_iter();
    let mut items = Vec::new();
    let mut error = None;
    for next in iter.by_ref() {
        match next {
            Ok(item) => items.push(item),
            Err(e) => error = Some(e.to_string()),
        }
    }
    let letters = iter
        .dead_letters()
        .into_iter()
        .map(|l| (l.stage, l.seq))
        .collect();
    (items, letters, error)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]
    #[test]
    fn fusion_changes_nothing_a_user_sees(
        steps in proptest::collection::vec(prop_oneof![
            (1u64..50).prop_map(Step::Map),
            (2u64..5).prop_map(Step::Filter),
            Just(Step::FlatMap),
            (0u64..97).prop_map(Step::FailAt),
        ], 1..6),
        skip in any::<bool>(),
        n in 1u64..3_000,
        chunk in 1usize..300,
    ) {
        let policy = if skip { OnError::Skip } else { OnError::Fail };
        let (steps2, steps3) = (steps.clone(), steps.clone());
        let (fused, apart) = watchdog(LIMIT, move || {
            (outcome(build(&steps2, policy, true, n, chunk)), outcome(build(&steps3, policy, false, n, chunk)))
        });
        let mut fused_letters = fused.1.clone();
        let mut apart_letters = apart.1.clone();
        fused_letters.sort();
        apart_letters.sort();
        prop_assert_eq!(&fused.0, &apart.0, "items");
        prop_assert_eq!(fused_letters, apart_letters, "dead letters");
        prop_assert_eq!(&fused.2, &apart.2, "error");
    }
}
