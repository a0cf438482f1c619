//! Outputs never destroy inputs: `baton check` (and so `baton run`) refuses
//! an output that is an input, another output or a dead-letter file, and a
//! run that does not finish leaves the previous output as it was.

mod common;

use std::path::Path;

use common::{baton, stderr, write};

/// `baton check` on `text`, in `dir`: its stderr, and whether it passed.
fn check(dir: &Path, text: &str) -> (bool, String) {
    let file = write(dir, "p.toml", text);
    let output = baton().arg("check").arg(&file).output().unwrap();
    (output.status.success(), stderr(&output))
}

#[test]
fn a_sink_writing_an_input_file_is_refused_at_its_key() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "logs/a.log", "a\n");
    write(dir.path(), "logs/b.log", "b\n");
    let text = "[[stage]]\nop = \"lines\"\npath = \"logs/*.log\"\n\n[[stage]]\nop = \"jsonl\"\npath = \"logs/../logs/b.log\"\n";
    let (ok, log) = check(dir.path(), text);
    assert!(!ok, "{log}");
    assert!(log.contains("p.toml:7:1"), "at the sink's `path`: {log}");
    assert!(log.contains("(key `path`)"), "{log}");
    assert!(log.contains("b.log"), "{log}");
    assert!(log.contains("stage `lines`"), "names the reader: {log}");
    assert!(log.contains("line 3"), "and where it reads: {log}");
    // `baton run` refuses it too, and the input is untouched.
    let output = baton()
        .arg("run")
        .arg(dir.path().join("p.toml"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("logs/b.log")).unwrap(),
        "b\n"
    );
}

#[test]
fn an_output_reached_through_a_symlink_is_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "in.jsonl", "{\"n\":1}\n");
    std::os::unix::fs::symlink(dir.path().join("in.jsonl"), dir.path().join("link.jsonl")).unwrap();
    let text = "[[stage]]\nop = \"jsonl\"\npath = \"in.jsonl\"\n\n[[stage]]\nop = \"jsonl\"\npath = \"link.jsonl\"\n";
    let (ok, log) = check(dir.path(), text);
    assert!(!ok, "{log}");
    assert!(log.contains("stage `jsonl`"), "{log}");
}

#[test]
fn a_dead_letter_file_that_is_the_output_or_another_dead_letter_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"json_parse\"\nfield = \"value\"\non_error = \"skip\"\ndead_letter = \"out.jsonl\"\n\n[[stage]]\nop = \"jsonl\"\npath = \"out.jsonl\"\n";
    let (ok, log) = check(dir.path(), text);
    assert!(!ok, "{log}");
    assert!(log.contains("p.toml:13:1"), "at the sink's `path`: {log}");
    assert!(log.contains("`dead_letter`"), "{log}");
    let text = "[[stage]]\nop = \"range\"\nend = 3\non_error = \"skip\"\ndead_letter = \"dead.jsonl\"\n\n[[stage]]\nop = \"json_parse\"\nfield = \"value\"\non_error = \"skip\"\ndead_letter = \"dead.jsonl\"\n\n[[stage]]\nop = \"discard\"\n";
    let (ok, log) = check(dir.path(), text);
    assert!(!ok, "{log}");
    assert!(
        log.contains("p.toml:11:1"),
        "at the second `dead_letter`: {log}"
    );
    assert!(log.contains("(key `dead_letter`)"), "{log}");
    assert!(log.contains("stage `range`"), "{log}");
}

#[test]
fn a_files_sink_into_the_folder_of_its_inputs_is_refused_and_the_pipeline_file_is_an_input() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "images/a.png", "not really");
    let text = "[[stage]]\nop = \"files\"\npath = \"images/*.png\"\n\n[[stage]]\nop = \"files\"\npath = \"images\"\nfield = \"path\"\n";
    let (ok, log) = check(dir.path(), text);
    assert!(!ok, "{log}");
    assert!(log.contains("a.png"), "{log}");
    let text =
        "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"jsonl\"\npath = \"p.toml\"\n";
    let (ok, log) = check(dir.path(), text);
    assert!(!ok, "{log}");
    assert!(log.contains("the pipeline file"), "{log}");
}

#[test]
fn outputs_apart_from_the_inputs_pass() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "logs/a.log", "a\n");
    let text = "[[stage]]\nop = \"lines\"\npath = \"logs/*.log\"\non_error = \"skip\"\ndead_letter = \"bad-lines.jsonl\"\n\n[[stage]]\nop = \"jsonl\"\npath = \"logs.jsonl\"\n";
    let (ok, log) = check(dir.path(), text);
    assert!(ok, "{log}");
}

#[test]
fn a_failed_run_leaves_the_previous_output_and_says_where_the_partial_one_is() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "out.jsonl", "{\"previous\":true}\n");
    // Item 5 fails the run.
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"range\"\nend = 10\n\n[[stage]]\nop = \"filter\"\nexpr = \"value < 5 || value.no_such_method()\"\n\n[[stage]]\nop = \"jsonl\"\npath = \"out.jsonl\"\n",
    );
    let output = baton()
        .args(["run", "--quiet"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let log = stderr(&output);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap(),
        "{\"previous\":true}\n"
    );
    let partial = dir.path().join("out.jsonl.partial");
    assert!(partial.exists(), "{log}");
    assert!(log.contains(&partial.display().to_string()), "{log}");
    // Run again without the failure: the output is replaced, the partial one gone.
    let fixed = std::fs::read_to_string(&file)
        .unwrap()
        .replace(" || value.no_such_method()", "");
    std::fs::write(&file, fixed).unwrap();
    let output = baton()
        .args(["run", "--quiet"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.jsonl"))
            .unwrap()
            .lines()
            .count(),
        5
    );
    assert!(!partial.exists());
}
