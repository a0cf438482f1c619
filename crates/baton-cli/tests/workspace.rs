//! The workspace's dependencies are declared once, in the root
//! `Cargo.toml`: every crate takes them with `workspace = true`, so one
//! version of each is chosen in one place.

use std::path::Path;

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
