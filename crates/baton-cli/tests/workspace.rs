//! The workspace's dependencies are declared once, in the root
//! `Cargo.toml`: every crate takes them with `workspace = true`, so one
//! version of each is chosen in one place. And no crate turns on a feature
//! that would slow the others down: cargo turns a dependency's features on
//! for every crate that uses it.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn every_crate_takes_its_dependencies_from_the_workspace() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut manifests = Vec::new();
    for folder in ["crates", "examples"] {
        for entry in std::fs::read_dir(root.join(folder)).unwrap() {
            let manifest = entry.unwrap().path().join("Cargo.toml");
            if manifest.is_file() {
                manifests.push(manifest);
            }
        }
    }
    assert!(manifests.len() >= 10, "{manifests:?}");
    let mut own = Vec::new();
    for manifest in &manifests {
        let text = std::fs::read_to_string(manifest).unwrap();
        let mut section = String::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                section = line.to_string();
                continue;
            }
            let in_dependencies = section.ends_with("dependencies]");
            if in_dependencies && !line.is_empty() && !line.starts_with('#') {
                let (name, spec) = line.split_once('=').unwrap_or((line, ""));
                if !name.trim().ends_with(".workspace") && !spec.contains("workspace = true") {
                    own.push(format!("{}: {line}", manifest.display()));
                }
            }
        }
    }
    assert!(
        own.is_empty(),
        "declare these in the root's [workspace.dependencies]:\n{}",
        own.join("\n")
    );
}

/// serde_json's `float_roundtrip` reads every float exactly but more slowly,
/// and cargo would turn it on for every crate in the build, the record stages'
/// bulk JSON parsing included. Whoever needs exact floats writes them so the
/// default parser reads them exactly (as baton-report does for trace times).
#[test]
fn no_crate_turns_on_serde_json_float_roundtrip() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Every package of the workspace's graph (dev-dependencies too) with the
    // features cargo settled on, one `name version|features|` a line. For the
    // host platform: the packages a build has already fetched, so it runs
    // offline (`cargo metadata` would want every platform's).
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["tree", "--offline", "--workspace", "--prefix", "none"])
        .args(["--format", "{p}|{f}|"])
        .current_dir(&root);
    let (done, output) = mpsc::channel();
    std::thread::spawn(move || done.send(cargo.output()));
    let output = output
        .recv_timeout(Duration::from_secs(300))
        .expect("cargo tree ran for over 5 minutes")
        .expect("cannot run cargo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo tree failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let serde_json: Vec<(&str, &str)> = stdout
        .lines()
        .filter_map(|line| {
            let (package, rest) = line.split_once('|')?;
            let (features, _) = rest.split_once('|')?;
            package
                .starts_with("serde_json ")
                .then_some((package, features))
        })
        .collect();
    assert!(
        !serde_json.is_empty(),
        "serde_json is not in the graph:\n{stdout}"
    );
    let slowed: BTreeSet<&str> = serde_json
        .iter()
        .filter(|(_, features)| features.split(',').any(|f| f == "float_roundtrip"))
        .map(|&(package, _)| package)
        .collect();
    assert!(
        slowed.is_empty(),
        "float_roundtrip is on for {slowed:?}; \
         `cargo tree -e features -i serde_json` shows who asks for it"
    );
}
