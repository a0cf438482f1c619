//! `baton run` on a real terminal: Ctrl-C typed into a tmux pane, so the
//! terminal sends SIGINT to its whole foreground process group, as it does
//! for a person at the keyboard (signalling baton's pid alone would miss
//! what reaches the workers).
//!
//! These tests need tmux (`scripts/test.sh` installs it); without it they
//! fail, saying so.

mod common;
#[path = "../../baton-nats/tests/common/mod.rs"]
mod nats;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{jsonl_values, write};

/// A tmux server of the test's own (its own socket), running one session
/// whose pane runs `baton run p.toml` in `dir`, then writes baton's exit
/// status to `exit.txt`. Dropping it ends the server and any worker left.
struct Terminal {
    socket: PathBuf,
    dir: PathBuf,
}

const SESSION: &str = "baton";

impl Terminal {
    fn start(dir: &Path) -> Terminal {
        Self::start_with(dir, "")
    }

    /// Runs `baton run p.toml ARGS` in the pane.
    fn start_with(dir: &Path, args: &str) -> Terminal {
        match Command::new("tmux").arg("-V").output() {
            Ok(output) if output.status.success() => {}
            _ => panic!(
                "tmux is not installed, and these tests type Ctrl-C into a real terminal with it: \
                 install it (`apt-get install tmux`; scripts/test.sh does)"
            ),
        }
        let script = write(
            dir,
            "run.sh",
            &format!(
                "cd {dir:?}\n{baton:?} run p.toml {args}\necho \"EXIT=$?\" > exit.tmp && mv exit.tmp exit.txt\nsleep 600\n",
                dir = dir,
                baton = env!("CARGO_BIN_EXE_baton"),
            ),
        );
        let terminal = Terminal {
            socket: dir.join("tmux.sock"),
            dir: dir.to_path_buf(),
        };
        // `exec`: no shell stays between the pane and bash; bash without job
        // control runs baton in the pane's foreground process group.
        let status = terminal
            .tmux()
            .args(["new-session", "-d", "-s", SESSION, "-x", "200", "-y", "50"])
            .arg(format!("exec bash {}", script.display()))
            .status()
            .expect("tmux runs");
        assert!(status.success(), "tmux could not start a session");
        terminal
    }

    fn tmux(&self) -> Command {
        let mut tmux = Command::new("tmux");
        tmux.arg("-S").arg(&self.socket).env("TERM", "xterm");
        tmux
    }

    /// Types Ctrl-C.
    fn ctrl_c(&self) {
        let status = self
            .tmux()
            .args(["send-keys", "-t", SESSION, "C-c"])
            .status()
            .expect("tmux runs");
        assert!(status.success(), "tmux send-keys failed");
    }

    /// What the pane shows, with its history.
    fn screen(&self) -> String {
        self.tmux()
            .args(["capture-pane", "-p", "-t", SESSION, "-S", "-100"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Waits until `ready` holds, failing after `seconds` with the screen.
    fn wait_for(&self, what: &str, seconds: u64, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while !ready() {
            assert!(
                Instant::now() < deadline,
                "{what}: not within {seconds} s; the terminal shows:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// baton's exit status, once it has ended (the watchdog: `seconds`).
    fn exit_code(&self, seconds: u64) -> i32 {
        let file = self.dir.join("exit.txt");
        self.wait_for("baton's end", seconds, || file.exists());
        let text = std::fs::read_to_string(&file).unwrap();
        text.trim()
            .strip_prefix("EXIT=")
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("exit.txt says `{text}`"))
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        // On a failed test, end what may be left: the workers' groups, then
        // the terminal (a hang-up to baton).
        for (_, pgid) in workers(&self.dir) {
            if pgid != own_pgid() {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pgid}")])
                    .status();
            }
        }
        let _ = self.tmux().arg("kill-server").output();
    }
}

/// The pid and process group of every worker started, which each wrote to
/// `pids/<pid>` when it began.
fn workers(dir: &Path) -> Vec<(u32, u32)> {
    let Ok(entries) = std::fs::read_dir(dir.join("pids")) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let pid = entry.file_name().to_str()?.parse().ok()?;
            let pgid = std::fs::read_to_string(entry.path())
                .ok()?
                .trim()
                .parse()
                .ok()?;
            Some((pid, pgid))
        })
        .collect()
}

/// The state and process group of process `pid`, from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(String, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ...": the name may hold spaces and parentheses.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.to_string();
    let pgid = fields.nth(1)?.parse().ok()?;
    Some((state, pgid))
}

fn own_pgid() -> u32 {
    stat(std::process::id()).map_or(0, |(_, pgid)| pgid)
}

/// Every living process (zombies, waiting for a parent to reap them, are
/// dead) in process group `pgid`.
fn living_in_group(pgid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&pid| stat(pid).is_some_and(|(state, group)| group == pgid && state != "Z"))
        .collect()
}

