"""Measured face motion kept on disk, keyed by everything it is a function of.

A clip's ``face_motion`` under a classical estimator depends only on the clip's pixels, its onset landmarks,
the estimator's settings, the canonical size and OpenCV's version. Real-pair scoring measures the same driving
clips, static copies and published outputs in every run of a study, and under TV-L1 that is about four fifths of
its time, so each is measured once and read back after. A generated clip is cached the same way: a different
output is a different key, so nothing stale is ever read.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from megen.metrics.expression import CANONICAL_SIZE, face_motion
from megen.ops.flow import estimator
from megen.runtime.io import atomic_open

#: bump when face_motion's arithmetic changes: every cached measurement is then measured again
CACHE_VERSION = 1


def motion_key(frames, landmarks: np.ndarray, name: str, size: int = CANONICAL_SIZE) -> str:
    """The cache key of ``face_motion(frames (T, H, W[, C]), landmarks (68, 2), size, estimator(name))``: a
    SHA-256 over the pixels, the landmarks, the estimator's settings, the size and the versions."""
    h = hashlib.sha256()
    clip = np.ascontiguousarray(np.stack([np.asarray(f) for f in frames]))
    lm = np.ascontiguousarray(np.asarray(landmarks, np.float64))
    header = f"v{CACHE_VERSION}|{name}|{estimator(name)!r}|{size}|cv2 {cv2.__version__}|{clip.dtype}{clip.shape}"
    h.update(header.encode())
    h.update(clip.tobytes())
    h.update(lm.tobytes())
    return h.hexdigest()


class MotionCache:
    """``face_motion`` by estimator name, read from ``root/<key>.npz`` when measured before (``root=None``:
    always measured, nothing written). Unreadable files are measured again and replaced."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root else None
        self.hits = self.misses = 0

    def measure(self, frames, landmarks: np.ndarray, name: str,
                size: int = CANONICAL_SIZE) -> tuple[np.ndarray, np.ndarray]:
        """(expression motion (T, R, 2), head motion (T, 2)) in px of the canonical ``size`` face."""
        if self.root is None:
            return face_motion(frames, landmarks, size, estimator=estimator(name))
        path = self.root / f"{motion_key(frames, landmarks, name, size)}.npz"
        if path.is_file():
            try:
                with np.load(path) as stored:
                    out = stored["motion"], stored["head"]
                self.hits += 1
                return out
            except (OSError, ValueError, KeyError):
                pass        # a torn or foreign file: measure again and replace it
        motion, head = face_motion(frames, landmarks, size, estimator=estimator(name))
        with atomic_open(path) as f:
            np.savez(f, motion=motion, head=head)
        self.misses += 1
        return motion, head


__all__ = ["CACHE_VERSION", "MotionCache", "motion_key"]
