"""A clip's dense optical flow measured on its face at a resolution where micro-motion is visible, and
mapped between faces by the correspondence of their landmarks (``megen.face.correspondence``).

Used by the training-free flow transfer, by the flow-guided model's guide at generation, and by the
synthetic set, whose training guides are measured the same way on its finely rendered frames.

Flows here are *backward*: ``field[y, x] = (dx, dy)`` says that output pixel (x, y) shows the
content of the reference frame at (x + dx, y + dy), which is what warping needs.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from megen.face.align import apply_similarity
from megen.face.correspondence import carry_flow, correspondence, pixel_grid
from megen.face.crop import crop_box
from megen.face.landmarks import to_gray_uint8
from megen.ops.flow import FARNEBACK_FACE, flows_to_reference

#: the estimator the flow transfer measures the driver with by default (a model measures with its own guide,
#: flow.estimator=, kept in its checkpoint)
DRIVER_FLOW = FARNEBACK_FACE


@dataclass
class DriverFlow:
    """Backward flows of a driving clip on its face crop: ``flows`` (T, S, S, 2), frame k -> frame
    ``reference`` (the onset), pixels of the crop; ``to_crop`` (2, 3) maps the clip's pixels into the crop;
    ``landmarks`` (68, 2) the reference frame's landmarks in the crop."""

    flows: np.ndarray
    to_crop: np.ndarray
    landmarks: np.ndarray
    reference: int = 0


def driver_flows(frames, landmarks: np.ndarray, min_size: int = 256, estimator=DRIVER_FLOW,
                 reference: int = 0) -> DriverFlow:
    """Backward optical flow of every frame of a clip (T, H, W[, C]) to its onset (frame ``reference``),
    on the onset face's crop (``megen.face.crop.crop_box``) scaled to at least ``min_size`` px (never
    reduced) by ``estimator`` (``megen.ops.flow``); ``landmarks`` are the reference frame's."""
    first = to_gray_uint8(frames[reference])
    x0, y0, x1, _ = crop_box(landmarks, first.shape)
    side = x1 - x0
    scale = max(1.0, min_size / side)
    size = int(round(side * scale))
    to_crop = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]])
    crops = [cv2.warpAffine(to_gray_uint8(f), to_crop, (size, size), flags=cv2.INTER_CUBIC,
                            borderMode=cv2.BORDER_REPLICATE) for f in frames]
    flows = flows_to_reference(crops, reference, estimator)
    return DriverFlow(flows, to_crop, apply_similarity(to_crop, landmarks), reference)


def warp_backward(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Warp an (H, W[, C]) image by a backward field (H, W, 2): out(p) = image(p + field(p)); bicubic,
    edges replicated; same dtype (uint8 saturates)."""
    grid = pixel_grid(*image.shape[:2]) + np.asarray(field, np.float32)
    return cv2.remap(np.ascontiguousarray(image), grid[..., 0], grid[..., 1], cv2.INTER_CUBIC,
                     borderMode=cv2.BORDER_REPLICATE)


def target_fields(driver: DriverFlow, target_landmarks: np.ndarray, shape: tuple[int, int],
                  retarget: str = "similarity") -> np.ndarray:
    """The driver's backward flows (T, S, S, 2) at the target's pixels: (T, H, W, 2), carried by the
    correspondence of the 68 onset landmarks (``megen.face.correspondence``: ``retarget`` ``similarity`` or
    ``landmarks``)."""
    positions, linear = correspondence(target_landmarks, driver.landmarks, shape, retarget)
    return carry_flow(driver.flows, positions, linear)


def measured_guides(frames, landmarks: np.ndarray, target_landmarks: np.ndarray, shape: tuple[int, int],
                    reference: int = 0, min_size: int = 256, estimator=DRIVER_FLOW,
                    retarget: str = "similarity") -> np.ndarray:
    """The flow-guided model's guide: backward flows (T, H, W, 2) of every frame to frame ``reference``,
    measured on the clip's face crop at >= ``min_size`` px by ``estimator`` (``driver_flows``) and carried onto a
    face whose landmarks are ``target_landmarks`` in an (H, W) grid (``target_fields``, by ``retarget``).

    ``frames`` (T, h, w[, C]) uint8 with the reference frame's ``landmarks`` (68, 2) in their pixels.
    """
    return target_fields(driver_flows(frames, landmarks, min_size, estimator, reference), target_landmarks, shape,
                         retarget)


__all__ = ["DRIVER_FLOW", "DriverFlow", "driver_flows", "measured_guides", "pixel_grid",
           "target_fields", "warp_backward"]