/// Asserts that no worker, nor anything in a worker's process group, lives
/// (after a moment: a SIGKILL is delivered a little after it is sent).
fn assert_no_worker_left(dir: &Path) {
    let workers = workers(dir);
    assert!(!workers.is_empty(), "no worker wrote its pid");
    for (pid, pgid) in workers {
        assert_ne!(pgid, own_pgid(), "a worker in the test's own process group");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = living_in_group(pgid);
            let worker_alive = stat(pid).is_some_and(|(state, _)| state != "Z");
            if left.is_empty() && !worker_alive {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "worker {pid} (alive: {worker_alive}) or processes {left:?} of its group live on"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The start of a worker: notes its pid and process group in `pids/`.
const NOTE_PID: &str = r#"
import os
os.makedirs("pids", exist_ok=True)
with open(f"pids/{os.getpid()}.tmp", "w") as f:
    f.write(str(os.getpgid(0)))
os.rename(f"pids/{os.getpid()}.tmp", f"pids/{os.getpid()}")
"#;

/// A pipeline from a source without end through the worker `worker.py`
/// (two replicas) into `out.jsonl`; the worker is `before`, then
/// [`NOTE_PID`], then `after`.
fn pipeline(dir: &Path, before: &str, after: &str) {
    write(dir, "worker.py", &format!("{before}{NOTE_PID}{after}"));
    write(
        dir,
        "p.toml",
        "[[stage]]\nop = \"range\"\nend = 1000000000000\n\n\
         [[stage]]\nname = \"work\"\nop = \"exec\"\ncommand = [\"python3\", \"worker.py\"]\nmode = \"parallel\"\nreplicas = 2\n\n\
         [[stage]]\nop = \"jsonl\"\npath = \"out.jsonl\"\n",
    );
}

#[test]
fn ctrl_c_on_a_terminal_drains_an_exec_pipeline_to_a_clean_prefix() {
    let dir = tempfile::tempdir().unwrap();
    pipeline(
        dir.path(),
        "",
        r#"
import json, subprocess, sys
subprocess.Popen(["sleep", "1000"])  # a child of its own, ended with the worker
for line in sys.stdin:
    item = json.loads(line)
    item["square"] = item["value"] ** 2
    print(json.dumps(item), flush=True)
"#,
    );
    let terminal = Terminal::start(dir.path());
    let out = dir.path().join("out.jsonl");
    // The sink writes `out.jsonl.partial` until the run has finished.
    let partial = dir.path().join("out.jsonl.partial");
    terminal.wait_for("output", 60, || {
        std::fs::metadata(&partial).is_ok_and(|m| m.len() > 0)
    });
    terminal.ctrl_c();
    let code = terminal.exit_code(60);
    assert_eq!(
        code,
        130,
        "a drained run says it was stopped; the terminal shows:\n{}",
        terminal.screen()
    );
    let values = jsonl_values(&out);
    assert!(!values.is_empty(), "items went through before Ctrl-C");
    assert!(
        values.iter().copied().eq(0..values.len() as u64),
        "the sink got a gap-free prefix of the source, in order"
    );
    assert_no_worker_left(dir.path());
}

#[test]
fn a_second_ctrl_c_ends_a_run_whose_worker_ignores_signals_and_never_answers() {
    let dir = tempfile::tempdir().unwrap();
    // The pid is noted once the signals are ignored: from then on, only
    // SIGKILL ends the worker.
    pipeline(
        dir.path(),
        r#"
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
"#,
        r#"
import subprocess, sys, time
subprocess.Popen(["sleep", "1000"])
sys.stdin.readline()
while True:
    time.sleep(1000)  # never answers
"#,
    );
    let terminal = Terminal::start(dir.path());
    terminal.wait_for("a worker", 60, || !workers(dir.path()).is_empty());
    terminal.ctrl_c();
    // The drain cannot end: the workers never answer.
    terminal.wait_for("the first Ctrl-C's message", 20, || {
        terminal.screen().contains("stopping")
    });
    terminal.ctrl_c();
    let second = Instant::now();
    let code = terminal.exit_code(20);
    let took = second.elapsed();
    assert_eq!(code, 130, "the terminal shows:\n{}", terminal.screen());
    // About 1 s is promised; a slow machine gets room.
    assert!(
        took < Duration::from_secs(5),
        "baton took {took:?} to end after the second Ctrl-C"
    );
    assert_no_worker_left(dir.path());
}

#[test]
fn a_second_ctrl_c_ends_the_run_within_a_second_whatever_a_stage_does() {
    let dir = tempfile::tempdir().unwrap();
    // `spin` computes through an abort (it never looks at the run's
    // cancellation): its first item holds the run for many minutes.
    write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"range\"\nend = 1000000000000\n\n\
         [[stage]]\nname = \"slow\"\nop = \"spin\"\niterations = 1000000000000\nmode = \"serial_in_order\"\n\n\
         [[stage]]\nop = \"count\"\n",
    );
    let terminal = Terminal::start(dir.path());
    terminal.wait_for("the live view", 60, || terminal.screen().contains("slow"));
    terminal.ctrl_c();
    terminal.wait_for("the first Ctrl-C's message", 20, || {
        terminal.screen().contains("stopping")
    });
    terminal.ctrl_c();
    let second = Instant::now();
    let code = terminal.exit_code(20);
    let took = second.elapsed();
    let screen = terminal.screen();
    assert_eq!(code, 130, "the terminal shows:\n{screen}");
    assert!(
        took < Duration::from_secs(5),
        "baton took {took:?} to end after the second Ctrl-C"
    );
    assert!(
        screen.contains("aborted: the run did not end within 1 s"),
        "{screen}"
    );
}

#[test]
fn the_live_view_shows_a_tuned_stage_as_auto_with_the_replicas_it_has_now() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"range\"\nend = 1000000000000\n\n\
         [[stage]]\nname = \"wait\"\nop = \"delay\"\nms = 2\nreplicas = \"auto\"\n\n\
         [[stage]]\nop = \"discard\"\n",
    );
    let terminal = Terminal::start(dir.path());
    // The line of `wait` reads `auto N`: N starts at one per worker and
    // rises past 16 as the tuner finds the 2 ms waits to hide.
    let tuned_count = |screen: &str| {
        screen
            .lines()
            .find(|line| line.trim_start().starts_with("wait "))
            .and_then(|line| line.split("auto ").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok())
    };
    terminal.wait_for(
        "the tuned stage's line with 16 replicas or more",
        60,
        || tuned_count(&terminal.screen()).is_some_and(|n| n >= 16),
    );
    // The overall line's rate reads as a whole number, as the stages' do
    // (it once showed four decimals).
    let screen = terminal.screen();
    let overall = screen
        .lines()
        .find(|line| line.contains(" items  "))
        .unwrap_or_else(|| panic!("no overall line:\n{screen}"));
    let rate = overall
        .split_whitespace()
        .find(|word| word.ends_with("/s"))
        .unwrap_or_else(|| panic!("no rate in {overall:?}"));
    assert!(
        rate.trim_end_matches("/s")
            .chars()
            .all(|c| c.is_ascii_digit() || c == ','),
        "{overall:?}"
    );
    terminal.ctrl_c();
    let code = terminal.exit_code(30);
    let screen = terminal.screen();
    assert_eq!(code, 130, "the terminal shows:\n{screen}");
    assert!(screen.contains("parallel(auto: "), "{screen}");
}

