#!/usr/bin/env python3
"""Summarise baton-bench JSON lines as a Markdown table.

Reads the lines that `baton-bench` printed (from the files given, or from
standard input) and prints, for each (workload, impl), the medians over its
runs of items/s, efficiency and peak RSS, with baton's speed relative to the
sequential baseline at the same N, under a line naming the machine. Runs of
one workload at different N (W5 at 5,000 and 20,000) get rows of their own.

Usage: summarize.py [RESULTS.jsonl ...]
"""

import fileinput
import json
import os
import statistics
import sys

WORKLOAD_ORDER = ["W1", "W2", "W3", "W4", "W5", "W6"]
IMPL_ORDER = ["sequential", "baton"]


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, or 'unknown'."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    return value.strip()
    except OSError:
        pass
    return "unknown"


def cores():
    """The cores this process may run on, as nproc counts them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def read_runs(paths):
    """Group the runs by (workload, impl), skipping blank lines."""
    groups = {}
    with fileinput.input(files=paths or ("-",), encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                run = json.loads(line)
            except json.JSONDecodeError as error:
                sys.exit(f"{fileinput.filename()}:{fileinput.filelineno()}: not JSON: {error}")
            groups.setdefault((run["workload"], run["impl"], run["n"]), []).append(run)
    return groups


def order_key(key):
    workload, impl, n = key
    rank = lambda order, name: order.index(name) if name in order else len(order)
    return (rank(WORKLOAD_ORDER, workload), workload, n, rank(IMPL_ORDER, impl), impl)


def fmt(value, spec):
    return "–" if value is None else format(value, spec)


def main(argv):
    groups = read_runs(argv[1:])
    if not groups:
        sys.exit("summarize.py: no runs to summarise")

    medians = {}
    for key, runs in groups.items():
        medians[key] = {
            "runs": len(runs),
            "n": median_or_none(r["n"] for r in runs),
            "p": median_or_none(r["p"] for r in runs),
            "t_iter_ns": median_or_none(r["t_iter_ns"] for r in runs),
            "items_per_s": median_or_none(r["items_per_s"] for r in runs),
            "efficiency": median_or_none(r["efficiency"] for r in runs),
            "peak_rss_mb": median_or_none(r["peak_rss_mb"] for r in runs),
        }

    print(f"Machine: {cores()} cores (nproc), CPU: {cpu_model()}")
    print()
    print("| workload | impl | runs | n | p | t_iter ns | items/s | efficiency | peak RSS MB | baton / sequential |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key in sorted(medians, key=order_key):
        workload, impl, n = key
        m = medians[key]
        ratio = None
        sequential = medians.get((workload, "sequential", n))
        if impl == "baton" and sequential and sequential["items_per_s"]:
            ratio = m["items_per_s"] / sequential["items_per_s"]
        print(
            f"| {workload} | {impl} | {m['runs']} | {fmt(m['n'], ',.0f')} | {fmt(m['p'], '.0f')} "
            f"| {fmt(m['t_iter_ns'], '.3f')} | {fmt(m['items_per_s'], ',.0f')} "
            f"| {fmt(m['efficiency'], '.3f')} | {fmt(m['peak_rss_mb'], '.1f')} "
            f"| {fmt(ratio, '.2f') + '×' if ratio is not None else '–'} |"
        )


if __name__ == "__main__":
    main(sys.argv)
