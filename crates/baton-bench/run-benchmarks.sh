#!/usr/bin/env bash
# Builds baton-bench in release and runs every workload on baton and on the
# sequential baseline, three runs each, saving the raw JSON lines to $1
# (default: target/bench.jsonl under the workspace root), then prints the
# summary table.
#
# Usage: crates/baton-bench/run-benchmarks.sh [OUTPUT.jsonl]
set -euo pipefail

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$bench_dir/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$workspace/target}"

# A relative output path is taken from where the script was started.
output="${1:-$target_dir/bench.jsonl}"
case "$output" in
  /*) ;;
  *) output="$PWD/$output" ;;
esac

cd "$workspace"
cargo build --release -p baton-bench
mkdir -p "$(dirname "$output")"

# Write to a temporary file first so that a failed run leaves no partial
# results under the final name.
partial="$output.partial"
"$target_dir/release/baton-bench" --workload all --impl all --runs 3 > "$partial"
# W5's peak RSS must not grow with N: the same runs at four times its N.
"$target_dir/release/baton-bench" --workload W5 --impl all --runs 3 --n 20000 >> "$partial"
mv "$partial" "$output"
echo "run-benchmarks: $(wc -l < "$output") runs saved to $output" >&2

python3 "$bench_dir/summarize.py" "$output"
