//! The example `distributed` as its documentation runs it: one program, two
//! roles, against a real nats-server. Two workers serve the stage only the
//! program knows; the driver gets every item back once, in source order,
//! with the same checksum as the same pipeline run locally; Ctrl-C stops
//! the workers cleanly.

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{watchdog, ChildGuard, Server};

const ITEMS: u64 = 3_000;

/// The example's program. `cargo test` builds a package's examples beside
/// its test programs (`target/<profile>/examples`); a run that selects only
/// this test builds it here.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = profile
        .join("examples")
        .join(format!("distributed{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            // The test profile: the artifacts `cargo test` has built.
            .args(["build", "--profile", "test", "-p", "baton-nats"])
            .args(["--example", "distributed"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the example did not build");
    }
    assert!(path.is_file(), "no example program at {}", path.display());
    path
}

/// What the example's stage makes of the items, summed as it sums them.
fn expected_checksum() -> u64 {
    (0..ITEMS).fold(0u64, |total, n| {
        total.wrapping_add((0..n % 1000).map(|k| k * k).sum::<u64>())
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs the driver; its output, checked to have succeeded.
fn driver(args: &[&str]) -> Output {
    let output = Command::new(example())
        .arg("driver")
        .args(args)
        .output()
        .expect("the driver runs");
    assert!(
        output.status.success(),
        "the driver failed:\n{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

/// The checksum the driver printed.
fn checksum(output: &Output) -> u64 {
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with(&format!("{ITEMS} items in")),
        "every item comes back: {stdout}"
    );
    stdout
        .trim()
        .rsplit("checksum ")
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no checksum in: {stdout}"))
}

#[test]
fn two_workers_serve_the_programs_own_stage_and_the_driver_gets_every_item_once() {
    watchdog(Duration::from_secs(300), || {
        let expected = expected_checksum();
        let local = driver(&["--items", &ITEMS.to_string()]);
        assert_eq!(checksum(&local), expected, "the same pipeline, locally");

        let server = Server::start();
        let url = server.url();
        let mut workers: Vec<ChildGuard> = (0..2)
            .map(|_| {
                ChildGuard(
                    Command::new(example())
                        .args(["worker", "--nats", &url, "--run", "example-test"])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::piped())
                        .spawn()
                        .expect("a worker starts"),
                )
            })
            .collect();
        let output = driver(&[
            "--nats",
            &url,
            "--run",
            "example-test",
            "--items",
            &ITEMS.to_string(),
        ]);
        assert_eq!(checksum(&output), expected, "the same items, distributed");
        // The workers' figures, read after their last report.
        let stderr = text(&output.stderr);
        let served: Vec<u64> = stderr
            .lines()
            .filter_map(|line| {
                line.split(": ")
                    .nth(1)?
                    .split(" items")
                    .next()?
                    .parse()
                    .ok()
            })
            .collect();
        assert!(!served.is_empty(), "no worker's figures in:\n{stderr}");
        assert!(served.iter().sum::<u64>() > 0, "{stderr}");

        // Ctrl-C: each worker stops cleanly and says what it did.
        for worker in &mut workers {
            let pid = worker.0.id().to_string();
            let sent = Command::new("kill").args(["-INT", &pid]).status();
            assert!(sent.is_ok_and(|s| s.success()), "kill -INT {pid}");
            let deadline = Instant::now() + Duration::from_secs(30);
            let status = loop {
                if let Some(status) = worker.0.try_wait().expect("the worker's status") {
                    break status;
                }
                assert!(
                    Instant::now() < deadline,
                    "a worker did not stop within 30 s of Ctrl-C"
                );
                std::thread::sleep(Duration::from_millis(20));
            };
            let mut said = String::new();
            if let Some(mut pipe) = worker.0.stderr.take() {
                let _ = pipe.read_to_string(&mut said);
            }
            assert!(status.success(), "{status}: {said}");
            assert!(said.contains("worker done"), "{said}");
        }
        drop(server);
    });
}
