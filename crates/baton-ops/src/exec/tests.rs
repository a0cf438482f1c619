//! The `exec` stage with real worker processes: small Python scripts.

use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use baton_engine::{ReplicaContext, Stage};
use serde_json::json;
use tempfile::TempDir;

use super::DEF;
use crate::item::{Item, Payload};
use crate::registry::BuiltOp;
use crate::testing;

/// Runs `test` on a thread of its own and fails if it takes longer than
/// `seconds`: a broken pipe protocol hangs rather than fails.
pub(super) fn within<T: Send + 'static>(
    seconds: u64,
    test: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, result) = mpsc::channel();
    let runner = thread::spawn(move || done.send(test()).expect("the watchdog waits"));
    match result.recv_timeout(Duration::from_secs(seconds)) {
        Ok(value) => value,
        // The test panicked: show its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(runner.join().expect_err("the test did not finish"))
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the test took more than {seconds} s"),
    }
}

/// A folder with the Python script `worker.py` in it.
pub(super) fn worker(script: &str) -> TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("worker.py"), script).expect("the script is written");
    dir
}

/// A replica of `exec` with `params` (TOML), in a pipeline file in `dir`.
fn replica(dir: &Path, params: &str) -> Box<dyn Stage<Item, Item>> {
    let BuiltOp::Stage(factory) = testing::build(&DEF, &testing::params(&DEF, params, dir)) else {
        panic!("exec is a stage")
    };
    factory.replica().expect("the replica is made")
}

const PYTHON: &str = r#"command = ["python3", "worker.py"]"#;

/// The outputs of one item, or its error's message.
fn process(stage: &mut dyn Stage<Item, Item>, item: Item) -> Result<Vec<Item>, String> {
    let mut out = Vec::new();
    stage
        .process(item, &mut out)
        .map(|()| out)
        .map_err(|e| e.to_string())
}

fn value(n: i64) -> Item {
    Item::with_field("value", n)
}

