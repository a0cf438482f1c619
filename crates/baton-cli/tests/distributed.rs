//! `baton run --nats` and `baton worker` against a real nats-server: the
//! same pipeline file run locally and across worker processes gives the
//! same output; a worker killed mid-run loses nothing; a poison item is
//! dead-lettered and the run goes on (or stops, under `on_error = "fail"`);
//! records cross as Arrow batches; bad files and arguments are refused
//! with located errors.

mod common;
#[path = "../../baton-nats/tests/common/mod.rs"]
mod nats;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{baton, jsonl_values, stderr, write};
use nats::{watchdog, Server};

/// A `baton worker` process, killed when dropped.
struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    fn start(dir: &Path, file: &Path, url: &str, stages: &[&str], replicas: usize) -> Self {
        Self::start_with(dir, file, url, stages, replicas, &[])
    }

    fn start_with(
        dir: &Path,
        file: &Path,
        url: &str,
        stages: &[&str],
        replicas: usize,
        extra: &[&str],
    ) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let log = dir.join(format!("worker-{n}.log"));
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("baton"));
        command
            .arg("worker")
            .arg(file)
            .args(["--nats", url, "--replicas", &replicas.to_string()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for stage in stages {
            command.args(["--stage", stage]);
        }
        Self {
            child: command.spawn().expect("baton worker starts"),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends Ctrl-C's signal and waits for the worker to exit.
    fn interrupt(&mut self) -> std::process::ExitStatus {
        nix_kill(self.child.id(), "INT");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the worker did not stop on Ctrl-C: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kill -SIGNAL pid`.
fn nix_kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// The lines of a file.
fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

const LIMIT: Duration = Duration::from_secs(240);

/// `p.toml` in `dir`: `range` of `items` → a remote parallel `delay` of `ms`
/// named `slow` → `out.jsonl`, on file storage with an ack wait of 1 s.
fn slow_remote(dir: &Path, items: u64, ms: u64) -> PathBuf {
    write(
        dir,
        "p.toml",
        &format!(
            "[nats]\nstorage = \"file\"\nack_wait_ms = 1000\n\n\
             [[stage]]\nop = \"range\"\nend = {items}\n\n\
             [[stage]]\nname = \"slow\"\nop = \"delay\"\nms = {ms}\nmode = \"parallel\"\nplacement = \"remote\"\n\n\
             [[stage]]\nop = \"jsonl\"\npath = \"out.jsonl\"\n"
        ),
    )
}

#[test]
fn a_distributed_run_gives_what_the_local_run_gives() {
    watchdog(LIMIT, || {
        let server = Server::start();
        let dir = tempfile::tempdir().unwrap();
        let body = |out: &str| {
            format!(
                r#"
[nats]
storage = "memory"

[[stage]]
op = "range"
end = 30000

[[stage]]
name = "double"
op = "remap"
fields = {{ doubled = "value * 2" }}
placement = "remote"

[[stage]]
name = "odd_thirds"
op = "filter"
expr = "value % 3 == 1"
placement = "remote"

[[stage]]
name = "tag"
op = "remap"
fields = {{ tag = "\"t\"" }}

[[stage]]
op = "jsonl"
path = "{out}"
"#
            )
        };
        let file = write(dir.path(), "p.toml", &body("local.jsonl"));
        baton()
            .arg("run")
            .arg(&file)
            .arg("--quiet")
            .assert()
            .success();
        let file = write(dir.path(), "p.toml", &body("remote.jsonl"));
        // Two workers, each serving both remote stages.
        let _a = Worker::start(
            dir.path(),
            &file,
            &server.url(),
            &["double", "odd_thirds"],
            2,
        );
        let _b = Worker::start(
            dir.path(),
            &file,
            &server.url(),
            &["double", "odd_thirds"],
            1,
        );
        let stats = dir.path().join("stats.json");
        let output = baton()
            .arg("run")
            .arg(&file)
            .args(["--nats", &server.url(), "--stats"])
            .arg(&stats)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let local = lines(&dir.path().join("local.jsonl"));
        assert_eq!(local.len(), 10000);
        assert_eq!(
            lines(&dir.path().join("remote.jsonl")),
            local,
            "same rows, same order"
        );
        let text = stderr(&output);
        assert!(text.contains("double+odd_thirds"), "{text}");
        let stats = std::fs::read_to_string(&stats).unwrap();
        assert!(stats.contains("double+odd_thirds"), "{stats}");
        // The workers are in the summary and the stats: each process, with
        // what it did.
        assert!(text.contains("remote workers:"), "{text}");
        let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
        let workers = stats["workers"].as_array().expect("workers in the stats");
        let pids: std::collections::HashSet<u64> =
            workers.iter().map(|w| w["pid"].as_u64().unwrap()).collect();
        assert_eq!(pids.len(), 2, "{workers:?}");
        for stage in ["double", "odd_thirds"] {
            let items: u64 = workers
                .iter()
                .filter(|w| w["stage"] == stage)
                .map(|w| w["items"].as_u64().unwrap())
                .sum();
            assert_eq!(items, 30000, "{stage}: {workers:?}");
            assert!(workers
                .iter()
                .any(|w| w["stage"] == stage && w["serves"] == "double+odd_thirds"));
        }
    });
}

#[test]
fn runs_that_share_a_server_do_not_mix() {
    watchdog(LIMIT, || {
        let server = Server::start();
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, end: u64, factor: u64| {
            write(
                dir.path(),
                &format!("{name}.toml"),
                &format!(
                    r#"
[nats]
storage = "memory"
run = "{name}"

[[stage]]
op = "range"
end = {end}

[[stage]]
name = "scale"
op = "remap"
fields = {{ value = "value * {factor}" }}
placement = "remote"

[[stage]]
op = "jsonl"
path = "{name}.jsonl"
"#
                ),
            )
        };
        let (one, two) = (file("one", 20000, 2), file("two", 15000, 3));
        let _w1 = Worker::start(dir.path(), &one, &server.url(), &["scale"], 2);
        let _w2 = Worker::start(dir.path(), &two, &server.url(), &["scale"], 2);
        let run = |file: &Path| {
            let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("baton"));
            command
                .arg("run")
                .arg(file)
                .args(["--nats", &server.url(), "--quiet"])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (run(&one), run(&two));
        for child in [a, b] {
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "{}", stderr(&output));
        }
        let values = |name: &str| jsonl_values(&dir.path().join(format!("{name}.jsonl")));
        assert_eq!(values("one"), (0..20000).map(|n| n * 2).collect::<Vec<_>>());
        assert_eq!(values("two"), (0..15000).map(|n| n * 3).collect::<Vec<_>>());
    });
}

#[test]
fn a_worker_killed_mid_run_loses_nothing_and_repeats_nothing() {
    watchdog(LIMIT, || {
        let server = Server::start();
        let dir = tempfile::tempdir().unwrap();
        let file = slow_remote(dir.path(), 4000, 1);
        let mut doomed = Worker::start(dir.path(), &file, &server.url(), &["slow"], 4);
        let _survivor = Worker::start(dir.path(), &file, &server.url(), &["slow"], 4);
        let driver = std::process::Command::new(assert_cmd::cargo::cargo_bin("baton"))
            .arg("run")
            .arg(&file)
            .args(["--nats", &server.url(), "--quiet"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Let both workers take messages, then kill one as a lost machine
        // would go: no goodbye, its messages unacknowledged.
        std::thread::sleep(Duration::from_millis(800));
        nix_kill(doomed.child.id(), "KILL");
        let _ = doomed.child.wait();
        let output = driver.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let values = jsonl_values(&dir.path().join("out.jsonl"));
        assert_eq!(
            values,
            (0..4000).collect::<Vec<_>>(),
            "every item once, in order"
        );
    });
}

#[test]
fn a_poison_item_goes_to_the_dead_letters_and_the_run_goes_on() {
    watchdog(LIMIT, || {
        let server = Server::start();
        let dir = tempfile::tempdir().unwrap();
        let mut rows = String::new();
        for n in 0..500 {
            if n == 123 {
                rows.push_str("{\"n\": 123, \"doc\": \"{not json\"}\n");
            } else {
                rows.push_str(&format!(
                    "{{\"n\": {n}, \"doc\": \"{{\\\"k\\\": {n}}}\"}}\n"
                ));
            }
        }
        write(dir.path(), "in.jsonl", &rows);
        let body = |on_error: &str| {
            format!(
                r#"
[nats]
storage = "memory"
max_deliver = 3

[[stage]]
op = "jsonl"
path = "in.jsonl"

[[stage]]
name = "parse"
op = "json_parse"
field = "doc"
mode = "parallel"
placement = "remote"
{on_error}

[[stage]]
op = "jsonl"
path = "out.jsonl"
"#
            )
        };
        let file = write(
            dir.path(),
            "p.toml",
            &body("on_error = \"skip\"\ndead_letter = \"dead.jsonl\""),
        );
        let worker = Worker::start(dir.path(), &file, &server.url(), &["parse"], 2);
        let output = baton()
            .arg("run")
            .arg(&file)
            .args(["--nats", &server.url()])
            .output()
            .unwrap();
        let text = stderr(&output);
        assert!(output.status.success(), "{text}\nworker: {}", worker.log());
        assert_eq!(lines(&dir.path().join("out.jsonl")).len(), 499, "{text}");
        let dead = std::fs::read_to_string(dir.path().join("dead.jsonl")).unwrap();
        assert_eq!(dead.lines().count(), 1, "{dead}");
        assert!(dead.contains("failed on every delivery"), "{dead}");
        assert!(text.contains("dead.jsonl"), "{text}");
        drop(worker);

        let file = write(dir.path(), "p.toml", &body(""));
        let _worker = Worker::start(dir.path(), &file, &server.url(), &["parse"], 2);
        let output = baton()
            .arg("run")
            .arg(&file)
            .args(["--nats", &server.url(), "--replace", "--quiet"])
            .output()
            .unwrap();
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{text}");
        assert!(text.contains("parse"), "{text}");
    });
}

#[test]
fn records_cross_to_the_workers_as_arrow_batches() {
    watchdog(LIMIT, || {
        let server = Server::start();
        let dir = tempfile::tempdir().unwrap();
        let mut csv = String::from("id,city,temp\n");
        for n in 0..20000 {
            csv.push_str(&format!(
                "{n},{},{}.5\n",
                ["Oslo", "Lima", "Pune"][n % 3],
                n % 40
            ));
        }
        write(dir.path(), "in.csv", &csv);
        let body = |placement: &str, out: &str| {
            format!(
                r#"
[nats]
storage = "memory"

[[stage]]
op = "csv"
path = "in.csv"

[[stage]]
name = "warm"
op = "filter"
expr = 'temp > 20.0 && city != "Lima"'
placement = "{placement}"

[[stage]]
op = "csv"
path = "{out}"
"#
            )
        };
        let local = write(dir.path(), "local.toml", &body("local", "local.csv"));
        baton()
            .arg("run")
            .arg(&local)
            .arg("--quiet")
            .assert()
            .success();
        let file = write(dir.path(), "remote.toml", &body("remote", "remote.csv"));
        let _worker = Worker::start(dir.path(), &file, &server.url(), &["warm"], 2);
        let output = baton()
            .arg("run")
            .arg(&file)
            .args(["--nats", &server.url(), "--quiet"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let expected = lines(&dir.path().join("local.csv"));
        assert!(expected.len() > 5000);
        assert_eq!(lines(&dir.path().join("remote.csv")), expected);
    });
}

#[test]
fn a_worker_stops_cleanly_on_ctrl_c() {
    watchdog(LIMIT, || {
        let server = Server::start();
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "p.toml",
            "[[stage]]\nop = \"range\"\nend = 10\n\n[[stage]]\nop = \"rename\"\nfields = { value = \"n\" }\nplacement = \"remote\"\n\n[[stage]]\nop = \"discard\"\n",
        );
        let mut worker = Worker::start(dir.path(), &file, &server.url(), &["rename"], 1);
        std::thread::sleep(Duration::from_millis(500));
        let status = worker.interrupt();
        assert!(status.success(), "{}", worker.log());
        assert!(worker.log().contains("stopping"), "{}", worker.log());
    });
}

#[test]
fn a_second_run_of_the_same_name_is_refused_unless_replaced() {
    watchdog(LIMIT, || {
        let server = Server::start();
        let dir = tempfile::tempdir().unwrap();
        // No worker: the first driver waits with its items in the streams.
        let file = write(
            dir.path(),
            "p.toml",
            "[nats]\nstorage = \"memory\"\n\n[[stage]]\nop = \"range\"\nend = 1000\n\n[[stage]]\nop = \"rename\"\nfields = { value = \"n\" }\nplacement = \"remote\"\n\n[[stage]]\nop = \"discard\"\n",
        );
        let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin("baton"))
            .arg("run")
            .arg(&file)
            .args(["--nats", &server.url(), "--quiet"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        let output = baton()
            .arg("run")
            .arg(&file)
            .args(["--nats", &server.url(), "--quiet"])
            .output()
            .unwrap();
        let _ = first.kill();
        let _ = first.wait();
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{text}");
        assert!(text.contains("left from an earlier run"), "{text}");
        // The worker joins once the replacing driver has made the run anew.
        let replacing = std::process::Command::new(assert_cmd::cargo::cargo_bin("baton"))
            .arg("run")
            .arg(&file)
            .args(["--nats", &server.url(), "--replace", "--quiet"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1000));
        let _worker = Worker::start(dir.path(), &file, &server.url(), &["rename"], 1);
        let output = replacing.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    });
}

#[test]
fn a_run_replaced_while_a_worker_of_the_crashed_one_still_serves_ends_with_every_item_once() {
    watchdog(LIMIT, || {
        let server = Server::start();
        let dir = tempfile::tempdir().unwrap();
        let file = slow_remote(dir.path(), 3000, 2);
        // One worker serves both runs: the crashed driver's, then the
        // replacing one's, without a restart.
        let worker = Worker::start(dir.path(), &file, &server.url(), &["slow"], 4);
        let mut crashed = std::process::Command::new(assert_cmd::cargo::cargo_bin("baton"))
            .arg("run")
            .arg(&file)
            .args(["--nats", &server.url(), "--quiet"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1200));
        nix_kill(crashed.id(), "KILL");
        let _ = crashed.wait();
        // The worker goes on with the crashed run's messages while the
        // new driver deletes its streams and makes them anew.
        let output = baton()
            .arg("run")
            .arg(&file)
            .args(["--nats", &server.url(), "--replace", "--quiet"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}\nworker: {}",
            stderr(&output),
            worker.log()
        );
        let values = jsonl_values(&dir.path().join("out.jsonl"));
        assert_eq!(
            values,
            (0..3000).collect::<Vec<_>>(),
            "every item once, in order"
        );
        assert!(!worker.log().contains("error"), "{}", worker.log());
    });
}

#[test]
fn bad_placements_and_nats_tables_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.toml",
        "[nats]\nurll = \"nats://x:4222\"\nstorage = \"disk\"\n\n[[stage]]\nop = \"range\"\nend = 3\nplacement = \"remote\"\n\n[[stage]]\nop = \"take\"\ncount = 2\nplacement = \"remote\"\n\n[[stage]]\nop = \"rename\"\nfields = { value = \"n\" }\nplacement = \"elsewhere\"\n\n[[stage]]\nop = \"discard\"\n",
    );
    let output = baton().arg("check").arg(&file).output().unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    for expected in [
        "p.toml:2",
        "did you mean `url`?",
        "p.toml:3",
        "unknown storage \"disk\"",
        "p.toml:8",
        "only the stages between the source and the sink can be remote",
        "p.toml:13",
        "must be parallel",
        "p.toml:18",
        "unknown placement \"elsewhere\"",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn bad_distributed_arguments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let local_only = write(
        dir.path(),
        "local.toml",
        "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"discard\"\n",
    );
    let output = baton()
        .arg("run")
        .arg(&local_only)
        .args(["--nats", "nats://127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no stage of"),
        "{}",
        stderr(&output)
    );

    let remote = write(
        dir.path(),
        "remote.toml",
        "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"rename\"\nfields = { value = \"n\" }\nplacement = \"remote\"\n\n[[stage]]\nop = \"discard\"\n",
    );
    let output = baton()
        .arg("run")
        .arg(&remote)
        .arg("--nats")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("needs the server's URL"),
        "{}",
        stderr(&output)
    );

    let output = baton()
        .arg("worker")
        .arg(&remote)
        .args(["--nats", "nats://127.0.0.1:1", "--stage", "discard"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("not remote"),
        "{}",
        stderr(&output)
    );

    let output = baton()
        .arg("worker")
        .arg(&remote)
        .args(["--nats", "nats://127.0.0.1:1", "--stage", "renmae"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("did you mean `rename`?"),
        "{}",
        stderr(&output)
    );

    // Without --nats the same file runs locally, remote stages and all.
    baton()
        .arg("run")
        .arg(&remote)
        .arg("--quiet")
        .assert()
        .success();
}

/// A pipeline with one remote stage, writing `out`.
fn doubling(dir: &Path, name: &str, nats: &str, out: &str) -> PathBuf {
    write(
        dir,
        name,
        &format!(
            r#"
[nats]
storage = "memory"
{nats}

[[stage]]
op = "range"
end = 2000

[[stage]]
name = "double"
op = "remap"
fields = {{ doubled = "value * 2" }}
placement = "remote"

[[stage]]
op = "jsonl"
path = "{out}"
"#
        ),
    )
}

#[test]
fn a_password_from_the_command_line_or_the_environment_is_used_and_never_shown() {
    watchdog(LIMIT, || {
        let server = Server::start_with(nats::ServerSetup {
            user: Some(("baton".into(), "s3cret-pw".into())),
            ..Default::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let file = doubling(dir.path(), "p.toml", "user = \"baton\"", "out.jsonl");

        // A wrong password: a clear error within seconds, the secret unshown.
        let started = Instant::now();
        let output = baton()
            .arg("run")
            .arg(&file)
            .args(["--nats", &server.url()])
            .env("NATS_PASSWORD", "wrong-pw")
            .output()
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let text = stderr(&output);
        assert!(text.contains("wrong user, password"), "{text}");
        assert!(!text.contains("wrong-pw"), "a secret was shown: {text}");

        // The worker's on the command line, the driver's in the environment
        // (the user from the file).
        let worker = Worker::start_with(
            dir.path(),
            &file,
            &server.url(),
            &["double"],
            1,
            &["--nats-user", "baton", "--nats-password", "s3cret-pw"],
        );
        let output = baton()
            .arg("run")
            .arg(&file)
            .args(["--nats", &server.url()])
            .env("NATS_PASSWORD", "s3cret-pw")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(lines(&dir.path().join("out.jsonl")).len(), 2000);
        for shown in [
            stderr(&output),
            String::from_utf8_lossy(&output.stdout).into(),
            worker.log(),
        ] {
            assert!(!shown.contains("s3cret-pw"), "a secret was shown: {shown}");
        }

        // Two kinds of credentials at once are refused.
        let output = baton()
            .arg("run")
            .arg(&file)
            .args(["--nats", &server.url(), "--nats-token", "t"])
            .env("NATS_PASSWORD", "s3cret-pw")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(
            stderr(&output)
                .contains("one kind of NATS credentials, not a user and password and a token"),
            "{}",
            stderr(&output)
        );
    });
}

/// A CA, and a server and a client certificate it signed, as PEM files:
/// `(ca, server cert, server key, client cert, client key)`.
fn certificates(dir: &Path) -> [PathBuf; 5] {
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let server = leaf(
        vec!["127.0.0.1".into(), "localhost".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let client = leaf(vec!["client".into()], ExtendedKeyUsagePurpose::ClientAuth);
    let files = [
        ("ca.pem", ca_cert.pem()),
        ("server.pem", server.0),
        ("server-key.pem", server.1),
        ("client.pem", client.0),
        ("client-key.pem", client.1),
    ];
    files.map(|(name, text)| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    })
}

#[test]
fn tls_with_a_client_certificate_from_the_file_or_the_environment() {
    watchdog(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let [ca, server_cert, server_key, client_cert, client_key] = certificates(dir.path());
        let server = Server::start_with(nats::ServerSetup {
            tls: Some((server_cert, server_key, Some(ca.clone()))),
            ..Default::default()
        });
        // The driver's TLS from the file (paths relative to it).
        let file = doubling(
            dir.path(),
            "p.toml",
            "tls_ca = \"ca.pem\"\ntls_cert = \"client.pem\"\ntls_key = \"client-key.pem\"",
            "out.jsonl",
        );
        // Without a client certificate the server refuses: an error, fast.
        let plain = doubling(
            dir.path(),
            "plain.toml",
            "tls_ca = \"ca.pem\"",
            "plain.jsonl",
        );
        let started = Instant::now();
        let output = baton()
            .arg("run")
            .arg(&plain)
            .args(["--nats", &server.url()])
            .output()
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(15));
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert!(
            stderr(&output).contains("NATS server"),
            "{}",
            stderr(&output)
        );

        // The worker's from the environment.
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("baton"));
        let log = dir.path().join("worker.log");
        let mut worker = command
            .arg("worker")
            .arg(&plain)
            .args(["--nats", &server.url(), "--stage", "double", "--run", "p"])
            .env("NATS_CA", &ca)
            .env("NATS_CERT", &client_cert)
            .env("NATS_KEY", &client_key)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let output = baton()
            .arg("run")
            .arg(&file)
            .args(["--nats", &server.url()])
            .output()
            .unwrap();
        let _ = worker.kill();
        let _ = worker.wait();
        assert!(
            output.status.success(),
            "{}\nworker: {}",
            stderr(&output),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        assert_eq!(lines(&dir.path().join("out.jsonl")).len(), 2000);
    });
}

#[test]
fn a_nats_server_killed_mid_run_is_waited_for_and_the_run_ends_with_every_item_once() {
    watchdog(LIMIT, || {
        let mut server = Server::start();
        let dir = tempfile::tempdir().unwrap();
        let file = slow_remote(dir.path(), 6000, 2);
        let _worker = Worker::start(dir.path(), &file, &server.url(), &["slow"], 4);
        // Without a terminal the view is a log: its lines go to this file.
        let log = dir.path().join("driver.log");
        let mut driver = Command::new(assert_cmd::cargo::cargo_bin("baton"))
            .arg("run")
            .arg(&file)
            .args(["--nats", &server.url()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let said = || std::fs::read_to_string(&log).unwrap_or_default();
        let wait_for = |what: &str, ready: &dyn Fn() -> bool| {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !ready() {
                assert!(
                    Instant::now() < deadline,
                    "{what}: not within 60 s:\n{}",
                    said()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        let partial = dir.path().join("out.jsonl.partial");
        wait_for("the first items", &|| {
            std::fs::read_to_string(&partial).is_ok_and(|text| text.lines().count() > 200)
        });
        // The server goes as a crashed machine's would, then comes back.
        server.kill();
        wait_for("the driver's word about the server", &|| {
            said().contains("does not answer")
        });
        assert!(
            driver.try_wait().unwrap().is_none(),
            "the driver waits for the server: {}",
            said()
        );
        server.restart();
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = driver.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "no end after the server came back:\n{}",
                said()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "{}", said());
        let values = jsonl_values(&dir.path().join("out.jsonl"));
        assert_eq!(
            values,
            (0..6000).collect::<Vec<_>>(),
            "every item once, in order"
        );
    });
}

/// A stage of a random pipeline: what it does to each item.
#[derive(Clone, Debug)]
enum RandomOp {
    /// Sets a new field from `value`.
    Remap(u64),
    /// Drops the items whose `value` leaves `rest` divided by `by`.
    Filter { by: u64, rest: u64 },
    /// A digest of `value` into a field.
    Hash,
    /// Some CPU work on `value` (which it replaces with a large number).
    Spin,
}

impl RandomOp {
    fn toml(&self, name: &str, remote: bool) -> String {
        let body = match self {
            RandomOp::Remap(k) => {
                format!("op = \"remap\"\nfields = {{ {name} = \"value % 1000 * {k} + 1\" }}")
            }
            RandomOp::Filter { by, rest } => {
                format!("op = \"filter\"\nexpr = \"value % {by} != {rest}\"")
            }
            RandomOp::Hash => format!("op = \"hash\"\nfields = [\"value\"]\ninto = \"{name}\""),
            RandomOp::Spin => "op = \"spin\"\niterations = 3".to_string(),
        };
        let placement = if remote { "remote" } else { "local" };
        format!("[[stage]]\nname = \"{name}\"\n{body}\nplacement = \"{placement}\"\n")
    }
}

fn random_op() -> impl proptest::strategy::Strategy<Value = RandomOp> {
    use proptest::prelude::*;
    prop_oneof![
        (1..5u64).prop_map(RandomOp::Remap),
        (2..5u64, 0..2u64).prop_map(|(by, rest)| RandomOp::Filter { by, rest }),
        Just(RandomOp::Hash),
        Just(RandomOp::Spin),
    ]
}

#[test]
fn random_pipelines_give_the_same_output_locally_and_across_workers() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    watchdog(Duration::from_secs(600), || {
        let server = Server::start();
        let url = server.url();
        let mut runner = TestRunner::new(Config {
            cases: 24,
            // A failing case is shown, not stored beside the tests.
            failure_persistence: None,
            ..Config::default()
        });
        let case = (
            0..3000u64,
            proptest::collection::vec((random_op(), any::<bool>()), 1..5),
            any::<bool>(),
        );
        let runs = std::sync::atomic::AtomicUsize::new(0);
        runner
            .run(&case, |(items, stages, ordered)| {
                let run = runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                // At least one stage is remote, or there is nothing to spread.
                let mut stages = stages;
                if !stages.iter().any(|(_, remote)| *remote) {
                    stages[0].1 = true;
                }
                let dir = tempfile::tempdir().unwrap();
                let names: Vec<String> = (0..stages.len()).map(|i| format!("s{i}")).collect();
                let body = |out: &str| {
                    let mut text = format!(
                        "[nats]\nstorage = \"memory\"\nrun = \"case{run}\"\n\n[[stage]]\nop = \"range\"\nend = {items}\n\n"
                    );
                    for ((op, remote), name) in stages.iter().zip(&names) {
                        text.push_str(&op.toml(name, *remote));
                        text.push('\n');
                    }
                    // In source order, or as the items come.
                    let mode = if ordered { "serial_in_order" } else { "serial" };
                    text.push_str(&format!(
                        "[[stage]]\nop = \"jsonl\"\npath = \"{out}\"\nmode = \"{mode}\"\n"
                    ));
                    text
                };
                let file = write(dir.path(), "p.toml", &body("local.jsonl"));
                let local = baton().arg("run").arg(&file).arg("--quiet").output().unwrap();
                prop_assert!(local.status.success(), "{}", stderr(&local));
                let file = write(dir.path(), "p.toml", &body("remote.jsonl"));
                let served: Vec<&str> = stages
                    .iter()
                    .zip(&names)
                    .filter(|((_, remote), _)| *remote)
                    .map(|(_, name)| name.as_str())
                    .collect();
                let _worker = Worker::start(dir.path(), &file, &url, &served, 2);
                let distributed = baton()
                    .arg("run")
                    .arg(&file)
                    .args(["--nats", &url, "--quiet"])
                    .output()
                    .unwrap();
                prop_assert!(distributed.status.success(), "{}", stderr(&distributed));
                let (mut remote, mut local) = (
                    lines(&dir.path().join("remote.jsonl")),
                    lines(&dir.path().join("local.jsonl")),
                );
                if !ordered {
                    remote.sort();
                    local.sort();
                }
                prop_assert_eq!(
                    remote,
                    local,
                    "the same records (in the same order, if ordered): {}",
                    body("out.jsonl")
                );
                Ok(())
            })
            .unwrap_or_else(|failure| panic!("{failure}"));
        drop(server);
    });
}
