"""Runs the peers benchmark: each query with each engine, interleaved, timed,
checked, and summed up as a Markdown table.

    python3 benches/peers/run.py [--runs 5] [--queries Q ...] [--engines E ...]
                                 [--baton PATH] [--warmup 1]

Every run is a whole process (interpreter start, imports, reading,
filtering, writing), timed by its wall clock, with its peak resident memory
measured by GNU time (/usr/bin/time, Debian's `time`; without it, from
os.wait4, which counts this harness's own memory too). Within each
repetition the engines take turns, and the one that starts turns round from
one repetition to the next, so a noisy moment of the machine falls on all
of them alike. A warm-up
round, untimed, fills the page cache. The outputs are compared by check.py
after the warm-up and after the last repetition; a mismatch or a failed run
stops the benchmark with exit status 1.

Every engine runs with its default threads: DuckDB and polars use every
core, the Python loops one, baton one CPU worker per core (its `--threads`
default; the pipeline files set no replicas or threads).

The table goes to standard output and to out/results.md, the raw timings to
out/results.json.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import check

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ENGINES = check.ENGINES
QUERIES = check.QUERIES
SCRIPTS = {"python": "py_csv.py", "duckdb": "duckdb_q.py", "polars": "polars_q.py"}


def command(engine: str, query: str, root: Path, baton: Path) -> list[str]:
    if engine == "baton":
        return [str(baton), "run", str(root / f"{query}.toml"), "--quiet"]
    return [sys.executable, str(HERE / SCRIPTS[engine]), query, "--root", str(root)]


# GNU time (Debian's `time`) forks the engine from a process of about 2 MB.
# os.wait4 alone would count this harness's own memory too: a child's peak
# RSS includes what it held between fork and exec, a copy of the parent.
GNU_TIME = Path("/usr/bin/time")


def run_once(engine: str, query: str, root: Path, baton: Path) -> tuple[float, float]:
    """Runs one engine on one query; returns (wall seconds, peak RSS MB).

    The previous output is removed first, so a run that writes nothing
    cannot pass on an old file. baton's count sink prints `count: N` on
    standard output, which becomes its text.txt."""
    out = root / "out" / engine
    out.mkdir(parents=True, exist_ok=True)
    output = out / check.OUTPUT[query]
    output.unlink(missing_ok=True)
    logs = root / "out" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{engine}-{query}.log"
    rss_file = logs / f"{engine}-{query}.rss"
    argv = command(engine, query, root, baton)
    measured = [str(GNU_TIME), "-f", "%M", "-o", str(rss_file), *argv] if GNU_TIME.exists() else argv
    stdout_path = output if (engine == "baton" and query == "text") else log.with_suffix(".out")
    with open(stdout_path, "wb") as stdout, open(log, "wb") as stderr:
        start = time.perf_counter()
        child = subprocess.Popen(measured, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.stderr.write(log.read_text(errors="replace")[-3000:])
        raise SystemExit(f"{engine} failed on {query} (exit {child.returncode}): "
                         f"{' '.join(argv)}; log in {log}")
    if GNU_TIME.exists():
        kib = int(rss_file.read_text().split()[-1])
    else:
        kib = usage.ru_maxrss  # KiB on Linux; at least this harness's own RSS
    return wall, kib / 1024


def verify(root: Path, queries: list[str], engines: list[str]) -> list[dict]:
    try:
        return [check.check_query(root, query, engines) for query in queries]
    except check.Mismatch as error:
        raise SystemExit(f"MISMATCH {error}") from None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def baton_version(baton: Path) -> str:
    text = subprocess.run([str(baton), "--version"], capture_output=True, text=True).stdout.strip()
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "crates"],
                               capture_output=True, text=True).stdout.strip()
        text += f" (checkout at {commit}{', crates/ modified' if dirty else ''})"
    except (OSError, subprocess.CalledProcessError):
        pass
    return text


def machine() -> list[str]:
    cores = len(os.sched_getaffinity(0))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"- machine: {cores} cores (nproc), {cpu_model()}, Linux {platform.release()}, {now}",
        f"- Python {platform.python_version()}, duckdb {version('duckdb')}, "
        f"polars {version('polars')}",
    ]


def table(query: str, times: dict, rss: dict, engines: list[str], result: dict) -> list[str]:
    what = "lines counted" if query == "text" else "rows"
    lines = [
        f"### {query} ({result['value']:,} {what}, checksum {result['checksum']})",
        "",
        "| engine | median wall s | min s | max s | median ÷ baton's | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    base = statistics.median(times["baton"]) if "baton" in times else None
    for engine in engines:
        walls = times[engine]
        median = statistics.median(walls)
        ratio = f"{median / base:.2f}" if base else "–"
        lines.append(f"| {engine} | {median:.3f} | {min(walls):.3f} | {max(walls):.3f} "
                     f"| {ratio} | {max(rss[engine]):.0f} |")
    return lines + [""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed repetitions (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument("--queries", nargs="+", choices=QUERIES, default=QUERIES)
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=ENGINES)
    parser.add_argument("--baton", type=Path, default=REPO / "target" / "release" / "baton",
                        help="the baton binary (default: target/release/baton of this repo)")
    parser.add_argument("--root", type=Path, default=HERE,
                        help="the folder with data/ and the pipeline files; out/ is written "
                             "there (default: this one)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    root = args.root.resolve()
    baton = args.baton.resolve()
    engines, queries = args.engines, args.queries
    if "baton" in engines and not os.access(baton, os.X_OK):
        raise SystemExit(f"no baton binary at {baton}: build it with "
                         "`cargo build --release -p baton-cli`, or name it with --baton")
    if not (root / "data" / "text.done").exists():
        raise SystemExit(f"no data in {root / 'data'}: run `python3 {HERE / 'fetch_data.py'}`")

    times = {q: {e: [] for e in engines} for q in queries}
    rss = {q: {e: [] for e in engines} for q in queries}
    rounds = args.warmup + args.runs
    for rep in range(rounds):
        timed = rep >= args.warmup
        label = f"run {rep - args.warmup + 1}/{args.runs}" if timed else "warm-up"
        turn = engines[rep % len(engines):] + engines[:rep % len(engines)]
        for query in queries:
            for engine in turn:
                wall, peak = run_once(engine, query, root, baton)
                print(f"{label}: {query:13} {engine:7} {wall:7.3f} s {peak:7.0f} MB",
                      file=sys.stderr, flush=True)
                if timed:
                    times[query][engine].append(wall)
                    rss[query][engine].append(peak)
        if rep == 0 or rep == rounds - 1:
            for result in verify(root, queries, engines):
                print(check.describe(result), file=sys.stderr)
    results = verify(root, queries, engines)

    report = [f"## peers: {args.runs} runs each, interleaved; wall time of the whole process", ""]
    report += machine()
    if "baton" in engines:
        report.append(f"- baton: {baton_version(baton)}")
    report += [
        "- threads: each engine at its default: DuckDB and polars use every core, "
        "the Python loops one, baton one CPU worker per core (its default)",
        "- wall includes starting the interpreter and importing the library "
        "(python/duckdb/polars); peak RSS is the largest of the runs"
        + (" (GNU time's %M)" if GNU_TIME.exists() else
           f" (os.wait4; no {GNU_TIME}: each includes this harness's own "
           f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB, "
           "copied at fork)"),
        "",
    ]
    for result in results:
        report += table(result["query"], times[result["query"]], rss[result["query"]],
                        engines, result)
    text = "\n".join(report)
    print(text)
    (root / "out").mkdir(exist_ok=True)
    (root / "out" / "results.md").write_text(text + "\n")
    (root / "out" / "results.json").write_text(json.dumps(
        {"runs": args.runs, "wall_s": times, "peak_rss_mb": rss,
         "checks": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
