//! `baton check --format json`: the diagnostics as a JSON array, for editors
//! and CI; `[]` and exit 0 for a valid file, exit 2 when there are errors.

mod common;

use common::{baton, stdout, write};
use serde_json::Value;

/// Checks `text` with `--format json`: the exit code and the parsed output.
fn check_json(text: &str) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.toml", text);
    let output = baton()
        .args(["check", "--format", "json"])
        .arg(&file)
        .output()
        .unwrap();
    let shown = stdout(&output);
    let json: Value =
        serde_json::from_str(&shown).unwrap_or_else(|e| panic!("not JSON ({e}): {shown:?}"));
    (
        output.status.code().unwrap_or(-1),
        json,
        file.to_string_lossy().into_owned(),
    )
}

#[test]
fn a_valid_file_is_an_empty_array_and_exit_0() {
    let (code, json, _) =
        check_json("[[stage]]\nop = \"range\"\nend = 5\n\n[[stage]]\nop = \"discard\"\n");
    assert_eq!(code, 0);
    assert_eq!(json, serde_json::json!([]));
}

#[test]
fn every_problem_is_an_object_with_its_place_key_stage_and_help() {
    let text = "[[stage]]\nop = \"range\"\nend = 5\nstpe = 2\n\n[[stage]]\nname = \"wait\"\nop = \"delay\"\nms = \"one\"\n\n[[stage]]\nop = \"discard\"\n";
    let (code, json, file) = check_json(text);
    assert_eq!(code, 2);
    let problems = json.as_array().expect("an array");
    assert_eq!(problems.len(), 2, "{json:#}");
    let stpe = &problems[0];
    assert_eq!(stpe["file"], file.as_str());
    assert_eq!(
        (stpe["line"].as_u64(), stpe["column"].as_u64()),
        (Some(4), Some(1))
    );
    assert_eq!(
        (stpe["end_line"].as_u64(), stpe["end_column"].as_u64()),
        (Some(4), Some(5)),
        "the span of `stpe` ends after its last character: {stpe:#}"
    );
    assert_eq!(stpe["severity"], "error");
    assert_eq!(stpe["key"], "stpe");
    assert_eq!(stpe["stage"], "range");
    assert_eq!(stpe["message"], "unknown key `stpe` for op `range`");
    assert_eq!(stpe["help"], "did you mean `step`?");
    let ms = &problems[1];
    assert_eq!(
        (ms["line"].as_u64(), ms["column"].as_u64()),
        (Some(9), Some(6))
    );
    assert_eq!(ms["key"], "ms");
    assert_eq!(ms["stage"], "wait");
    assert!(
        ms["message"]
            .as_str()
            .unwrap()
            .contains("must be a number, not a string"),
        "{ms:#}"
    );
}

#[test]
fn a_problem_found_when_building_is_in_the_array_too() {
    let (code, json, _) = check_json(
        "[[stage]]\nop = \"lines\"\npath = \"no/such/*.log\"\n\n[[stage]]\nop = \"discard\"\n",
    );
    assert_eq!(code, 2);
    let problem = &json[0];
    assert_eq!(problem["key"], "path");
    assert_eq!(problem["stage"], "lines");
    assert_eq!(problem["line"].as_u64(), Some(3));
}

#[test]
fn a_file_that_cannot_be_read_has_no_line() {
    let output = baton()
        .args(["check", "--format", "json", "no/such/file.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(json[0]["line"].is_null(), "{json:#}");
    assert!(
        json[0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot read the pipeline file"),
        "{json:#}"
    );
}

#[test]
fn the_text_format_is_the_default_and_an_unknown_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.toml", "[[stage]]\nop = \"rnage\"\n");
    let output = baton()
        .args(["check", "--format", "text"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(common::stderr(&output).contains("error: unknown op `rnage`"));
    let output = baton()
        .args(["check", "--format", "yaml"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}
