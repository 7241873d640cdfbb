"""Similarity alignment of faces: to one canonical face by the eye centres, and from one face to another.

Pure numpy / OpenCV on (x, y) pixel coordinates. A similarity is a (2, 3) matrix ``M`` mapping
``p -> M[:, :2] @ p + M[:, 2]`` (OpenCV's ``warpAffine`` convention). The warps are OpenCV's, not kornia's
``warp_affine``: they run on uint8 numpy frames before any tensor exists, with bicubic interpolation.
"""
from __future__ import annotations

import cv2
import numpy as np

#: canonical face size and eye-centre positions: the tight 256-px crops the MEGC driving clips are
#: published in put the eye centres about 110 px apart, a third of the way down
CANONICAL_SIZE = 256
CANONICAL_EYES = ((0.29, 0.33), (0.71, 0.33))   # (x, y) as fractions of the canonical size

LEFT_EYE, RIGHT_EYE = tuple(range(36, 42)), tuple(range(42, 48))   # dlib 68, image left / right


def eye_centres(landmarks: np.ndarray) -> np.ndarray:
    """(68, 2) landmarks -> (2, 2): the centres of the image-left and image-right eye."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"expected (68, 2) landmarks, got {lm.shape}")
    return np.stack([lm[list(LEFT_EYE)].mean(0), lm[list(RIGHT_EYE)].mean(0)])


def similarity_from_two_points(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The (2, 3) similarity (rotation, uniform scale, translation) mapping the two points ``src``
    (2, 2) exactly onto ``dst`` (2, 2)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    # complex numbers: z -> a z + b with a = (d1 - d0) / (s1 - s0)
    s0, s1 = complex(*src[0]), complex(*src[1])
    d0, d1 = complex(*dst[0]), complex(*dst[1])
    if abs(s1 - s0) < 1e-9:
        raise ValueError("the two source points coincide: no similarity is defined")
    a = (d1 - d0) / (s1 - s0)
    b = d0 - a * s0
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]])


def fit_similarity(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares (2, 3) similarity mapping points ``src`` (N, 2) onto ``dst`` (N, 2) (Umeyama, no reflection),
    each point weighted by ``weights`` (N,) where given."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"expected two (N >= 2, 2) point sets of one shape, got {src.shape} and {dst.shape}")
    w = np.full(len(src), 1.0 / len(src)) if weights is None else np.asarray(weights, np.float64)
    w = w / max(float(w.sum()), 1e-12)
    ms, md = w @ src, w @ dst
    a, b = src - ms, dst - md
    u, s, vt = np.linalg.svd((b * w[:, None]).T @ a)
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rot = u @ d @ vt
    scale = float(np.trace(np.diag(s) @ d) / max(float(w @ (a ** 2).sum(1)), 1e-12))
    m = scale * rot
    return np.hstack([m, (md - m @ ms)[:, None]])


def canonical_similarity(landmarks: np.ndarray, size: int = CANONICAL_SIZE) -> np.ndarray:
    """(2, 3) similarity taking a face's eye centres to the canonical ones in a ``size`` square."""
    dst = np.asarray(CANONICAL_EYES, np.float64) * size
    return similarity_from_two_points(eye_centres(landmarks), dst)


def apply_similarity(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (..., 2) points by the (2, 3) similarity ``m``."""
    pts = np.asarray(points, np.float64)
    return pts @ np.asarray(m)[:, :2].T + np.asarray(m)[:, 2]


def invert_similarity(m: np.ndarray) -> np.ndarray:
    """The inverse (2, 3) similarity."""
    return cv2.invertAffineTransform(np.asarray(m, np.float64))


def align_frames(frames, m: np.ndarray, size: int = CANONICAL_SIZE) -> np.ndarray:
    """Warp every frame (T, H, W[, C]) by ``m`` into a ``size`` square (bicubic, edges replicated)."""
    return np.stack([cv2.warpAffine(np.asarray(f), np.asarray(m, np.float64), (size, size), flags=cv2.INTER_CUBIC,
                                    borderMode=cv2.BORDER_REPLICATE) for f in frames])


__all__ = ["CANONICAL_EYES", "CANONICAL_SIZE", "align_frames", "apply_similarity", "canonical_similarity",
           "eye_centres", "fit_similarity", "invert_similarity", "similarity_from_two_points"]
