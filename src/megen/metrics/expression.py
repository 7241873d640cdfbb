"""Expression motion of a real clip without ground truth, and how well another clip reproduces it.

A clip is aligned to the canonical face (``megen.face.align``) from its onset landmarks; dense
optical flow from the onset to each frame is averaged inside each facial region, and the face's
mean flow is subtracted, so that what remains is the expression, not the head. Two clips of
different people are then comparable region by region, frame by frame:

* ``motion_cosine(driver, generated)``: cosine of the two (T, R, 2) expression-motion arrays;
* ``amplitude_ratio``: RMS of the generated over the driver's;
* a generated clip moving under ``MIN_AMPLITUDE`` of the driver transfers nothing: both score 0.

Pure numpy / OpenCV functions; the scorer of real pairs (``megen.evaluation.real_pairs``) is their user.
"""
from __future__ import annotations

import cv2
import numpy as np

from megen.face.align import CANONICAL_SIZE, align_frames, apply_similarity, canonical_similarity
from megen.face.landmarks import to_gray_uint8
from megen.ops.flow import FARNEBACK_FACE, flows_from_reference

# dlib 68-point indices. Left and right halves are kept apart: an asymmetric expression (a one-sided
# brow raise, a smile pulling both corners outwards) averages to nothing over a whole brow or mouth.
EXPRESSION_REGIONS: dict[str, tuple[int, ...]] = {
    "brow_left": tuple(range(17, 22)),
    "brow_right": tuple(range(22, 27)),
    "eye_left": tuple(range(36, 42)),
    "eye_right": tuple(range(42, 48)),
    "nose": tuple(range(27, 36)),
    "mouth_left": (48, 49, 50, 58, 59, 60, 61, 67),
    "mouth_right": (52, 53, 54, 55, 56, 63, 64, 65),
}
#: the indices of EXPRESSION_REGIONS other than the eyes: a lid that slides over the eye is an occlusion, which
#: each estimator reads at its own size, so studies also score the expression without them
NOT_EYES = tuple(i for i, name in enumerate(EXPRESSION_REGIONS) if not name.startswith("eye"))
#: region padding, as a fraction of the distance between the eye centres: landmarks sit on the edges of
#: brows, lids and lips, and the skin that moves extends beyond them
REGION_PAD = 0.12
#: a generated clip moving less than this fraction of the driver's expression amplitude transfers nothing
MIN_AMPLITUDE = 0.05
#: Farnebäck at the canonical 256 px: the library's usual settings; frames are mirror-padded first
SCORER_FLOW = FARNEBACK_FACE


def _hull_mask(points: np.ndarray, size: int, pad: float) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    hull = cv2.convexHull(np.round(np.asarray(points) * 16).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=4)
    if pad >= 1:
        k = 2 * int(round(pad)) + 1
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return mask.astype(bool)


def region_masks(landmarks: np.ndarray, size: int = CANONICAL_SIZE, pad: float = REGION_PAD) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the expression regions (R, size, size) and of the whole face (size, size), bool.

    Each region is the convex hull of its landmarks dilated by ``pad`` eye distances; the face is
    the hull of all 68 landmarks.
    """
    lm = np.asarray(landmarks, np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"expected (68, 2) landmarks, got {lm.shape}")
    eyes = np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0))
    regions = np.stack([_hull_mask(lm[list(idx)], size, pad * eyes) for idx in EXPRESSION_REGIONS.values()])
    return regions, _hull_mask(lm, size, 0)


def canonical_clip(frames, landmarks: np.ndarray, size: int = CANONICAL_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W[, C]) and their onset landmarks (68, 2) -> the gray clip aligned to the
    canonical face (T, size, size) uint8, and the landmarks there (68, 2)."""
    m = canonical_similarity(landmarks, size)
    gray = np.stack([to_gray_uint8(f) for f in frames])
    return align_frames(gray, m, size), apply_similarity(m, landmarks)


def onset_flows(gray: np.ndarray, estimator=SCORER_FLOW) -> np.ndarray:
    """(T, H, W) uint8 -> (T, H, W, 2) float32 forward flow from frame 0 to each frame (frame 0: zeros), by
    ``estimator`` (``megen.ops.flow``)."""
    return flows_from_reference(gray, 0, estimator)