/// Whether process `pid` exists (a zombie counts: it has not been reaped).
fn exists(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn pid_of(items: &[Item]) -> u64 {
    items[0]
        .get("pid")
        .and_then(|p| p.as_u64())
        .expect("the worker says its pid")
}

/// Answers every item with itself, plus `doubled` and the worker's `pid`.
pub(super) const DOUBLER: &str = r#"
import json, os, sys
for line in sys.stdin:
    item = json.loads(line)
    item["doubled"] = item.get("value", 0) * 2
    item["pid"] = os.getpid()
    print(json.dumps(item), flush=True)
"#;

#[test]
fn a_jsonl_worker_transforms_each_record_and_the_payload_stays() {
    within(20, || {
        let dir = worker(DOUBLER);
        let mut stage = replica(dir.path(), PYTHON);
        let first = process(&mut *stage, value(1)).unwrap();
        let second = process(&mut *stage, value(21)).unwrap();
        assert_eq!(first[0].get("doubled").unwrap(), 2);
        assert_eq!(second[0].get("doubled").unwrap(), 42);
        assert_eq!(
            pid_of(&first),
            pid_of(&second),
            "one worker for the replica"
        );

        let mut with_bytes = value(2);
        with_bytes.payload = Payload::Bytes(vec![1, 2, 3]);
        let out = process(&mut *stage, with_bytes).unwrap();
        assert_eq!(out[0].get("_payload").unwrap(), "bytes[3]");
        assert_eq!(
            out[0].payload,
            Payload::Bytes(vec![1, 2, 3]),
            "the worker saw a summary; the item keeps its bytes"
        );
    });
}

#[test]
fn null_filters_and_an_array_flat_maps() {
    within(20, || {
        let dir = worker(
            r#"
import json, sys
for line in sys.stdin:
    n = json.loads(line)["value"]
    if n % 2 == 0:
        print("null", flush=True)
    else:
        print(json.dumps([{"value": n, "copy": k} for k in range(n)]), flush=True)
"#,
        );
        let mut stage = replica(dir.path(), PYTHON);
        assert_eq!(process(&mut *stage, value(2)).unwrap(), vec![]);
        let three = process(&mut *stage, value(3)).unwrap();
        assert_eq!(
            three,
            (0..3)
                .map(|k| Item::record(json!({"value": 3, "copy": k})))
                .collect::<Vec<_>>()
        );
        assert_eq!(process(&mut *stage, value(1)).unwrap().len(), 1);
    });
}

#[test]
fn a_bytes_worker_reverses_payloads_and_keeps_the_fields() {
    within(20, || {
        let dir = worker(
            r#"
import struct, sys
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
while (head := stdin.read(8)):
    rid, n = struct.unpack(">II", head)
    data = stdin.read(n)
    stdout.write(struct.pack(">II", rid, len(data)) + data[::-1])
    stdout.flush()
"#,
        );
        let params = format!("{PYTHON}\nprotocol = \"bytes\"");
        let mut stage = replica(dir.path(), &params);
        for bytes in [
            b"hello".to_vec(),
            vec![],
            (0..=255).collect(),
            vec![7; 200_000],
        ] {
            let mut item = Item::with_field("path", "a.bin");
            item.payload = Payload::Bytes(bytes.clone());
            let out = process(&mut *stage, item).unwrap();
            let reversed: Vec<u8> = bytes.into_iter().rev().collect();
            assert_eq!(
                out,
                vec![Item {
                    payload: Payload::Bytes(reversed),
                    ..Item::with_field("path", "a.bin")
                }]
            );
        }
        let error = process(&mut *stage, value(1)).unwrap_err();
        assert_eq!(
            error,
            "the `bytes` protocol sends the payload's bytes, but the payload is `none`"
        );
    });
}

#[test]
fn a_worker_that_crashes_on_one_item_fails_only_that_item() {
    within(20, || {
        let dir = worker(
            r#"
import json, os, sys
for line in sys.stdin:
    item = json.loads(line)
    if item["value"] == 3:
        sys.stderr.write("boom on 3\n")
        sys.exit(3)
    item["pid"] = os.getpid()
    print(json.dumps(item), flush=True)
"#,
        );
        let mut stage = replica(dir.path(), PYTHON);
        let before = pid_of(&process(&mut *stage, value(1)).unwrap());
        let error = process(&mut *stage, value(3)).unwrap_err();
        assert!(
            error.contains(&format!("(pid {before}) exited (exit status: 3)")),
            "{error}"
        );
        assert!(
            error.contains("its last line on stderr: `boom on 3`"),
            "{error}"
        );
        assert!(error.contains("restarted for the next item"), "{error}");
        assert!(!exists(before), "the dead worker was reaped");
        let after = pid_of(&process(&mut *stage, value(4)).unwrap());
        assert_ne!(before, after);
        assert_eq!(pid_of(&process(&mut *stage, value(5)).unwrap()), after);
    });
}

#[test]
fn a_worker_that_dies_on_start_is_given_up_on() {
    within(20, || {
        let dir = worker("import sys\nsys.stderr.write('cannot load the model\\n')\nsys.exit(2)\n");
        let mut stage = replica(dir.path(), PYTHON);
        for n in 1..=2 {
            let error = process(&mut *stage, value(n)).unwrap_err();
            assert!(error.contains("exited (exit status: 2)"), "{error}");
            assert!(error.contains("`cannot load the model`"), "{error}");
        }
        for n in 3..=4 {
            let error = process(&mut *stage, value(n)).unwrap_err();
            assert!(error.contains("keeps dying: 3 times in a row"), "{error}");
            assert!(error.contains("`cannot load the model`"), "{error}");
        }
    });
}

#[test]
fn a_program_that_does_not_exist_cannot_start() {
    within(20, || {
        let dir = tempfile::tempdir().unwrap();
        let mut stage = replica(dir.path(), r#"command = ["./no-such-worker"]"#);
        let error = process(&mut *stage, value(1)).unwrap_err();
        assert!(
            error.starts_with("cannot start the worker `./no-such-worker`: "),
            "{error}"
        );
        process(&mut *stage, value(2)).unwrap_err();
        let error = process(&mut *stage, value(3)).unwrap_err();
        assert!(error.contains("keeps dying"), "{error}");
    });
}

#[test]
fn a_worker_that_takes_too_long_is_killed_and_replaced() {
    within(30, || {
        let dir = worker(
            r#"
import json, os, sys, time
for line in sys.stdin:
    item = json.loads(line)
    if item["value"] == 2:
        time.sleep(60)
    item["pid"] = os.getpid()
    print(json.dumps(item), flush=True)
"#,
        );
        // Generous: the first item also waits for Python to start.
        let params = format!("{PYTHON}\ntimeout_ms = 3000");
        let mut stage = replica(dir.path(), &params);
        let before = pid_of(&process(&mut *stage, value(1)).unwrap());
        let start = Instant::now();
        let error = process(&mut *stage, value(2)).unwrap_err();
        let waited = start.elapsed();
        assert!(
            error.contains(&format!("(pid {before}) did not answer within 3000 ms")),
            "{error}"
        );
        assert!(
            waited >= Duration::from_millis(3000) && waited < Duration::from_secs(15),
            "{waited:?}"
        );
        assert!(!exists(before), "the stuck worker was killed and reaped");
        let after = pid_of(&process(&mut *stage, value(3)).unwrap());
        assert_ne!(before, after);
    });
}

#[test]
fn a_worker_writing_much_on_stderr_is_not_blocked() {
    within(20, || {
        // 200 kB of stderr per item: more than a pipe holds, so it must be drained.
        let dir = worker(
            r#"
import json, sys
for line in sys.stdin:
    for i in range(2000):
        sys.stderr.write("log line %d %s\n" % (i, "x" * 90))
    sys.stderr.flush()
    print(line.strip(), flush=True)
"#,
        );
        let mut stage = replica(dir.path(), PYTHON);
        for n in 0..3 {
            assert_eq!(process(&mut *stage, value(n)).unwrap(), vec![value(n)]);
        }
    });
}

#[test]
fn an_answer_that_is_not_json_is_quoted_and_the_worker_restarted() {
    within(20, || {
        let dir = worker(
            r#"
import json, os, sys
for line in sys.stdin:
    item = json.loads(line)
    item["pid"] = os.getpid()
    if item["value"] == 1:
        print("debug: got 1")
    print(json.dumps(item), flush=True)
"#,
        );
        let mut stage = replica(dir.path(), PYTHON);
        let first = pid_of(&process(&mut *stage, value(0)).unwrap());
        let error = process(&mut *stage, value(1)).unwrap_err();
        assert!(
            error.contains("not JSON") && error.contains("`debug: got 1`"),
            "{error}"
        );
        // In step again: item 2 gets its own answer, from a fresh worker.
        let out = process(&mut *stage, value(2)).unwrap();
        assert_eq!(out[0].get("value").unwrap(), 2);
        assert_ne!(pid_of(&out), first);
    });
}

#[test]
fn env_and_cwd_reach_the_worker() {
    within(20, || {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(
            dir.path().join("sub/env.py"),
            "import json, os, sys\nfor line in sys.stdin:\n    print(json.dumps({'cwd': os.getcwd(), 'greeting': os.environ['GREETING']}), flush=True)\n",
        )
        .unwrap();
        let params =
            "command = [\"python3\", \"env.py\"]\ncwd = \"sub\"\nenv = { GREETING = \"hi\" }";
        let mut stage = replica(dir.path(), params);
        let out = process(&mut *stage, value(0)).unwrap();
        assert_eq!(out[0].get("greeting").unwrap(), "hi");
        let cwd = out[0].get("cwd").and_then(|c| c.as_str()).unwrap();
        assert_eq!(
            Path::new(cwd).canonicalize().unwrap(),
            dir.path().join("sub").canonicalize().unwrap()
        );
    });
}

#[test]
fn dropping_the_stage_leaves_no_process() {
    within(20, || {
        let dir = worker(DOUBLER);
        let mut stage = replica(dir.path(), PYTHON);
        let pid = pid_of(&process(&mut *stage, value(1)).unwrap());
        assert!(exists(pid));
        drop(stage);
        assert!(
            !exists(pid),
            "the worker exited on end of input and was reaped"
        );

        // One that ignores the end of its input is killed after the grace period.
        let dir = worker(
            r#"
import json, os, sys, time
for line in sys.stdin:
    print(json.dumps({"pid": os.getpid()}), flush=True)
time.sleep(60)
"#,
        );
        let mut stage = replica(dir.path(), PYTHON);
        let pid = pid_of(&process(&mut *stage, value(1)).unwrap());
        drop(stage);
        assert!(!exists(pid), "the stubborn worker was killed and reaped");
    });
}

#[test]
fn each_replica_has_a_worker_of_its_own() {
    within(20, || {
        let dir = worker(DOUBLER);
        let BuiltOp::Stage(factory) =
            testing::build(&DEF, &testing::params(&DEF, PYTHON, dir.path()))
        else {
            panic!("exec is a stage")
        };
        let (mut a, mut b) = (factory.replica().unwrap(), factory.replica().unwrap());
        let pid_a = pid_of(&process(&mut *a, value(1)).unwrap());
        let pid_b = pid_of(&process(&mut *b, value(1)).unwrap());
        assert_ne!(pid_a, pid_b);
    });
}

#[test]
fn bad_parameters_name_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let error =
        |params: &str| testing::build_error(&DEF, &testing::params(&DEF, params, dir.path()));
    let e = error("command = []");
    assert_eq!(e.param.as_deref(), Some("command"));
    assert!(e.message.contains("is empty"), "{e}");
    assert_eq!(
        error("command = [\"cat\"]\nprotocol = \"xml\"")
            .param
            .as_deref(),
        Some("protocol")
    );
    assert_eq!(
        error("command = [\"cat\"]\ncwd = \"nowhere\"")
            .param
            .as_deref(),
        Some("cwd")
    );
    assert_eq!(
        error("command = [\"cat\"]\ntimeout_ms = 0")
            .param
            .as_deref(),
        Some("timeout_ms")
    );
}

/// Whether process `pid` is alive: it exists and is not a zombie (a killed
/// orphan may wait a while for its new parent to reap it).
fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // "pid (comm) state ...": the state follows the last parenthesis.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// Whether process `pid`, not ours to reap, dies within a few seconds
/// (a SIGKILL is delivered a moment after it is sent).
fn dies(pid: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
    true
}

/// The parameter named by the error building `exec` with `params` (after
/// `command`).
fn faulty_param(params: &str) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let params = format!("command = [\"cat\"]\n{params}");
    testing::build_error(&DEF, &testing::params(&DEF, &params, dir.path())).param
}

