"""baton from Python against PyTorch's DataLoader, as a training loop's
data loader (issue 10).

    pip install -r benches/peers/requirements-torch.txt ./crates/baton-py
    python3 benches/peers/dataloader.py [--runs 3] [--batches-trained N]

The same input pipeline both ways, on Fashion-MNIST's 60,000 training
images (Debian's dataset-fashion-mnist): read the IDX files, pad by 4 and
crop 28 × 28 at random, flip left-right with p = 0.5, normalise (mean
0.2860, std 0.3530), batch 128 (the last batch partial).

- baton: examples/python/fashion_mnist.toml, iterated from Python
  (`baton.Pipeline.from_file`), default settings (every core); and
  baton-1, with `threads=1`, which leaves the other core to the trainer
  (as num_workers=1 does).
- DataLoader: a map-style Dataset holding the decoded images as one uint8
  tensor (as torchvision's FashionMNIST does), each item transformed with
  torch tensor ops (what torchvision.transforms.v2 does on tensors),
  `batch_size=128, shuffle=False, pin_memory=False`, with num_workers 0, 1
  and 2 (this machine's cores); its best is the bar.

Two measures, each in a fresh process per run, the configurations taking
turns round by round:

- deliver: images per second into a loop that does nothing with them, over
  one whole epoch (from the first `iter` to the last batch, so starting the
  workers or the run is counted).
- train: a small CNN (two 3×3 convolutions of 16 and 32 channels with
  max-pooling, one linear layer; Adam 1e-3) trained on one thread
  (`torch.set_num_threads(1)`) for one epoch (or `--batches-trained`
  batches): the epoch time, and the trainer's idle share (the time spent waiting in `next()`
  over the wall time).

Peak RSS is the most the process and all its children held at once
(VmRSS summed over the process tree, sampled every 20 ms).

The medians go to standard output and out/dataloader.md; raw runs to
out/dataloader.json. A checksum of the labels in delivery order (the sum
of label × position) is checked to be the same for every configuration.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
FASHION = Path("/usr/share/datasets/fashion-mnist")
IMAGES = FASHION / "train-images-idx3-ubyte.gz"
LABELS = FASHION / "train-labels-idx1-ubyte.gz"
PIPELINE = REPO / "examples/python/fashion_mnist.toml"
BATCH = 128
MEAN, STD = 0.2860, 0.3530
CONFIGS = ["baton", "baton-1", "dataloader-0", "dataloader-1", "dataloader-2"]


# ---------------------------------------------------------------- one run


def tree_rss_mb(pid: int) -> float:
    """VmRSS of `pid` and every descendant, in MB."""
    total = 0
    stack = [pid]
    while stack:
        one = stack.pop()
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in os.listdir(f"/proc/{one}/task"):
                children = Path(f"/proc/{one}/task/{task}/children").read_text().split()
                stack.extend(int(c) for c in children)
        except (OSError, ValueError):
            continue
    return total / 1024


class PeakRss:
    """Samples the process tree's RSS on a thread of its own."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb(os.getpid()))
            self._stop.wait(0.02)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss_mb(os.getpid()))
        return self.peak


def torch_loader(workers: int):
    import numpy as np
    import torch
    import torch.nn.functional as F

    class FashionMNIST(torch.utils.data.Dataset):
        """The decoded images in memory, transformed item by item."""

        def __init__(self) -> None:
            with gzip.open(IMAGES) as f:
                pixels = np.frombuffer(f.read()[16:], dtype=np.uint8)
            with gzip.open(LABELS) as f:
                labels = np.frombuffer(f.read()[8:], dtype=np.uint8)
            self.images = torch.from_numpy(pixels.reshape(-1, 1, 28, 28).copy())
            self.labels = torch.from_numpy(labels.astype(np.int64))

        def __len__(self) -> int:
            return len(self.labels)

        def __getitem__(self, i: int):
            image = self.images[i].float().div_(255.0)
            image = F.pad(image, (4, 4, 4, 4))
            top, left = torch.randint(0, 9, (2,)).tolist()
            image = image[:, top : top + 28, left : left + 28]
            if torch.rand(()) < 0.5:
                image = image.flip(-1)
            image = (image - MEAN) / STD
            return {"tensor": image, "label": self.labels[i]}

    return torch.utils.data.DataLoader(
        FashionMNIST(), batch_size=BATCH, shuffle=False, num_workers=workers, pin_memory=False
    )


def make_loader(config: str):
    """What a `for` over gives batches of `{"tensor", "label"}` from."""
    if config.startswith("baton"):
        import baton

        # "baton-N": N threads (as num_workers=N), else every core.
        threads = int(config.split("-")[1]) if "-" in config else None
        return baton.Pipeline.from_file(
            PIPELINE, overrides={"read.images": str(IMAGES), "read.labels": str(LABELS)}, threads=threads
        )
    return torch_loader(int(config.split("-")[1]))


