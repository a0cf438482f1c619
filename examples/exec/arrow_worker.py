"""An example `exec` worker of the `arrow` protocol: keeps the rows whose
`value` is even and adds a column `doubled`, a whole batch per call.

    [[stage]]
    op = "exec"
    command = ["python3", "examples/exec/arrow_worker.py"]
    protocol = "arrow"
"""

import os
import sys

import pyarrow.compute as pc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baton_exec import serve_arrow  # noqa: E402


def work(batch):
    even = batch.filter(pc.equal(pc.bit_wise_and(batch["value"], 1), 0))
    return even.append_column("doubled", pc.multiply(even["value"], 2))


serve_arrow(work)
