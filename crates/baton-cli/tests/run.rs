//! `baton run`, `baton ops` and `baton report` as a user calls them.

mod common;

use common::{baton, jsonl_values, stderr, stdout, write};

const RANGE_TO_STDOUT: &str = "[[stage]]\nop = \"range\"\nend = 5\n\n[[stage]]\nname = \"double\"\nop = \"spin\"\niterations = 0\n\n[[stage]]\nop = \"stdout\"\n";

#[test]
fn run_prints_items_in_source_order_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.toml", RANGE_TO_STDOUT);
    let output = baton().args(["run"]).arg(&file).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let lines: Vec<String> = stdout(&output).lines().map(str::to_string).collect();
    assert_eq!(
        lines,
        (0..5)
            .map(|n| format!("{{\"value\":{n}}}"))
            .collect::<Vec<_>>()
    );
    let summary = stderr(&output);
    assert!(summary.contains("5 items in"), "{summary}");
    assert!(summary.contains("double"), "{summary}");
}

#[test]
fn dry_run_prints_the_plan_without_running() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.toml", RANGE_TO_STDOUT);
    let output = baton()
        .args(["run", "--dry-run", "--threads", "3"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success());
    let plan = stdout(&output);
    assert!(plan.contains("3 threads"), "{plan}");
    assert!(plan.contains("op=spin"), "{plan}");
    assert!(plan.contains("parallel x3"), "{plan}");
    assert!(!plan.contains("{\"value\""), "dry run must not run: {plan}");
}

#[test]
fn dry_run_shows_the_parse_stage_a_source_places_and_takes_its_overrides() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "in.csv", "a,b\n1,2\n");
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nname = \"read\"\nop = \"csv\"\npath = \"in.csv\"\n\n[[stage]]\nop = \"select\"\nfields = [\"a\"]\n\n[[stage]]\nop = \"stdout\"\n",
    );
    let output = baton()
        .args(["run", "--dry-run", "--replicas", "read.parse=5"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let plan = stdout(&output);
    assert!(plan.contains(" 2. read.parse"), "{plan}");
    assert!(plan.contains("parallel x5"), "{plan}");
    assert!(plan.contains("placed by the `csv` source `read`"), "{plan}");
    assert!(!plan.contains("\"a\":"), "dry run must not run: {plan}");
}

#[test]
fn overrides_set_replicas_and_buffers_and_name_unknown_stages() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.toml", RANGE_TO_STDOUT);
    let output = baton()
        .args([
            "run",
            "--dry-run",
            "--replicas",
            "double=7",
            "--buffer",
            "stdout=9",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let plan = stdout(&output);
    assert!(plan.contains("parallel x7"), "{plan}");
    assert!(plan.contains("buffer=9"), "{plan}");
    let output = baton()
        .args(["run", "--replicas", "dubble=2"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("did you mean `double`?"),
        "{}",
        stderr(&output)
    );
    let output = baton()
        .args(["run", "--replicas", "stdout=2"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("one replica"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn stats_trace_and_report_files_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.toml", RANGE_TO_STDOUT);
    let stats = dir.path().join("stats.json");
    let trace = dir.path().join("trace.json");
    let report = dir.path().join("report.html");
    let output = baton()
        .args(["run", "--quiet", "--stats"])
        .arg(&stats)
        .arg("--trace")
        .arg(&trace)
        .arg("--report")
        .arg(&report)
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let stats: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    assert!(stats.to_string().contains("double"), "{stats}");
    let trace_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&trace).unwrap()).unwrap();
    let events = trace_json["traceEvents"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "X" && e["cat"] == "double"),
        "no span of `double`"
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<svg"), "the report draws its charts in SVG");
    // The saved trace renders the same report again.
    let again = dir.path().join("again.html");
    let output = baton()
        .arg("report")
        .arg(&trace)
        .arg("-o")
        .arg(&again)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(std::fs::read_to_string(&again).unwrap().contains("<svg"));
}

#[test]
fn a_failing_stage_exits_non_zero_naming_the_stage_and_item() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "in.jsonl", "{\"a\":1}\n{\"a\":2}\n");
    let text = "[[stage]]\nop = \"lines\"\npath = \"in.jsonl\"\n\n[[stage]]\nname = \"pick\"\nop = \"select\"\nfields = [\"b\"]\nstrict = true\n\n[[stage]]\nop = \"discard\"\n";
    let file = write(dir.path(), "p.toml", text);
    let output = run_quiet(&file);
    assert_eq!(output.status.code(), Some(1));
    let shown = stderr(&output);
    assert!(shown.contains("stage `pick` failed on item 0"), "{shown}");
}

#[test]
fn skipped_items_go_to_the_dead_letter_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "in.log", "{\"a\":1}\nnot json\n{\"a\":3}\n");
    let text = "[[stage]]\nop = \"lines\"\npath = \"in.log\"\n\n[[stage]]\nname = \"parse\"\nop = \"json_parse\"\non_error = \"skip\"\ndead_letter = \"bad.jsonl\"\n\n[[stage]]\nop = \"stdout\"\n";
    let file = write(dir.path(), "p.toml", text);
    let output = run_quiet(&file);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().count(), 2);
    let dead = std::fs::read_to_string(dir.path().join("bad.jsonl")).unwrap();
    let letter: serde_json::Value = serde_json::from_str(dead.lines().next().unwrap()).unwrap();
    assert_eq!(letter["stage"], "parse");
    assert_eq!(letter["seq"], 1);
    assert_eq!(letter["item"]["line"], "not json");
}

