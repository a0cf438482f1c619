//! What a run warns of reaches the user: once in the summary, and in the
//! live view while the run goes.

mod common;

use common::{baton, stderr, write};

#[test]
fn a_filter_on_a_misspelt_field_is_warned_of_once_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"range\"\nend = 50\n\n[[stage]]\nname = \"big\"\nop = \"filter\"\nexpr = \"valeu > 10\"\n\n[[stage]]\nop = \"count\"\n",
    );
    for quiet in [false, true] {
        let mut command = baton();
        command.arg("run");
        if quiet {
            command.arg("--quiet");
        }
        let output = command.arg(&file).output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let log = stderr(&output);
        let warning =
            "warning: stage `big`: `expr` tests the field `valeu`, which none of the 50 items had";
        assert_eq!(log.matches(warning).count(), 1, "quiet: {quiet}\n{log}");
        assert!(log.contains("did you mean `value`?"), "{log}");
    }
}

#[test]
fn the_live_log_shows_a_warning_while_the_run_goes() {
    let dir = tempfile::tempdir().unwrap();
    // Two thousand items go by quickly, then the rest are slow: the
    // warning (after a thousand items) is due long before the end.
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"range\"\nend = 2030\n\n[[stage]]\nop = \"filter\"\nexpr = \"valeu >= 0 || value >= 2000\"\n\n[[stage]]\nname = \"slow\"\nop = \"delay\"\nms = 100\nmode = \"serial_in_order\"\n\n[[stage]]\nop = \"count\"\n",
    );
    let output = baton().arg("run").arg(&file).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let log = stderr(&output);
    let live = log
        .lines()
        .position(|l| l.starts_with("warning:") && l.contains("no item so far has had"))
        .unwrap_or_else(|| panic!("no warning while running:\n{log}"));
    let summary = log
        .lines()
        .position(|l| l.contains("items in"))
        .unwrap_or_else(|| panic!("no summary:\n{log}"));
    assert!(live < summary, "{log}");
}
