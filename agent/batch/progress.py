"""Batch progress on stderr: a bar with rate and ETA on a terminal, plain lines otherwise.

The bar is Rich's (already installed with Textual). When stderr is not a terminal (CI logs,
``2> log``), a line like ``batch: 30/120 done, 2 errors, 0.51 tasks/s, ETA 2m56s`` is printed
every ``every_s`` seconds and once at the end, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any


def _eta(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Progress:
    """Counts finished tasks and shows it.

    Args:
        total: number of tasks (None when reading stdin: no ETA).
        enabled: False shows nothing.
        stream: where to write (default stderr).
        every_s: seconds between plain lines when ``stream`` is not a terminal.
    """

    def __init__(
        self,
        total: int | None,
        *,
        enabled: bool = True,
        stream: IO[str] | None = None,
        every_s: float = 10.0,
    ):
        self.total = total
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.done = 0
        self.errors = 0
        self.skipped = 0
        self.start = time.perf_counter()
        self._last = self.start
        self._bar: Any = None
        self._task: Any = None
        if enabled and self.stream.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("batch"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rate]}"),
                TextColumn("{task.fields[errors]}"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
            )
            self._task = self._bar.add_task("batch", total=total, rate="", errors="")
            self._bar.start()

    @property
    def rate(self) -> float:
        """Tasks run per second (skipped ones do not count)."""
        ran = self.done - self.skipped
        elapsed = time.perf_counter() - self.start
        return ran / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        """The plain progress line."""
        of = f"/{self.total}" if self.total is not None else ""
        parts = [f"batch: {self.done}{of} done"]
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        if self.errors:
            parts.append(f"{self.errors} error{'s' if self.errors != 1 else ''}")
        parts.append(f"{self.rate:.2f} tasks/s")
        if self.total is not None and self.rate > 0:
            parts.append(f"ETA {_eta((self.total - self.done) / self.rate)}")
        return ", ".join(parts)

    def advance(self, *, skipped: bool = False, error: bool = False) -> None:
        self.done += 1
        self.skipped += skipped
        self.errors += error
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(
                self._task,
                completed=self.done,
                rate=f"{self.rate:.2f} tasks/s",
                errors=f"{self.errors} errors" if self.errors else "",
            )
        elif time.perf_counter() - self._last >= self.every_s:
            self._last = time.perf_counter()
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.stop()
        else:
            print(self.line(), file=self.stream, flush=True)
