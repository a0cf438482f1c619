"""Helpers for writing a baton `exec` worker in Python.

`serve_arrow(fn)` runs a worker of the `arrow` protocol: `fn` takes a
`pyarrow.RecordBatch` (a whole chunk of records) and returns a
`pyarrow.RecordBatch` or `pyarrow.Table` (any schema, any number of rows:
a filter, a flat map, new columns), or None for no output.

Each request is a frame: an 8-byte header (the request's id, then the
length of what follows, both 4-byte big-endian) and an Arrow IPC stream of
one record batch. The answer is a frame of the same shape, carrying the
request's id, with an IPC stream of the batches to output.
"""

import os
import struct
import sys

# baton runs one worker per replica and sets the replicas: thread pools of
# numerical libraries (OpenBLAS, which numpy loads with pyarrow) would only
# compete with the other replicas for the same cores, and their idle
# threads spin. One thread each unless the user says otherwise.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import pyarrow as pa  # noqa: E402

_HEADER = struct.Struct(">II")


def _read_exactly(stream, size):
    data = stream.read(size)
    while len(data) < size:
        more = stream.read(size - len(data))
        if not more:
            raise EOFError(f"input cut short: {len(data)} of {size} bytes")
        data += more
    return data


def serve_arrow(fn):
    """Answers every request on stdin with `fn(batch)` until stdin closes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = stdin.read(_HEADER.size)
        if not head:
            return
        rid, size = _HEADER.unpack(_read_exactly_rest(stdin, head))
        table = pa.ipc.open_stream(_read_exactly(stdin, size)).read_all()
        batches = table.combine_chunks().to_batches()
        batch = batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)
        result = fn(batch)
        sink = pa.BufferOutputStream()
        if result is not None:
            with pa.ipc.new_stream(sink, result.schema) as writer:
                writer.write(result)
        else:
            with pa.ipc.new_stream(sink, pa.schema([])):
                pass
        answer = sink.getvalue()
        stdout.write(_HEADER.pack(rid, answer.size))
        stdout.write(answer)
        stdout.flush()


def _read_exactly_rest(stream, head):
    return head if len(head) == _HEADER.size else head + _read_exactly(stream, _HEADER.size - len(head))
