"""baton as a PyTorch dataset (imported only where torch is installed).

    import baton, baton.torch, torch

    pipeline = baton.Pipeline.from_file("train.toml")        # batches of 128
    dataset = baton.torch.IterableDataset(pipeline)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=0)
    for epoch in range(10):
        dataset.set_epoch(epoch)
        for batch in loader:
            images, labels = batch["tensor"], batch["label"]     # torch tensors

**Workers.** baton already prepares the items on every core, outside the
GIL: give the DataLoader ``num_workers=0`` (or 1, which moves the whole run
into one worker process). With more workers each would run the whole
pipeline and every item would come several times, so iterating in one of
several workers raises ``RuntimeError``. Batch in the pipeline (``batch``
with ``stack = true``) and give the DataLoader ``batch_size=None``.

**Epochs and seeds.** Each iteration is one run of the pipeline, one epoch.
Epoch ``e`` runs every seeded stage (shuffle, random crop, flip...) with its
``seed`` plus ``e``: each epoch draws anew, and the same epoch draws the
same again. Iterations count epochs from 0; ``set_epoch(e)`` sets the next
one (to resume a training, as with ``DistributedSampler.set_epoch``).

**Tensors.** Every NumPy array of an item becomes a tensor that shares its
memory (``torch.from_numpy``: no copy); other values stay as they are.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Union

import numpy
import torch
import torch.utils.data

from ._baton import Pipeline
from .builder import Builder

__all__ = ["IterableDataset"]


def _to_torch(value: Any) -> Any:
    if isinstance(value, numpy.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, list):
        return [_to_torch(one) for one in value]
    if isinstance(value, dict):
        return {key: _to_torch(one) for key, one in value.items()}
    return value


class IterableDataset(torch.utils.data.IterableDataset):
    """A baton pipeline (a ``baton.Pipeline``, a builder, or the path of a
    pipeline file) as a PyTorch ``IterableDataset`` whose items are dicts of
    tensors. See the module's notes on workers, epochs and seeds."""

    def __init__(self, pipeline: Union[Pipeline, Builder, str]) -> None:
        super().__init__()
        if isinstance(pipeline, Builder):
            pipeline = pipeline.pipeline()
        elif not isinstance(pipeline, Pipeline):
            pipeline = Pipeline.from_file(pipeline)
        self.pipeline = pipeline

    def set_epoch(self, epoch: int) -> None:
        """Makes the next iteration epoch `epoch`."""
        self.pipeline.set_epoch(epoch)

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        worker = torch.utils.data.get_worker_info()
        if worker is not None and worker.num_workers > 1:
            raise RuntimeError(
                f"baton.torch.IterableDataset in one of {worker.num_workers} DataLoader workers: "
                "each would run the whole pipeline and give every item again. baton prepares "
                "the items on every core itself: use num_workers=0"
            )
        for item in self.pipeline:
            yield _to_torch(item)

    def __len__(self) -> int:
        return len(self.pipeline)
