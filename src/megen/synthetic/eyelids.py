"""An upper eyelid sliding down over the eye: motion with an occlusion, and its exact backward field.

The lid's edge drops by ``d(s) = drop * (1 - (s / half_width)^2)`` along the eye's axis (s from the eye's
centre), the skin above it, up to half an eye's width higher, stretching to follow; the eye below the new
edge stays where it was, so the strip of it that the lid now covers is gone from the frame. Every pixel of
the moved frame still shows one point of the onset, so the backward field (frame pixel p shows the onset at
p + field(p)) is exact everywhere: it jumps from ``-drop`` to 0 across the lid's new edge. That jump is what
the smooth expression, local and head fields never have, and what a real blink or eye narrowing brings.

The field is a function of position, so it is evaluated on the frame's pixel centres for the true flow and
on the finer image's for rendering, keeping the edge sharp at the finer scale.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the 68-landmark indices of each eye: outer corner, two upper lid points, inner corner, two lower lid points
EYES = (np.r_[36:42], np.r_[42:48])
#: landmarks sit at about a third of the eye's half width from its centre, where a parabola is 8/9 of its peak
_PEAK_OVER_LANDMARKS = 9.0 / 8.0
#: the most of the eye's opening a lid may cover
MAX_CLOSURE = 0.85


@dataclass(frozen=True)
class Lid:
    """One eye's upper lid dropping by ``drop`` px at its middle (frame pixels)."""

    centre: np.ndarray      # (2,) the eye's centre, between its corners
    axis: np.ndarray        # (2,) unit vector along the eye, corner to corner (image x for an upright face)
    half_width: float       # half the corner-to-corner distance
    upper: float            # the upper lid's height above the axis at the centre
    drop: float             # how far the lid's edge moves down at the centre

    @classmethod
    def on(cls, landmarks: np.ndarray, eye: int, drop: float) -> "Lid":
        """The lid of eye 0 (landmarks 36-41) or 1 (42-47) of a face's (68, 2) landmarks; ``drop`` is capped
        at ``MAX_CLOSURE`` of the eye's opening."""
        points = np.asarray(landmarks, np.float64)[EYES[eye]]
        a, b = points[0], points[3]
        centre, axis = (a + b) / 2, (b - a) / np.linalg.norm(b - a)
        if axis[0] < 0:                       # the same orientation for both eyes: "down" is the normal's side
            axis = -axis
        normal = np.array([-axis[1], axis[0]])
        upper = -float(np.mean((points[1:3] - centre) @ normal)) * _PEAK_OVER_LANDMARKS
        lower = float(np.mean((points[4:6] - centre) @ normal)) * _PEAK_OVER_LANDMARKS
        opening = max(upper + lower, 0.0)
        return cls(centre, axis, float(np.linalg.norm(b - a) / 2), upper, float(min(drop, MAX_CLOSURE * opening)))

    def field(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """The backward field (..., 2) at points ``(xs, ys)`` (any equal shapes, frame pixels)."""
        normal = np.array([-self.axis[1], self.axis[0]])
        dx, dy = xs - self.centre[0], ys - self.centre[1]
        s = (dx * self.axis[0] + dy * self.axis[1]) / self.half_width
        t = dx * normal[0] + dy * normal[1]                           # down is positive
        profile = np.clip(1.0 - s * s, 0.0, None)
        lid = -self.upper * profile                                    # the lid's edge in the onset
        top = lid - self.half_width                                    # the skin above it that stretches
        edge = lid + self.drop * profile                               # the lid's edge in the frame
        inside = (t >= top) & (t < edge) & (profile > 0)
        along = np.where(inside, -self.drop * profile * (t - top) / np.maximum(edge - top, 1e-9), 0.0)
        return along[..., None] * normal


def closing_eyes(landmarks: np.ndarray, rng: np.random.Generator, drop: float) -> list[Lid]:
    """Both lids (a blink or a squint, seven times in ten) or one, dropping by ``drop`` px."""
    eyes = (0, 1) if rng.random() < 0.7 else (int(rng.integers(2)),)
    return [Lid.on(landmarks, eye, drop) for eye in eyes]


def lids_field(lids: list[Lid], xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The lids' backward fields at points ``(xs, ys)``, summed (they do not overlap): (..., 2) float32."""
    total = np.zeros(np.shape(xs) + (2,))
    for lid in lids:
        total += lid.field(xs, ys)
    return total.astype(np.float32)


__all__ = ["EYES", "Lid", "MAX_CLOSURE", "closing_eyes", "lids_field"]
