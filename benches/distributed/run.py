#!/usr/bin/env python3
"""Distributed runs on NATS JetStream, beside the same pipeline run locally.

Every figure comes from the `baton` binary as a user runs it: a real
nats-server (memory storage, on a free loopback port), `baton worker`
processes and `baton run --nats`, all on this machine. Each case runs
`--runs` times; the medians are printed as a Markdown table for
BENCHMARKS.md.

  throughput, small records   range -> remote remap (y = value + 1) -> discard
  throughput, 64 KiB payloads files (64 KiB each) -> remote rename -> discard
  scaling out W4's fetch      range -> remote [delay 1 ms -> spin 500] -> discard,
                              1, 2 and 4 worker processes of 4 replicas each
  recovery                    2 workers on delay 2 ms; one is killed with
                              SIGKILL a third of the way in and a new one
                              started: the run's extra time over the same
                              run without the kill is the time its items
                              waited to be served elsewhere (ack wait 4 s)

usage: python3 benches/distributed/run.py [--baton target/release/baton] [--runs 3]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, folder):
        self.port = free_port()
        store = os.path.join(folder, "js")
        conf = os.path.join(folder, "server.conf")
        with open(conf, "w") as f:
            f.write(f'listen: 127.0.0.1:{self.port}\nmax_payload: 67108864\njetstream {{ store_dir: "{store}" }}\n')
        self.proc = subprocess.Popen([shutil.which("nats-server"), "-c", conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("nats-server did not start")

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def pipeline(folder, name, source, remote, window=None):
    """A pipeline file: `source` (TOML), the `remote` stages, a discard sink."""
    text = '[nats]\nstorage = "memory"\n'
    if window:
        text += f"window = {window}\n"
    text += "\n" + source + "\n"
    for stage in remote:
        text += stage + 'placement = "remote"\n\n'
    text += '[[stage]]\nop = "discard"\n'
    path = os.path.join(folder, name + ".toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def workers(baton, file, url, stages, count, replicas, run_name):
    procs = []
    for _ in range(count):
        cmd = [baton, "worker", file, "--nats", url, "--replicas", str(replicas), "--run", run_name]
        for s in stages:
            cmd += ["--stage", s]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(0.5)
    return procs


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def timed_run(baton, file, extra, run_name=None, during=None):
    """Seconds of one `baton run` (its own figure, from --stats)."""
    stats = file + ".stats.json"
    cmd = [baton, "run", file, "--quiet", "--stats", stats] + extra
    if run_name:
        cmd += ["--run-name", run_name, "--replace"]
    started = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if during:
        during(started)
    _, err = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    with open(stats) as f:
        summary = json.load(f)
    return summary["elapsed_s"], summary


def median(xs):
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baton", default="target/release/baton")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    baton = os.path.abspath(args.baton)
    folder = tempfile.mkdtemp(prefix="baton-dist-bench-")
    server = Server(folder)
    url = server.url
    rows = []
    try:
        # Throughput: small records.
        n_small = 2_000_000
        small = pipeline(folder, "small",
                         f'[[stage]]\nop = "range"\nend = {n_small}\n',
                         ['[[stage]]\nname = "inc"\nop = "remap"\nfields = { y = "value + 1" }\n'],
                         window=65536)
        local = [timed_run(baton, small, [])[0] for _ in range(args.runs)]
        procs = workers(baton, small, url, ["inc"], 2, 1, "small")
        remote = [timed_run(baton, small, ["--nats", url, "--in-flight", "32"], "small")[0]
                  for _ in range(args.runs)]
        stop(procs)
        rows.append(("small records, 2 workers x1", n_small, median(local), median(remote), None))

        # Throughput: 64 KiB payloads.
        n_large = 4000
        data = os.path.join(folder, "payloads")
        os.makedirs(data)
        block = os.urandom(65536)
        for i in range(n_large):
            with open(os.path.join(data, f"{i:05}.bin"), "wb") as f:
                f.write(block[i % 256:] + block[:i % 256])
        large = pipeline(folder, "large",
                         f'[[stage]]\nop = "files"\npath = "{data}/*.bin"\n',
                         ['[[stage]]\nname = "tag"\nop = "rename"\nfields = { size = "bytes" }\n'],
                         window=2048)
        local = [timed_run(baton, large, [])[0] for _ in range(args.runs)]
        procs = workers(baton, large, url, ["tag"], 2, 1, "large")
        remote = [timed_run(baton, large, ["--nats", url, "--in-flight", "16"], "large")[0]
                  for _ in range(args.runs)]
        stop(procs)
        rows.append(("64 KiB payloads, 2 workers x1", n_large, median(local), median(remote), 65536))

        # Scaling out W4's fetch.
        n_w4 = 40_000
        fetch = ['[[stage]]\nname = "fetch_wait"\nop = "delay"\nms = 1\n',
                 '[[stage]]\nname = "fetch_spin"\nop = "spin"\niterations = 500\n']
        w4 = pipeline(folder, "w4", f'[[stage]]\nop = "range"\nend = {n_w4}\n', fetch, window=65536)
        scaling = {}
        for count in (1, 2, 4):
            procs = workers(baton, w4, url, ["fetch_wait", "fetch_spin"], count, 4, "w4")
            scaling[count] = median([timed_run(baton, w4, ["--nats", url, "--in-flight", "64"], "w4")[0]
                                     for _ in range(args.runs)])
            stop(procs)

        # Recovery after a worker's SIGKILL.
        n_rec = 8000
        rec = pipeline(folder, "rec", f'[[stage]]\nop = "range"\nend = {n_rec}\n',
                       ['[[stage]]\nname = "slow"\nop = "delay"\nms = 2\n'], window=65536)
        calm, killed = [], []
        for _ in range(args.runs):
            procs = workers(baton, rec, url, ["slow"], 2, 4, "rec")
            calm.append(timed_run(baton, rec, ["--nats", url, "--in-flight", "32"], "rec")[0])
            stop(procs)
            procs = workers(baton, rec, url, ["slow"], 2, 4, "rec")

            def kill_one(started, procs=procs):
                time.sleep(calm[-1] / 3)
                os.kill(procs[0].pid, signal.SIGKILL)
                procs.extend(workers(baton, rec, url, ["slow"], 1, 4, "rec"))

            killed.append(timed_run(baton, rec, ["--nats", url, "--in-flight", "32"], "rec", kill_one)[0])
            stop(procs)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)

    print("| case | items | local s | distributed s | distributed items/s | MB/s | distributed / local |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, n, loc, rem, size in rows:
        mbs = f"{n * size / rem / 1e6:.0f}" if size else "–"
        print(f"| {name} | {n:,} | {loc:.3f} | {rem:.3f} | {n / rem:,.0f} | {mbs} | {loc / rem:.2f} |")
    print()
    print("| W4 fetch, workers x4 replicas | seconds | items/s | speed-up over 1 worker |")
    print("|---|---:|---:|---:|")
    for count, secs in scaling.items():
        print(f"| {count} | {secs:.3f} | {n_w4 / secs:,.0f} | {scaling[1] / secs:.2f}x |")
    print()
    print(f"recovery: {n_rec:,} items of 2 ms on 2 workers x4: {median(calm):.2f} s calm, "
          f"{median(killed):.2f} s with one killed a third in and a new one started: "
          f"{median(killed) - median(calm):.2f} s longer (runs: calm {calm}, killed {killed})")


if __name__ == "__main__":
    sys.exit(main())
