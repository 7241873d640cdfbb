"""Training-free motion transfer: the driving clip's dense optical flow, mapped into the target face
by the similarity between their landmarks, warps the target at its own resolution and colour.

It is the baseline a learned model has to beat on real clips (as the static copy is on synthetic
ones), and a way to get output without a trained model (``python -m megen.generate
method=flow_transfer``). The driver's flow is measured on a crop of its face kept at least
``min_size`` px (a micro-expression moves a 256-px face by under a pixel: at 64 px it is noise);
the measurement and the mapping are ``megen.face.flow``.
"""
from __future__ import annotations

import numpy as np

from megen.face.controls import controlled_flows
from megen.face.flow import DRIVER_FLOW, DriverFlow, driver_flows, target_fields, warp_backward
from megen.ops.timing import resample_flows


def transfer(target: np.ndarray, target_landmarks: np.ndarray, driver: DriverFlow, controls=None,
             positions=None) -> np.ndarray:
    """Animate ``target`` (H, W[, C]) uint8 with a driver's flows (``megen.face.flow.DriverFlow``: a measured
    clip's, or AU motion's in the canonical face), carried into the target by its landmarks (68, 2), shaped by
    ``controls`` (``megen.face.controls.MotionControls``: head, gain, regions, retarget) and read at the driver
    ``positions`` (M,) (fractional frames, ``megen.ops.timing``; None: every frame).

    Returns (T | M, H, W[, C]) uint8 at the target's own size and colour; frame 0 is the target."""
    target = np.asarray(target)
    retarget = "similarity" if controls is None else controls.retarget
    fields = target_fields(driver, target_landmarks, target.shape[:2], retarget)
    fields = controlled_flows(fields, target_landmarks, controls)
    if positions is not None:
        fields = resample_flows(fields, positions)
    return np.stack([target if k == 0 else warp_backward(target, f) for k, f in enumerate(fields)])


def flow_transfer(target: np.ndarray, target_landmarks: np.ndarray, frames, driving_landmarks: np.ndarray,
                  min_size: int = 256, estimator=DRIVER_FLOW, controls=None, positions=None) -> np.ndarray:
    """Animate ``target`` (H, W[, C]) uint8 with a driving clip (T, h, w[, c]) without a model, the driver's
    flow measured by ``estimator`` (``megen.ops.flow``; default Farnebäck, the transfer's own) and shaped by
    ``controls`` (``megen.face.controls.MotionControls``: head, gain, regions) in the target's frame, and read at
    the driver ``positions`` (M,) (fractional frames, ``megen.ops.timing``; None: every frame).

    Returns (T | M, H, W[, C]) uint8 at the target's own size and colour; frame 0 is the target.
    """
    return transfer(target, target_landmarks, driver_flows(frames, driving_landmarks, min_size, estimator), controls,
                    positions)


__all__ = ["flow_transfer", "transfer"]
