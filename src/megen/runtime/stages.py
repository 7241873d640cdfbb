"""Named stages of generation (guide, encode, motion, decode, warp), timed only while a ``StageClock`` runs.

``bench generate`` reports each stage's share of a clip's time with it. Outside a clock ``stage`` costs one
list check, so the pipeline keeps its marks in production. Stages are not nested: each mark is one stage.
"""
from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager

_running: list = []


class StageClock:
    """Seconds spent in each named stage while the clock is entered (``with StageClock() as clock``).

    ``sync`` (e.g. ``torch.cuda.synchronize``) runs at every stage's end, so that a GPU's queued work is
    counted in the stage that queued it."""

    def __init__(self, sync=None):
        self.seconds: dict[str, float] = defaultdict(float)
        self.sync = sync or (lambda: None)

    def __enter__(self) -> "StageClock":
        _running.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _running.remove(self)

    def shares(self, total: float | None = None) -> dict[str, float]:
        """Each stage's fraction of ``total`` seconds (default: of the stages' sum), in stage order of first use."""
        total = sum(self.seconds.values()) if total is None else total
        return {name: s / total for name, s in self.seconds.items()} if total > 0 else {}


@contextmanager
def stage(name: str):
    """Mark the enclosed work as stage ``name`` of the running clock (if any)."""
    if not _running:
        yield
        return
    clock = _running[-1]
    clock.sync()
    start = time.perf_counter()
    try:
        yield
    finally:
        clock.sync()
        clock.seconds[name] += time.perf_counter() - start


__all__ = ["StageClock", "stage"]