#[test]
fn ops_lists_every_built_in_stage_from_the_registry() {
    let output = baton().arg("ops").output().unwrap();
    assert!(output.status.success());
    let listing = stdout(&output);
    for op in baton_ops::all() {
        assert!(
            listing.contains(&format!("  {:<14} {}", op.name, op.summary)),
            "`{}` missing",
            op.name
        );
        for param in op.params {
            assert!(
                listing.contains(param.name),
                "param `{}` of `{}` missing",
                param.name,
                op.name
            );
        }
    }
    let one = baton().args(["ops", "range"]).output().unwrap();
    assert!(stdout(&one).contains("end"));
    let typo = baton().args(["ops", "rnage"]).output().unwrap();
    assert!(!typo.status.success());
    assert!(stderr(&typo).contains("did you mean `range`?"));
}

#[test]
fn a_missing_pipeline_file_is_a_clear_error() {
    let output = baton().args(["run", "no-such-file.toml"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot read the pipeline file"),
        "{}",
        stderr(&output)
    );
}

/// `baton run --quiet FILE`, run to its end.
fn run_quiet(file: &std::path::Path) -> std::process::Output {
    baton().args(["run", "--quiet"]).arg(file).output().unwrap()
}

/// A pipeline of about `items` × 60 ms whose bottleneck is the stage `slow`.
fn slow_pipeline(items: u32) -> String {
    format!(
        "[[stage]]\nop = \"range\"\nend = {items}\n\n[[stage]]\nname = \"slow\"\nop = \"delay\"\nms = 60\nmode = \"serial_in_order\"\n\n[[stage]]\nop = \"count\"\n"
    )
}

#[test]
fn without_a_terminal_the_run_is_logged_in_plain_lines() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.toml", &slow_pipeline(45));
    let output = baton().arg("run").arg(&file).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let log = stderr(&output);
    let line = log
        .lines()
        .find(|l| l.starts_with('[') && l.contains("s] "))
        .unwrap_or_else(|| panic!("no periodic log line in:\n{log}"));
    assert!(
        line.contains("range ") && line.contains("slow ") && line.contains("count "),
        "{line}"
    );
    assert!(line.contains("bottleneck: slow"), "{line}");
    assert!(
        !log.contains('\u{1b}'),
        "no terminal escapes in a log:\n{log}"
    );
    let quiet = run_quiet(&file);
    assert!(
        !stderr(&quiet).lines().any(|l| l.starts_with('[')),
        "--quiet logs nothing"
    );
}

