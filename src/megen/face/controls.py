"""Controls on a driver's motion once it is in the target's frame: split it into rigid head motion and
expression, then keep or remove the head, scale the expression (``gain``) and hold it to chosen facial
regions (``regions``); and its timing (``out_fps``, ``duration_ms``: ``megen.ops.timing``).

Pure functions on backward flows (T, H, W, 2) in pixels (``megen.face.flow``'s convention) and the
target's onset landmarks (68, 2) in the same pixels.

The head's motion is the similarity (scale, rotation, translation) that moves the face as a whole: fitted
to the flow over the whole face and refitted with the points that move on their own weighed down (a
micro-expression moves a brow, a lid or a lip corner, a small part of the face, against the head's
motion of all of it).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from megen.face.align import fit_similarity
from megen.face.choices import FaceRegion, HeadMotion, Retarget
from megen.face.correspondence import eye_distance, hull_distance
from megen.face.flow import pixel_grid
from megen.ops.timing import resample_positions

#: the robust head fit: reweighting rounds, and the smallest residual scale (px) below which nothing is an outlier
HEAD_ITERATIONS, HEAD_MIN_SCALE_PX = 5, 0.05
#: the Tukey scale in robust sds of the residuals: the textbook 4.685. A tighter scale (1.5) takes a third as much of
#: a synthetic expression for head motion, whose heads move by exact similarities, but on real clips it keeps to
#: one part of the face and leaves 0.4-0.5 px of the head's motion, which no similarity holds whole (the face is
#: not flat), in the expression (experiments/controls, "The head estimate")
HEAD_TUKEY = 4.685
#: the regions ``regions=`` may name, each by its landmarks
REGIONS: dict[str, tuple[int, ...]] = {
    FaceRegion.BROWS.value: tuple(range(17, 27)),
    FaceRegion.EYES.value: tuple(range(36, 48)),
    FaceRegion.NOSE.value: tuple(range(27, 36)),
    FaceRegion.MOUTH.value: tuple(range(48, 68)),
}
#: a chosen region's weight: 1 within this share of the eye distance of its landmarks' hull, then a Gaussian
#: falloff of this share (smooth, no seam; near zero at the neighbouring region, a quarter eye distance away)
REGION_PAD, REGION_FALLOFF = 0.1, 0.05
#: the expression's weight on a frame: 1 within this share of the eye distance of the face's landmark hull (a
#: brow raise moves the forehead above it), then a Gaussian falloff of this share: the background and the hair
#: stay still
FACE_PAD, FACE_FALLOFF = 0.3, 0.15
GAIN_RANGE = (0.0, 4.0)
#: the output frame rates and durations timing may ask for (a micro-expression: 1/25 to 1/5 s, at 25-1000 fps)
OUT_FPS_RANGE, DURATION_MS_RANGE = (1.0, 1000.0), (1.0, 60000.0)


@dataclass(frozen=True)
class MotionControls:
    """``head``: keep or remove the driver's rigid head motion; ``gain``: the expression's scale (0-4);
    ``regions``: the names of ``REGIONS`` whose expression moves (None: all of the face); ``out_fps``: the
    output's frame rate (None: the driver's capture rate); ``duration_ms``: its duration (None: the driver's);
    ``retarget``: how the motion is carried into the target's face (``Retarget``)."""

    head: HeadMotion = HeadMotion.KEEP
    gain: float = 1.0
    regions: tuple[str, ...] | None = None
    out_fps: float | None = None
    duration_ms: float | None = None
    retarget: Retarget = Retarget.SIMILARITY

    def __post_init__(self):
        # the options' strings become members here, where the controls enter the code
        object.__setattr__(self, "head", HeadMotion.parse(self.head, "head"))
        object.__setattr__(self, "retarget", Retarget.parse(self.retarget, "retarget"))
        if not GAIN_RANGE[0] <= float(self.gain) <= GAIN_RANGE[1]:
            raise ValueError(f"gain={self.gain}: expected a number in [{GAIN_RANGE[0]:g}, {GAIN_RANGE[1]:g}]")
        unknown = sorted(set(self.regions or ()) - set(REGIONS))
        if unknown or (self.regions is not None and not self.regions):
            raise ValueError(f"regions={list(self.regions or [])}: expected a non-empty list of "
                             f"{', '.join(REGIONS)}" + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
        for name, value, (low, high) in (("out_fps", self.out_fps, OUT_FPS_RANGE),
                                          ("duration_ms", self.duration_ms, DURATION_MS_RANGE)):
            if value is not None and not low <= float(value) <= high:
                raise ValueError(f"{name}={value}: expected a number in [{low:g}, {high:g}]")

    @property
    def identity(self) -> bool:
        """True where the controls leave the motion as it is."""
        return not self.changed()

    @property
    def reshapes(self) -> bool:
        """True where the controls change the flows' fields (head, gain or regions)."""
        return self.head != HeadMotion.KEEP or float(self.gain) != 1.0 or self.regions is not None

    @property
    def retimes(self) -> bool:
        """True where the controls change the timing (out_fps or duration_ms)."""
        return self.out_fps is not None or self.duration_ms is not None

    def positions(self, n_frames: int, capture_fps: float):
        """The driver positions (M,) of the output frames (``megen.ops.timing.resample_positions``) of a clip of
        ``n_frames`` captured at ``capture_fps``, or None where the timing is the driver's own."""
        if not self.retimes:
            return None
        return resample_positions(n_frames, capture_fps, self.out_fps, self.duration_ms)

    def changed(self) -> list[str]:
        """The options set away from their defaults, as ``key=value``."""
        return [text for text, on in ((f"head={self.head}", self.head != HeadMotion.KEEP),
                                      (f"gain={self.gain:g}", float(self.gain) != 1.0),
                                      (f"regions=[{','.join(self.regions or ())}]", self.regions is not None),
                                      (f"out_fps={self.out_fps:g}" if self.out_fps else "", self.out_fps is not None),
                                      (f"duration_ms={self.duration_ms:g}" if self.duration_ms else "",
                                       self.duration_ms is not None),
                                      (f"retarget={self.retarget}", self.retarget != Retarget.SIMILARITY)) if on]

    def describe(self) -> str:
        return ", ".join(self.changed())

    @classmethod
    def of(cls, cfg) -> "MotionControls":
        """From a command's ``head``, ``gain``, ``regions``, ``out_fps``, ``duration_ms`` and ``retarget`` options
        (missing ones: the defaults)."""
        regions = cfg.get("regions")
        timing = [None if cfg.get(k) is None else float(cfg.get(k)) for k in ("out_fps", "duration_ms")]
        return cls(cfg.get("head") or HeadMotion.KEEP, float(1.0 if cfg.get("gain") is None else cfg.get("gain")),
                   None if regions is None else tuple(str(r) for r in regions), *timing,
                   cfg.get("retarget") or Retarget.SIMILARITY)


def sample_flow(flow: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A flow (H, W, 2) read at points (P, 2) (x, y pixels), bilinear, edges extended: (P, 2) float64."""
    xy = np.ascontiguousarray(points, np.float32).reshape(1, -1, 2)
    out = cv2.remap(np.ascontiguousarray(flow, np.float32), xy[..., 0], xy[..., 1], cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1, 2).astype(np.float64)


def face_points(landmarks: np.ndarray, step: float) -> np.ndarray:
    """Grid points (P, 2) every ``step`` px inside the hull of the 68 ``landmarks``: where the head is seen."""
    lm = np.asarray(landmarks, np.float64)
    lo, hi = lm.min(0), lm.max(0)
    xs, ys = np.meshgrid(np.arange(lo[0], hi[0], step), np.arange(lo[1], hi[1], step))
    points = np.stack([xs.ravel(), ys.ravel()], axis=1)
    hull = cv2.convexHull(lm.astype(np.float32))
    inside = [cv2.pointPolygonTest(hull, (float(x), float(y)), False) >= 0 for x, y in points]
    return points[np.asarray(inside, bool)]


def robust_similarity(src: np.ndarray, dst: np.ndarray, iterations: int = HEAD_ITERATIONS,
                      tukey: float = HEAD_TUKEY) -> np.ndarray:
    """The (2, 3) similarity taking ``src`` (P, 2) to ``dst`` (P, 2), refitted with Tukey weights of the residuals
    (scale: ``tukey`` robust sds, 1.4826 x their median, floored at ``HEAD_MIN_SCALE_PX``): points that move on
    their own (a facial action) stop pulling it."""
    m = fit_similarity(src, dst)
    for _ in range(iterations):
        m = fit_similarity(src, dst, tukey_weights(np.linalg.norm(src @ m[:, :2].T + m[:, 2] - dst, axis=1), tukey))
    return m


def tukey_weights(residual: np.ndarray, tukey: float = HEAD_TUKEY) -> np.ndarray:
    """Tukey's biweight (P,) of residuals (P,) px at a scale of ``tukey`` robust sds (1.4826 x their median, floored
    at ``HEAD_MIN_SCALE_PX``): 1 at 0, falling to 0 at the scale and beyond."""
    scale = max(tukey * 1.4826 * float(np.median(residual)), HEAD_MIN_SCALE_PX)
    return np.clip(1 - (residual / scale) ** 2, 0, None) ** 2


def head_points(landmarks: np.ndarray) -> np.ndarray:
    """Where ``head_motion`` fits the head: a grid (P, 2) inside the hull of the 68 ``landmarks``, a 32nd of the face's
    width apart."""
    lm = np.asarray(landmarks, np.float64)
    return face_points(lm, max(float(np.ptp(lm[:, 0])) / 32, 1.0))


def head_motion(flows: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The rigid head motion of each frame: the similarity (T, 2, 3) that takes the face's points p to
    p + flow(p), fitted robustly (``robust_similarity``) over a grid inside the face (a 32nd of its width) so that
    the regions a facial action moves do not pull it. Flows (T, H, W, 2) backward, landmarks (68, 2) of the
    reference frame."""
    points = head_points(landmarks)
    return np.stack([robust_similarity(points, points + sample_flow(f, points)) for f in flows])


def similarity_field(matrices: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The displacement M p - p of each similarity (T, 2, 3) at every pixel of an (H, W) grid: (T, H, W, 2)."""
    grid = pixel_grid(*shape).astype(np.float64)
    moved = grid @ np.transpose(matrices[:, :, :2], (0, 2, 1))[:, None] + matrices[:, None, None, :, 2]
    return (moved - grid).astype(np.float32)


def region_weights(landmarks: np.ndarray, shape: tuple[int, int], regions) -> np.ndarray:
    """(H, W) float32 in [0, 1]: 1 within ``REGION_PAD`` eye distances of the chosen ``regions``' hulls (names of
    ``REGIONS``), exp(-(d - pad)^2 / 2 falloff^2) at a distance d beyond; its gradient is at most
    1 / (falloff sqrt(e)) per px (falloff in px)."""
    lm = np.asarray(landmarks, np.float64)
    eyes = eye_distance(lm)
    distance = hull_distance([lm[list(REGIONS[name])] for name in regions], shape)
    beyond = np.maximum(distance - REGION_PAD * eyes, 0.0)
    return np.exp(-0.5 * (beyond / max(REGION_FALLOFF * eyes, 0.5)) ** 2).astype(np.float32)


def face_weight(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) float32 in [0, 1]: 1 within ``FACE_PAD`` eye distances of the landmarks' (68, 2) hull, a Gaussian of
    ``FACE_FALLOFF`` eye distances beyond."""
    eyes = eye_distance(landmarks)
    beyond = np.maximum(hull_distance([landmarks], shape) - FACE_PAD * eyes, 0.0)
    return np.exp(-0.5 * (beyond / max(FACE_FALLOFF * eyes, 0.5)) ** 2).astype(np.float32)


def controlled_flows(flows: np.ndarray, landmarks: np.ndarray, controls: MotionControls | None) -> np.ndarray:
    """``flows`` (T, H, W, 2) with ``controls`` applied: expression = flow - head motion; out = head (kept or
    not) + gain x region weights x expression (``controls`` None: the flows as they are). ``landmarks`` (68, 2):
    the target's reference frame's."""
    if controls is None or not controls.reshapes:
        return flows
    flows = np.asarray(flows, np.float32)
    head = similarity_field(head_motion(flows, landmarks), flows.shape[1:3])
    expression = (flows - head) * np.float32(controls.gain)
    if controls.regions is not None:
        expression *= region_weights(landmarks, flows.shape[1:3], controls.regions)[None, ..., None]
    return expression + head if controls.head == HeadMotion.KEEP else expression


__all__ = ["DURATION_MS_RANGE", "FACE_FALLOFF", "FACE_PAD", "GAIN_RANGE", "OUT_FPS_RANGE", "MotionControls", "REGIONS",
           "controlled_flows", "face_points", "face_weight", "head_motion", "head_points", "region_weights",
           "robust_similarity", "sample_flow", "similarity_field", "tukey_weights"]
