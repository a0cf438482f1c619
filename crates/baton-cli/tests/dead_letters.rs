//! Dead letters as `baton run` keeps them: written as items are skipped,
//! so they are on disk whatever way the run ends, and the summary says how
//! many went where.

mod common;

use std::path::Path;

use common::{baton, stderr, write};

/// The dead letters in `path`, as (seq, line) pairs.
fn letters(path: &Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|line| {
            let letter: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                letter["seq"].as_u64().unwrap(),
                letter["item"]["line"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A log of `lines` lines, every third of which is not JSON.
fn log(dir: &Path, lines: u64) {
    let text: String = (0..lines)
        .map(|n| {
            if n % 3 == 1 {
                format!("broken {n}\n")
            } else {
                format!("{{\"n\":{n}}}\n")
            }
        })
        .collect();
    write(dir, "in.log", &text);
}

const PARSE: &str = "[[stage]]\nop = \"lines\"\npath = \"in.log\"\n\n[[stage]]\nname = \"parse\"\nop = \"json_parse\"\non_error = \"skip\"\ndead_letter = \"out/bad.jsonl\"\n\n";

#[test]
fn the_summary_says_how_many_items_were_skipped_and_where_they_went() {
    let dir = tempfile::tempdir().unwrap();
    log(dir.path(), 30);
    let file = write(
        dir.path(),
        "p.toml",
        &format!("{PARSE}[[stage]]\nop = \"count\"\n"),
    );
    let output = baton().arg("run").arg(&file).output().unwrap();
    let text = stderr(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("stage `parse`: 10 items skipped, written to"),
        "{text}"
    );
    assert!(text.contains("bad.jsonl"), "{text}");
    // A parallel stage's letters are written in the order they fail.
    let mut seqs: Vec<u64> = letters(&dir.path().join("out/bad.jsonl"))
        .iter()
        .map(|(seq, _)| *seq)
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..30).filter(|n| n % 3 == 1).collect::<Vec<_>>());
}

#[test]
fn a_failed_run_keeps_every_dead_letter_it_took_before_failing() {
    let dir = tempfile::tempdir().unwrap();
    log(dir.path(), 3_000);
    // `check` fails the run at item 2,000, long after many items were skipped.
    let file = write(
        dir.path(),
        "p.toml",
        &format!(
            "{PARSE}[[stage]]\nname = \"check\"\nop = \"filter\"\nexpr = \"n / (2000 - n) >= 0\"\nmode = \"serial_in_order\"\n\n[[stage]]\nop = \"count\"\n"
        ),
    );
    let output = baton()
        .args(["run", "--quiet"])
        .arg(&file)
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("stage `check` failed on item 2000"), "{text}");
    assert!(text.contains("stage `parse`:"), "{text}");
    let letters = letters(&dir.path().join("out/bad.jsonl"));
    // Every broken line before the failure was skipped and kept.
    for n in (0..2_000).filter(|n| n % 3 == 1) {
        assert!(
            letters.iter().any(|(seq, _)| *seq == n),
            "the dead letter of item {n} was lost"
        );
    }
    assert!(letters
        .iter()
        .all(|(seq, line)| *line == format!("broken {seq}")));
}

#[test]
fn a_dead_letter_file_that_cannot_be_written_fails_the_run_instead_of_losing_items() {
    let dir = tempfile::tempdir().unwrap();
    log(dir.path(), 30);
    // `out` is a file, so no dead letter can be written under it.
    write(dir.path(), "out", "in the way\n");
    let file = write(
        dir.path(),
        "p.toml",
        &format!("{PARSE}[[stage]]\nop = \"count\"\n"),
    );
    let output = baton()
        .args(["run", "--quiet"])
        .arg(&file)
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    // `parse` is parallel: whichever broken line (1, 4, 7, ...) reaches the
    // file first names the failure.
    let item: u64 = text
        .split("failed on item ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no failed item in: {text}"));
    assert_eq!(item % 3, 1, "{text}");
    assert!(text.contains("dead letter could not be kept"), "{text}");
    // Nothing could be written, so nothing is said to be.
    assert!(!text.contains("written to"), "{text}");
}
