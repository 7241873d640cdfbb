"""Progress of long steps: a rich bar in a terminal, plain log lines otherwise.

A bar drawn into a log file is either nothing (rich gives up without a terminal) or thousands
of carriage returns, so when stdout is not a terminal each task prints one line when it starts,
one every ``MEGEN_PROGRESS_INTERVAL`` seconds (default 10) and one when it ends:

    synthetic clips: 12/64 (19%), 2.1 clips/s, ETA 25 s

The class offers the part of ``rich.progress.Progress`` the project uses (``add_task``,
``advance``, use as a context manager), so call sites do not care which mode runs.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

DEFAULT_INTERVAL_S = 10.0


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get("MEGEN_PROGRESS_INTERVAL", DEFAULT_INTERVAL_S)))
    except ValueError:
        return DEFAULT_INTERVAL_S


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    minutes, s = divmod(int(round(seconds)), 60)
    return f"{minutes} min {s:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


@dataclass
class _Task:
    description: str
    total: int | None
    unit: str
    completed: float = 0.0
    start_completed: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    last_line: float = field(default_factory=time.perf_counter)
    finished: bool = False

    def line(self) -> str:
        elapsed = time.perf_counter() - self.started
        done = self.completed - self.start_completed      # reused work says nothing about the rate
        rate = done / elapsed if elapsed > 0 and done > 0 else None
        count = f"{self.completed:g}/{self.total}" if self.total is not None else f"{self.completed:g}"
        parts = [f"{self.description}: {count} {self.unit}".rstrip()]
        if self.total:
            parts[0] += f" ({100.0 * self.completed / self.total:.0f}%)"
        if self.finished:
            parts.append(f"done in {_duration(elapsed)}")
        if rate:
            parts.append(f"{rate:.2f} {self.unit or 'items'}/s" if rate < 10 else f"{rate:.0f} {self.unit or 'items'}/s")
            if not self.finished and self.total:
                parts.append(f"ETA {_duration((self.total - self.completed) / rate)}")
        return ", ".join(parts)


class Progress:
    """Progress of one or more tasks.

    Args:
        enabled: False shows nothing (``progress=false`` in the configs).
        stream: where plain lines go (default stdout); a terminal gets a rich bar instead.
        transient: the rich bar disappears when done (the commands print their own summary).
    """

    def __init__(self, enabled: bool = True, stream=None, transient: bool = True):
        self.enabled = bool(enabled)
        self.stream = stream
        self._tasks: dict[int, _Task] = {}
        self._rich = None
        out = stream if stream is not None else sys.stdout
        if self.enabled and getattr(out, "isatty", lambda: False)():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._rich = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                      TimeRemainingColumn(), transient=transient)

    def __enter__(self) -> "Progress":
        if self._rich is not None:
            self._rich.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._rich is not None:
            self._rich.__exit__(*exc)
        elif self.enabled and exc[0] is None:
            for task in self._tasks.values():   # a task left short of its total still reports where it stopped
                if not task.finished:
                    self._finish(task)

    def add_task(self, description: str, total: int | None = None, completed: float = 0, unit: str = "") -> int:
        """Start a task of ``total`` items (``completed`` already done, e.g. reused from a cache)."""
        if self._rich is not None:
            return self._rich.add_task(description, total=total, completed=completed, unit=unit)
        task_id = len(self._tasks)
        task = _Task(description, total, unit, float(completed), float(completed))
        self._tasks[task_id] = task
        if self.enabled:
            if total is not None and completed >= total:
                self._finish(task)
            else:
                self._print(task.line())
        return task_id

    def advance(self, task_id: int, advance: float = 1) -> None:
        if self._rich is not None:
            self._rich.advance(task_id, advance)
            return
        task = self._tasks[task_id]
        task.completed += advance
        if not self.enabled or task.finished:
            return
        if task.total is not None and task.completed >= task.total:
            self._finish(task)
        elif time.perf_counter() - task.last_line >= _interval():
            task.last_line = time.perf_counter()
            self._print(task.line())

    def _finish(self, task: _Task) -> None:
        task.finished = True
        self._print(task.line())

    def _print(self, line: str) -> None:
        print(line, file=self.stream if self.stream is not None else sys.stdout, flush=True)
