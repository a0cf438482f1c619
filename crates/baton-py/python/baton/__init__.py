"""baton: a pipeline engine whose runs feed a Python training loop.

Read a pipeline file and iterate it: each item is a ``dict`` whose tensors
are NumPy arrays, prepared by baton on every core, outside the GIL::

    import baton

    loader = baton.Pipeline.from_file("train.toml", overrides={"batch.size": 128})
    for epoch in range(10):
        for batch in loader:              # each `for` is a run: an epoch
            images, labels = batch["tensor"], batch["label"]

A pipeline file meant for Python may end without a sink: the loop is its
sink. Every error baton raises is a ``baton.Error``: a bad file raises
``baton.PipelineFileError`` (located, as ``baton check`` says it), a stage
failing on an item raises ``baton.StageError`` (with ``.stage`` and
``.item``). Leaving a loop early (``break``, an exception, Ctrl-C) stops the
run: no thread is left behind.
"""

from ._baton import Error, Pipeline, PipelineFileError, Run, StageError

__all__ = ["Error", "Pipeline", "PipelineFileError", "Run", "StageError"]
