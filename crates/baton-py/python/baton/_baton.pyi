"""Type stubs of baton's native module (re-exported by ``baton``)."""

import os
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

class Error(Exception):
    """Every error baton raises."""

class PipelineFileError(Error):
    """A pipeline file baton cannot run; the message names file, line and key."""

class StageError(Error):
    """A stage failed on an item."""

    stage: str
    """The stage's name."""
    item: int
    """The item's number, counted from 0 at the source."""

class Warning(UserWarning):
    """What a stage warns of, issued once its run ends."""

class Run(Iterator[Dict[str, Any]]):
    """One run of a pipeline: an iterator of dicts."""

    def __iter__(self) -> "Run": ...
    def __next__(self) -> Dict[str, Any]: ...
    def __len__(self) -> int: ...
    @property
    def finished(self) -> bool:
        """Whether the run has ended (all items taken, failed, or stopped)."""
    def stop(self) -> None:
        """Stops the run at once; the loop ends."""
    def stats(self) -> Dict[str, Any]:
        """What every stage has done so far, and the bottleneck."""
    def report(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Writes the run's HTML report, once it has ended."""
    def __enter__(self) -> "Run": ...
    def __exit__(self, *args: object) -> None: ...

class Pipeline:
    """A pipeline file whose items a Python loop takes."""

    @staticmethod
    def from_file(
        path: Union[str, "os.PathLike[str]"],
        *,
        overrides: Optional[Mapping[str, Any]] = None,
        env: Optional[Mapping[str, str]] = None,
        threads: Optional[int] = None,
        cpu_budget: Optional[int] = None,
        memory_budget: Optional[Union[int, str]] = None,
        trace: bool = False,
    ) -> "Pipeline":
        """Reads and checks a pipeline file (raises PipelineFileError)."""
    @staticmethod
    def from_text(
        text: str,
        *,
        name: str = "pipeline",
        functions: Optional[Mapping[str, Callable[[Dict[str, Any]], Any]]] = None,
        threads: Optional[int] = None,
        cpu_budget: Optional[int] = None,
        memory_budget: Optional[Union[int, str]] = None,
        trace: bool = False,
    ) -> "Pipeline":
        """A pipeline from a pipeline file's text; `functions` are the
        callables its `python` stages name."""
    @property
    def epoch(self) -> int:
        """The epoch the next `for` runs (seeded stages draw anew each epoch)."""
    def set_epoch(self, epoch: int) -> None:
        """Makes the next `for` run epoch `epoch`."""
    @property
    def name(self) -> str: ...
    @property
    def stages(self) -> List[str]: ...
    def __iter__(self) -> Run:
        """Starts a run: every `for` is a run of its own (an epoch)."""
    def __len__(self) -> int:
        """Items a run gives, when known (else TypeError)."""
    def close(self) -> None:
        """Stops every run started from it that is still going."""
    def __enter__(self) -> "Pipeline": ...
    def __exit__(self, *args: object) -> None: ...

def run(
    path: Union[str, "os.PathLike[str]"],
    *,
    overrides: Optional[Mapping[str, Any]] = None,
    env: Optional[Mapping[str, str]] = None,
    threads: Optional[int] = None,
    report: Optional[Union[str, "os.PathLike[str]"]] = None,
) -> Dict[str, Any]:
    """Runs a pipeline file that ends in a sink; returns its summary."""

def ops() -> List[Tuple[str, str, str]]:
    """Every built-in op as (name, kind, summary)."""

def pipeline_text(pipeline: Mapping[str, Any], stages: Sequence[Mapping[str, Any]]) -> str:
    """The text of a pipeline file with these tables."""