#[test]
fn lines_typed_at_the_keyboard_go_through_at_once_and_ctrl_c_ends_the_waiting_read() {
    let dir = tempfile::tempdir().unwrap();
    // The source reads the terminal: a person typing, one line at a time.
    write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"stdin\"\n\n[[stage]]\nname = \"shout\"\nop = \"rename\"\nfields = { line = \"typed\" }\n\n[[stage]]\nop = \"stdout\"\n",
    );
    let terminal = Terminal::start(dir.path());
    terminal.wait_for("the live view", 60, || terminal.screen().contains("shout"));
    for word in ["hello", "world"] {
        let status = terminal
            .tmux()
            .args(["send-keys", "-t", SESSION, word, "Enter"])
            .status()
            .expect("tmux runs");
        assert!(status.success());
        // Without a linger the line would wait for a chunk to fill (or for
        // the end of input, which a keyboard never sends by itself).
        let shown = format!("{{\"typed\":\"{word}\"}}");
        terminal.wait_for("the typed line on stdout", 20, || {
            terminal.screen().contains(&shown)
        });
    }
    // The source now waits in a read that nothing will end: Ctrl-C must.
    terminal.ctrl_c();
    let code = terminal.exit_code(20);
    assert_eq!(code, 130, "the terminal shows:\n{}", terminal.screen());
    assert!(
        terminal.screen().contains("stopped by Ctrl-C"),
        "{}",
        terminal.screen()
    );
}

