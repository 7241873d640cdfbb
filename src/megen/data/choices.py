"""The values of the options the data layer reads: which frame pairs a clip gives training. Imports nothing
heavy."""
from __future__ import annotations

from megen.runtime.choice import Choice


class PairMode(Choice):
    """``data.pairs`` / ``data.val_pairs``: which frame pairs a clip gives the training loop."""
    RANDOM = "random"
    ONSET = "onset"
    APEX = "apex"


__all__ = ["PairMode"]
