//! `exec` with many requests in flight, and the `arrow` protocol, run as
//! the engine runs them (whole chunks, replicas in parallel), with real
//! Python workers.

use std::path::Path;

use baton_engine::{Config, Mode, OnError, Pipeline};
use proptest::prelude::*;

use super::tests_support::{within, worker, DOUBLER};
use super::DEF;
use crate::item::{Item, Payload};
use crate::registry::BuiltOp;
use crate::testing;

/// Runs `items` through an `exec` stage with `params` (TOML) in `dir`, with
/// `replicas` replicas and chunks of at most `max_chunk` items, under
/// `policy`: the outputs and the dead letters (sequence number, message).
fn run(
    dir: &Path,
    params: &str,
    items: Vec<Item>,
    replicas: usize,
    max_chunk: usize,
    policy: OnError,
) -> (Vec<Item>, Vec<(u64, String)>) {
    let BuiltOp::Stage(stage) = testing::build(&DEF, &testing::params(&DEF, params, dir)) else {
        panic!("exec is a stage")
    };
    let builder = Pipeline::from_iter(items)
        .config(Config::default().threads(2).max_chunk(max_chunk))
        .stage("exec", Mode::parallel(replicas).blocking())
        .on_error(policy);
    let mut iter = stage.attach(builder).into_iter();
    let out: Vec<Item> = iter.by_ref().map(Result::unwrap).collect();
    let mut letters: Vec<(u64, String)> = iter
        .dead_letters()
        .iter()
        .map(|l| (l.seq, l.failure.to_string()))
        .collect();
    letters.sort();
    (out, letters)
}

fn numbers(n: i64) -> Vec<Item> {
    (0..n)
        .map(|n| {
            let mut item = Item::with_field("value", n);
            item.payload = Payload::Bytes(n.to_le_bytes().to_vec());
            item
        })
        .collect()
}

fn values(items: &[Item], field: &str) -> Vec<i64> {
    items
        .iter()
        .map(|i| i.get(field).and_then(|v| v.as_i64()).expect("a number"))
        .collect()
}

#[test]
fn many_in_flight_keep_the_order_and_the_payloads() {
    within(60, || {
        let dir = worker(DOUBLER);
        let params = r#"command = ["python3", "worker.py"]
in_flight = 32"#;
        let (out, letters) = run(dir.path(), params, numbers(3000), 2, 4096, OnError::Fail);
        assert!(letters.is_empty());
        assert_eq!(values(&out, "value"), (0..3000).collect::<Vec<_>>());
        assert_eq!(
            values(&out, "doubled"),
            (0..3000).map(|n| n * 2).collect::<Vec<_>>()
        );
        for (n, item) in out.iter().enumerate() {
            assert_eq!(
                item.payload,
                Payload::Bytes((n as i64).to_le_bytes().to_vec())
            );
        }
    });
}

#[test]
fn answers_out_of_order_are_matched_by_their_ids() {
    within(60, || {
        // Reads four requests, then answers them last first.
        let dir = worker(
            r#"
import json, sys
held = []
for line in sys.stdin:
    held.append(json.loads(line))
    if len(held) == 4:
        for item in reversed(held):
            item["seen"] = True
            print(json.dumps(item), flush=True)
        held = []
"#,
        );
        let params = r#"command = ["python3", "worker.py"]
in_flight = 4
require_ids = true"#;
        // Chunks of four: the worker never waits for a fifth.
        let (out, letters) = run(dir.path(), params, numbers(400), 2, 4, OnError::Fail);
        assert!(letters.is_empty(), "{letters:?}");
        assert_eq!(values(&out, "value"), (0..400).collect::<Vec<_>>());
    });
}

