"""Ground truth of prepared synthetic clips: the true flow between two frames, cached or rebuilt."""
from __future__ import annotations

import contextlib

import numpy as np


def true_flow(arrays: dict[str, np.ndarray], src: int, drv: int) -> np.ndarray:
    """The true backward flow (S, S, 2) float32 from frame ``drv`` to frame ``src`` of a synthetic clip.

    Read from the cached ``gt_flow`` when the source is the onset (frame 0), as for ``onset`` and
    ``apex`` pairs; other pairs rebuild it from the ground-truth landmarks (a thin-plate solve).
    """
    if src == 0 and "gt_flow" in arrays:
        return arrays["gt_flow"][drv].astype(np.float32)
    from megen.synthetic.clips import motion_between

    lm, sh = arrays["gt_landmarks"], arrays["gt_shifts"]
    with _one_blas_thread():
        return motion_between(lm[src], lm[drv], sh[src], sh[drv], lm[0], arrays["frames"].shape[-1])


def expression_flow(arrays: dict[str, np.ndarray], drv: int) -> np.ndarray:
    """The true backward flow (S, S, 2) float32 from frame ``drv`` to the onset (frame 0) of a synthetic clip without
    its head motion: the flow the clip would have had with its head still (the frame's head shift, ``gt_shifts``,
    taken off its landmarks and anchors), the expression's alone."""
    from megen.synthetic.clips import motion_between

    lm, sh = arrays["gt_landmarks"], arrays["gt_shifts"]
    with _one_blas_thread():
        return motion_between(lm[0], lm[drv] - sh[drv] + sh[0], sh[0], sh[0], lm[0], arrays["frames"].shape[-1])


_BLAS_CONTROLLER = None


def _one_blas_thread():
    """Keep BLAS on one thread while a flow is rebuilt, so that loader workers do not oversubscribe.

    Uses threadpoolctl when it is installed. It is not a megen dependency; without it nothing is
    limited, which costs little: the rebuild's solve goes through scipy and its grid products are
    banded small enough that OpenBLAS runs them on one thread anyway (``synthetic.warp``). Setting
    ``OPENBLAS_NUM_THREADS=1`` before start-up limits BLAS for the whole process.
    """
    global _BLAS_CONTROLLER
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return contextlib.nullcontext()
    if _BLAS_CONTROLLER is None:   # inspecting the loaded libraries costs milliseconds: once per process
        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")
