"""Face-model metrics: AKD (68 dlib landmarks) and AED (dlib identity descriptor).

Both run dlib on the CPU, frame by frame, on uint8 copies of the (B, C, H, W) [0, 1] frames.
Frames smaller than ``min_size`` are upscaled first: dlib's HOG detector does not find faces
much under 80 px, and the training crops are 64-128 px. A pair is skipped, and counted in the
``skipped`` state, when no face is found in either frame.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np
import torch
from torchmetrics import Metric

from megen.face.landmarks import FaceNotFoundError, _shape_predictor, detect_face, model_path, to_gray_uint8
from megen.metrics._frames import check_pair, to_uint8_hwc


@functools.cache
def _face_descriptor_model():
    import dlib

    return dlib.face_recognition_model_v1(str(model_path("face_descriptor")))


def upscale(image: np.ndarray, min_size: int) -> tuple[np.ndarray, float]:
    """Resize (H, W[, C]) uint8 so that its short side is at least ``min_size`` -> (image, scale)."""
    short = min(image.shape[:2])
    if short >= min_size:
        return image, 1.0
    scale = min_size / short
    h, w = image.shape[:2]
    size = (round(w * scale), round(h * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_CUBIC), scale


def _face_shape(gray: np.ndarray, upsample: int):
    """dlib 68-point full_object_detection of the largest face in ``gray``, or None."""
    import dlib

    rect = detect_face(gray, upsample=upsample)
    if rect is None:
        return None
    return _shape_predictor()(gray, dlib.rectangle(rect.left(), rect.top(), rect.right(), rect.bottom()))


def frame_landmarks(frame: torch.Tensor, min_size: int = 256, upsample: int = 0) -> np.ndarray:
    """68 landmarks (68, 2) in pixel (x, y) of the *original* frame (C, H, W) in [0, 1].

    Raises FaceNotFoundError when no face is found.
    """
    gray, scale = upscale(to_gray_uint8(to_uint8_hwc(frame)), min_size)
    shape = _face_shape(gray, upsample)
    if shape is None:
        raise FaceNotFoundError(f"no face found (frame {tuple(frame.shape[-2:])}, upscaled x{scale:.2f})")
    pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
    # back to the original pixel grid (pixel centres, as cv2.resize maps them)
    return (pts + 0.5) / scale - 0.5


def frame_descriptor(frame: torch.Tensor, min_size: int = 256, upsample: int = 0) -> np.ndarray:
    """128-d dlib identity descriptor of the face in a (C, H, W) [0, 1] frame.

    Raises FaceNotFoundError when no face is found.
    """
    rgb = to_uint8_hwc(frame)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)   # the ResNet takes RGB only
    rgb, scale = upscale(rgb, min_size)
    shape = _face_shape(to_gray_uint8(rgb), upsample)
    if shape is None:
        raise FaceNotFoundError(f"no face found (frame {tuple(frame.shape[-2:])}, upscaled x{scale:.2f})")
    return np.asarray(_face_descriptor_model().compute_face_descriptor(rgb, shape), dtype=np.float64)


def _landmark_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b, axis=1).mean())


def _descriptor_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


class _PairedFaceMetric(Metric):
    """Accumulates one distance per (generated, target) frame pair where both have a face.

    ``features(frame, min_size, upsample)`` describes one frame (or raises FaceNotFoundError);
    ``distance(a, b)`` compares two descriptions.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, features, distance, min_size: int = 256, upsample: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.features, self.distance = features, distance
        self.min_size = min_size
        self.upsample = upsample
        self.add_state("dist_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("skipped", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, generated: torch.Tensor, target: torch.Tensor) -> None:
        """generated, target: (B, C, H, W) in [0, 1]; target is the driving/ground-truth frame."""
        check_pair(generated, target)
        for g, t in zip(generated, target):
            try:
                fg = self.features(g, self.min_size, self.upsample)
                ft = self.features(t, self.min_size, self.upsample)
            except FaceNotFoundError:
                self.skipped += 1
                continue
            self.dist_sum += self.distance(fg, ft)
            self.n += 1

    def compute(self) -> torch.Tensor:
        """Mean distance over the pairs with a face in both frames (nan when there were none)."""
        return self.dist_sum / self.n if self.n > 0 else torch.full_like(self.dist_sum, float("nan"))


class AverageKeypointDistance(_PairedFaceMetric):
    """AKD: mean Euclidean distance (pixels of the input frames) of the 68 dlib landmarks."""

    def __init__(self, min_size: int = 256, upsample: int = 0, **kwargs):
        super().__init__(frame_landmarks, _landmark_distance, min_size, upsample, **kwargs)


class AverageEuclideanDistance(_PairedFaceMetric):
    """AED: L2 distance of dlib's 128-d face-recognition descriptors (identity preservation).

    dlib's own same-person threshold is about 0.6.
    """

    def __init__(self, min_size: int = 256, upsample: int = 0, **kwargs):
        super().__init__(frame_descriptor, _descriptor_distance, min_size, upsample, **kwargs)


__all__ = ["AverageEuclideanDistance", "AverageKeypointDistance", "frame_descriptor", "frame_landmarks", "upscale"]
