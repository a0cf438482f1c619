"""Type stubs of baton's native module (re-exported by ``baton``)."""

import os
from typing import Any, Dict, Iterator, List, Mapping, Optional, Union

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
        trace: bool = False,
    ) -> "Pipeline":
        """Reads and checks a pipeline file (raises PipelineFileError)."""
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