def regional_expression(flows: np.ndarray, regions: np.ndarray, face: np.ndarray) -> np.ndarray:
    """Per-frame mean flow of each region minus the face's mean flow.

    Args:
        flows: (T, H, W, 2) onset -> frame flow in pixels.
        regions: (R, H, W) bool region masks; face: (H, W) bool.
    Returns:
        (T, R, 2) float64 expression motion in pixels.
    """
    flows = np.asarray(flows, np.float64)
    if not face.any() or not regions.reshape(len(regions), -1).any(1).all():
        raise ValueError("an empty region or face mask: the landmarks lie outside the frame")
    head = flows[:, face].mean(axis=1)                                                  # (T, 2)
    per_region = np.stack([flows[:, r].mean(axis=1) for r in regions], axis=1)          # (T, R, 2)
    return per_region - head[:, None]


def face_motion(frames, landmarks: np.ndarray, size: int = CANONICAL_SIZE,
                estimator=SCORER_FLOW) -> tuple[np.ndarray, np.ndarray]:
    """A clip (T, H, W[, C]) with its onset landmarks (68, 2) -> its expression motion (T, R, 2)
    (``regional_expression``) and its head motion, the face's mean flow (T, 2), in pixels of the canonical
    ``size`` face, the flow measured by ``estimator`` (``megen.ops.flow``)."""
    gray, lm = canonical_clip(frames, landmarks, size)
    regions, face = region_masks(lm, size)
    flows = onset_flows(gray, estimator)
    return regional_expression(flows, regions, face), np.asarray(flows[:, face].mean(axis=1), np.float64)


def expression_motion(frames, landmarks: np.ndarray, size: int = CANONICAL_SIZE, estimator=SCORER_FLOW) -> np.ndarray:
    """A clip (T, H, W[, C]) with its onset landmarks (68, 2) -> expression motion (T, R, 2) in pixels
    of the canonical ``size`` face (``EXPRESSION_REGIONS`` order), its flow measured by ``estimator``
    (``megen.ops.flow``)."""
    return face_motion(frames, landmarks, size, estimator)[0]


def drift(head: np.ndarray) -> float:
    """The largest whole-face displacement (px) of a head-motion curve (T, 2) (``face_motion``)."""
    return float(np.linalg.norm(np.asarray(head, np.float64), axis=-1).max()) if len(head) else 0.0


def rms(motion: np.ndarray) -> float:
    """Root mean square of an expression-motion array (pixels): its amplitude."""
    m = np.asarray(motion, np.float64)
    return float(np.sqrt((m ** 2).mean())) if m.size else 0.0


def motion_cosine(driver: np.ndarray, generated: np.ndarray) -> float:
    """Cosine between two expression-motion arrays of one shape over regions x frames x axes (0 when either is zero)."""
    a, b = np.asarray(driver, np.float64).ravel(), np.asarray(generated, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"expression motions differ in shape: {np.shape(driver)} vs {np.shape(generated)}")
    den = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / den) if den > 0 else 0.0


def transfer_scores(driver: np.ndarray, generated: np.ndarray, min_amplitude: float = MIN_AMPLITUDE) -> dict[str, float]:
    """``cosine`` and ``amplitude`` (RMS ratio) of a generated clip's expression motion against the driver's.

    Below ``min_amplitude`` of the driver's RMS the generated clip transfers nothing and both are 0:
    the direction of a motion too faint to see is noise.
    """
    d, g = rms(driver), rms(generated)
    ratio = g / d if d > 0 else 0.0
    if ratio < min_amplitude:
        return {"cosine": 0.0, "amplitude": 0.0}
    return {"cosine": motion_cosine(driver, generated), "amplitude": ratio}


def sharpness(gray: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Variance of the Laplacian of a (H, W) image inside ``mask`` (all pixels when None)."""
    lap = cv2.Laplacian(np.asarray(gray, np.float64), cv2.CV_64F, ksize=3)
    return float(lap[mask].var() if mask is not None else lap.var())


__all__ = ["EXPRESSION_REGIONS", "MIN_AMPLITUDE", "NOT_EYES", "REGION_PAD", "SCORER_FLOW", "canonical_clip", "drift",
           "expression_motion", "face_motion", "motion_cosine", "onset_flows", "region_masks", "regional_expression", "rms",
           "sharpness", "transfer_scores"]
