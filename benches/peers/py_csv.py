"""The three queries in plain Python: the standard library's csv, json and
gzip modules and loops, one thread.

    python3 py_csv.py QUERY [--root DIR]

QUERY is flights, flights_jsonl or text; the input is read from DIR/data
and the output written to DIR/out/python/ (DIR: this folder by default).
"""

import argparse
import csv
import gzip
import json
from pathlib import Path

ENGINE = "python"
FLIGHTS_COLUMNS = ["year", "month", "day", "carrier", "flight", "dest", "dep_delay"]
JSONL_COLUMNS = ["year", "month", "day", "flight", "origin", "dest", "arr_delay"]


def flights(data: Path, out: Path) -> None:
    """origin == "JFK" and dep_delay > 60 (NA is no number: dropped)."""
    with gzip.open(data / "flights.csv.gz", "rt", newline="") as f, \
            open(out / "flights.csv", "w", newline="") as o:
        rows = csv.reader(f)
        header = next(rows)
        at = {name: i for i, name in enumerate(header)}
        origin, delay = at["origin"], at["dep_delay"]
        keep = [at[name] for name in FLIGHTS_COLUMNS]
        writer = csv.writer(o, lineterminator="\n")
        writer.writerow(FLIGHTS_COLUMNS)
        for row in rows:
            if row[origin] == "JFK" and row[delay] != "NA" and int(row[delay]) > 60:
                writer.writerow([row[i] for i in keep])


def flights_jsonl(data: Path, out: Path) -> None:
    """carrier == "UA" and arr_delay > 30 (null is no number: dropped)."""
    with gzip.open(data / "flights.jsonl.gz", "rt") as f, \
            open(out / "flights_jsonl.jsonl", "w") as o:
        for line in f:
            record = json.loads(line)
            delay = record["arr_delay"]
            if record["carrier"] == "UA" and delay is not None and delay > 30:
                kept = {name: record[name] for name in JSONL_COLUMNS}
                o.write(json.dumps(kept, separators=(",", ":")))
                o.write("\n")


def text(data: Path, out: Path) -> None:
    """The lines of every *.py file under data/text that contain `import`."""
    count = 0
    for path in sorted((data / "text").rglob("*.py")):
        with open(path, "rb") as f:
            for line in f:
                if b"import" in line:
                    count += 1
    (out / "text.txt").write_text(f"count: {count}\n")


QUERIES = {"flights": flights, "flights_jsonl": flights_jsonl, "text": text}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("query", choices=QUERIES)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    out = args.root / "out" / ENGINE
    out.mkdir(parents=True, exist_ok=True)
    QUERIES[args.query](args.root / "data", out)


if __name__ == "__main__":
    main()