#[test]
fn dead_letters_are_on_disk_after_a_second_ctrl_c_forces_baton_out() {
    let dir = tempfile::tempdir().unwrap();
    // Every other number fails `parse` and is skipped; `stuck` then computes
    // through the abort, so the second Ctrl-C ends baton by force.
    write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"range\"\nend = 1000000000000\n\n\
         [[stage]]\nname = \"parse\"\nop = \"filter\"\nexpr = \"value / (value % 2) >= 0\"\non_error = \"skip\"\ndead_letter = \"bad.jsonl\"\n\n\
         [[stage]]\nname = \"stuck\"\nop = \"spin\"\niterations = 1000000000000\nmode = \"serial_in_order\"\n\n\
         [[stage]]\nop = \"count\"\n",
    );
    let terminal = Terminal::start(dir.path());
    let bad = dir.path().join("bad.jsonl");
    terminal.wait_for("dead letters", 60, || {
        std::fs::read_to_string(&bad).is_ok_and(|text| text.lines().count() >= 10)
    });
    terminal.ctrl_c();
    terminal.wait_for("the first Ctrl-C's message", 20, || {
        terminal.screen().contains("stopping")
    });
    terminal.ctrl_c();
    assert_eq!(terminal.exit_code(20), 130);
    let screen = terminal.screen();
    assert!(screen.contains("items skipped, written to"), "{screen}");
    let text = std::fs::read_to_string(&bad).unwrap();
    let seqs: Vec<u64> = text
        .lines()
        .map(|line| {
            let letter: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a torn dead letter `{line}`: {e}"));
            letter["seq"].as_u64().unwrap()
        })
        .collect();
    assert!(seqs.len() >= 10);
    assert!(seqs.iter().all(|seq| seq % 2 == 0), "{seqs:?}");
}

#[test]
fn ctrl_c_on_the_terminal_of_a_distributed_run_drains_the_workers_items_to_a_clean_prefix() {
    nats::watchdog(Duration::from_secs(240), || {
        let server = nats::Server::start();
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "p.toml",
            "[nats]\nstorage = \"memory\"\n\n\
             [[stage]]\nop = \"range\"\nend = 1000000000000\n\n\
             [[stage]]\nname = \"slow\"\nop = \"delay\"\nms = 2\nmode = \"parallel\"\nplacement = \"remote\"\n\n\
             [[stage]]\nop = \"jsonl\"\npath = \"out.jsonl\"\n",
        );
        // The worker runs on another "machine": not in the terminal, so
        // Ctrl-C reaches the driver only.
        let worker = nats::ChildGuard(
            Command::new(env!("CARGO_BIN_EXE_baton"))
                .arg("worker")
                .arg(dir.path().join("p.toml"))
                .args([
                    "--nats",
                    &server.url(),
                    "--stage",
                    "slow",
                    "--replicas",
                    "4",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("baton worker starts"),
        );
        let terminal = Terminal::start_with(dir.path(), &format!("--nats {}", server.url()));
        let partial = dir.path().join("out.jsonl.partial");
        terminal.wait_for("output from the worker", 60, || {
            std::fs::metadata(&partial).is_ok_and(|m| m.len() > 1000)
        });
        terminal.ctrl_c();
        let code = terminal.exit_code(60);
        let screen = terminal.screen();
        assert_eq!(code, 130, "the terminal shows:\n{screen}");
        assert!(screen.contains("stopped by Ctrl-C"), "{screen}");
        let values = jsonl_values(&dir.path().join("out.jsonl"));
        assert!(values.len() > 10, "items went through before Ctrl-C");
        assert!(
            values.iter().copied().eq(0..values.len() as u64),
            "the sink got every item the source gave, once, in order"
        );
        drop(worker);
    });
}
