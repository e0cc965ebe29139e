"""Progress of the bulk commands: a bar on stderr (rows done of all, rows/s, time left) and a closing summary
(counts, seconds, rows/s) instead of a list of every id written."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class _RateColumn(ProgressColumn):
    """Rows per second, as rich measures it over the last seconds."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- rows/s" if speed is None else f"{speed:,.0f} rows/s", style="progress.data.speed")


class RowProgress:
    """``with RowProgress("importing", total) as bar: bar.advance(n)``; shown only when ``shown``."""

    def __init__(self, label: str, total: int | None, shown: bool = True) -> None:
        self.started = time.monotonic()
        self.done = 0
        self._progress: Progress | None = None
        if shown:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                _RateColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                TimeElapsedColumn(),
                console=Console(file=sys.stderr),
                transient=False,
            )
            self._task = self._progress.add_task(label, total=total)

    def __enter__(self) -> RowProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advance(self, rows: int) -> None:
        self.done += rows
        if self._progress is not None:
            self._progress.advance(self._task, rows)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def summary(self, **counts: Any) -> dict[str, Any]:
        """The counts with the time taken and the rate over the rows advanced."""
        seconds = self.seconds
        rate = self.done / seconds if seconds > 0 else 0.0
        return {**counts, "seconds": round(seconds, 2), "rows_per_s": round(rate, 1)}


def say(line: str) -> None:
    """One line for the person at the terminal (stderr; stdout carries the JSON summary)."""
    print(f"safecity: {line}", file=sys.stderr, flush=True)