/// The field `name` of the first output, as a number.
fn number(items: &[Item], name: &str) -> u64 {
    items[0]
        .get(name)
        .and_then(|p| p.as_u64())
        .unwrap_or_else(|| panic!("no number `{name}` in {items:?}"))
}

#[test]
fn a_worker_runs_in_a_process_group_of_its_own_which_ends_with_it() {
    within(20, || {
        // The worker starts a child of its own, which outlives the worker
        // unless the whole group is ended.
        let dir = worker(
            r#"
import json, os, subprocess, sys
child = subprocess.Popen(["sleep", "1000"])
for line in sys.stdin:
    print(json.dumps({"pid": os.getpid(), "pgid": os.getpgid(0), "child": child.pid}), flush=True)
"#,
        );
        let mut stage = replica(dir.path(), PYTHON);
        let out = process(&mut *stage, value(1)).unwrap();
        let (pid, child) = (number(&out, "pid"), number(&out, "child"));
        assert_eq!(
            number(&out, "pgid"),
            pid,
            "the worker leads a group of its own"
        );
        assert!(alive(child));
        drop(stage);
        assert!(!alive(pid), "the worker exited on end of input");
        assert!(
            dies(child),
            "the worker's own child was ended with its group"
        );
    });
}

#[test]
fn the_end_of_the_run_ends_a_worker_that_never_answers() {
    within(20, || {
        let dir = worker(
            r#"
import json, os, signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen(["sleep", "1000"])
for line in sys.stdin:
    if json.loads(line)["value"] == 2:
        while True:
            time.sleep(1000)
    print(json.dumps({"pid": os.getpid(), "child": child.pid}), flush=True)
"#,
        );
        let mut stage = replica(dir.path(), PYTHON);
        let ctx = ReplicaContext::detached("work", 0);
        stage.open(&ctx).unwrap();
        let out = process(&mut *stage, value(1)).unwrap();
        let (pid, child) = (number(&out, "pid"), number(&out, "child"));
        let cancel = ctx.cancellation().clone();
        let canceller = thread::spawn(move || {
            thread::sleep(Duration::from_millis(300));
            cancel.cancel();
        });
        // No `timeout_ms`: only the run's end can stop the wait.
        let error = process(&mut *stage, value(2)).unwrap_err();
        canceller.join().unwrap();
        assert!(error.contains("the run ended"), "{error}");
        assert!(!alive(pid), "the worker was killed");
        assert!(dies(child), "and its own child with it");
    });
}

