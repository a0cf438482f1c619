"""Times the exec benchmarks: items/s of range -> exec -> count with two
Python workers, median of several runs of the release binary.

    cargo build --release -p baton-cli && python3 benches/exec/run.py [runs]
"""
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BATON = os.path.join(HERE, "../../target/release/baton")
# Enough items that the workers' start (0.2 s to import pyarrow) is a
# small part of the run: the bars are about throughput.
ITEMS = {"jsonl": 2_000_000, "arrow": 10_000_000}


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    for protocol in ("jsonl", "arrow"):
        pipeline = os.path.join(HERE, f"exec_{protocol}.toml")
        rates = []
        for _ in range(runs):
            start = time.perf_counter()
            out = subprocess.run([BATON, "run", pipeline, "--quiet"], check=True, capture_output=True, text=True).stdout
            elapsed = time.perf_counter() - start
            assert f"count: {ITEMS[protocol]}" in out, out
            rates.append(ITEMS[protocol] / elapsed)
        print(f"{protocol}: median {statistics.median(rates):,.0f} items/s over {runs} runs "
              f"(min {min(rates):,.0f}, max {max(rates):,.0f})")


if __name__ == "__main__":
    main()
