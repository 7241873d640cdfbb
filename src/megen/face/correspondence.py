"""Where each pixel of the target's face lies in the driver's: the correspondence that carries the driver's
motion into the target's face, its vectors and their positions (``retarget=``).

- ``similarity``: one least-squares similarity of the 68 onset landmarks (scale, rotation, translation).
  A target whose face has other proportions gets the brow and mouth motion where the driver's brows and
  mouth were.
- ``landmarks``: that similarity bent by a thin-plate spline through the 68 landmark pairs, so that the
  driver's brows, lids, nose and lips land on the target's own.

A backward flow ``f_d`` of the driver (the driver's pixel q shows the onset content at q + f_d(q)) becomes,
at the target's pixel p with driver position q = c(p), f_t(p) = L^-1 f_d(c(p)), L the similarity's linear part
(its scale and rotation): the positions follow the bend, the vectors the face's size and orientation. The
bend's own Jacobian would be exact to first order where the map is smooth, but between the inner and outer
lip points, a few pixels apart, faces of other mouth shapes fold it (det J <= 0), and its inverse there blows
the flow up by orders of magnitude; on the synthetic cross-identity pairs it doubled the end-point error.

The spline is solved here in closed form rather than with ``kornia.geometry.transform.get_tps_transform``:
kornia builds its kernel between the source and destination points and has no smoothing term, and dlib's
landmarks on real frames are noisy by a pixel.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from megen.face.align import apply_similarity, eye_centres, fit_similarity
from megen.face.choices import Retarget

#: the spline's smoothing, relative to the kernel on the face's RMS radius: landmarks land within a fraction of a
#: pixel of their partners on a 256-px face, and dlib's jitter does not fold the map
TPS_SMOOTHING = 1e-4
#: the bend is the spline's within the landmarks' hull, fading beyond it with a Gaussian of this share of the eye
#: distance (far from its points a spline through noisy landmarks swings by tens of pixels)
BEND_FALLOFF = 0.5
#: the spline is evaluated every this many pixels and interpolated (it is smooth; 16x fewer kernel sums)
BEND_STEP = 4


def _kernel(r2: np.ndarray) -> np.ndarray:
    """The thin-plate kernel U = r^2 log r^2 of squared distances (0 at 0)."""
    return np.where(r2 > 0, r2 * np.log(np.maximum(r2, 1e-300)), 0.0)


def thin_plate_spline(src: np.ndarray, values: np.ndarray, smoothing: float = TPS_SMOOTHING):
    """The smoothing thin-plate spline through ``src`` (N, 2) with ``values`` (N, D): a function of points (..., 2)
    -> (..., D), affine far from the points, of least bending energy. Coordinates are centred and scaled to
    the points' RMS radius for the solve (the kernel is not scale-free)."""
    src = np.asarray(src, np.float64)
    centre = src.mean(0)
    scale = max(float(np.sqrt(((src - centre) ** 2).sum(1).mean())), 1e-9)
    c = (src - centre) / scale
    n = len(c)
    k = _kernel(((c[:, None] - c[None]) ** 2).sum(-1)) + smoothing * np.eye(n)
    p = np.hstack([np.ones((n, 1)), c])
    system = np.block([[k, p], [p.T, np.zeros((3, 3))]])
    rhs = np.vstack([np.asarray(values, np.float64), np.zeros((3, values.shape[1]))])
    solution = np.linalg.solve(system, rhs)
    w, a = solution[:n], solution[n:]

    def evaluate(points: np.ndarray) -> np.ndarray:
        x = (np.asarray(points, np.float64) - centre) / scale
        flat = x.reshape(-1, 2)
        out = _kernel(((flat[:, None] - c[None]) ** 2).sum(-1)) @ w + a[0] + flat @ a[1:]
        return out.reshape(*x.shape[:-1], values.shape[1])

    return evaluate


def pixel_grid(h: int, w: int) -> np.ndarray:
    """(h, w, 2) float32 pixel-centre coordinates (x, y)."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([xs, ys], axis=-1)


def correspondence(target_landmarks: np.ndarray, driver_landmarks: np.ndarray, shape: tuple[int, int],
                   retarget: Retarget = Retarget.SIMILARITY) -> tuple[np.ndarray, np.ndarray]:
    """The driver's position (H, W, 2) float32 of every pixel of a target of ``shape`` (H, W), and the linear
    part (2, 2) of the landmarks' similarity (target -> driver), from the onset landmarks (68, 2) of both faces
    and ``retarget`` (``Retarget``)."""
    retarget = Retarget.parse(retarget, "retarget")
    tl, dl = np.asarray(target_landmarks, np.float64), np.asarray(driver_landmarks, np.float64)
    m = fit_similarity(tl, dl)
    positions = apply_similarity(m, pixel_grid(*shape).astype(np.float64))
    if retarget == Retarget.LANDMARKS:
        # the spline bends the similarity: it interpolates what the similarity leaves over at the landmarks
        positions = positions + landmark_bend(tl, dl - apply_similarity(m, tl), shape)
    return positions.astype(np.float32), m[:, :2]


def eye_distance(landmarks: np.ndarray) -> float:
    """The distance (px) between the eye centres of 68 ``landmarks``: the face's own unit of length."""
    left, right = eye_centres(landmarks)
    return float(np.linalg.norm(right - left))


