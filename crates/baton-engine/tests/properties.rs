//! Property tests: random pipelines (stages, modes, buffers, settings, sizes,
//! costs) give exactly what the plain sequential computation gives; with a
//! fallible stage, exactly the failures it must.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_engine::{Config, OnError, Pipeline, PipelineError, RunReport};
use common::model::{Expected, Fallible, ModeSpec, Model, Op, StageSpec};
use common::{sorted, spin, watchdog, LIMIT};
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
        1 => Just(ModeSpec::Auto),
        1 => Just(ModeSpec::AutoBlocking),
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

/// Under `Fail`, an in-order end gets exactly the items before the first
/// failing one, then the run's error; an unordered end gets at least those.
fn fail_keeps_what_came_before(case: Case) -> Result<(), TestCaseError> {
    let (expected, first) = case.model.expected_until_failure(case.n);
    let Expected { failed, .. } = case.model.expected(case.n, true);
    let check_error = |error: Option<PipelineError>| -> Result<(), TestCaseError> {
        match (first, error) {
            (None, None) => Ok(()),
            (Some(_), Some(PipelineError::Stage { stage, seq, .. })) => {
                prop_assert_eq!(stage.as_str(), Fallible::NAME);
                prop_assert!(
                    failed.iter().any(|(s, _)| *s == seq),
                    "seq {} is not a failing item's",
                    seq
                );
                Ok(())
            }
            (first, error) => Err(TestCaseError::fail(format!(
                "first failing item {first:?}, error {error:?}"
            ))),
        }
    };
    let mut iter = case.pipeline().into_iter();
    let mut iterated = Vec::new();
    let mut error = None;
    for next in iter.by_ref() {
        match next {
            Ok(item) => iterated.push(item),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    prop_assert!(iter.next().is_none(), "an item after the error");
    prop_assert_eq!(&iterated, &expected, "into_iter");
    check_error(error)?;
    let (seen, result) = run_for_each(case.pipeline());
    prop_assert_eq!(&seen, &expected, "for_each");
    check_error(result.err())?;
    let unordered: Vec<u64> = case
        .pipeline()
        .into_iter_unordered()
        .map_while(Result::ok)
        .collect();
    let mut left = sorted(&unordered).into_iter().peekable();
    for want in sorted(&expected) {
        while left.next_if(|got| *got < want).is_some() {}
        prop_assert!(
            left.next_if_eq(&want).is_some(),
            "into_iter_unordered lacks {}",
            want
        );
    }
    Ok(())
}

/// Items `0..n`, identity stages before and after, and one that fails on
/// item `bad`; chunks of about `chunk` items.
#[derive(Clone, Debug)]
struct FailAt {
    n: u64,
    bad: u64,
    chunk: usize,
    threads: usize,
    before: Vec<ModeSpec>,
    failing: ModeSpec,
    after: Vec<ModeSpec>,
    cost: u32,
}

impl FailAt {
    const NAME: &'static str = "check";

    /// The pipeline; the stages after the failing one record what they see.
    fn pipeline(&self, seen: &Arc<Mutex<Vec<u64>>>) -> Pipeline<u64> {
        let cost = self.cost;
        let config = Config::default()
            .threads(self.threads)
            .max_chunk(self.chunk)
            .max_in_flight(4 * self.chunk + 64);
        let mut pipeline = Pipeline::from_iter(0..self.n).config(config);
        for (i, mode) in self.before.iter().enumerate() {
            pipeline = pipeline.stage(&format!("b{i}"), mode.mode()).map(move |x| {
                std::hint::black_box(spin(cost));
                x
            });
        }
        let bad = self.bad;
        pipeline = pipeline
            .stage(Self::NAME, self.failing.mode())
            .min_chunk(self.chunk)
            .try_map(move |x| {
                std::hint::black_box(spin(cost));
                if x == bad {
                    Err(format!("bad {x}").into())
                } else {
                    Ok(x)
                }
            });
        for (i, mode) in self.after.iter().enumerate() {
            let seen = Arc::clone(seen);
            pipeline = pipeline.stage(&format!("a{i}"), mode.mode()).map(move |x| {
                std::hint::black_box(spin(cost));
                if i == 0 {
                    seen.lock().unwrap().push(x);
                }
                x
            });
        }
        pipeline
    }

    /// Whether nothing past the failing item can get by it: its stage takes
    /// chunks in order.
    fn in_order(&self) -> bool {
        matches!(self.failing, ModeSpec::SerialInOrder)
    }
}

fn fail_at() -> impl Strategy<Value = FailAt> {
    (
        (1u64..400, any::<prop::sample::Index>()),
        1usize..40,
        1usize..=3,
        proptest::collection::vec(mode(), 0..3),
        prop_oneof![3 => Just(ModeSpec::SerialInOrder), 3 => mode()],
        proptest::collection::vec(mode(), 0..3),
        0u32..20,
    )
        .prop_map(
            |((n, bad), chunk, threads, before, failing, after, cost)| FailAt {
                n,
                bad: bad.index(n as usize + 1) as u64,
                chunk,
                threads,
                before,
                failing,
                after,
                cost,
            },
        )
}

fn failing_item_keeps_what_came_before(case: FailAt) -> Result<(), TestCaseError> {
    let before: Vec<u64> = (0..case.bad.min(case.n)).collect();
    let fails = case.bad < case.n;
    let check = |result: Result<(), PipelineError>| -> Result<(), TestCaseError> {
        match (fails, result) {
            (false, Ok(())) => Ok(()),
            (true, Err(PipelineError::Stage { stage, seq, .. })) => {
                prop_assert_eq!((stage.as_str(), seq), (FailAt::NAME, case.bad));
                Ok(())
            }
            (_, other) => Err(TestCaseError::fail(format!("unexpected {other:?}"))),
        }
    };
    // In order: exactly the items before the failing one, then its error.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut iter = case.pipeline(&seen).into_iter();
    let mut iterated = Vec::new();
    let mut result = Ok(());
    for next in iter.by_ref() {
        match next {
            Ok(item) => iterated.push(item),
            Err(error) => {
                result = Err(error);
                break;
            }
        }
    }
    prop_assert!(iter.next().is_none(), "an item after the error");
    drop(iter);
    prop_assert_eq!(&iterated, &before, "into_iter");
    check(result)?;
    // The stage after the failing one saw every item before it (and, when
    // the failing stage keeps order, nothing else).
    let seen = sorted(&seen.lock().unwrap());
    if !case.after.is_empty() {
        if case.in_order() {
            prop_assert_eq!(&seen, &before, "the stage after");
        } else {
            let seen: Vec<u64> = seen.into_iter().filter(|x| *x < case.bad).collect();
            prop_assert_eq!(&seen, &before, "the stage after");
        }
    }
    let (got, result) = run_for_each(case.pipeline(&Arc::default()));
    prop_assert_eq!(&got, &before, "for_each");
    check(result.map(drop))?;
    // Out of order: every item before the failing one, once.
    let got: Vec<u64> = case
        .pipeline(&Arc::default())
        .into_iter_unordered()
        .map_while(Result::ok)
        .collect();
    let got = sorted(&got);
    prop_assert!(!got.contains(&case.bad), "the failing item came out");
    if case.in_order() {
        prop_assert_eq!(&got, &before, "into_iter_unordered");
    } else {
        let got: Vec<u64> = got.into_iter().filter(|x| *x < case.bad).collect();
        prop_assert_eq!(&got, &before, "into_iter_unordered");
    }
    Ok(())
}

fn watched_fail_at(
    case: FailAt,
    body: fn(FailAt) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    watchdog(LIMIT, move || body(case))
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

    /// Under `Fail`, every item before the first failing one reaches an
    /// in-order end (and nothing after it), then the error.
    #[test]
    fn a_failure_loses_nothing_before_the_first_failing_item(case in fallible_case(OnError::Fail)) {
        watched(case, fail_keeps_what_came_before)?;
    }

    /// One failing item, chunks of any size, stages of any mode around it:
    /// the items before it, in order, then its error; the stages after it
    /// see them all.
    #[test]
    fn a_failing_item_keeps_every_item_before_it(case in fail_at()) {
        watched_fail_at(case, failing_item_keeps_what_came_before)?;
    }
}
