"""The crop policy shared by preparation and generation: one square box per clip from the onset face."""
from __future__ import annotations

import cv2
import numpy as np


def crop_box(landmarks: np.ndarray, image_shape: tuple[int, int], margin: float = 0.35) -> tuple[int, int, int, int]:
    """Square box (x0, y0, x1, y1) around 68 landmarks, enlarged by ``margin`` of the face size.

    The face size is the larger side of the landmarks' bounding box; the box is extended
    upwards by an extra half margin because dlib's landmarks stop at the brows. The box is
    shifted (and only if unavoidable shrunk) to stay inside an image of ``image_shape`` (H, W).
    """
    h, w = int(image_shape[0]), int(image_shape[1])
    lm = np.asarray(landmarks, dtype=np.float64)
    x0, y0 = lm.min(axis=0)
    x1, y1 = lm.max(axis=0)
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    cx = (x0 + x1) / 2.0
    cy = (y0 + y1) / 2.0 - 0.5 * margin * (y1 - y0)
    side = int(round(min(side, h, w)))
    bx = int(round(cx - side / 2.0))
    by = int(round(cy - side / 2.0))
    bx = min(max(bx, 0), w - side)
    by = min(max(by, 0), h - side)
    return bx, by, bx + side, by + side


def crop_and_resize(image: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """Crop ``box`` from an (H, W[, C]) image and resize it to (size, size[, C]) with area filtering."""
    x0, y0, x1, y1 = box
    patch = np.ascontiguousarray(image[y0:y1, x0:x1])
    if patch.size == 0:
        raise ValueError(f"empty crop {box} for image of shape {image.shape}")
    interp = cv2.INTER_AREA if patch.shape[0] >= size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)


def transform_points(points: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """Map (..., 2) pixel points of the full image into the (size x size) crop of ``box``."""
    x0, y0, x1, _ = box
    scale = size / float(x1 - x0)
    pts = np.asarray(points, dtype=np.float64)
    # pixel centres, as cv2.resize maps them
    return (pts - np.array([x0, y0]) + 0.5) * scale - 0.5
