"""baton: a pipeline engine whose runs feed a Python training loop.

Read a pipeline file and iterate it: each item is a ``dict`` whose tensors
are NumPy arrays, prepared by baton on every core, outside the GIL::

    import baton

    loader = baton.Pipeline.from_file("train.toml", overrides={"batch.size": 128})
    for epoch in range(10):
        for batch in loader:              # each `for` is a run: an epoch
            images, labels = batch["tensor"], batch["label"]

Or build one in Python (see ``baton.builder``)::

    loader = baton.idx(images=..., labels=...).crop(width=28, height=28, padding=4).batch(128, stack=True)

A pipeline file meant for Python may end without a sink: the loop is its
sink. ``baton.run("etl.toml")`` runs one that ends in a sink. A stage may
be a Python function (``.map(fn)``, or ``op = "python"`` with ``function =
"module:name"`` in a file), run with the GIL held.

Every error baton raises is a ``baton.Error``: a bad file raises
``baton.PipelineFileError`` (located, as ``baton check`` says it), a stage
failing on an item raises ``baton.StageError`` (with ``.stage`` and
``.item``; a Python function's own exception is its ``__cause__``).
Leaving a loop early (``break``, an exception, Ctrl-C) stops the run: no
thread is left behind. A stage's warnings are ``baton.Warning``s.
"""

from ._baton import Error, Pipeline, PipelineFileError, Run, StageError, Warning, run
from .builder import SOURCES as _SOURCES
from .builder import Builder, _source_function, range, source

for _op in _SOURCES:
    globals()[_op] = _source_function(_op)

__all__ = [
    "Builder",
    "Error",
    "Pipeline",
    "PipelineFileError",
    "Run",
    "StageError",
    "Warning",
    "range",
    "run",
    "source",
    *_SOURCES,
]
