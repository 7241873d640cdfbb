"""The values of the options that name an optical-flow estimator (``flow.estimator=``, ``real.estimators=``,
``spotset.estimator=``). Imports nothing heavy: the config check reads them before OpenCV or torch loads."""
from __future__ import annotations

from megen.runtime.choice import Choice


class FlowEstimator(Choice):
    """An optical-flow estimator by name: the classical ones of ``megen.ops.flow.ESTIMATORS`` and the learned
    micro-motion estimator (``megen.models.microflow``), which only the guide and the flow transfer take."""
    FARNEBACK = "farneback"
    DIS = "dis"                  # DIS, medium preset
    DIS_FAST = "dis_fast"
    DEEPFLOW = "deepflow"
    TVL1 = "tvl1"
    LEARNED = "learned"

    @classmethod
    def classical(cls) -> tuple[str, ...]:
        """The names of the estimators OpenCV computes (every one but ``learned``)."""
        return tuple(v for v in cls.values() if v != cls.LEARNED)


__all__ = ["FlowEstimator"]
