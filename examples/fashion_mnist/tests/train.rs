//! The example as a user runs it, on a slice of the real dataset (Debian's
//! `dataset-fashion-mnist`, which the test command installs): it learns
//! (far above chance), the same seed gives the same epoch twice, the
//! sequential mode does the same work, and a run resumed from a checkpoint
//! goes on where the first stopped.

use std::path::Path;
use std::process::Command;

fn run(dir: &Path, args: &[&str]) -> (String, serde_json::Value) {
    let summary = dir.join(format!(
        "summary-{}.json",
        args.join("_").replace(['-', '/'], "")
    ));
    let output = Command::new(env!("CARGO_BIN_EXE_fashion-mnist"))
        .args(["--limit", "3000", "--quiet", "--shards"])
        .arg(dir.join("shards"))
        .arg("--summary")
        .arg(&summary)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    (stdout, summary)
}

fn epoch(summary: &serde_json::Value, n: usize) -> &serde_json::Value {
    &summary["epochs"][n]
}

#[test]
fn the_mlp_learns_the_same_way_twice_pipelined_or_not_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, first) = run(dir.path(), &["--epochs", "2"]);
    assert!(stdout.contains("epoch 2/2"), "{stdout}");
    // 10 classes: chance is 10%; two short epochs on 3,000 images pass 60%.
    let accuracy = epoch(&first, 1)["test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.6, "{accuracy}: {stdout}");
    for figure in ["trainer_busy", "transform_images_per_s", "wall_s"] {
        assert!(epoch(&first, 1)[figure].as_f64().unwrap() > 0.0, "{figure}");
    }
    // The same seed: the same batches, so the same losses, to the bit.
    let (_, again) = run(dir.path(), &["--epochs", "2", "--seed", "1"]);
    assert_eq!(
        epoch(&first, 1)["train_loss"],
        epoch(&again, 1)["train_loss"]
    );
    assert_eq!(epoch(&first, 1)["test_loss"], epoch(&again, 1)["test_loss"]);
    // Sequential: the same images and labels, one batch at a time; it
    // learns as well (its shuffle differs: no shuffle buffer).
    let (_, sequential) = run(dir.path(), &["--epochs", "2", "--sequential"]);
    assert_eq!(sequential["mode"], "sequential");
    assert!(epoch(&sequential, 1)["test_accuracy"].as_f64().unwrap() > 0.6);

    // One epoch with checkpoints, then resumed for the second: the same
    // as two epochs in one go.
    let checkpoints = dir.path().join("checkpoints");
    let checkpoints = checkpoints.to_str().unwrap();
    let (_, one) = run(dir.path(), &["--epochs", "1", "--checkpoints", checkpoints]);
    assert_eq!(epoch(&one, 0)["test_loss"], epoch(&first, 0)["test_loss"]);
    assert!(Path::new(checkpoints)
        .join("mlp-epoch-1.safetensors")
        .exists());
    let (stdout, resumed) = run(
        dir.path(),
        &["--epochs", "2", "--checkpoints", checkpoints, "--resume"],
    );
    assert!(stdout.contains("(after epoch 1)"), "{stdout}");
    assert_eq!(resumed["epochs"].as_array().unwrap().len(), 1);
    assert_eq!(epoch(&resumed, 0)["epoch"], 2);
    // Adam's moments start anew on resuming: close to the unbroken run, not equal.
    let (a, b) = (
        epoch(&resumed, 0)["test_accuracy"].as_f64().unwrap(),
        epoch(&first, 1)["test_accuracy"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 0.08, "{a} vs {b}");
}

#[test]
fn resuming_without_a_checkpoint_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_fashion-mnist"))
        .args([
            "--limit",
            "300",
            "--epochs",
            "1",
            "--resume",
            "--checkpoints",
        ])
        .arg(dir.path().join("none"))
        .arg("--shards")
        .arg(dir.path().join("shards"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no checkpoint to resume from"), "{stderr}");
}

#[test]
fn on_a_terminal_an_epoch_is_shown_live_with_every_stage_busy_strip_and_the_trainer() {
    let dir = tempfile::tempdir().unwrap();
    let binary = env!("CARGO_BIN_EXE_fashion-mnist");
    let command = format!(
        "{binary} --limit 3000 --epochs 1 --transform-cost 3 --shards {}",
        dir.path().join("shards").display()
    );
    // `script` runs the example on a pseudo-terminal and copies what it draws.
    let output = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("COLUMNS", "140")
        .env("LINES", "40")
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{screen}");
    for stage in ["extract", "transform", "shuffle", "batch", "load", "train"] {
        assert!(
            screen.contains(&format!(" {stage} ")),
            "no live line for `{stage}`:\n{screen}"
        );
    }
    // The line of `train` ends with its busy strip: the trainer computes
    // while the transform prepares the next batches.
    let train = screen
        .split(" train ")
        .skip(1)
        .filter(|after| after.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .last()
        .unwrap_or_else(|| panic!("no live line for `train`:\n{screen}"));
    let strip: String = train
        .split_once("queue")
        .map(|(_, rest)| {
            rest.trim_start()
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start()
                .chars()
                .take_while(|c| "·▁▂▃▄▅▆▇█".contains(*c))
                .collect()
        })
        .unwrap_or_default();
    assert!(!strip.is_empty(), "no busy strip for `train`:\n{screen}");
    assert!(
        screen.contains("batches trained, trainer busy"),
        "no trainer line under the stages:\n{screen}"
    );
    assert!(screen.contains("epoch 1/1"), "{screen}");
}
