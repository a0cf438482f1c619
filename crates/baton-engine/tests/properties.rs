//! Property tests: random pipelines (stages, modes, buffers, settings, sizes,
//! costs) give exactly what the plain sequential computation gives; with a
//! fallible stage, exactly the failures it must.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_engine::{Config, OnError, Pipeline, PipelineError, RunReport};
use common::model::{Expected, Fallible, ModeSpec, Model, Op, StageSpec};
use common::{sorted, watchdog, LIMIT};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// The random settings, kept apart from `Config` so that a failing case shows them plainly.
#[derive(Clone, Copy, Debug)]
struct Settings {
    threads: usize,
    max_in_flight: usize,
    max_chunk: usize,
    max_chunks_in_flight: usize,
}

impl Settings {
    fn config(self) -> Config {
        Config::default()
            .threads(self.threads)
            .max_in_flight(self.max_in_flight)
            .max_chunk(self.max_chunk)
            .max_chunks_in_flight(self.max_chunks_in_flight)
    }
}

#[derive(Clone, Debug)]
struct Case {
    n: u64,
    settings: Settings,
    model: Model,
    /// Read the source as a stream with this linger (µs), on a thread of its own.
    stream_linger_us: Option<u64>,
}

impl Case {
    fn pipeline(&self) -> Pipeline<u64> {
        let source = match self.stream_linger_us {
            None => Pipeline::from_iter(0..self.n).config(self.settings.config()),
            Some(us) => Pipeline::from_stream(0..self.n)
                .config(self.settings.config().linger(Duration::from_micros(us))),
        };
        self.model.build(source)
    }
}

fn mode() -> impl Strategy<Value = ModeSpec> {
    prop_oneof![
        2 => Just(ModeSpec::SerialInOrder),
        2 => Just(ModeSpec::Serial),
        4 => (1usize..4).prop_map(ModeSpec::Parallel),
        1 => (1usize..4).prop_map(ModeSpec::Blocking),
        1 => Just(ModeSpec::SerialBlocking),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..4, any::<u64>()).prop_map(|(kind, k)| Op::Map { kind, k }),
        (2u64..6, 0u64..6).prop_map(|(m, r)| Op::Filter { m, r: r % m }),
        any::<u64>().prop_map(|salt| Op::FlatMap { salt }),
        (1usize..20, any::<bool>()).prop_map(|(size, builtin_unbatch)| Op::Batch {
            size,
            builtin_unbatch
        }),
        Just(Op::Inspect),
    ]
}

fn stage() -> impl Strategy<Value = StageSpec> {
    (op(), mode(), proptest::option::of(1usize..16)).prop_map(|(op, mode, buffer)| StageSpec {
        op,
        mode,
        buffer,
    })
}

fn settings() -> impl Strategy<Value = Settings> {
    (1usize..=3, 1usize..512, 1usize..64, 1usize..16).prop_map(
        |(threads, max_in_flight, max_chunk, max_chunks_in_flight)| Settings {
            threads,
            max_in_flight,
            max_chunk,
            max_chunks_in_flight,
        },
    )
}

fn case() -> impl Strategy<Value = Case> {
    (
        0u64..2_000,
        settings(),
        proptest::collection::vec(stage(), 1..6),
        0u32..40,
        prop_oneof![3 => Just(None), 1 => (0u64..2_000).prop_map(Some)],
    )
        .prop_map(|(n, settings, stages, cost, stream_linger_us)| Case {
            n,
            settings,
            model: Model {
                stages,
                cost,
                fallible: None,
            },
            stream_linger_us,
        })
}

fn fallible_case(policy: OnError) -> impl Strategy<Value = Case> {
    (
        case(),
        any::<prop::sample::Index>(),
        2u64..8,
        0u64..8,
        mode(),
    )
        .prop_map(move |(mut case, at, m, r, mode)| {
            let at = at.index(case.model.stages.len() + 1);
            case.model.fallible = Some(Fallible {
                at,
                m,
                r: r % m,
                mode,
                policy,
            });
            case
        })
}

/// 200 cases per property (a few seconds in all), unless `PROPTEST_CASES` says otherwise.
fn config() -> ProptestConfig {
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default().cases
    } else {
        200
    };
    ProptestConfig {
        cases,
        max_shrink_iters: 200,
        max_shrink_time: 30_000,
        ..ProptestConfig::default()
    }
}

/// Runs the pipeline to an in-order `for_each` sink.
fn run_for_each(pipeline: Pipeline<u64>) -> (Vec<u64>, Result<RunReport, PipelineError>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let result = pipeline.for_each(move |x| sink.lock().unwrap().push(x));
    let items = std::mem::take(&mut *seen.lock().unwrap());
    (items, result)
}

/// Runs `body` under the watchdog, passing its verdict on to proptest.
fn watched(case: Case, body: fn(Case) -> Result<(), TestCaseError>) -> Result<(), TestCaseError> {
    watchdog(LIMIT, move || body(case))
}

