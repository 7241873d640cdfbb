"""Temporal resampling of a clip's motion: the output's frames at new times, made by interpolating the
driver's flows between its frames (not by blending rendered frames, which would ghost the texture).

A clip of T frames captured at ``capture_fps`` lasts T / capture_fps s. Stretched by s to ``duration_ms``
and sampled at ``out_fps``, its output frame j shows the motion of driver time j / (out_fps s), i.e. driver
position j capture_fps / (out_fps s) in frames, a fraction between two frames: the flows are linear in time
there (a micro-expression's flow changes by a fraction of a pixel between frames at 100-200 fps).
Frame 0 stays the onset; the onset, apex and offset keep their places in time (``retimed_index``).
"""
from __future__ import annotations

import numpy as np


def stretch_of(n_frames: int, capture_fps: float, duration_ms: float | None) -> float:
    """How much ``duration_ms`` lengthens a clip of ``n_frames`` at ``capture_fps`` (None: 1)."""
    return 1.0 if duration_ms is None else float(duration_ms) / (1000.0 * n_frames / float(capture_fps))


def resample_positions(n_frames: int, capture_fps: float, out_fps: float | None = None,
                       duration_ms: float | None = None) -> np.ndarray:
    """(M,) float64: the driver's position (a fractional frame index in [0, n_frames - 1]) of each output frame,
    M = round(n_frames stretch out_fps / capture_fps), at least 1 (``out_fps`` None: ``capture_fps``;
    ``duration_ms`` None: the clip's own duration). The same rate and duration give 0, 1, ..., n_frames - 1."""
    if n_frames < 1 or capture_fps <= 0:
        raise ValueError(f"a clip of {n_frames} frames at {capture_fps} fps cannot be resampled")
    out_fps = float(out_fps or capture_fps)
    step = float(capture_fps) / (out_fps * stretch_of(n_frames, capture_fps, duration_ms))  # driver frames per output frame
    count = max(1, int(round(n_frames / step)))
    return np.minimum(np.arange(count, dtype=np.float64) * step, n_frames - 1)


def retimed_index(frame: int, n_frames: int, capture_fps: float, out_fps: float | None = None,
                  duration_ms: float | None = None) -> int:
    """The output frame at the time of driver ``frame`` (an onset, apex or offset), within the output's frames."""
    positions = resample_positions(n_frames, capture_fps, out_fps, duration_ms)
    step = positions[1] if len(positions) > 1 else 1.0
    return int(min(round(frame / step), len(positions) - 1))


def resample_flows(flows: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``flows`` (T, ...) float, one per driver frame, read at fractional ``positions`` (M,) by linear
    interpolation between the two frames around each: (M, ...) float32. Whole positions copy a frame."""
    flows = np.asarray(flows)
    positions = np.clip(np.asarray(positions, np.float64), 0, len(flows) - 1)
    lower = np.floor(positions).astype(int)
    upper = np.minimum(lower + 1, len(flows) - 1)
    weight = (positions - lower).astype(np.float32).reshape(-1, *([1] * (flows.ndim - 1)))
    return ((1 - weight) * flows[lower] + weight * flows[upper]).astype(np.float32)


def intensity_curve(n_frames: int, apex: int) -> np.ndarray:
    """A micro-expression's intensity over its frames (n_frames,): a raised cosine from 0 at the onset (frame 0)
    to 1 at ``apex`` and back to 0 at the offset (the last frame)."""
    k = np.arange(n_frames, dtype=np.float64)
    rise = 0.5 - 0.5 * np.cos(np.pi * k / max(apex, 1))
    fall = 0.5 + 0.5 * np.cos(np.pi * (k - apex) / max(n_frames - 1 - apex, 1))
    return np.where(k <= apex, rise, fall)


def nearest_frames(positions: np.ndarray) -> np.ndarray:
    """(M,) int: the driver frame nearest each position (what a sheet shows beside a resampled output)."""
    return np.rint(np.asarray(positions)).astype(int)


__all__ = ["intensity_curve", "nearest_frames", "resample_flows", "resample_positions", "retimed_index", "stretch_of"]
