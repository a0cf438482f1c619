//! `baton` when the machine refuses it something: a clear error and exit
//! code 1, never a panic that leaves threads running.

mod common;

use common::{baton, stderr, write};

#[test]
fn a_thread_that_cannot_start_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"range\"\nend = 100\n\n[[stage]]\nop = \"delay\"\nms = 1\nreplicas = 4\n\n[[stage]]\nop = \"count\"\n",
    );
    // Every thread started without an explicit stack size asks for 100 TB
    // of stack: the system refuses to start it.
    let output = baton()
        .args(["run", "--quiet"])
        .arg(&file)
        .env("RUST_MIN_STACK", "100000000000000")
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("cannot start the thread"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}
