#!/usr/bin/env bash
# Compares two baton-bench binaries on one workload in paired runs: A and B
# run one after the other, N times, so that the machine's drift (these
# machines are shared) hits both alike. Prints both medians and the median
# of the paired differences, which is what a change is judged by.
#
# Usage: crates/baton-bench/compare.sh BIN_A BIN_B [WORKLOAD] [PAIRS]
#   e.g. cp target/release/baton-bench /tmp/before   # then change, rebuild
#        crates/baton-bench/compare.sh /tmp/before target/release/baton-bench W4 10
set -euo pipefail

a="$1"
b="$2"
workload="${3:-W4}"
pairs="${4:-10}"
metric=efficiency
[ "$workload" = W1 ] && metric=items_per_s

value() {
  "$1" --workload "$workload" --impl baton 2>/dev/null |
    python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['$metric'])"
}

results=""
for i in $(seq "$pairs"); do
  results+="$(value "$a") $(value "$b")"$'\n'
  echo "compare: pair $i/$pairs" >&2
done

python3 - "$metric" <<PY
import statistics, sys
rows = [tuple(map(float, line.split())) for line in """$results""".splitlines() if line.strip()]
a = [r[0] for r in rows]
b = [r[1] for r in rows]
rel = [(y - x) / x for x, y in rows]
print(f"{sys.argv[1]}: A median {statistics.median(a):.4g}, B median {statistics.median(b):.4g}; "
      f"B vs A per pair: median {statistics.median(rel):+.2%}, B ahead in {sum(d > 0 for d in rel)} of {len(rel)}")
PY
