//! `baton`'s exit codes: 0 done, 1 failed, 2 a bad file or bad arguments,
//! 130 stopped or aborted by Ctrl-C (those cases are in `run.rs` and `terminal.rs`).

mod common;

use common::{baton, stderr, write};

const RANGE_TO_DISCARD: &str =
    "[[stage]]\nop = \"range\"\nend = 5\n\n[[stage]]\nname = \"twice\"\nop = \"delay\"\nms = 0\n\n[[stage]]\nop = \"discard\"\n";

/// Runs `baton run -q ARGS FILE` on `text`: the exit code and stderr.
fn run(text: &str, args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.toml", text);
    let output = baton()
        .args(["run", "-q"])
        .args(args)
        .arg(&file)
        .output()
        .unwrap();
    (output.status.code(), stderr(&output))
}

#[test]
fn a_finished_run_exits_0() {
    let (code, shown) = run(RANGE_TO_DISCARD, &[]);
    assert_eq!(code, Some(0), "{shown}");
}

#[test]
fn a_failed_run_exits_1() {
    let text = "[[stage]]\nop = \"range\"\nend = 5\n\n[[stage]]\nop = \"unbatch\"\n\n[[stage]]\nop = \"discard\"\n";
    let (code, shown) = run(text, &[]);
    assert_eq!(code, Some(1), "{shown}");
}

#[test]
fn a_bad_file_exits_2() {
    let (code, shown) = run("[[stage]]\nop = \"rnage\"\n", &[]);
    assert_eq!(code, Some(2), "{shown}");
}

#[test]
fn bad_arguments_exit_2_with_clap() {
    let output = baton().args(["run"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = baton().args(["frobnicate"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = baton()
        .args(["run", "--threads", "x", "p.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn bad_replicas_and_buffer_overrides_exit_2_with_their_message() {
    let cases: [(&[&str], &str); 7] = [
        (
            &["--replicas", "twice"],
            "--replicas takes STAGE=N, not `twice`",
        ),
        (
            &["--replicas", "twice=x"],
            "--replicas twice=x: `x` is not a whole number",
        ),
        (
            &["--replicas", "twice=0"],
            "--replicas twice=0: a stage needs at least 1 replica",
        ),
        (&["--replicas", "twcie=2"], "did you mean `twice`?"),
        (
            &["--replicas", "range=2"],
            "--replicas range=2: stage `range` is serial_in_order, so it has one replica",
        ),
        (
            &["--buffer", "twice=-1"],
            "--buffer twice=-1: `-1` is not a whole number",
        ),
        (
            &["--buffer", "twice=0"],
            "--buffer twice=0: a stage's buffer holds at least 1 item",
        ),
    ];
    for (args, message) in cases {
        let (code, shown) = run(RANGE_TO_DISCARD, args);
        assert_eq!(code, Some(2), "{args:?}: {shown}");
        assert!(shown.contains(message), "{args:?}: {shown}");
        assert!(shown.starts_with("error: "), "{args:?}: {shown}");
    }
}

#[test]
fn ops_naming_no_op_is_a_bad_argument() {
    let output = baton().args(["ops", "rnage"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("did you mean `range`?"));
}

#[test]
fn zero_threads_is_a_bad_argument() {
    let (code, shown) = run(RANGE_TO_DISCARD, &["--threads", "0"]);
    assert_eq!(code, Some(2), "{shown}");
}
