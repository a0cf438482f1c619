"""A trivial `jsonl` exec worker: adds one to `value` (the benchmark's per-item work)."""
import json
import sys

out = sys.stdout
for line in sys.stdin:
    item = json.loads(line)
    item["value"] += 1
    out.write(json.dumps(item) + "\n")
    out.flush()
