//! `baton run` reading standard input that trickles in: each line reaches
//! the sink while the producer is still writing, not when a chunk fills or
//! the input ends.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::write;

#[test]
fn lines_that_trickle_in_reach_the_sink_while_input_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.toml",
        "[pipeline]\nlinger_ms = 20\n\n[[stage]]\nop = \"stdin\"\n\n[[stage]]\nop = \"rename\"\nfields = { line = \"got\" }\nreplicas = 2\n\n[[stage]]\nop = \"stdout\"\n",
    );
    let mut baton = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["run", "--quiet"])
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = baton.stdin.take().unwrap();
    let output = BufReader::new(baton.stdout.take().unwrap());
    let (lines, arrived) = mpsc::channel();
    std::thread::spawn(move || {
        for line in output.lines() {
            if lines.send((line.unwrap(), Instant::now())).is_err() {
                return;
            }
        }
    });
    // As `tail -f` does: first what the log holds, fast (so chunks grow
    // large), then a line every 300 ms; each of those must come out before
    // the next goes in, long before a large chunk could fill.
    let burst = 20_000;
    for n in 0..burst {
        writeln!(input, "old {n}").unwrap();
    }
    input.flush().unwrap();
    for n in 0..burst {
        let (line, _) = arrived
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("old line {n} did not come out"));
        assert_eq!(line, format!("{{\"got\":\"old {n}\"}}"));
    }
    for n in 0..5 {
        let sent = Instant::now();
        writeln!(input, "line {n}").unwrap();
        input.flush().unwrap();
        let (line, at) = arrived
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("line {n} did not come out while input went on"));
        assert_eq!(line, format!("{{\"got\":\"line {n}\"}}"));
        assert!(at >= sent);
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(input);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = baton.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "baton did not end with its input"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
}

#[test]
fn a_slow_stream_is_named_as_the_limit_and_its_waiting_stage_tuned_to_it() {
    // 150 lines, one every 10 ms, into a stage on auto that waits 100 ms
    // per line: about 10 in flight keep up, and no change after the source
    // would make the run faster.
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nname = \"in\"\nop = \"stdin\"\n\n[[stage]]\nname = \"wait\"\nop = \"delay\"\nms = 100\nreplicas = \"auto\"\n\n[[stage]]\nop = \"jsonl\"\npath = \"out.jsonl\"\n",
    );
    let mut baton = Command::new(env!("CARGO_BIN_EXE_baton"))
        .current_dir(dir.path())
        .args(["run", "--quiet", "--stats", "stats.json"])
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = baton.stdin.take().unwrap();
    for n in 0..150 {
        writeln!(input, "line {n}").unwrap();
        input.flush().unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(input);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = baton.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "baton did not end with its input"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let out = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    let expected: Vec<String> = (0..150)
        .map(|n| format!("{{\"line\":\"line {n}\"}}"))
        .collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("stats.json")).unwrap())
            .unwrap();
    let waited = stats["source"]["waiting_for_input_s"].as_f64().unwrap();
    assert!(waited > 0.5, "the source waited {waited} s: {stats}");
    assert_eq!(stats["bottleneck"]["stage"], "in");
    let verdict = stats["bottleneck"]["verdict"].as_str().unwrap();
    assert!(verdict.contains("waits for its input"), "{verdict}");
    let wait = &stats["stages"][0];
    let tuning = wait["tuning"].as_str().unwrap();
    assert!(tuning.contains("what the source `in` gives"), "{tuning}");
    let replicas = wait["replicas"].as_u64().unwrap();
    assert!(
        (5..=160).contains(&replicas),
        "{replicas} replicas: {tuning}"
    );
}
