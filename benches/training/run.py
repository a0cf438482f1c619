"""ETL into training, measured (issue 9): the fashion-mnist example, fed by
baton or one batch at a time, on the full Fashion-MNIST.

    cargo build --release -p fashion-mnist
    python3 benches/training/run.py [--mlp-epochs 10] [--cnn-epochs 0]

Each run is the example binary with --summary; the table gives, per run,
the median epoch's wall time, the trainer's compute time in it, their
ratio, the trainer's busy share (whole epoch, and after its first batch),
the transform's images/s, the bottleneck the engine names with its bound,
and the last epoch's test accuracy. All runs are one after another on the
same machine, so their ratios compare.
"""

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(binary, args, scratch):
    summary = Path(scratch) / f"run-{time.monotonic_ns()}.json"
    command = [binary, "--quiet", "--summary", str(summary)] + args
    print("$", " ".join(command[1:]), file=sys.stderr, flush=True)
    subprocess.run(command, check=True, stdout=sys.stderr)
    return json.loads(summary.read_text())


def row(name, summary):
    epochs = summary["epochs"]
    med = lambda key: statistics.median(e[key] for e in epochs)
    wall, compute = med("wall_s"), med("train_compute_s")
    last = epochs[-1]
    neck = last.get("bottleneck") or {}
    return (
        f"| {name} | {len(epochs)} | {wall:.2f} | {compute:.2f} | {wall / compute:.3f} "
        f"| {100 * med('trainer_busy'):.1f}% | {100 * med('trainer_busy_after_first_batch'):.1f}% "
        f"| {med('transform_images_per_s'):,.0f} | {neck.get('stage', '-')} "
        f"{'(%s/s)' % format(round(neck['bound_items_per_s']), ',') if neck else ''} "
        f"| {100 * last['test_accuracy']:.2f}% |"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/fashion-mnist")
    parser.add_argument("--mlp-epochs", type=int, default=10)
    parser.add_argument("--cnn-epochs", type=int, default=0)
    options = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        b = options.binary
        if options.mlp_epochs:
            e = ["--model", "mlp", "--epochs", str(options.mlp_epochs)]
            rows.append(row("MLP, pipelined", run(b, e, scratch)))
            rows.append(row("MLP, sequential", run(b, e + ["--sequential"], scratch)))
            heavy = ["--model", "mlp", "--epochs", "2", "--transform-cost", "40"]
            rows.append(row("MLP, transform x40, 1 transform thread", run(b, heavy, scratch)))
            rows.append(row("MLP, transform x40, 2 transform threads", run(b, heavy + ["--transform-threads", "2"], scratch)))
        if options.cnn_epochs:
            e = ["--model", "cnn", "--epochs", str(options.cnn_epochs)]
            rows.append(row("CNN, pipelined", run(b, e, scratch)))
            rows.append(row("CNN, sequential", run(b, e + ["--sequential"], scratch)))
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, "
          f"{platform.processor() or 'cpu'}, python3 benches/training/run.py "
          f"--mlp-epochs {options.mlp_epochs} --cnn-epochs {options.cnn_epochs}\n")
    print("| run | epochs | median epoch s | trainer compute s | ratio | trainer busy | busy after 1st batch | transform images/s | bottleneck (bound) | test accuracy |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for line in rows:
        print(line)


if __name__ == "__main__":
    main()