#[test]
fn an_answer_over_the_limit_fails_the_item_and_the_worker_is_restarted() {
    within(20, || {
        // On item 1 the worker babbles without end and never writes a newline.
        let dir = worker(
            r#"
import json, os, sys
for line in sys.stdin:
    item = json.loads(line)
    if item["value"] == 1:
        while True:
            sys.stdout.write("x" * 4096)
    item["pid"] = os.getpid()
    print(json.dumps(item), flush=True)
"#,
        );
        let params = format!("{PYTHON}\nmax_answer_bytes = 1000");
        let mut stage = replica(dir.path(), &params);
        let before = pid_of(&process(&mut *stage, value(0)).unwrap());
        let error = process(&mut *stage, value(1)).unwrap_err();
        assert!(
            error.contains("longer than `max_answer_bytes` (1000 bytes)"),
            "{error}"
        );
        assert!(!alive(before), "the babbling worker was killed");
        let after = pid_of(&process(&mut *stage, value(2)).unwrap());
        assert_ne!(before, after, "a fresh worker took the next item");
    });
}

#[test]
fn a_frame_over_the_limit_is_refused_before_it_is_read() {
    within(20, || {
        // A length of 2 GiB: refused from the header alone.
        let dir = worker(
            r#"
import struct, sys
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
while (head := stdin.read(8)):
    rid, n = struct.unpack(">II", head)
    stdin.read(n)
    stdout.write(struct.pack(">II", rid, 2**31))
    stdout.flush()
"#,
        );
        let params = format!("{PYTHON}\nprotocol = \"bytes\"\nmax_answer_bytes = 1000");
        let mut stage = replica(dir.path(), &params);
        let mut item = value(1);
        item.payload = Payload::Bytes(b"abc".to_vec());
        let error = process(&mut *stage, item).unwrap_err();
        assert!(
            error.contains("longer than `max_answer_bytes` (1000 bytes)"),
            "{error}"
        );
    });
}

