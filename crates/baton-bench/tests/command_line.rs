//! The `baton-bench` binary: one JSON line per run on stdout, nothing else.

use std::process::{Command, Output};

use serde_json::Value;

fn baton_bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton-bench"))
        .args(args)
        .output()
        .expect("baton-bench starts")
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .expect("stdout is UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect()
}

#[test]
fn prints_one_line_per_run() {
    let output = baton_bench(&[
        "--impl",
        "sequential",
        "--workload",
        "W1",
        "--n",
        "1000",
        "--runs",
        "2",
        "--threads",
        "2",
    ]);
    assert!(output.status.success(), "{output:?}");
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["workload"], "W1");
        assert_eq!(line["impl"], "sequential");
        assert_eq!(line["n"], 1000);
        assert_eq!(line["p"], 2);
        assert!(line["ideal_items_per_s"].is_null());
        assert!(line["peak_rss_mb"].as_f64().unwrap() > 0.0);
        let checksum = line["checksum"].as_str().unwrap();
        assert_eq!(checksum.len(), 18);
        assert!(checksum.starts_with("0x"));
        assert!(checksum[2..]
            .chars()
            .all(|c| matches!(c, '0'..='9' | 'a'..='f')));
    }
}

#[test]
fn workload_names_ignore_case() {
    let output = baton_bench(&["--impl", "sequential", "--workload", "w6", "--n", "10"]);
    assert!(output.status.success(), "{output:?}");
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["workload"], "W6");
    assert!(lines[0]["efficiency"].is_number());
}

#[test]
fn rejects_unknown_workloads_without_printing_a_line() {
    let output = baton_bench(&["--workload", "W8"]);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
}

#[test]
fn child_refuses_all() {
    let output = baton_bench(&["--child", "--workload", "all", "--n", "10"]);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
}

#[test]
fn a_sweep_with_what_if_prints_its_runs_and_checks_every_prediction_against_them() {
    // W4's fetch stage at 1, 2, 4, ... 256 replicas over 200 items: every
    // run predicts the others, and the verdict compares each prediction
    // with what that count measured.
    let output = baton_bench(&[
        "--workload",
        "W4",
        "--n",
        "200",
        "--threads",
        "2",
        "--tune",
        "sweep",
        "--what-if",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // Stdout keeps to the report lines: nine counts and auto.
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 10, "{lines:?}");
    let predictions: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("W4 what-if: baton-replicas-") && l.contains(" predicts "))
        .collect();
    // Nine runs, each predicting the eight other counts.
    assert_eq!(predictions.len(), 72, "{stderr}");
    let one_to_two = predictions
        .iter()
        .find(|l| l.contains("baton-replicas-1 predicts 2 replicas"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(one_to_two.contains("; measured "), "{one_to_two}");
    let verdict = stderr
        .lines()
        .find(|l| l.contains("predictions within 10% of the measured median"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(verdict.contains(" of 72 "), "{verdict}");
}

#[test]
fn what_if_needs_a_sweep() {
    let output = baton_bench(&["--workload", "W2", "--n", "10", "--what-if"]);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("needs --tune sweep"), "{stderr}");
}
