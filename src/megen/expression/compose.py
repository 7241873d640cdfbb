"""A micro-expression's motion from action units, with no driving clip: the basis's fields composed at the asked
intensities and played over time by the onset -> apex -> offset curve (``megen.ops.timing.intensity_curve``),
in the canonical face; generation carries it into the target like a driver's flow (``megen.face.flow``)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from megen.expression.basis import AUBasis
from megen.face.flow import DriverFlow
from megen.ops.timing import intensity_curve

#: the frame rate of AU-generated clips where none is asked for: CASME II's and SAMM's capture rate
AU_FPS = 200.0


@dataclass
class AUMotion:
    """``weights`` {AU: intensity}; ``flows`` (T, S, S, 2) float32 backward flows of every frame to the onset
    (frame 0) in the canonical face, whose onset landmarks are ``landmarks`` (68, 2); the ``apex`` frame, the
    frame rate, the onset -> apex and apex -> offset durations (ms), and where the AU set came from."""

    weights: dict
    flows: np.ndarray
    landmarks: np.ndarray
    apex: int
    fps: float
    rise_ms: float
    fall_ms: float
    source: str
    apex_px: float | None = None

    def driver(self) -> DriverFlow:
        """The motion as a driver's flow on its face crop (the canonical square is the crop)."""
        return DriverFlow(self.flows, np.eye(2, 3), np.asarray(self.landmarks, np.float64), 0)

    def record(self) -> dict:
        """What ``timing.json`` says about the motion."""
        return {"aus": {a: round(float(w), 4) for a, w in self.weights.items()}, "au_source": self.source,
                "onset_frame": 0, "apex_frame": int(self.apex), "offset_frame": len(self.flows) - 1,
                "rise_ms": round(self.rise_ms, 3), "fall_ms": round(self.fall_ms, 3),
                **({"apex_px": round(float(self.apex_px), 4)} if self.apex_px is not None else {})}


def frames_of(rise_ms: float, fall_ms: float, fps: float) -> tuple[int, int]:
    """(frame count, apex frame) of a clip rising for ``rise_ms`` and falling for ``fall_ms`` at ``fps``: at least
    3 frames, the apex strictly inside."""
    n = max(3, int(round((rise_ms + fall_ms) * fps / 1000.0)) + 1)
    apex = int(np.clip(round(rise_ms / max(rise_ms + fall_ms, 1e-9) * (n - 1)), 1, n - 2))
    return n, apex


def landmark_peak(field: np.ndarray, landmarks: np.ndarray) -> float:
    """The largest displacement (px) of a flow (S, S, 2) at the landmarks (68, 2) (nearest pixel)."""
    idx = np.clip(np.rint(np.asarray(landmarks)).astype(int), 0, field.shape[0] - 1)
    return float(np.linalg.norm(field[idx[:, 1], idx[:, 0]], axis=-1).max())


def au_motion(basis: AUBasis, aus=None, emotion: str | None = None, intensity: float = 1.0,
              duration_ms: float | None = None, fps: float | None = None, apex_px: float | None = None) -> AUMotion:
    """The motion of ``aus`` (AU names, each at ``intensity``), or of ``emotion``'s most frequent AU set in the
    basis's data, lasting ``duration_ms`` (default the median of the basis's clips coded with those AUs, split
    into rise and fall in their median ratio) at ``fps`` (default ``AU_FPS``). ``aus=[]`` is the still face.

    ``apex_px``: the apex's largest displacement at a landmark, px of the basis's 256-px canonical face, at
    intensity 1 (``intensity`` still scales it): the composed pattern is scaled to it, instead of the fields'
    own sum (which, for several AUs, is larger than any fitted clip that coded them together)."""
    if (aus is None) == (emotion is None):
        raise ValueError("give aus=[AU...] or emotion=<class>, one of them")
    if emotion is not None:
        names = basis.emotion(emotion)
        entry = basis.emotion_aus[str(emotion).strip().lower()]
        source = (f"emotion={emotion}: its most frequent AU set in {basis.provenance.get('dataset', 'the data')}, "
                  f"{'+'.join(names)} ({entry['count']} of {entry['clips']} clips)")
    else:
        names = tuple(basis.aus[basis.index(a)] for a in aus)
        source = "aus="
    rise, fall = basis.timing(names)
    if duration_ms is not None:
        rise, fall = (float(duration_ms) * rise / (rise + fall), float(duration_ms) * fall / (rise + fall))
    fps = float(fps or AU_FPS)
    n, apex = frames_of(rise, fall, fps)
    weights = {a: float(intensity) for a in names}
    curve = intensity_curve(n, apex).astype(np.float32)
    field = basis.field(weights)
    peak = landmark_peak(field, basis.landmarks) if apex_px is not None else 0.0
    if peak > 0:     # every AU at ``intensity``: the field is intensity x the AUs' sum, whose peak is asked for
        field = field * np.float32(float(apex_px) * float(intensity) / peak)
    flows = curve[:, None, None, None] * field[None]
    return AUMotion(weights, flows, basis.landmarks, apex, fps, rise, fall, source, apex_px)


__all__ = ["AUMotion", "AU_FPS", "au_motion", "frames_of", "landmark_peak"]
