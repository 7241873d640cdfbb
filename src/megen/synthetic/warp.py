"""Smooth dense warps from sparse point displacements (thin-plate splines): numpy, scipy, OpenCV.

Conventions: points are pixel (x, y); a *backward flow* ``f`` of shape (H, W, 2) says that
pixel ``p`` of the warped frame takes its value from ``p + f(p)`` of the source frame.
"""
from __future__ import annotations

import cv2
import numpy as np
import scipy.linalg


def _tps_kernel(r2: np.ndarray) -> np.ndarray:
    # U(r) = r^2 log r, written with r^2 to avoid a square root; U(0) = 0 because 0 * log(tiny) = 0
    return 0.5 * r2 * np.log(np.maximum(r2, np.finfo(r2.dtype).tiny))


def _squared_distances(points: np.ndarray, ctrl: np.ndarray) -> np.ndarray:
    """(M, 2) x (N, 2) -> (M, N), per coordinate so that no (M, N, 2) temporary is built."""
    return (points[:, None, 0] - ctrl[None, :, 0]) ** 2 + (points[:, None, 1] - ctrl[None, :, 1]) ** 2


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
    k = _tps_kernel(_squared_distances(ctrl, ctrl)) + regularization * np.eye(n)
    p = np.concatenate([np.ones((n, 1)), ctrl], axis=1)
    a = np.zeros((n + 3, n + 3))
    a[:n, :n], a[:n, n:], a[n:, :n] = k, p, p.T
    b = np.zeros((n + 3, values.shape[1]))
    b[:n] = values
    # scipy's symmetric solver, not np.linalg.solve: numpy's OpenBLAS threads a system this size
    # (> 100 unknowns), and on a busy machine each solve then waits milliseconds for a core
    return ctrl, scipy.linalg.solve(a, b, assume_a="sym", check_finite=False)


def tps_eval(model: tuple[np.ndarray, np.ndarray], points: np.ndarray) -> np.ndarray:
    """Evaluate a fitted spline at (M, 2) points -> (M, D)."""
    ctrl, coeffs = model
    pts = np.asarray(points, dtype=np.float64)
    n = len(ctrl)
    return _tps_kernel(_squared_distances(pts, ctrl)) @ coeffs[:n] + coeffs[n] + pts @ coeffs[n + 1 :]


def tps_eval_grid(model: tuple[np.ndarray, np.ndarray], xs: np.ndarray, ys: np.ndarray, rows: int = 4) -> np.ndarray:
    """Evaluate a fitted spline on the grid ``xs`` x ``ys`` -> (len(ys), len(xs), D) float64.

    Squared distances are sums of per-axis terms, so the kernel is built ``rows`` grid rows at a
    time: no (H, W, N, 2) temporary, a band that stays in cache, and a matrix product small enough
    that BLAS keeps it on one thread (prepare may share the machine with training).
    """
    ctrl, coeffs = model
    n, d = len(ctrl), coeffs.shape[1]
    xs = np.asarray(xs, dtype=np.float64)
    ys = np.asarray(ys, dtype=np.float64)
    dx2 = (xs[:, None] - ctrl[None, :, 0]) ** 2                     # (W, N)
    # a tiny floor keeps log finite where a grid point sits on a control point; there U = 0 still
    dy2 = (ys[:, None] - ctrl[None, :, 1]) ** 2 + np.finfo(np.float64).tiny   # (H, N)
    weights = 0.5 * coeffs[:n]                                      # U's 1/2 folded in
    out = np.empty((len(ys), len(xs), d))
    for a in range(0, len(ys), rows):
        d2 = (dy2[a : a + rows, None, :] + dx2[None, :, :]).reshape(-1, n)
        k = cv2.log(d2)     # as exact as np.log in float64 and about a third faster
        k *= d2
        out[a : a + rows] = (k @ weights).reshape(-1, len(xs), d)
    out += coeffs[n] + xs[None, :, None] * coeffs[n + 1] + ys[:, None, None] * coeffs[n + 2]
    return out


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


def flow_model(src_points: np.ndarray, dst_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The spline of the backward flow that moves ``src_points`` to ``dst_points`` (see ``grid_flow``)."""
    dst = np.asarray(dst_points, dtype=np.float64)
    return tps_fit(dst, np.asarray(src_points, dtype=np.float64) - dst)


def grid_flow(model: tuple[np.ndarray, np.ndarray], size: int, scale: int = 1) -> np.ndarray:
    """Sample a ``flow_model`` for a frame ``scale`` times finer -> (size*scale, size*scale, 2) float32.

    Fine pixel q covers frame coordinates around (q + 0.5) / scale - 0.5 (so that a ``scale`` x
    ``scale`` block averages to frame pixel p, as cv2.INTER_AREA does); the flow is returned in
    fine pixels. ``scale`` = 1 samples the frame's own pixel centres.
    """
    c = (np.arange(size * scale, dtype=np.float64) + 0.5) / scale - 0.5
    return (tps_eval_grid(model, c, c) * scale).astype(np.float32)


def backward_flow(src_points: np.ndarray, dst_points: np.ndarray, size: int) -> np.ndarray:
    """Dense backward flow (size, size, 2) that moves ``src_points`` to ``dst_points``.

    Warping a source frame with it puts the content found at ``src_points[i]`` at
    ``dst_points[i]`` exactly, and interpolates smoothly in between.
    """
    return grid_flow(flow_model(src_points, dst_points), size)


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
