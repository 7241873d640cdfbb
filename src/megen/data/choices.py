"""The values of the options the data layer reads: which frame pairs a clip gives training. Imports nothing
heavy."""
from __future__ import annotations

from megen.runtime.choice import Choice


class PairMode(Choice):
    """``data.pairs`` / ``data.val_pairs``: which frame pairs a clip gives the training loop."""
    RANDOM = "random"
    ONSET = "onset"
    APEX = "apex"


class AnnotationLayout(Choice):
    """``layout=``: the annotation layouts of the long-video databases (``megen.spotting.annotations``)."""
    CASME_SQ = "casme_sq"        # CAS(ME)^2
    SAMM_LV = "samm_lv"          # SAMM Long Videos


__all__ = ["AnnotationLayout", "PairMode"]
