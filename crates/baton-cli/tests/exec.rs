//! `exec` stages run by `baton run`: what the worker's failures and
//! environment look like from the command line.

mod common;

use common::{baton, stderr, write};

#[test]
fn an_answer_over_the_limit_names_the_stage_the_item_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "worker.py",
        r#"
import json, sys
for line in sys.stdin:
    item = json.loads(line)
    if item["value"] == 2:
        while True:
            sys.stdout.write("x" * 4096)  # no newline, ever
    print(json.dumps(item), flush=True)
"#,
    );
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"range\"\nend = 5\n\n\
         [[stage]]\nname = \"babble\"\nop = \"exec\"\ncommand = [\"python3\", \"worker.py\"]\nmax_answer_bytes = 1000\n\n\
         [[stage]]\nop = \"count\"\n",
    );
    let output = baton()
        .args(["run", "--quiet"])
        .arg(&file)
        .output()
        .unwrap();
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(
        log.contains("stage `babble` failed on item 2: ")
            && log.contains("longer than `max_answer_bytes` (1000 bytes)"),
        "{log}"
    );
}

#[test]
fn a_variable_not_allowed_does_not_reach_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "worker.py",
        r#"
import json, os, sys
for line in sys.stdin:
    item = json.loads(line)
    item["secret"] = os.environ.get("BATON_TEST_SECRET")
    item["mode"] = os.environ.get("MODE")
    print(json.dumps(item), flush=True)
"#,
    );
    let pipeline = |env: &str| {
        format!(
            "[[stage]]\nop = \"range\"\nend = 1\n\n\
             [[stage]]\nop = \"exec\"\ncommand = [\"python3\", \"worker.py\"]\n{env}\n\n\
             [[stage]]\nop = \"jsonl\"\npath = \"out.jsonl\"\n"
        )
    };
    let run = |env: &str| -> serde_json::Value {
        let file = write(dir.path(), "p.toml", &pipeline(env));
        let output = baton()
            .args(["run", "--quiet"])
            .arg(&file)
            .env("BATON_TEST_SECRET", "hunter2")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let out = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
        serde_json::from_str(out.trim()).unwrap()
    };
    assert_eq!(run("")["secret"], "hunter2", "inherited by default");
    let allowed = run("env_allow = [\"PATH\", \"HOME\"]\nenv = { MODE = \"fast\" }");
    assert_eq!(allowed["secret"], serde_json::Value::Null, "{allowed}");
    assert_eq!(allowed["mode"], "fast");
}

#[test]
fn a_jsonl_worker_never_loses_the_items_payload() {
    let dir = tempfile::tempdir().unwrap();
    // Binary files, not JSON: what must reach the `files` sink intact.
    for n in 0..3u8 {
        let bytes: Vec<u8> = (0..=255u8).map(|b| b.wrapping_mul(n + 1)).collect();
        std::fs::create_dir_all(dir.path().join("in")).unwrap();
        std::fs::write(dir.path().join(format!("in/{n}.bin")), bytes).unwrap();
    }
    // The worker sees the record only, and names the output file.
    write(
        dir.path(),
        "worker.py",
        r#"
import json, os, sys
for line in sys.stdin:
    item = json.loads(line)
    item["name"] = os.path.basename(item["path"])
    print(json.dumps(item), flush=True)
"#,
    );
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"files\"\npath = \"in/*.bin\"\n\n\
         [[stage]]\nname = \"rename\"\nop = \"exec\"\ncommand = [\"python3\", \"worker.py\"]\n\n\
         [[stage]]\nop = \"files\"\npath = \"out\"\nfield = \"name\"\n",
    );
    let output = baton()
        .args(["run", "--quiet"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    for n in 0..3 {
        let name = format!("{n}.bin");
        assert_eq!(
            std::fs::read(dir.path().join("out").join(&name)).unwrap(),
            std::fs::read(dir.path().join("in").join(&name)).unwrap(),
            "{name} came out other than it went in"
        );
    }
}

/// A run of `worker.py` as the `exec` stage `work` on auto (see [`on_auto`]).
struct AutoRun {
    outputs: Vec<serde_json::Value>,
    /// The most replicas the stage had in any sample, and at the end.
    most: u64,
    last: u64,
    /// The tuner's line for the stage.
    tuning: String,
    /// The run's wall time, in seconds.
    took: f64,
}

/// Runs `worker.py` (from `script`) as the `exec` stage `work` on auto,
/// with `keys` (TOML lines) added to the stage and `pipeline` before it,
/// over `items` items on two threads; checks every item came out in order.
fn on_auto(pipeline: &str, keys: &str, script: &str, items: u64) -> AutoRun {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "worker.py", script);
    let out = dir.path().join("out.jsonl");
    let file = write(
        dir.path(),
        "p.toml",
        &format!(
            "{pipeline}[[stage]]\nop = \"range\"\nend = {items}\n\n\
             [[stage]]\nname = \"work\"\nop = \"exec\"\ncommand = [\"python3\", \"worker.py\"]\n\
             {keys}replicas = \"auto\"\n\n\
             [[stage]]\nop = \"jsonl\"\npath = \"{}\"\n",
            out.display()
        ),
    );
    let stats = dir.path().join("stats.json");
    let start = std::time::Instant::now();
    let output = baton()
        .args([
            "run",
            "--quiet",
            "--threads",
            "2",
            "--explain-tuning",
            "--stats",
        ])
        .arg(&stats)
        .arg(&file)
        .output()
        .unwrap();
    let took = start.elapsed().as_secs_f64();
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    let tuning = log
        .lines()
        .find(|l| l.starts_with("tuning: stage `work`:"))
        .unwrap_or_else(|| panic!("no tuning line: {log}"))
        .to_string();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let work = &json["stages"][0];
    assert_eq!(work["name"], "work");
    let last = work["replicas"].as_u64().unwrap();
    let most = json["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stages"][0]["replicas"].as_u64().unwrap())
        .chain([last])
        .max()
        .unwrap();
    let outputs: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let values: Vec<u64> = outputs
        .iter()
        .map(|o| o["value"].as_u64().unwrap())
        .collect();
    assert_eq!(
        values,
        (0..items).collect::<Vec<_>>(),
        "every item, in order"
    );
    AutoRun {
        outputs,
        most,
        last,
        tuning,
        took,
    }
}