#[test]
fn on_a_terminal_the_live_view_shows_every_stage_and_the_bottleneck() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.toml", &slow_pipeline(30));
    let binary = assert_cmd::cargo::cargo_bin("baton");
    // `script` runs the command on a pseudo-terminal and copies what it draws.
    let command = format!("{} run {}", binary.display(), file.display());
    let output = assert_cmd::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("COLUMNS", "120")
        .env("LINES", "40")
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(
        screen.contains("/30 items"),
        "no overall bar with the source's size:\n{screen}"
    );
    assert!(screen.contains("eta"), "no ETA:\n{screen}");
    assert!(
        screen
            .lines()
            .any(|l| l.contains("slow") && l.contains("busy") && l.contains("◀ bottleneck")),
        "the stage line does not mark the bottleneck:\n{screen}"
    );
    // Each line ends with a strip of the stage's busy share over the last
    // seconds: the slow stage's is full, the source's next to idle.
    let last_strip = |stage: &str| {
        // The view redraws its lines in place (cursor moves, rows padded to
        // the terminal's width, not newlines): the strip is what follows
        // the last `queue N` after the stage's name.
        let line = screen
            .rsplit(&format!(" {stage} "))
            .next()
            .filter(|_| screen.contains(&format!(" {stage} ")))
            .unwrap_or_else(|| panic!("no line for `{stage}`:\n{screen}"));
        let after_queue = line
            .split_once("queue")
            .unwrap_or_else(|| panic!("no queue on the line of `{stage}`: {line}"))
            .1
            .trim_start()
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start();
        let strip: String = after_queue
            .chars()
            .take_while(|c| "·▁▂▃▄▅▆▇█".contains(*c))
            .collect();
        assert!(!strip.is_empty(), "no busy strip on: {line}");
        strip
    };
    let slow = last_strip("slow");
    assert!(
        slow.ends_with('█') || slow.ends_with('▇'),
        "the slow stage sleeps all the time, so its strip is full: {slow}"
    );
    let source = last_strip("range");
    assert!(
        source.chars().all(|c| c == '·' || c == '▁'),
        "the source is next to idle: {source}"
    );
    assert!(
        screen.contains("count:") || screen.contains("30"),
        "{screen}"
    );
}

/// Sends SIGINT to a running `baton`, as Ctrl-C on a terminal does.
fn interrupt(child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -INT failed");
}

/// Waits for `child` with a limit, so a run that ignores Ctrl-C fails the test.
fn wait_with_limit(mut child: std::process::Child) -> std::process::Output {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("baton did not end within 60 s of Ctrl-C");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn spawn_baton(file: &std::path::Path) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("baton"))
        .args(["run", "--quiet"])
        .arg(file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn ctrl_c_stops_the_source_and_drains_what_is_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"range\"\nend = 1000000000000\n\n[[stage]]\nname = \"wait\"\nop = \"delay\"\nms = 1\nreplicas = 8\n\n[[stage]]\nop = \"jsonl\"\npath = \"out.jsonl\"\n",
    );
    let child = spawn_baton(&file);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    interrupt(&child);
    let output = wait_with_limit(child);
    // Drained, but stopped: 130, as the shell expects of a program that
    // ends on SIGINT, so that a script does not go on.
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(stderr(&output).contains("stopping"), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("stopped by Ctrl-C: the source gave"),
        "{}",
        stderr(&output)
    );
    let values = jsonl_values(&dir.path().join("out.jsonl"));
    assert!(!values.is_empty(), "items went through before Ctrl-C");
    assert!(
        values.iter().copied().eq(0..values.len() as u64),
        "the sink got a gap-free prefix of the source, in order"
    );
}

#[test]
fn a_second_ctrl_c_aborts_with_exit_code_130() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"range\"\nend = 1000000000000\n\n[[stage]]\nname = \"slow\"\nop = \"delay\"\nms = 3000\nmode = \"serial_in_order\"\n\n[[stage]]\nop = \"count\"\n",
    );
    // The first item takes 3 s in `slow`, so the drain the first Ctrl-C
    // starts is still going when the second comes.
    let child = spawn_baton(&file);
    std::thread::sleep(std::time::Duration::from_millis(800));
    interrupt(&child);
    std::thread::sleep(std::time::Duration::from_millis(100));
    interrupt(&child);
    let output = wait_with_limit(child);
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(stderr(&output).contains("aborted"), "{}", stderr(&output));
}

#[test]
fn the_live_view_has_colour_unless_no_color_or_color_never_says_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.toml", &slow_pipeline(10));
    let binary = assert_cmd::cargo::cargo_bin("baton");
    // The overall bar is cyan (`ESC[36m`) where colours are on.
    let coloured = |extra: &str, no_color: bool| {
        let command = format!("{} run {} {extra}", binary.display(), file.display());
        let mut script = assert_cmd::Command::new("script");
        script
            .args(["-qfec", &command, "/dev/null"])
            .env("COLUMNS", "120")
            .env("LINES", "40")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR")
            .env_remove("CLICOLOR_FORCE")
            .env("TERM", "xterm-256color")
            .timeout(std::time::Duration::from_secs(120));
        if no_color {
            script.env("NO_COLOR", "1");
        }
        let output = script.output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        String::from_utf8_lossy(&output.stdout).contains("\x1b[36m")
    };
    assert!(coloured("", false), "no colour on a colour terminal");
    assert!(!coloured("", true), "colour despite NO_COLOR");
    assert!(
        !coloured("--color never", false),
        "colour despite --color never"
    );
    assert!(
        coloured("--color always", true),
        "--color always gave no colour"
    );
}