def hull_distance(point_sets, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) float32: each pixel's distance (px) to the union of the convex hulls of ``point_sets`` (each (N, 2)),
    0 inside them."""
    outside = np.full(shape, 255, np.uint8)
    for points in point_sets:
        hull = cv2.convexHull(np.round(np.asarray(points, np.float64) * 16).astype(np.int32))
        cv2.fillConvexPoly(outside, hull, 0, lineType=cv2.LINE_8, shift=4)
    return cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def hull_falloff(landmarks: np.ndarray, shape: tuple[int, int], falloff_px: float) -> np.ndarray:
    """(H, W) float64: 1 inside the hull of ``landmarks`` (N, 2), exp(-d^2 / 2 falloff^2) at a distance d beyond."""
    distance = hull_distance([landmarks], shape).astype(np.float64)
    return np.exp(-0.5 * (distance / max(falloff_px, 1.0)) ** 2)


def landmark_bend(landmarks: np.ndarray, residuals: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 2) float64: the thin-plate spline through ``residuals`` (68, 2) at ``landmarks`` (68, 2), evaluated
    every ``BEND_STEP`` px and interpolated bilinearly, faded beyond the landmarks' hull (``BEND_FALLOFF``)."""
    h, w = shape
    ch, cw = -(-h // BEND_STEP), -(-w // BEND_STEP)
    # the coarse grid's pixel centres, where cv2.resize puts them on the fine one
    ys = (np.arange(ch) + 0.5) * h / ch - 0.5
    xs = (np.arange(cw) + 0.5) * w / cw - 0.5
    coarse = np.stack(np.meshgrid(xs, ys), axis=-1)
    bend = thin_plate_spline(landmarks, residuals, TPS_SMOOTHING)(coarse)
    bend = cv2.resize(bend.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float64)
    return bend * hull_falloff(landmarks, shape, BEND_FALLOFF * eye_distance(landmarks))[..., None]


def carry_flow(flow: np.ndarray, positions: np.ndarray, linear: np.ndarray) -> np.ndarray:
    """Backward flows (S, S, 2) or (T, S, S, 2) of the driver's crop at the target's pixels: read at their driver
    ``positions`` (H, W, 2) (bilinear; nothing moves outside the driver's crop) and taken back through the
    inverse of ``linear`` (2, 2), the target -> driver similarity's scale and rotation. Returns (H, W, 2) or
    (T, H, W, 2) float32."""
    flow = np.ascontiguousarray(flow, np.float32)
    frames = flow.reshape(-1, *flow.shape[-3:])
    h, w = frames.shape[1:3]
    # one batched grid_sample for a clip's frames: a third of the time of OpenCV's remap frame by frame, which
    # also rounds the positions to 1/32 px; align_corners=True puts pixel i at coordinate i, as here
    grid = torch.from_numpy(np.ascontiguousarray(positions, np.float32))
    grid = torch.stack([grid[..., 0] * (2.0 / max(w - 1, 1)) - 1.0, grid[..., 1] * (2.0 / max(h - 1, 1)) - 1.0], -1)
    with torch.no_grad():
        channels_first, grids = torch.from_numpy(frames).permute(0, 3, 1, 2), grid.expand(len(frames), -1, -1, -1)
        sampled = F.grid_sample(channels_first, grids, mode="bilinear", padding_mode="zeros", align_corners=True)
        sampled = sampled.permute(0, 2, 3, 1).contiguous().numpy()
    # the 2x2 per pixel as OpenCV's transform of a two-channel image (a fifth of a torch einsum's time here)
    inverse = np.linalg.inv(np.asarray(linear, np.float64)).astype(np.float32)
    carried = cv2.transform(sampled.reshape(-1, sampled.shape[2], 2), inverse)
    return carried.reshape(*flow.shape[:-3], *positions.shape[:2], 2)


__all__ = ["BEND_FALLOFF", "BEND_STEP", "TPS_SMOOTHING", "carry_flow", "correspondence", "eye_distance",
           "hull_distance", "hull_falloff", "landmark_bend", "thin_plate_spline"]