#[test]
fn a_late_extra_answer_is_never_taken_for_the_next_items() {
    within(20, || {
        // Item 1 is answered twice, the second time after baton has sent
        // item 2: the echoed `_request` tells the two apart.
        let dir = worker(
            r#"
import json, os, sys, time
for line in sys.stdin:
    item = json.loads(line)
    item["pid"] = os.getpid()
    print(json.dumps(item), flush=True)
    if item["value"] == 1:
        time.sleep(0.3)
        print(json.dumps(item), flush=True)
"#,
        );
        let mut stage = replica(dir.path(), PYTHON);
        let first = process(&mut *stage, value(1)).unwrap();
        assert_eq!(number(&first, "value"), 1);
        assert_eq!(
            first[0].get("_request"),
            None,
            "the id is not an output field"
        );
        let second = process(&mut *stage, value(2));
        assert!(
            second.as_ref().is_err_and(|e| e.contains("out of step")),
            "item 2 got {second:?}"
        );
        let third = process(&mut *stage, value(3)).unwrap();
        assert_eq!(number(&third, "value"), 3);
        assert_ne!(pid_of(&third), pid_of(&first), "the worker was restarted");
    });
}

#[test]
fn a_bytes_answer_with_another_request_s_id_is_out_of_step() {
    within(20, || {
        let dir = worker(
            r#"
import struct, sys
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
while (head := stdin.read(8)):
    rid, n = struct.unpack(">II", head)
    data = stdin.read(n)
    if data == b"late":
        rid -= 1
    stdout.write(struct.pack(">II", rid, len(data)) + data)
    stdout.flush()
"#,
        );
        let params = format!("{PYTHON}\nprotocol = \"bytes\"");
        let mut stage = replica(dir.path(), &params);
        let bytes = |data: &[u8]| Item {
            payload: Payload::Bytes(data.to_vec()),
            ..Item::default()
        };
        assert_eq!(
            process(&mut *stage, bytes(b"on time")).unwrap(),
            vec![bytes(b"on time")]
        );
        let error = process(&mut *stage, bytes(b"late")).unwrap_err();
        assert!(error.contains("out of step"), "{error}");
        assert_eq!(
            process(&mut *stage, bytes(b"again")).unwrap(),
            vec![bytes(b"again")]
        );
    });
}