fn sinks_match(case: Case) -> Result<(), TestCaseError> {
    let expected = case.model.expected(case.n, true).values();
    let collected = case
        .pipeline()
        .collect()
        .map_err(|e| TestCaseError::fail(format!("collect: {e}")))?;
    prop_assert_eq!(&collected, &expected, "collect");
    let (seen, result) = run_for_each(case.pipeline());
    result.map_err(|e| TestCaseError::fail(format!("for_each: {e}")))?;
    prop_assert_eq!(&seen, &expected, "for_each");
    let unordered = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&unordered);
    case.pipeline()
        .for_each_unordered(move |x| sink.lock().unwrap().push(x))
        .map_err(|e| TestCaseError::fail(format!("for_each_unordered: {e}")))?;
    let unordered = std::mem::take(&mut *unordered.lock().unwrap());
    prop_assert_eq!(
        sorted(&unordered),
        sorted(&expected),
        "for_each_unordered (as multisets)"
    );
    Ok(())
}

fn iterators_match(case: Case) -> Result<(), TestCaseError> {
    let expected = case.model.expected(case.n, true).values();
    let iterated: Result<Vec<u64>, PipelineError> = case.pipeline().into_iter().collect();
    let iterated = iterated.map_err(|e| TestCaseError::fail(format!("into_iter: {e}")))?;
    prop_assert_eq!(&iterated, &expected, "into_iter");
    let unordered: Result<Vec<u64>, PipelineError> =
        case.pipeline().into_iter_unordered().collect();
    let unordered =
        unordered.map_err(|e| TestCaseError::fail(format!("into_iter_unordered: {e}")))?;
    prop_assert_eq!(
        sorted(&unordered),
        sorted(&expected),
        "into_iter_unordered (as multisets)"
    );
    Ok(())
}

fn skip_matches(case: Case) -> Result<(), TestCaseError> {
    let Expected { out, failed } = case.model.expected(case.n, true);
    let expected: Vec<u64> = out.iter().map(|(_, v)| *v).collect();
    let (seen, result) = run_for_each(case.pipeline());
    let report = result.map_err(|e| TestCaseError::fail(format!("for_each: {e}")))?;
    prop_assert_eq!(
        &seen,
        &expected,
        "the output is the sequential one less the failing items"
    );
    let mut dead: Vec<(u64, u64)> = Vec::new();
    for letter in &report.dead_letters {
        prop_assert_eq!(letter.stage.as_str(), Fallible::NAME);
        let item = letter.item::<u64>().copied();
        prop_assert!(item.is_some(), "dead letter {} has no item", letter.seq);
        dead.push((letter.seq, item.unwrap_or_default()));
    }
    prop_assert_eq!(
        sorted(&dead),
        sorted(&failed),
        "dead letters as (seq, item)"
    );
    let fallible = report
        .stage(Fallible::NAME)
        .expect("the fallible stage is in the report");
    prop_assert_eq!(fallible.skipped, failed.len() as u64);
    Ok(())
}

fn fail_matches(case: Case) -> Result<(), TestCaseError> {
    let Expected { out, failed } = case.model.expected(case.n, true);
    match case.pipeline().collect() {
        Ok(items) => {
            prop_assert!(
                failed.is_empty(),
                "succeeded though {} items fail",
                failed.len()
            );
            prop_assert_eq!(items, out.iter().map(|(_, v)| *v).collect::<Vec<_>>());
        }
        Err(PipelineError::Stage {
            stage,
            seq,
            failure,
        }) => {
            prop_assert_eq!(stage.as_str(), Fallible::NAME);
            let values: HashMap<u64, Vec<u64>> =
                failed.iter().fold(HashMap::new(), |mut by_seq, (s, v)| {
                    by_seq.entry(*s).or_default().push(*v);
                    by_seq
                });
            prop_assert!(
                values.contains_key(&seq),
                "seq {} is not a failing item's ({})",
                seq,
                failure
            );
            let message = failure.to_string();
            prop_assert!(
                values[&seq].iter().any(|v| message == format!("bad {v}")),
                "`{}` is not the failure of an item numbered {}",
                message,
                seq
            );
        }
        Err(other) => return Err(TestCaseError::fail(format!("unexpected error {other}"))),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// `collect`, `for_each` and `for_each_unordered` give the sequential result.
    #[test]
    fn random_pipelines_reach_their_sinks_like_the_sequential_computation(case in case()) {
        watched(case, sinks_match)?;
    }

    /// `into_iter` and `into_iter_unordered` give the sequential result.
    #[test]
    fn random_pipelines_iterate_like_the_sequential_computation(case in case()) {
        watched(case, iterators_match)?;
    }

    /// Under `Skip`, the failing items leave the stream for the dead letters, each with its seq.
    #[test]
    fn skipped_failures_are_exactly_the_failing_items(case in fallible_case(OnError::Skip)) {
        watched(case, skip_matches)?;
    }

    /// Under `Fail`, the run fails at a failing item of the fallible stage, or succeeds if none fails.
    #[test]
    fn a_failure_names_its_stage_and_a_failing_item(case in fallible_case(OnError::Fail)) {
        watched(case, fail_matches)?;
    }
}
