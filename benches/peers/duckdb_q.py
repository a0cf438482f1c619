"""The three queries in DuckDB: SQL over its own CSV, JSON and text readers,
flights written with COPY; DuckDB's default threads (every core).

    python3 duckdb_q.py QUERY [--root DIR]

QUERY is flights, flights_jsonl or text; the input is read from DIR/data
and the output written to DIR/out/duckdb/ (DIR: this folder by default).
"""

import argparse
from pathlib import Path

import duckdb

ENGINE = "duckdb"


def quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def flights(con, data: Path, out: Path) -> None:
    # COPY keeps the input's order (preserve_insertion_order is on by default).
    con.execute(f"""
        COPY (
            SELECT year, month, day, carrier, flight, dest, dep_delay
            FROM read_csv({quoted(data / 'flights.csv.gz')}, nullstr = 'NA')
            WHERE origin = 'JFK' AND dep_delay > 60
        ) TO {quoted(out / 'flights.csv')} (FORMAT csv, HEADER)
    """)


def flights_jsonl(con, data: Path, out: Path) -> None:
    con.execute(f"""
        COPY (
            SELECT year, month, day, flight, origin, dest, arr_delay
            FROM read_json({quoted(data / 'flights.jsonl.gz')}, format = 'newline_delimited')
            WHERE carrier = 'UA' AND arr_delay > 30
        ) TO {quoted(out / 'flights_jsonl.jsonl')} (FORMAT json)
    """)


def text(con, data: Path, out: Path) -> None:
    # Each file whole (read_text), split at \n only. read_csv with a
    # delimiter no file has would be the other way, but its reader ends a
    # line at a lone \r too, whatever new_line says, so `import\rimport`
    # would count twice (selftest.py has that case).
    glob = data / "text" / "**" / "*.py"
    (count,) = con.execute(f"""
        SELECT count(*)
        FROM (SELECT unnest(string_split(content, chr(10))) AS line
              FROM read_text({quoted(glob)}))
        WHERE contains(line, 'import')
    """).fetchone()
    (out / "text.txt").write_text(f"count: {count}\n")


QUERIES = {"flights": flights, "flights_jsonl": flights_jsonl, "text": text}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("query", choices=QUERIES)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    out = args.root / "out" / ENGINE
    out.mkdir(parents=True, exist_ok=True)
    QUERIES[args.query](duckdb.connect(), args.root / "data", out)


if __name__ == "__main__":
    main()