#[test]
fn with_require_ids_every_answer_carries_its_request_s_id() {
    within(20, || {
        let dir = worker(
            r#"
import json, sys
for line in sys.stdin:
    item = json.loads(line)
    rid, n = item["_request"], item["value"]
    if n == 0:
        print(json.dumps({"_request": rid, "_items": None}), flush=True)
    elif n == 1:
        print(json.dumps({"value": n}), flush=True)  # no id
    elif n == 2:
        print(json.dumps({"_request": rid, "_items": [{"copy": 1}, {"copy": 2}]}), flush=True)
    else:
        print(json.dumps(item), flush=True)
"#,
        );
        let params = format!("{PYTHON}\nrequire_ids = true");
        let mut stage = replica(dir.path(), &params);
        assert_eq!(process(&mut *stage, value(0)).unwrap(), vec![]);
        let error = process(&mut *stage, value(1)).unwrap_err();
        assert!(
            error.contains("does not carry its request's `_request`"),
            "{error}"
        );
        assert_eq!(
            process(&mut *stage, value(2)).unwrap(),
            vec![Item::with_field("copy", 1), Item::with_field("copy", 2)]
        );
        assert_eq!(process(&mut *stage, value(3)).unwrap(), vec![value(3)]);

        // Without it, an answer with no id is taken as it is.
        let mut stage = replica(dir.path(), PYTHON);
        assert_eq!(process(&mut *stage, value(1)).unwrap(), vec![value(1)]);
    });
}

#[test]
fn a_record_with_the_id_s_field_name_is_refused() {
    within(20, || {
        let dir = worker(DOUBLER);
        let mut stage = replica(dir.path(), PYTHON);
        let error = process(&mut *stage, Item::with_field("_request", 1)).unwrap_err();
        assert!(error.contains("`_request`"), "{error}");
    });
}

