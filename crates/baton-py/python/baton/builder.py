"""Pipelines built in Python, stage by stage, from baton's built-in ops and
your own functions.

    import baton

    def erase(item):                     # a few lines of your own, on the GIL
        item["tensor"][:, :4, :4] = 0
        return item

    loader = (
        baton.idx(images="train-images-idx3-ubyte.gz", labels="train-labels-idx1-ubyte.gz")
        .crop(width=28, height=28, padding=4, position="random")
        .map(erase)
        .batch(128, stack=True)
    )
    for batch in loader:                  # each `for` is a run (an epoch)
        ...
    print(loader.to_toml())               # the same pipeline as a file

Every built-in op is a method named after it (``.crop(...)``, ``.normalize(...)``),
and every source a function of the ``baton`` module (``baton.csv(path=...)``);
keyword arguments are the op's keys and the stage's own (``name``,
``replicas``, ``on_error``, ...), checked as ``baton check`` checks a file.
``baton ops`` (the command) lists them with their keys.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

from . import _baton

_OPS = {(name, kind) for name, kind, _ in _baton.ops()}
_counter = itertools.count(1)


def _function_name(function: Callable[..., Any]) -> str:
    """How a pipeline file names `function`: ``module:qualified.name``,
    with ``#N`` added when it cannot be imported by that name."""
    module = getattr(function, "__module__", None) or "__main__"
    qualname = getattr(function, "__qualname__", None) or type(function).__name__
    name = f"{module}:{qualname}"
    if "<" in qualname or module == "__main__":
        name += f"#{next(_counter)}"
    return name


class Builder:
    """A pipeline under construction: each method returns a new builder
    with one more stage (the builder it was called on is unchanged)."""

    def __init__(
        self,
        stages: List[Dict[str, Any]],
        functions: Dict[str, Callable[..., Any]],
        name: str = "pipeline",
    ) -> None:
        self._stages = stages
        self._functions = functions
        self._name = name
        self._pipeline: Optional[_baton.Pipeline] = None

    def _then(self, table: Dict[str, Any], functions: Optional[Dict[str, Callable[..., Any]]] = None) -> "Builder":
        merged = dict(self._functions)
        merged.update(functions or {})
        return Builder(self._stages + [table], merged, self._name)

    def stage(self, op: str, /, **params: Any) -> "Builder":
        """Adds the built-in op `op` (``"crop"``) with its keys."""
        if (op, "stage") not in _OPS:
            kind = next((k for n, k in _OPS if n == op), None)
            if kind is not None:
                raise ValueError(f"`{op}` is a {kind}: only stages go after the source")
            raise ValueError(f"unknown op `{op}`: `baton ops` lists the built-in stages")
        return self._then({"op": op, **params})

    def map(self, function: Callable[[Dict[str, Any]], Any] | str, /, **params: Any) -> "Builder":
        """Adds a stage: a built-in op by name, or a Python function.

        The function takes each item as a dict and returns a dict (one
        item), ``None`` (no item) or a list of dicts (an item each). It runs
        with the GIL held, serial and in order unless ``mode`` and
        ``replicas`` say otherwise (replicas overlap only where the function
        releases the GIL, as NumPy does).
        """
        if isinstance(function, str):
            return self.stage(function, **params)
        if not callable(function):
            raise TypeError(f"map takes an op's name or a function, not {type(function).__name__}")
        name = _function_name(function)
        params.setdefault("name", getattr(function, "__name__", "python").strip("<>"))
        return self._then({"op": "python", "function": name, **params}, {name: function})

    def filter(self, predicate: Callable[[Dict[str, Any]], Any], /, **params: Any) -> "Builder":
        """Keeps the items for which `predicate(item)` is true (a Python
        function, run as `map` runs one)."""

        def keep(item: Dict[str, Any]) -> Optional[Dict[str, Any]]:
            return item if predicate(item) else None

        keep.__name__ = getattr(predicate, "__name__", "filter").strip("<>")
        keep.__qualname__ = f"<filter {getattr(predicate, '__qualname__', keep.__name__)}>"
        return self.map(keep, **params)

    def batch(self, size: int, /, **params: Any) -> "Builder":
        """Groups `size` items into one (``stack=True``: each field and the
        tensors stacked into arrays)."""
        return self.stage("batch", size=size, **params)

    def take(self, count: int, /, **params: Any) -> "Builder":
        """The first `count` items."""
        return self.stage("take", count=count, **params)

    def skip(self, count: int, /, **params: Any) -> "Builder":
        """All but the first `count` items."""
        return self.stage("skip", count=count, **params)

    def named(self, name: str) -> "Builder":
        """The same pipeline, called `name` (in stats, reports and errors)."""
        return Builder(self._stages, self._functions, name)

    def __getattr__(self, op: str) -> Callable[..., "Builder"]:
        if op.startswith("_") or (op, "stage") not in _OPS:
            raise AttributeError(f"a pipeline builder has no `{op}` (no built-in stage of that name)")
        return lambda **params: self.stage(op, **params)

    def to_toml(self) -> str:
        """The pipeline as a pipeline file (a Python function is named as
        ``module:name``; one defined in ``__main__`` or a lambda cannot be
        imported by it)."""
        return _baton.pipeline_text({"name": self._name}, self._stages)

    def pipeline(
        self,
        *,
        threads: Optional[int] = None,
        cpu_budget: Optional[int] = None,
        memory_budget: Optional[Union[int, str]] = None,
        trace: bool = False,
    ) -> _baton.Pipeline:
        """The pipeline, checked and built (a mistake raises
        ``baton.PipelineFileError``, located in the text `to_toml` gives).
        ``cpu_budget`` is the cores the tuner may fill with ``replicas="auto"``
        stages (default: the threads); ``memory_budget`` the most memory the
        process may hold (``"4 GiB"``, bytes, or ``"off"``)."""
        return _baton.Pipeline.from_text(
            self.to_toml(),
            name=self._name,
            functions=self._functions,
            threads=threads,
            cpu_budget=cpu_budget,
            memory_budget=memory_budget,
            trace=trace,
        )

    def _built(self) -> _baton.Pipeline:
        if self._pipeline is None:
            self._pipeline = self.pipeline()
        return self._pipeline

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())

    def __repr__(self) -> str:
        ops = [s["op"] if s["op"] != "python" else s["function"] for s in self._stages]
        return f"baton.Builder({' -> '.join(ops)})"


def source(op: str, /, **params: Any) -> Builder:
    """A pipeline that starts with the built-in source `op` (``"csv"``)."""
    if (op, "source") not in _OPS:
        raise ValueError(f"`{op}` is not a built-in source: `baton ops` lists them")
    return Builder([{"op": op, **params}], {})


def range(end: int, /, start: int = 0, step: int = 1, **params: Any) -> Builder:  # noqa: A001
    """Items ``{"n": start}``, ``{"n": start + step}``, ... up to `end` (excluded)."""
    return source("range", end=end, start=start, step=step, **params)


def _source_function(op: str) -> Callable[..., Builder]:
    def make(**params: Any) -> Builder:
        return source(op, **params)

    make.__name__ = op
    make.__doc__ = f"A pipeline that starts with the `{op}` source (``baton ops {op}`` shows its keys)."
    return make


SOURCES = sorted(name for name, kind in _OPS if kind == "source" and name != "range")
"""The sources that are functions of the ``baton`` module, besides ``range``."""
