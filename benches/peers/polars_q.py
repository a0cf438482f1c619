"""The three queries in polars: lazy scans, filter, select, collected and
written; polars' default thread pool (every core).

    python3 polars_q.py QUERY [--root DIR]

QUERY is flights, flights_jsonl or text; the input is read from DIR/data
and the output written to DIR/out/polars/ (DIR: this folder by default).
"""

import argparse
from pathlib import Path

import polars as pl

ENGINE = "polars"
FLIGHTS_COLUMNS = ["year", "month", "day", "carrier", "flight", "dest", "dep_delay"]
JSONL_COLUMNS = ["year", "month", "day", "flight", "origin", "dest", "arr_delay"]


def flights(data: Path, out: Path) -> None:
    (
        pl.scan_csv(data / "flights.csv.gz", null_values="NA")
        .filter((pl.col("origin") == "JFK") & (pl.col("dep_delay") > 60))
        .select(FLIGHTS_COLUMNS)
        .collect()
        .write_csv(out / "flights.csv")
    )


def flights_jsonl(data: Path, out: Path) -> None:
    (
        pl.scan_ndjson(data / "flights.jsonl.gz")
        .filter((pl.col("carrier") == "UA") & (pl.col("arr_delay") > 30))
        .select(JSONL_COLUMNS)
        .collect()
        .write_ndjson(out / "flights_jsonl.jsonl")
    )


def text(data: Path, out: Path) -> None:
    # Each line one string: a separator no file has (0x01), no quoting, and
    # empty files allowed (Django has many empty __init__.py).
    count = (
        pl.scan_csv(
            data / "text" / "**" / "*.py",
            has_header=False,
            separator="\x01",
            quote_char=None,
            schema={"line": pl.String},
            raise_if_empty=False,
        )
        .filter(pl.col("line").str.contains("import", literal=True))
        .select(pl.len())
        .collect()
        .item()
    )
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