#[test]
fn only_allowed_variables_reach_the_worker() {
    within(20, || {
        let dir = worker(
            "import json, os, sys\nfor line in sys.stdin:\n    print(json.dumps({'names': sorted(os.environ)}), flush=True)\n",
        );
        let names = |params: &str| -> Vec<String> {
            let mut stage = replica(dir.path(), params);
            let out = process(&mut *stage, value(0)).unwrap();
            serde_json::from_value(out[0].get("names").unwrap().clone()).unwrap()
        };
        // Some variable of ours other than PATH: it must not get through.
        let (other, _) = std::env::vars()
            .find(|(name, _)| name != "PATH")
            .expect("the test runs with some variable besides PATH");
        let inherited = names(PYTHON);
        assert!(inherited.contains(&other), "by default all is inherited");

        let allowed = names(&format!(
            "{PYTHON}\nenv_allow = [\"PATH\"]\nenv = {{ MODE = \"fast\" }}"
        ));
        assert!(allowed.contains(&"PATH".to_string()), "{allowed:?}");
        assert!(allowed.contains(&"MODE".to_string()), "{allowed:?}");
        assert!(
            !allowed.contains(&other),
            "`{other}` got through: {allowed:?}"
        );

        let path = std::env::var("PATH").unwrap();
        let cleared = names(&format!(
            "{PYTHON}\nenv_clear = true\nenv = {{ PATH = {path:?} }}"
        ));
        assert!(cleared.contains(&"PATH".to_string()), "{cleared:?}");
        assert!(
            !cleared.contains(&other),
            "`{other}` got through: {cleared:?}"
        );
    });
}

#[test]
fn bad_limits_and_ids_name_the_parameter() {
    assert_eq!(
        faulty_param("max_answer_bytes = 0").as_deref(),
        Some("max_answer_bytes")
    );
    assert_eq!(
        faulty_param("protocol = \"bytes\"\nrequire_ids = true").as_deref(),
        Some("require_ids")
    );
}

#[test]
fn bad_environment_options_name_the_parameter() {
    let cases = [
        ("env_allow = [\"A=B\"]", "env_allow"),
        ("env_allow = [\"\"]", "env_allow"),
        ("env_allow = [\"PATH\"]\nenv_clear = false", "env_clear"),
        ("env = { \"A=B\" = \"x\" }", "env"),
    ];
    for (params, name) in cases {
        assert_eq!(faulty_param(params).as_deref(), Some(name), "{params}");
    }
}

#[test]
fn after_an_abort_a_dropped_replica_ends_its_worker_without_waiting_for_it() {
    within(20, || {
        // A worker that outlives the end of its input, ignoring SIGTERM and
        // SIGINT: only the kill of its group ends it.
        let dir = worker(
            r#"
import json, os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
for line in sys.stdin:
    print(json.dumps({"pid": os.getpid()}), flush=True)
while True:
    time.sleep(1)
"#,
        );
        let ctx = ReplicaContext::detached("work", 0);
        let mut stage = replica(dir.path(), PYTHON);
        stage.open(&ctx).unwrap();
        let pid = pid_of(&process(&mut *stage, value(1)).unwrap());
        ctx.cancellation().cancel();
        let dropped = Instant::now();
        drop(stage);
        // Without the abort the worker would get its grace (half a second)
        // to see the end of its input; after one, nothing waits for it.
        assert!(
            dropped.elapsed() < super::worker::EXIT_GRACE,
            "the drop waited {:?} for the worker",
            dropped.elapsed()
        );
        assert!(!alive(pid), "the worker was ended with its group");
    });
}

#[test]
fn chunks_are_sized_to_the_worker_s_pace_within_one_and_sixteen_windows() {
    use super::ChunkSizing;
    let sizing = ChunkSizing::learned(64);
    assert_eq!(sizing.floor.get(), 64, "one window of requests at first");
    // 5 ms an item: 10 items make 50 ms of the worker's time.
    sizing.learn(100, Duration::from_millis(500));
    assert_eq!(sizing.floor.get(), 10);
    // A microsecond an item: as many as 16 windows, no more.
    sizing.learn(1000, Duration::from_millis(1));
    assert_eq!(sizing.floor.get(), 1024);
    // A second an item: one at a time.
    sizing.learn(2, Duration::from_secs(2));
    assert_eq!(sizing.floor.get(), 1);
    // A call with no items says nothing.
    sizing.learn(0, Duration::from_secs(2));
    assert_eq!(sizing.floor.get(), 1);
    // `arrow` keeps its batches' worth.
    let fixed = ChunkSizing::fixed(4 * 4096);
    fixed.learn(100, Duration::from_millis(500));
    assert_eq!(fixed.floor.get(), 4 * 4096);
}
