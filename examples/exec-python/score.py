"""A baton `exec` worker in Python: scores each number as a long-lived
process (no process start per item). Reads one JSON object per line on
stdin, writes one per line on stdout; `null` drops the item. The answer is
the request updated, so it echoes the request's id, `_request`, with no
code for it (docs/EXEC-PROTOCOL.md)."""
import json
import sys

for line in sys.stdin:
    item = json.loads(line)
    n = item["value"]
    if n % 7 == 0:
        print("null", flush=True)  # dropped
        continue
    item["square"] = n * n
    item["label"] = "even" if n % 2 == 0 else "odd"
    print(json.dumps(item), flush=True)
