//! Shell completions and the manual page, generated from the same clap
//! definitions as the command itself, and loaded as a user loads them: the
//! bash completion into a real bash, the page into `man`.

mod common;

use std::process::Command;

use common::{baton, stdout};

/// What bash offers for the words of `line` (the last one being typed),
/// with baton's completion script loaded.
fn bash_offers(script: &str, line: &[&str]) -> Vec<String> {
    let words = line
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let program = format!(
        "source {script}\n\
         COMP_WORDS=({words}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}\n\
         _baton baton '{}' '{}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        line.len() - 1,
        line.join(" "),
        line[line.len() - 1],
        line[line.len() - 2],
    );
    let output = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn the_bash_completion_loads_in_bash_and_offers_subcommands_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let output = baton().args(["completions", "bash"]).output().unwrap();
    assert!(output.status.success());
    let script = dir.path().join("baton.bash");
    std::fs::write(&script, &output.stdout).unwrap();
    let script = script.display().to_string();

    assert_eq!(bash_offers(&script, &["baton", "ch"]), ["check"]);
    let run = bash_offers(&script, &["baton", "run", "--dr"]);
    assert_eq!(run, ["--dry-run"]);
    let global = bash_offers(&script, &["baton", "check", "--env"]);
    assert_eq!(global, ["--env-file"]);
    let all = bash_offers(&script, &["baton", ""]);
    for sub in [
        "run",
        "check",
        "worker",
        "ops",
        "report",
        "completions",
        "man",
    ] {
        assert!(all.iter().any(|w| w == sub), "{sub} not in {all:?}");
    }
}

#[test]
fn every_shell_gets_a_script_that_names_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = baton().args(["completions", shell]).output().unwrap();
        assert!(output.status.success(), "{shell}");
        let script = stdout(&output);
        for sub in ["run", "check", "worker", "completions"] {
            assert!(script.contains(sub), "{shell}: no {sub}");
        }
    }
    let output = baton().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn the_manual_page_renders_with_every_subcommand_and_option() {
    let dir = tempfile::tempdir().unwrap();
    let output = baton().arg("man").output().unwrap();
    assert!(output.status.success());
    let page = dir.path().join("baton.1");
    std::fs::write(&page, &output.stdout).unwrap();
    let roff = stdout(&output);
    assert!(
        roff.starts_with(".ie") || roff.contains(".TH baton 1"),
        "{roff}"
    );
    // Read as a person reads it, where `man` is installed.
    let text = match Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANWIDTH", "100")
        .output()
    {
        Ok(shown) if shown.status.success() => plain(&String::from_utf8_lossy(&shown.stdout)),
        _ => {
            eprintln!("`man` is not installed: the page's roff is checked instead");
            roff
        }
    };
    for part in [
        "BATON RUN",
        "BATON CHECK",
        "BATON WORKER",
        "--env-file",
        "--dry-run",
        "--nats",
    ] {
        assert!(text.contains(part), "{part} missing from the page:\n{text}");
    }
}

/// `man`'s output without its overstrikes (`B\x08B` for a bold B).
fn plain(shown: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    let mut chars = shown.chars();
    while let Some(c) = chars.next() {
        if c == '\u{8}' {
            out.pop();
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out.into_iter().collect()
}