#[test]
fn auto_replicas_are_tuned_shown_and_explained() {
    // A stage that waits 2 ms an item: with one replica per thread it
    // would take 2 s over 2,000 items on two threads; tuned, it hides the
    // waits behind many replicas.
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"range\"\nend = 2000\n\n[[stage]]\nname = \"wait\"\nop = \"delay\"\nms = 2\nreplicas = \"auto\"\n\n[[stage]]\nop = \"discard\"\n",
    );
    let stats = dir.path().join("stats.json");
    let output = baton()
        .args(["run", "--threads", "2", "--explain-tuning", "--stats"])
        .arg(&stats)
        .arg(&file)
        .output()
        .unwrap();
    let shown = stderr(&output);
    assert!(output.status.success(), "{shown}");
    assert!(shown.contains("parallel(auto: "), "{shown}");
    let line = shown
        .lines()
        .find(|l| l.starts_with("tuning: stage `wait`:"))
        .unwrap_or_else(|| panic!("no tuning line: {shown}"));
    assert!(line.contains("waits"), "{line}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let wait = &json["stages"][0];
    assert_eq!(wait["name"], "wait");
    let replicas = wait["replicas"].as_u64().unwrap();
    assert!(replicas > 8, "the tuner kept {replicas} replicas: {shown}");
    assert!(wait["tuning"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{replicas} replicas")));
    let over_time: Vec<u64> = json["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stages"][0]["replicas"].as_u64().unwrap())
        .collect();
    assert_eq!(over_time.first(), Some(&2), "starts at one per thread");
    assert!(over_time.iter().any(|&r| r > 8), "{over_time:?}");

    // `--replicas STAGE=auto` on a stage the file sets a number for.
    let fixed = write(
        dir.path(),
        "fixed.toml",
        "[[stage]]\nop = \"range\"\nend = 50\n\n[[stage]]\nname = \"wait\"\nop = \"delay\"\nms = 1\nreplicas = 3\n\n[[stage]]\nop = \"discard\"\n",
    );
    let output = baton()
        .args(["run", "--explain-tuning", "--replicas", "wait=auto"])
        .arg(&fixed)
        .output()
        .unwrap();
    let shown = stderr(&output);
    assert!(output.status.success(), "{shown}");
    assert!(shown.contains("tuning: stage `wait`:"), "{shown}");
}

#[test]
fn the_cpu_budget_bounds_what_the_tuner_fills_from_the_file_or_the_command_line() {
    // A waiting stage on auto: the tuner aims at what the budget's cores
    // can compute, and says so.
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.toml",
        "[pipeline]\ncpu_budget = 1\n\n[[stage]]\nop = \"range\"\nend = 3000\n\n[[stage]]\nname = \"work\"\nop = \"delay\"\nms = 1\nreplicas = \"auto\"\n\n[[stage]]\nop = \"discard\"\n",
    );
    let plan = baton()
        .args(["run", "--dry-run", "--threads", "2"])
        .arg(&file)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(plan.status.success(), "{}", stderr(&plan));
    assert!(
        shown.contains("2 threads, the tuner fills 1 core"),
        "{shown}"
    );
    let over = baton()
        .args(["run", "--dry-run", "--threads", "2", "--cpu-budget", "2"])
        .arg(&file)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&over.stdout).into_owned();
    assert!(shown.contains("the tuner fills 2 cores"), "{shown}");

    let output = baton()
        .args(["run", "--threads", "2", "--explain-tuning"])
        .arg(&file)
        .output()
        .unwrap();
    let shown = stderr(&output);
    assert!(output.status.success(), "{shown}");
    let line = shown
        .lines()
        .find(|l| l.starts_with("tuning: stage `work`:"))
        .unwrap_or_else(|| panic!("no tuning line: {shown}"));
    assert!(line.contains("what 1 core can compute"), "{line}");

    // The budget must be a whole number of cores, at least one.
    let bad = write(
        dir.path(),
        "bad.toml",
        "[pipeline]\ncpu_budget = 0\n\n[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"discard\"\n",
    );
    let output = baton().args(["run"]).arg(&bad).output().unwrap();
    let shown = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{shown}");
    assert!(shown.contains("cpu_budget"), "{shown}");
}