#[test]
fn a_worker_that_crashes_mid_batch_loses_and_repeats_nothing() {
    within(60, || {
        // Dies on 37 (after answering what came before it).
        let dir = worker(
            r#"
import json, sys
for line in sys.stdin:
    item = json.loads(line)
    if item["value"] == 37:
        sys.stderr.write("no 37!\n"); sys.exit(3)
    print(json.dumps(item), flush=True)
"#,
        );
        let params = r#"command = ["python3", "worker.py"]
in_flight = 16"#;
        let (out, letters) = run(dir.path(), params, numbers(200), 1, 64, OnError::Skip);
        // 37 failed with the death; what was in flight with it failed as
        // abandoned; everything else came through, once.
        let failed: Vec<u64> = letters.iter().map(|l| l.0).collect();
        assert!(failed.contains(&37), "{letters:?}");
        let died = letters.iter().find(|l| l.0 == 37).unwrap();
        assert!(
            died.1.contains("exited") && died.1.contains("no 37!"),
            "{died:?}"
        );
        assert!(
            letters
                .iter()
                .filter(|l| l.0 != 37)
                .all(|l| l.1.contains("in flight")),
            "{letters:?}"
        );
        let mut seen: Vec<i64> = values(&out, "value");
        seen.extend(failed.iter().map(|&s| s as i64));
        seen.sort_unstable();
        assert_eq!(seen, (0..200).collect::<Vec<_>>(), "each item once");

        // Retried alone, the innocent ones pass: only 37 is lost.
        let policy = OnError::RetryThenSkip {
            attempts: 1,
            backoff: std::time::Duration::ZERO,
        };
        let (out, letters) = run(dir.path(), params, numbers(200), 1, 64, policy);
        assert_eq!(letters.iter().map(|l| l.0).collect::<Vec<_>>(), vec![37]);
        assert_eq!(out.len(), 199);
    });
}

/// Keeps the even `value`s, adds `doubled`.
const ARROW_WORKER: &str = r#"
import sys
sys.path.insert(0, sys.argv[1])
import pyarrow.compute as pc
from baton_exec import serve_arrow

def work(batch):
    even = batch.filter(pc.equal(pc.bit_wise_and(batch["value"], 1), 0))
    return even.append_column("doubled", pc.multiply(even["value"], 2))

serve_arrow(work)
"#;

fn arrow_params(extra: &str) -> String {
    let helpers = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/exec");
    format!(
        "command = [\"python3\", \"worker.py\", \"{}\"]\nprotocol = \"arrow\"\n{extra}",
        helpers.display()
    )
}

fn rows_of(out: &[Item]) -> Vec<Item> {
    out.iter().flat_map(Item::rows).collect()
}

#[test]
fn an_arrow_worker_filters_rows_and_adds_a_column_a_batch_at_a_time() {
    within(60, || {
        let dir = worker(ARROW_WORKER);
        let (out, letters) = run(
            dir.path(),
            &arrow_params("batch_rows = 100"),
            numbers(1000),
            2,
            4096,
            OnError::Fail,
        );
        assert!(letters.is_empty(), "{letters:?}");
        assert!(out.iter().all(|o| matches!(o.payload, Payload::Records(_))));
        let rows = rows_of(&out);
        assert_eq!(
            values(&rows, "value"),
            (0..1000).step_by(2).collect::<Vec<_>>()
        );
        assert_eq!(
            values(&rows, "doubled"),
            (0..1000).step_by(2).map(|n| n * 2).collect::<Vec<_>>()
        );
        // The payloads went as the binary column `_payload`, and came back.
        let first = &rows[1];
        assert!(
            first.get("_payload").is_some() || matches!(first.payload, Payload::Bytes(_)),
            "{first:?}"
        );
    });
}

#[test]
fn an_arrow_worker_that_crashes_or_answers_garbage_fails_its_rows_clearly() {
    within(60, || {
        let dir = worker(
            r#"
import struct, sys
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
head = stdin.read(8)
rid, n = struct.unpack(">II", head)
stdin.read(n)
stdout.write(struct.pack(">II", rid, 5) + b"hello")
stdout.flush()
sys.exit(1)
"#,
        );
        let (out, letters) = run(
            dir.path(),
            &arrow_params("batch_rows = 10"),
            numbers(20),
            1,
            4096,
            OnError::Skip,
        );
        assert!(out.is_empty());
        assert_eq!(letters.len(), 20, "{letters:?}");
        assert!(
            letters[0].1.contains("not an Arrow IPC stream"),
            "{letters:?}"
        );
        assert!(
            letters[1]
                .1
                .contains("the batch this row was sent in failed"),
            "{letters:?}"
        );
        assert!(letters[10].1.contains("exited"), "{letters:?}");
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn exec_gives_what_a_sequential_run_gives(in_flight in 1usize..80, chunk in 1usize..300, n in 0i64..500) {
        let (out, letters) = within(60, move || {
            let dir = worker(DOUBLER);
            let params = format!("command = [\"python3\", \"worker.py\"]\nin_flight = {in_flight}");
            run(dir.path(), &params, numbers(n), 2, chunk, OnError::Fail)
        });
        prop_assert!(letters.is_empty());
        prop_assert_eq!(values(&out, "value"), (0..n).collect::<Vec<_>>());
        prop_assert_eq!(values(&out, "doubled"), (0..n).map(|v| v * 2).collect::<Vec<_>>());
    }
}
