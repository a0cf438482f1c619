//! Every example under `examples/` runs from a fresh copy and does what its
//! comments say.

mod common;

use common::{baton, copy_example, jsonl_values, stderr, stdout};

fn run(dir: &std::path::Path, file: &str, extra: &[&str]) -> std::process::Output {
    let output = baton()
        .arg("run")
        .arg("--quiet")
        .args(extra)
        .arg(dir.join(file))
        .output()
        .unwrap();
    assert!(output.status.success(), "{file}: {}", stderr(&output));
    output
}

#[test]
fn the_bottling_line_overlaps_filling_and_sealing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_example("bottling", tmp.path());
    let trace = tmp.path().join("pipelined.json");
    let pipelined = run(
        &dir,
        "pipelined.toml",
        &["--trace", trace.to_str().unwrap()],
    );
    assert_eq!(stdout(&pipelined).trim(), "count: 20");
    let one = run(&dir, "one-at-a-time.toml", &[]);
    assert_eq!(stdout(&one).trim(), "count: 20");
    // Not a timing assertion: the trace shows the overlap. While a bottle
    // was being filled, an earlier bottle was being sealed.
    let trace: serde_json::Value = serde_json::from_slice(&std::fs::read(&trace).unwrap()).unwrap();
    let spans: Vec<&serde_json::Value> = trace["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X" && e["args"]["items"].as_u64() > Some(0))
        .collect();
    let window = |stage: &str, item: u64| {
        let e = spans
            .iter()
            .find(|e| e["cat"] == stage && e["args"]["first_seq"] == item)
            .unwrap();
        let start = e["ts"].as_f64().unwrap();
        (start, start + e["dur"].as_f64().unwrap())
    };
    let overlapping = (1..20u64)
        .filter(|&k| {
            let (fill_start, fill_end) = window("fill", k);
            (0..k).any(|earlier| {
                let (seal_start, seal_end) = window("seal", earlier);
                fill_start < seal_end && seal_start < fill_end
            })
        })
        .count();
    assert!(
        overlapping >= 15,
        "only {overlapping} of 19 bottles were filled while another was sealed"
    );
}

#[test]
fn the_five_stage_instruction_pipeline_retires_every_instruction() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_example("instructions", tmp.path());
    let trace = tmp.path().join("trace.json");
    let output = run(
        &dir,
        "five-stage.toml",
        &["--trace", trace.to_str().unwrap()],
    );
    assert_eq!(stdout(&output).trim(), "count: 8");
    let trace: serde_json::Value = serde_json::from_slice(&std::fs::read(&trace).unwrap()).unwrap();
    let spans: Vec<&serde_json::Value> = trace["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X" && e["args"]["items"].as_u64() > Some(0))
        .collect();
    for stage in ["IF", "ID", "EX", "MEM", "WB"] {
        assert_eq!(
            spans.iter().filter(|e| e["cat"] == stage).count(),
            8,
            "one span per instruction in {stage}"
        );
    }
    // Instruction 1 is in IF while instruction 0 is in ID: the overlap.
    let span = |stage: &str, item: u64| {
        spans
            .iter()
            .find(|e| e["cat"] == stage && e["args"]["first_seq"] == item)
            .map(|e| {
                (
                    e["ts"].as_f64().unwrap(),
                    e["ts"].as_f64().unwrap() + e["dur"].as_f64().unwrap(),
                )
            })
            .unwrap()
    };
    let (if1_start, if1_end) = span("IF", 1);
    let (id0_start, id0_end) = span("ID", 0);
    assert!(
        if1_start < id0_end && id0_start < if1_end,
        "IF of 1 overlaps ID of 0"
    );
}

#[test]
fn the_python_exec_example_scores_numbers_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_example("exec-python", tmp.path());
    run(&dir, "score.toml", &[]);
    let out = std::fs::read_to_string(dir.join("out/scores.jsonl")).unwrap();
    let values = jsonl_values(&dir.join("out/scores.jsonl"));
    let expected: Vec<u64> = (0..1000).filter(|n| n % 7 != 0).collect();
    assert_eq!(values, expected);
    assert!(out.contains("\"square\":4"));
}

#[test]
fn the_log_etl_keeps_the_errors_with_user_and_code() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_example("log-etl", tmp.path());
    run(&dir, "make-logs.toml", &[]);
    assert!(dir.join("logs/app.log.gz").exists());
    run(&dir, "etl.toml", &[]);
    let out = std::fs::read_to_string(dir.join("out/errors.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        records.len() > 300,
        "about a sixth of 5000 records are errors, got {}",
        records.len()
    );
    for record in &records {
        let keys: Vec<&String> = record.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "{record}");
        assert!(
            record["user"].is_string() && record["code"].is_string(),
            "{record}"
        );
    }
}

#[test]
fn the_thumbnails_example_writes_small_images() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_example("thumbnails", tmp.path());
    run(&dir, "make-images.toml", &[]);
    run(&dir, "thumbnails.toml", &[]);
    let thumbs: Vec<_> = std::fs::read_dir(dir.join("thumbs")).unwrap().collect();
    assert_eq!(thumbs.len(), 24);
    let first = dir.join("thumbs/img-000.png");
    let bytes = std::fs::read(&first).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    // PNG header: width and height, big-endian, at bytes 16..24.
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (32, 24));
}