#[test]
fn the_memory_budget_holds_the_run_back_and_says_so_from_the_file_or_the_command_line() {
    // A budget below what the process itself holds: the run goes on with
    // as few items in flight as its stages need, loses none, and says why.
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.toml",
        "[pipeline]\nmemory_budget = \"1 MB\"\n\n[[stage]]\nop = \"range\"\nend = 200000\n\n[[stage]]\nname = \"inc\"\nop = \"rename\"\nfields = { value = \"n\" }\nreplicas = 2\n\n[[stage]]\nop = \"count\"\n",
    );
    let stats = dir.path().join("stats.json");
    let output = baton()
        .args(["run", "--threads", "2", "--explain-tuning", "--stats"])
        .arg(&stats)
        .arg(&file)
        .output()
        .unwrap();
    let shown = stderr(&output);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("memory: held back to") && shown.contains("of its 977 KiB memory budget"),
        "{shown}"
    );
    assert!(shown.contains("tuning: memory budget 976.6 KiB"), "{shown}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    assert_eq!(json["items"], 200000, "{json}");
    assert_eq!(json["memory"]["budget_bytes"], 1_000_000, "{json}");
    assert!(json["memory"]["held_back"].is_string(), "{json}");
    let verdict = json["bottleneck"]["verdict"].as_str().unwrap();
    assert!(
        verdict.contains("The memory budget held the run back"),
        "{verdict}"
    );
    assert!(json["memory"]["peak_rss_bytes"].as_u64().unwrap() > 1_000_000);

    // The flag over the file's key: off is no guard at all.
    let output = baton()
        .args(["run", "--memory-budget", "off", "--explain-tuning"])
        .arg(&file)
        .output()
        .unwrap();
    let shown = stderr(&output);
    assert!(output.status.success(), "{shown}");
    assert!(!shown.contains("memory: held back"), "{shown}");
    assert!(shown.contains("tuning: memory budget off"), "{shown}");

    // A size must read as one, in the file (located) and on the line.
    let bad = write(
        dir.path(),
        "bad.toml",
        "[pipeline]\nmemory_budget = \"lots\"\n\n[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"discard\"\n",
    );
    let output = baton().args(["run"]).arg(&bad).output().unwrap();
    let shown = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains("memory_budget")
            && shown.contains("\"4 GiB\"")
            && shown.contains("bad.toml:2"),
        "{shown}"
    );
    let output = baton()
        .args(["run", "--memory-budget", "4 GiBs"])
        .arg(&file)
        .output()
        .unwrap();
    let shown = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{shown}");
    assert!(shown.contains("--memory-budget"), "{shown}");
}

#[test]
fn an_auto_buffer_is_sized_by_the_tuner_and_explained_from_the_file_or_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = |buffer: &str| {
        format!(
            "[[stage]]\nop = \"range\"\nend = 2000\n\n[[stage]]\nname = \"write\"\nop = \"delay\"\nms = 0.1\nmode = \"serial_in_order\"\n{buffer}\n[[stage]]\nop = \"count\"\n"
        )
    };
    let file = write(dir.path(), "p.toml", &text("buffer = \"auto\"\n"));
    let plan = baton()
        .args(["run", "--dry-run"])
        .arg(&file)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(shown.contains("buffer=auto"), "{shown}");
    let stats = dir.path().join("stats.json");
    let output = baton()
        .args(["run", "--explain-tuning", "--stats"])
        .arg(&stats)
        .arg(&file)
        .output()
        .unwrap();
    let shown = stderr(&output);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("tuning: stage `write` buffer: 64 items to start with"),
        "{shown}"
    );
    assert!(!shown.contains("no stage has replicas"), "{shown}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let write_stage = &json["stages"][0];
    assert_eq!(write_stage["buffer"], 64, "{json}");
    assert!(write_stage["buffer_tuning"].is_string(), "{json}");

    // The command line's, over a file that sets none.
    let plain = write(dir.path(), "plain.toml", &text(""));
    let output = baton()
        .args(["run", "--explain-tuning", "--buffer", "write=auto"])
        .arg(&plain)
        .output()
        .unwrap();
    let shown = stderr(&output);
    assert!(output.status.success(), "{shown}");
    assert!(shown.contains("tuning: stage `write` buffer:"), "{shown}");
}

