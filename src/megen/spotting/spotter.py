"""A classical baseline spotter, a floor for learned ones: optical-flow magnitude in the facial regions against
the nose, peaks above a threshold.

The face is aligned once to the canonical face by the first frame's landmarks (``megen.face.align``), at a
small size where a micro-expression still moves a fraction of a pixel. Frame t is compared with frame t - k
(k: about half a micro-expression at the video's rate); the nose's mean flow (it barely moves in an
expression) is taken away as the head's, and the signal is the largest mean flow magnitude over the
expression regions (``megen.metrics.expression.EXPRESSION_REGIONS``). Peaks above mean + p (max - mean), at
least 2k frames apart, become intervals [peak - k, peak + k], the usual construction of the MEGC optical-flow
baselines.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from megen.face.align import align_frames, apply_similarity, canonical_similarity
from megen.face.correspondence import hull_distance
from megen.face.landmarks import FaceNotFoundError, detect_landmarks, to_gray_uint8
from megen.metrics.expression import region_masks
from megen.ops.flow import estimator

#: the landmarks of the nose's bridge and tip: their region is the head's reference
NOSE = tuple(range(27, 36))


@dataclass(frozen=True)
class SpotterSettings:
    """``k``: frames between the compared frames; ``threshold``: p of mean + p (max - mean); ``size``: the
    canonical face's side (px) where flow is measured; ``flow``: a ``megen.ops.flow`` estimator's name;
    ``smooth``: frames of the moving average over the signal."""

    k: int = 3
    threshold: float = 0.5
    size: int = 128
    flow: str = "dis_fast"
    smooth: int = 3


def motion_signal(frames, settings: SpotterSettings, landmarks: np.ndarray | None = None,
                  realign: int | None = None) -> np.ndarray:
    """(N,) float: the expression-motion signal of a video (N of (H, W[, C]) uint8, any iterable: frames are
    read one at a time, so a long video need not fit in memory); 0 for the first k frames. ``landmarks`` (68, 2)
    of the first frame (None: found with dlib). ``realign``: find the face again every that many frames (a long
    video's head wanders off the first frame's crop); a frame without a face keeps the last alignment. Frames
    t - k and t are always aligned alike, by frame t's alignment."""
    flow, k, size = estimator(settings.flow), settings.k, settings.size
    # the last k + 1 frames as read and as aligned: each frame is aligned once, and the window again when the
    # alignment changes
    recent: deque = deque(maxlen=k + 1)
    aligned: deque = deque(maxlen=k + 1)
    signal, align = [], None
    for t, frame in enumerate(frames):
        gray = to_gray_uint8(frame)
        recent.append(gray)
        if align is None or (realign and t % realign == 0):
            found = landmarks if t == 0 and landmarks is not None else _landmarks(gray, required=align is None)
            if found is not None:
                align = _alignment(found, size)
                aligned = deque(align_frames(list(recent)[:-1], align[0], size) if len(recent) > 1 else [],
                                maxlen=k + 1)
        aligned.append(align_frames([gray], align[0], size)[0])
        if t < k:
            signal.append(0.0)
            continue
        _, regions, nose = align
        f = flow(aligned[0], aligned[-1]).astype(np.float64)
        f = f - f[nose].mean(axis=0)
        signal.append(max(np.linalg.norm(f[r].mean(axis=0)) if r.any() else 0.0 for r in regions))
    signal = np.asarray(signal, np.float64)
    if settings.smooth > 1:
        signal = np.convolve(signal, np.ones(settings.smooth) / settings.smooth, mode="same")
    return signal


def _landmarks(gray: np.ndarray, required: bool) -> np.ndarray | None:
    try:
        return detect_landmarks(gray, fallback=True, source="the video's first frame" if required else None)
    except FaceNotFoundError:
        if required:
            raise
        return None


def _alignment(landmarks: np.ndarray, size: int):
    """The canonical similarity of a frame with these ``landmarks``, the expression regions and the nose there."""
    m = canonical_similarity(landmarks, size)
    lm = apply_similarity(m, landmarks)
    regions, _ = region_masks(lm, size)
    return m, regions, hull_distance([lm[list(NOSE)]], (size, size)) == 0


def spot_intervals(signal: np.ndarray, settings: SpotterSettings) -> list[tuple[int, int]]:
    """Inclusive intervals (onset, offset) around the peaks of ``signal`` above mean + p (max - mean)."""
    signal = np.asarray(signal, np.float64)
    if not len(signal) or signal.max() <= 0:
        return []
    level = signal.mean() + settings.threshold * (signal.max() - signal.mean())
    peaks, _ = find_peaks(signal, height=level, distance=max(2 * settings.k, 1))
    return [(max(0, int(p) - settings.k), min(len(signal) - 1, int(p) + settings.k)) for p in peaks]


def random_intervals(n_frames: int, count: int, length: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``count`` intervals of ``length`` frames at uniformly random places: the chance baseline."""
    starts = rng.integers(0, max(n_frames - length, 1), count)
    return [(int(s), int(s) + length - 1) for s in starts]


__all__ = ["NOSE", "SpotterSettings", "motion_signal", "random_intervals", "spot_intervals"]
