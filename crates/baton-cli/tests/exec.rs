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

#[test]
fn an_exec_stage_on_auto_counts_its_worker_s_computing_as_computing() {
    // Workers that compute (about a millisecond of Python an item), in
    // chunks of 64 items (`in_flight = 4`), so that there are many: the
    // replica's thread only waits on the pipe, but the worker's CPU is
    // read (/proc/PID/schedstat), so the tuner keeps about one worker per
    // core. Read as waiting, the same run had 256 workers fighting over
    // two cores (twice the time, three times the memory).
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "worker.py",
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
    );
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"range\"\nend = 1500\n\n\
         [[stage]]\nname = \"work\"\nop = \"exec\"\ncommand = [\"python3\", \"worker.py\"]\n\
         in_flight = 4\nreplicas = \"auto\"\n\n\
         [[stage]]\nop = \"discard\"\n",
    );
    let stats = dir.path().join("stats.json");
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
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    let tuning = log
        .lines()
        .find(|l| l.starts_with("tuning: stage `work`:"))
        .unwrap_or_else(|| panic!("no tuning line: {log}"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let work = &json["stages"][0];
    assert_eq!(work["name"], "work");
    let most = json["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stages"][0]["replicas"].as_u64().unwrap())
        .chain([work["replicas"].as_u64().unwrap()])
        .max()
        .unwrap();
    assert!(most <= 6, "{most} workers for two cores: {tuning}");
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