#[test]
fn what_if_predicts_the_throughput_of_other_replicas_and_refuses_bad_ones() {
    // 200 items waiting 2 ms each on 2 replicas: the stage limits the run
    // to about 1,000 items/s; with 8 it would do about four times that.
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.toml",
        "[[stage]]\nop = \"range\"\nend = 200\n\n[[stage]]\nname = \"wait\"\nop = \"delay\"\nms = 2\nreplicas = 2\n\n[[stage]]\nop = \"discard\"\n",
    );
    let output = baton()
        .args(["run", "--threads", "2", "--what-if", "wait.replicas=8"])
        .arg(&file)
        .output()
        .unwrap();
    let shown = stderr(&output);
    assert!(output.status.success(), "{shown}");
    let line = shown
        .lines()
        .find(|l| l.starts_with("what if wait.replicas=8: about "))
        .unwrap_or_else(|| panic!("no prediction: {shown}"));
    assert!(line.ends_with("the limit would be stage `wait`"), "{line}");
    let number = |text: &str| -> f64 {
        let (value, unit) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
        value.parse::<f64>().unwrap() * if unit.starts_with('k') { 1e3 } else { 1.0 }
    };
    let predicted = number(
        line.split("about ")
            .nth(1)
            .unwrap()
            .split(" items/s")
            .next()
            .unwrap(),
    );
    let measured = number(
        line.split("this run: ")
            .nth(1)
            .unwrap()
            .split(')')
            .next()
            .unwrap(),
    );
    assert!(predicted > 3.0 * measured, "{line}");

    for (bad, says) in [
        ("nope.replicas=8", "no stage is named `nope`"),
        (
            "wait.buffer=8",
            "changes something else than a stage's replicas",
        ),
        ("wait.replicas=0", "needs a whole number of replicas"),
    ] {
        let output = baton()
            .args(["run", "--what-if", bad])
            .arg(&file)
            .output()
            .unwrap();
        let shown = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{bad}: {shown}");
        assert!(shown.contains(says), "{bad}: {shown}");
    }
}

#[test]
fn adjacent_parallel_stages_run_fused_unless_a_stage_says_fuse_false() {
    let dir = tempfile::tempdir().unwrap();
    let text = |fuse: &str| {
        format!(
            "[[stage]]\nop = \"range\"\nend = 5000\n\n[[stage]]\nop = \"rename\"\nfields = {{ value = \"n\" }}\n\n[[stage]]\nop = \"filter\"\nexpr = \"n % 2 == 0\"\n{fuse}\n[[stage]]\nop = \"count\"\n"
        )
    };
    let run = |name: &str, fuse: &str| {
        let file = write(dir.path(), name, &text(fuse));
        let stats = dir.path().join(format!("{name}.stats.json"));
        let output = baton()
            .args(["run", "--threads", "2", "--stats"])
            .arg(&stats)
            .arg(&file)
            .output()
            .unwrap();
        let shown = stderr(&output);
        assert!(output.status.success(), "{shown}");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
        (String::from_utf8_lossy(&output.stdout).into_owned(), json)
    };
    let (out, json) = run("fused.toml", "");
    assert!(out.contains("2500"), "{out}");
    let filter = &json["stages"][1];
    assert_eq!(filter["name"], "filter", "{json}");
    assert_eq!(filter["fused_into"], "rename", "{json}");
    assert_eq!(
        (filter["items_in"].as_u64(), filter["items_out"].as_u64()),
        (Some(5000), Some(2500)),
        "{json}"
    );
    assert!(json["stages"][0].get("fused_into").is_none(), "{json}");

    let (out, json) = run("apart.toml", "fuse = false\n");
    assert!(out.contains("2500"), "{out}");
    assert!(json["stages"][1].get("fused_into").is_none(), "{json}");

    let file = write(dir.path(), "bad.toml", &text("fuse = \"no\"\n"));
    let output = baton().args(["run"]).arg(&file).output().unwrap();
    let shown = stderr(&output);
    assert!(!output.status.success(), "{shown}");
    assert!(
        shown.contains("`fuse` must be true or false, not a string"),
        "{shown}"
    );
    assert!(shown.contains("bad.toml"), "{shown}");
}