#[test]
fn an_exec_stage_on_auto_counts_its_worker_s_computing_as_computing() {
    // Workers that compute (about a millisecond of Python an item), in
    // chunks of 64 items (`in_flight = 4`), so that there are many: the
    // replica's thread only waits on the pipe, but the worker's CPU is
    // read (/proc/PID/schedstat), so the tuner keeps about one worker per
    // core. Read as waiting, the same run had 256 workers fighting over
    // two cores (twice the time, three times the memory), at the end too.
    let AutoRun {
        most, last, tuning, ..
    } = on_auto(
        "",
        "in_flight = 4\n",
        r#"
import json, sys
for line in sys.stdin:
    item = json.loads(line)
    x = item["value"]
    for _ in range(5000):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
    item["x"] = x
    print(json.dumps(item), flush=True)
"#,
        1500,
    );
    // A window of noise (a worker starting beside the others, a burst of
    // load from other tests) may add a few for a moment; it ends with
    // about one a core, and never dozens.
    assert!(
        last <= 6,
        "{last} workers at the end for two cores: {tuning}"
    );
    assert!(
        most <= 24,
        "{most} workers at a time for two cores: {tuning}"
    );
    // It says the item computes: a millisecond of Python, read from the
    // worker (the replica's own thread computes microseconds).
    let computes: f64 = tuning
        .split("an item computes ")
        .nth(1)
        .and_then(|rest| rest.split(" µs").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{tuning}"));
    assert!(computes > 100.0, "{tuning}");
}

#[test]
fn an_exec_stage_on_auto_whose_worker_waits_gets_many_workers() {
    // 2 ms of waiting an item: a chunk is sized to the worker's pace (50
    // ms of it), so 3,000 items make many chunks and the tuner sees each
    // end; many workers then hide the waits.
    let AutoRun { most, tuning, .. } = on_auto(
        "",
        "",
        r#"
import sys, time
for line in sys.stdin:
    time.sleep(0.002)
    print(line, end="", flush=True)
"#,
        3000,
    );
    assert!(most > 8, "{most} workers: {tuning}");
}

#[test]
fn workers_that_cost_much_to_start_are_added_at_a_pace_the_cpu_budget_allows() {
    // Each worker computes ~150 ms before its first answer (as imports
    // would), then waits 2 ms an item. The tuner wants many, but starts
    // them with at most a quarter of two cores: about 3 a second, plus
    // one second's worth banked.
    let AutoRun {
        outputs,
        most,
        tuning,
        took,
        ..
    } = on_auto(
        "",
        "",
        r#"
import json, os, sys, time
x = 1
start = time.process_time()
while time.process_time() - start < 0.15:
    x = (x * 6364136223846793005 + 1) % (1 << 64)
for line in sys.stdin:
    item = json.loads(line)
    time.sleep(0.002)
    item["pid"] = os.getpid()
    print(json.dumps(item), flush=True)
"#,
        3000,
    );
    let workers: std::collections::HashSet<u64> =
        outputs.iter().map(|o| o["pid"].as_u64().unwrap()).collect();
    let allowed = 2.0 + (took + 1.0) * 0.25 * 2.0 / 0.15 + 2.0;
    assert!(
        (workers.len() as f64) <= allowed,
        "{} workers started in {took:.1} s (at most {allowed:.0}): {tuning}",
        workers.len()
    );
    assert!(most > 2, "the tuner added none: {tuning}");
}

#[test]
fn workers_that_hold_much_memory_are_added_only_while_the_memory_budget_has_room() {
    // Each worker holds 150 MB and waits 2 ms an item: the tuner would
    // want dozens; a budget of 800 MB leaves room for about four beside
    // baton (nine tenths of it).
    let AutoRun {
        outputs, tuning, ..
    } = on_auto(
        "[pipeline]\nmemory_budget = \"800 MB\"\n\n",
        "",
        r#"
import json, os, sys, time
held = bytearray(150 * 1000 * 1000)
for i in range(0, len(held), 4096):
    held[i] = 1
for line in sys.stdin:
    item = json.loads(line)
    time.sleep(0.002)
    item["pid"] = os.getpid()
    print(json.dumps(item), flush=True)
"#,
        2000,
    );
    let workers: std::collections::HashSet<u64> =
        outputs.iter().map(|o| o["pid"].as_u64().unwrap()).collect();
    assert!(
        workers.len() <= 5,
        "{} workers of 150 MB in a budget of 800 MB: {tuning}",
        workers.len()
    );
    assert!(tuning.contains("held by memory"), "{tuning}");
}