def cnn():
    import torch
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )


def one_run(config: str, mode: str, batches_trained: int) -> dict:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    rss = PeakRss()
    loader = make_loader(config)
    model = cnn() if mode == "train" else None
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3) if model is not None else None
    images = batches = checksum = position = 0
    waited = 0.0
    start = time.perf_counter()
    it = iter(loader)
    while True:
        asked = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            break
        waited += time.perf_counter() - asked
        x, y = batch["tensor"], batch["label"]
        if not isinstance(x, torch.Tensor):
            x, y = torch.from_numpy(x), torch.from_numpy(y)
        n = len(y)
        checksum += int((y * torch.arange(position, position + n)).sum())
        position += n
        images += n
        batches += 1
        if model is not None:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            if batches == batches_trained:  # 0: the whole epoch
                break
    wall = time.perf_counter() - start
    del it
    peak = rss.stop()
    return {
        "config": config,
        "mode": mode,
        "images": images,
        "wall_s": wall,
        "images_per_s": images / wall,
        "idle_share": waited / wall,
        "checksum": checksum,
        "peak_rss_mb": peak,
    }


# ---------------------------------------------------------------- driver


def machine() -> str:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    import importlib.metadata as meta

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    return (f"{len(os.sched_getaffinity(0))} cores, {model}, Linux {platform.release()}, {now}; "
            f"Python {platform.python_version()}, torch {meta.version('torch')}, "
            f"baton {meta.version('baton')} (checkout at {commit})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batches-trained", type=int, default=0, help="0: a whole epoch")
    parser.add_argument("--configs", nargs="+", default=CONFIGS)
    parser.add_argument("--modes", nargs="+", default=["deliver", "train"])
    parser.add_argument("--one", nargs=2, metavar=("CONFIG", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one[0], args.one[1], args.batches_trained)))
        return
    if not IMAGES.exists():
        raise SystemExit(f"{IMAGES} is missing: apt-get install dataset-fashion-mnist")
    runs = []
    for round_ in range(args.runs):
        for mode in args.modes:
            turn = args.configs[round_ % len(args.configs):] + args.configs[: round_ % len(args.configs)]
            for config in turn:
                out = subprocess.run(
                    [sys.executable, __file__, "--one", config, mode,
                     "--batches-trained", str(args.batches_trained)],
                    capture_output=True, text=True,
                )
                if out.returncode != 0:
                    raise SystemExit(f"{config} {mode} failed:\n{out.stderr}")
                run = json.loads(out.stdout.strip().splitlines()[-1])
                runs.append(run)
                print(f"round {round_ + 1} {mode:8} {config:13} {run['wall_s']:7.2f} s "
                      f"{run['images_per_s']:9,.0f} images/s idle {run['idle_share']:6.1%} "
                      f"rss {run['peak_rss_mb']:6.0f} MB", file=sys.stderr)
    sums = {(r["mode"], r["checksum"]) for r in runs if r["mode"] == "deliver"}
    if len({c for _, c in sums}) > 1:
        raise SystemExit(f"MISMATCH: the labels came in different orders: {sums}")
    lines = [f"Machine: {machine()}. Medians of {args.runs} runs each, configurations taking turns.", ""]
    for mode in args.modes:
        mine = [r for r in runs if r["mode"] == mode]
        if mode == "deliver":
            lines += ["| loader | epoch s | images/s | ÷ best DataLoader | peak RSS MB |", "|---|---:|---:|---:|---:|"]
        else:
            what = f"{args.batches_trained} batches" if args.batches_trained else "one epoch"
            lines += [f"| loader (CNN, 1 trainer thread, {what}) | wall s | "
                      "images/s | trainer idle | peak RSS MB |", "|---|---:|---:|---:|---:|"]
        medians = {}
        for config in args.configs:
            one = [r for r in mine if r["config"] == config]
            medians[config] = {k: statistics.median(r[k] for r in one)
                               for k in ("wall_s", "images_per_s", "idle_share", "peak_rss_mb")}
        best = max((m["images_per_s"] for c, m in medians.items() if c.startswith("dataloader")), default=None)
        for config, m in medians.items():
            if mode == "deliver":
                ratio = f"{m['images_per_s'] / best:.2f}×" if best else "-"
                lines.append(f"| {config} | {m['wall_s']:.2f} | {m['images_per_s']:,.0f} | {ratio} | {m['peak_rss_mb']:.0f} |")
            else:
                lines.append(f"| {config} | {m['wall_s']:.2f} | {m['images_per_s']:,.0f} | {m['idle_share']:.1%} | {m['peak_rss_mb']:.0f} |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "dataloader.md").write_text(text)
    (out / "dataloader.json").write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
