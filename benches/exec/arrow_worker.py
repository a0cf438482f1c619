"""A trivial `arrow` exec worker: adds one to `value`, a whole batch per call."""
import os
import sys

import pyarrow.compute as pc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../examples/exec"))
from baton_exec import serve_arrow  # noqa: E402

serve_arrow(lambda batch: batch.set_column(0, "value", pc.add(batch["value"], 1)))
