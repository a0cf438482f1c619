//! `baton run` reading standard input that trickles in: each line reaches
//! the sink while the producer is still writing, not when a chunk fills or
//! the input ends.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::write;

#[test]
fn lines_that_trickle_in_reach_the_sink_while_input_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.toml",
        "[pipeline]\nlinger_ms = 20\n\n[[stage]]\nop = \"stdin\"\n\n[[stage]]\nop = \"rename\"\nfields = { line = \"got\" }\nreplicas = 2\n\n[[stage]]\nop = \"stdout\"\n",
    );
    let mut baton = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["run", "--quiet"])
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = baton.stdin.take().unwrap();
    let output = BufReader::new(baton.stdout.take().unwrap());
    let (lines, arrived) = mpsc::channel();
    std::thread::spawn(move || {
        for line in output.lines() {
            if lines.send((line.unwrap(), Instant::now())).is_err() {
                return;
            }
        }
    });
    // As `tail -f` does: first what the log holds, fast (so chunks grow
    // large), then a line every 300 ms; each of those must come out before
    // the next goes in, long before a large chunk could fill.
    let burst = 20_000;
    for n in 0..burst {
        writeln!(input, "old {n}").unwrap();
    }
    input.flush().unwrap();
    for n in 0..burst {
        let (line, _) = arrived
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("old line {n} did not come out"));
        assert_eq!(line, format!("{{\"got\":\"old {n}\"}}"));
    }
    for n in 0..5 {
        let sent = Instant::now();
        writeln!(input, "line {n}").unwrap();
        input.flush().unwrap();
        let (line, at) = arrived
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("line {n} did not come out while input went on"));
        assert_eq!(line, format!("{{\"got\":\"line {n}\"}}"));
        assert!(at >= sent);
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(input);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = baton.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "baton did not end with its input"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
}
