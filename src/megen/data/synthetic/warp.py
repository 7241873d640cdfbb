"""Smooth dense warps from sparse point displacements (thin-plate splines), pure numpy.

Conventions: points are pixel (x, y); a *backward flow* ``f`` of shape (H, W, 2) says that
pixel ``p`` of the warped frame takes its value from ``p + f(p)`` of the source frame.
"""
from __future__ import annotations

import cv2
import numpy as np


def _tps_kernel(r2: np.ndarray) -> np.ndarray:
    # U(r) = r^2 log r, written with r^2 to avoid a square root; U(0) = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 0.5 * r2 * np.log(r2)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def tps_fit(ctrl: np.ndarray, values: np.ndarray, regularization: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Fit a thin-plate spline f with f(ctrl[i]) = values[i].

    Args:
        ctrl: (N, 2) control points. values: (N, D) values at them.
    Returns:
        (ctrl, coeffs) where coeffs is (N + 3, D): N radial weights then the affine part.
    """
    ctrl = np.asarray(ctrl, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    n = len(ctrl)
    d2 = ((ctrl[:, None, :] - ctrl[None, :, :]) ** 2).sum(-1)
    k = _tps_kernel(d2) + regularization * np.eye(n)
    p = np.concatenate([np.ones((n, 1)), ctrl], axis=1)
    a = np.zeros((n + 3, n + 3))
    a[:n, :n], a[:n, n:], a[n:, :n] = k, p, p.T
    b = np.zeros((n + 3, values.shape[1]))
    b[:n] = values
    return ctrl, np.linalg.solve(a, b)


def tps_eval(model: tuple[np.ndarray, np.ndarray], points: np.ndarray) -> np.ndarray:
    """Evaluate a fitted spline at (M, 2) points -> (M, D)."""
    ctrl, coeffs = model
    pts = np.asarray(points, dtype=np.float64)
    n = len(ctrl)
    k = _tps_kernel(((pts[:, None, :] - ctrl[None, :, :]) ** 2).sum(-1))
    return k @ coeffs[:n] + coeffs[n] + pts @ coeffs[n + 1 :]


def anchor_points(size: int, landmarks: np.ndarray, ring_scale: float = 1.35, n_ring: int = 16, n_side: int = 6):
    """Zero-motion anchors: the frame border and an ellipse around the face (M, 2).

    They keep the warp local to the face, like real micro-expressions that leave the
    background and the head outline in place.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    centre = (lm.min(0) + lm.max(0)) / 2.0
    radii = (lm.max(0) - lm.min(0)) / 2.0 * ring_scale
    t = np.linspace(0, 2 * np.pi, n_ring, endpoint=False)
    ring = centre + np.stack([np.cos(t) * radii[0], np.sin(t) * radii[1]], axis=1)
    s = np.linspace(0, size - 1, n_side)
    edge = np.concatenate([
        np.stack([s, np.zeros_like(s)], 1), np.stack([s, np.full_like(s, size - 1)], 1),
        np.stack([np.zeros_like(s[1:-1]), s[1:-1]], 1), np.stack([np.full_like(s[1:-1], size - 1), s[1:-1]], 1),
    ])
    return np.concatenate([ring, edge])


def backward_flow(src_points: np.ndarray, dst_points: np.ndarray, size: int) -> np.ndarray:
    """Dense backward flow (size, size, 2) that moves ``src_points`` to ``dst_points``.

    Warping a source frame with it puts the content found at ``src_points[i]`` at
    ``dst_points[i]`` exactly, and interpolates smoothly in between.
    """
    dst = np.asarray(dst_points, dtype=np.float64)
    model = tps_fit(dst, np.asarray(src_points, dtype=np.float64) - dst)
    c = np.arange(size, dtype=np.float64)
    yy, xx = np.meshgrid(c, c, indexing="ij")
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
    return tps_eval(model, grid).reshape(size, size, 2).astype(np.float32)


def warp_image(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``image`` (H, W[, C]) at ``p + flow(p)`` with bilinear interpolation and reflected borders."""
    h, w = flow.shape[:2]
    xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(
        np.ascontiguousarray(image, dtype=np.float32), xx + flow[..., 0], yy + flow[..., 1],
        interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101,
    )


def with_anchors(landmarks: np.ndarray, anchors: np.ndarray, shift=(0.0, 0.0)) -> np.ndarray:
    """Landmarks followed by the anchors moved by a global (head) shift: the TPS control points."""
    return np.concatenate([np.asarray(landmarks, dtype=np.float64), anchors + np.asarray(shift)], axis=0)
