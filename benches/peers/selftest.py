"""Runs every engine once on a small made-up data set full of edge cases and
checks that they agree with each other and with answers worked out by hand.

    python3 benches/peers/selftest.py [--baton PATH] [--engines E ...]

The edge cases: for flights, delays of exactly the threshold, missing (NA)
and negative delays, a text cell with a comma in it; for text, a file with
no final newline, empty files and empty lines, CRLF line ends, a byte-order
mark, a carriage return inside a line (not a line end for any engine),
quotes, tabs and commas (no engine may parse them), a nested folder, and a
file that is not *.py (not read). Takes a few seconds; writes only to a
temporary folder.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tempfile
from pathlib import Path

import check
import fetch_data
import run

HERE = Path(__file__).resolve().parent
HEADER = ("year,month,day,dep_time,sched_dep_time,dep_delay,arr_time,sched_arr_time,"
          "arr_delay,carrier,flight,tailnum,origin,dest,air_time,distance,hour,minute,"
          "time_hour")
# dep_delay (6th) and arr_delay (9th), carrier (10th), origin (13th), dest (14th).
FLIGHTS = [
    "2013,1,1,517,515,61,830,819,31,UA,1545,N14228,JFK,IAH,227,1400,5,15,2013-01-01T10:00:00Z",
    "2013,1,1,533,529,60,850,830,30,UA,1714,N24211,JFK,IAH,227,1416,5,29,2013-01-01T10:00:00Z",
    "2013,1,2,NA,540,NA,NA,850,NA,UA,1141,NA,JFK,MIA,NA,1089,5,40,2013-01-02T10:00:00Z",
    "2013,1,2,544,545,-61,1004,1022,-31,UA,725,N804JB,JFK,BQN,183,1576,5,45,2013-01-02T10:00:00Z",
    "2013,2,3,554,600,1000,812,837,999,AA,461,N668DN,JFK,ATL,116,762,6,0,2013-02-03T11:00:00Z",
    "2013,2,3,554,558,200,740,728,200,UA,1696,N39463,EWR,ORD,150,719,5,58,2013-02-03T10:00:00Z",
    '2013,12,31,555,600,90,913,854,NA,B6,507,N516JB,JFK,"FLL, x",158,1065,6,0,2013-12-31T11:00:00Z',
    "2013,12,31,557,600,61,709,723,45,UA,5708,N829AS,LGA,IAD,53,229,6,0,2013-12-31T11:00:00Z",
]
FLIGHTS_ROWS = 3         # JFK and dep_delay > 60: rows 1, 5 and 7
JSONL_ROWS = 3           # UA and arr_delay > 30: rows 1, 6 and 8 (5 is AA)
TEXT = {
    "a/no_final_newline.py": b"import os\nx = 1\n\nimport sys",
    "a/b/empty.py": b"",
    "a/b/blank_lines.py": b"\n\n\n",
    "crlf.py": b"import a\r\nfrom b import c\r\n\r\n",
    "bom.py": b"\xef\xbb\xbfimport x\n",
    "carriage_return.py": b"import\rimport\n",
    "quotes.py": b'x = "import, \'y\'"\n\ty\timport\t,\n"unterminated import\n\'\n',
    "only.py": b"import",
    "none.py": b"no such word here\n",
    "not_python.txt": b"import x\n",
}
TEXT_COUNT = 10  # 2 + 0 + 0 + 2 + 1 + 1 + 3 + 1 + 0, in the order above


def make_root(root: Path) -> None:
    data = root / "data"
    (data / "text").mkdir(parents=True)
    csv_text = HEADER + "\n" + "\n".join(FLIGHTS) + "\n"
    fetch_data.write_gzip(data / "flights.csv.gz", csv_text)
    jsonl_text = fetch_data.as_json_lines(csv_text, say=lambda _: None)
    fetch_data.write_gzip(data / "flights.jsonl.gz", jsonl_text)
    for name, content in TEXT.items():
        path = data / "text" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (data / "text.done").write_text("{}\n")
    for query in check.QUERIES:
        shutil.copy(HERE / f"{query}.toml", root / f"{query}.toml")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", choices=check.ENGINES, default=check.ENGINES)
    parser.add_argument("--baton", type=Path, default=run.REPO / "target" / "release" / "baton")
    args = parser.parse_args()
    want = {"flights": FLIGHTS_ROWS, "flights_jsonl": JSONL_ROWS, "text": TEXT_COUNT}
    failed = False
    with tempfile.TemporaryDirectory(prefix="peers-selftest-") as tmp:
        root = Path(tmp)
        make_root(root)
        for query in check.QUERIES:
            for engine in args.engines:
                run.run_once(engine, query, root, args.baton.resolve())
            try:
                result = check.check_query(root, query, args.engines)
            except check.Mismatch as error:
                print(f"MISMATCH {error}", file=sys.stderr)
                failed = True
                continue
            print(check.describe(result))
            if result["value"] != want[query]:
                print(f"WRONG {query}: every engine gives {result['value']}, "
                      f"the answer is {want[query]}", file=sys.stderr)
                failed = True
    print("selftest: " + ("FAILED" if failed else "passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
