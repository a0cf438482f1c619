"""Checks that every engine's output of every query holds the same values.

    python3 check.py [--root DIR] [--queries Q ...] [--engines E ...]

Outputs are compared by value, not by bytes: CSV cells and JSON values are
parsed, numbers normalised (61, 61.0 and "61" in a CSV are one value; an
empty CSV cell is a missing value, like JSON null), and the row lists
compared in order; a JSON line's keys are compared as a set (JSON objects
have no order). The first engine named is the reference; a difference exits
with status 1 naming the engine, the row and the column. Each query that
agrees gets a checksum of its canonical rows, the same whichever engine
wrote them, so two runs (or two machines) can be compared at a glance.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENGINES = ["python", "duckdb", "polars", "baton"]
QUERIES = ["flights", "flights_jsonl", "text"]
OUTPUT = {
    "flights": "flights.csv",
    "flights_jsonl": "flights_jsonl.jsonl",
    "text": "text.txt",
}
COLUMNS = {
    "flights": ["year", "month", "day", "carrier", "flight", "dest", "dep_delay"],
    "flights_jsonl": ["year", "month", "day", "flight", "origin", "dest", "arr_delay"],
    "text": ["count"],
}
# Rows of the real data (fetch_data.py's), checked when --root is this folder:
# engines that all agree on a wrong answer still fail.
EXPECTED_ROWS = {"flights": 8_401, "flights_jsonl": 7_878}
EXPECTED_TEXT_COUNT = 11_559


class Mismatch(Exception):
    """An output that differs from the reference, or that cannot be read."""


def number(value):
    """A number as one canonical Python value: integral floats as ints."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return int(value)
        return value
    return value


def csv_cell(text: str):
    """A CSV cell as a value: empty is None, a number a number, else text."""
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return number(float(text))
    except ValueError:
        return text


def read_csv(path: Path, columns: list[str]) -> list[list]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        if header != columns:
            raise Mismatch(f"header is {header}, expected {columns}")
        return [[csv_cell(cell) for cell in row] for row in rows]


def read_jsonl(path: Path, columns: list[str]) -> list[list]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise Mismatch(f"line {no} is not JSON: {error}") from None
            if not isinstance(record, dict) or set(record) != set(columns):
                keys = sorted(record) if isinstance(record, dict) else type(record).__name__
                raise Mismatch(f"row {len(rows) + 1} (line {no}) has keys {keys}, "
                               f"expected {columns}")
            rows.append([number(record[name]) for name in columns])
    return rows


def read_count(path: Path, columns: list[str]) -> list[list]:
    """`count: N` (the baton count sink's words; the others write the same)."""
    text = path.read_text().strip()
    label, _, value = text.rpartition(":")
    if label.strip() != "count" or not value.strip().isdigit():
        raise Mismatch(f"expected `count: N`, found {text[:80]!r}")
    return [[int(value)]]


READERS = {"flights": read_csv, "flights_jsonl": read_jsonl, "text": read_count}


def rows_of(root: Path, engine: str, query: str) -> list[list]:
    path = root / "out" / engine / OUTPUT[query]
    if not path.exists():
        raise Mismatch(f"{engine}: no output {path}")
    try:
        return READERS[query](path, COLUMNS[query])
    except Mismatch as error:
        raise Mismatch(f"{engine}: {path}: {error}") from None


def checksum(rows: list[list]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, separators=(",", ":")).encode())
        digest.update(b"\n")
    return "0x" + digest.hexdigest()[:16]


def compare(query: str, reference: str, want: list[list], engine: str, got: list[list]) -> None:
    columns = COLUMNS[query]
    for i, (a, b) in enumerate(zip(want, got)):
        if a != b:
            for column, x, y in zip(columns, a, b):
                if x != y:
                    raise Mismatch(
                        f"{query}: {engine} differs from {reference} at row {i + 1}, "
                        f"column {column}: {y!r} where {reference} has {x!r} "
                        f"({engine}'s row: {b}; {reference}'s: {a})")
            raise Mismatch(f"{query}: {engine} differs from {reference} at row {i + 1}: "
                           f"{b} where {reference} has {a}")
    if len(want) != len(got):
        raise Mismatch(f"{query}: {engine} has {len(got):,} rows, {reference} {len(want):,}")


def check_query(root: Path, query: str, engines: list[str]) -> dict:
    """Compares the engines' outputs of `query`; returns {rows, checksum, engines}."""
    reference = engines[0]
    want = rows_of(root, reference, query)
    for engine in engines[1:]:
        compare(query, reference, want, engine, rows_of(root, engine, query))
    if root.resolve() == HERE:
        if query in EXPECTED_ROWS and len(want) != EXPECTED_ROWS[query]:
            raise Mismatch(f"{query}: every engine has {len(want):,} rows, "
                           f"the data should give {EXPECTED_ROWS[query]:,}")
        if query == "text" and want[0][0] != EXPECTED_TEXT_COUNT:
            raise Mismatch(f"text: every engine counts {want[0][0]:,} lines, "
                           f"the data should give {EXPECTED_TEXT_COUNT:,}")
    value = want[0][0] if query == "text" else len(want)
    return {"query": query, "value": value, "checksum": checksum(want), "engines": engines}


def describe(result: dict) -> str:
    what = "lines counted" if result["query"] == "text" else "rows"
    return (f"{result['query']}: {result['value']:,} {what}, checksum {result['checksum']}, "
            f"same in {', '.join(result['engines'])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE,
                        help="the folder holding out/ (default: this one)")
    parser.add_argument("--queries", nargs="+", choices=QUERIES, default=QUERIES)
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=ENGINES)
    args = parser.parse_args()
    failed = False
    for query in args.queries:
        try:
            print(describe(check_query(args.root, query, args.engines)))
        except Mismatch as error:
            print(f"MISMATCH {error}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
