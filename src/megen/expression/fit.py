"""Fitting the AU motion basis: every coded clip's onset -> apex flow, its head motion removed, carried into one
canonical face by the landmark correspondence, then one field per AU by ridge regression over the clips' AU
vectors (multi-label, the sheet's intensity where it gives one).

With the clips' canonical apex flows Y (N, P) and their AU intensities X (N, A), the fields B (A, P) minimise
|X B - Y|^2 + ridge |B|^2: B = (X^T X + ridge I)^-1 X^T Y, solved for all pixels at once. AUs that always appear
together (AU1 and AU2 in surprise) share their motion between them; the ridge keeps that split finite.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from megen.data.emotions import composite_class
from megen.expression.action_units import parse_action_units
from megen.expression.basis import BASIS_SIZE, AUBasis, BasisError
from megen.face.align import apply_similarity, canonical_similarity
from megen.face.choices import HeadMotion, Retarget
from megen.face.controls import MotionControls, controlled_flows, face_weight
from megen.face.correspondence import carry_flow, correspondence
from megen.face.crop import crop_box, transform_points

#: an AU with fewer coded clips than this is refused by name (its field would be one clip's motion)
MIN_CLIPS = 3
#: the ridge, in clips: it weighs like this many clips of zero motion per AU
RIDGE = 0.1
#: alternating rounds of the per-clip strength fit (``strength_fields``; 0: plain ridge, every clip at strength 1).
#: Off by default: it fits the pattern better, but its fields, summed, overshoot at intensity 1 (docs/generation.md)
STRENGTH_ROUNDS = 0


@dataclass
class ClipFlow:
    """One coded clip's apex motion in its own pixels: ``flow`` (H, W, 2) backward apex -> onset, ``landmarks``
    (68, 2) the onset's, with its ``aus`` ({AU: intensity}), emotion, dataset and its onset -> apex and apex ->
    offset durations (ms). ``expression`` (H, W, 2): the same flow without the head's motion where it is known
    exactly (the synthetic set's truth); None: the fit estimates the head (``expression_only``)."""

    key: str
    dataset: str
    emotion: str
    aus: dict
    flow: np.ndarray
    landmarks: np.ndarray
    rise_ms: float
    fall_ms: float
    expression: np.ndarray | None = None


def canonical_landmarks(onsets, size: int = BASIS_SIZE) -> np.ndarray:
    """The canonical face: the mean (68, 2) of onset landmark sets (each (68, 2)) aligned by their eye centres
    (``megen.face.align``), framed in a ``size`` square as a prepared clip's crop frames its face
    (``megen.face.crop``). The eye-aligned square of the expression metrics is too tight for motion fields: its
    brows sit a third of an eye distance from the top and its chin below the bottom, which cut off the motion
    around them (a brow raise lost 0.06 of its cosine with the true field through that face)."""
    aligned = [apply_similarity(canonical_similarity(lm, size), lm) for lm in onsets]
    if not aligned:
        raise BasisError("no clip to build the canonical face from")
    mean = np.mean(aligned, axis=0)
    canvas = 8 * size    # crop_box keeps its box inside an image: one large enough never moves it
    placed = mean - mean.mean(axis=0) + canvas / 2.0
    return transform_points(placed, crop_box(placed, (canvas, canvas)), size)


def expression_only(flow: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """A backward flow (H, W, 2) less its rigid head motion (``megen.face.controls``, head=remove)."""
    return controlled_flows(np.asarray(flow, np.float32)[None], landmarks, MotionControls(head=HeadMotion.REMOVE))[0]


def to_canonical(flow: np.ndarray, landmarks: np.ndarray, canonical: np.ndarray, size: int = BASIS_SIZE,
                 retarget: str = "landmarks") -> np.ndarray:
    """A clip's backward flow (H, W, 2) on a face with onset ``landmarks`` (68, 2), carried into the canonical
    face (``canonical`` (68, 2) landmarks in a ``size`` square) by ``retarget``: (size, size, 2) float32."""
    positions, linear = correspondence(canonical, landmarks, (size, size), retarget)
    return carry_flow(flow, positions, linear)


def ridge_fields(design: np.ndarray, targets: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
    """The ridge solution B (A, ...) of design (N, A) B = targets (N, ...)."""
    x = np.asarray(design, np.float64)
    y = np.asarray(targets, np.float64).reshape(len(x), -1)
    b = np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ y)
    return b.reshape((x.shape[1],) + np.asarray(targets).shape[1:])


def strength_fields(design: np.ndarray, targets: np.ndarray, ridge: float = RIDGE,
                    rounds: int = STRENGTH_ROUNDS) -> tuple[np.ndarray, np.ndarray]:
    """Fields B (A, ...) and per-clip strengths s (N,) of ``targets`` (N, ...) ~ s_n (design (N, A) B)_n: each clip
    is its AUs' fields summed, at a strength of its own that the codes do not give (a sheet without intensities
    codes a faint and a strong AU4 alike). Alternating least squares from s = 1: the ridge fields of the design
    scaled by s, then each clip's s by least squares on its composed field; s is kept at mean 1, so the fields
    are those of a clip of average strength. ``rounds=0`` is ``ridge_fields``."""
    x = np.asarray(design, np.float64)
    y = np.asarray(targets, np.float64).reshape(len(x), -1)
    s = np.ones(len(x))
    fields = ridge_fields(x, y, ridge)
    for _ in range(int(rounds)):
        composed = x @ fields                                                     # (N, D)
        s = (composed * y).sum(1) / np.maximum((composed ** 2).sum(1), 1e-12)
        s = np.clip(s, 0.0, None)
        s = s / max(s.mean(), 1e-12)
        fields = ridge_fields(x * s[:, None], y, ridge)
    return fields.reshape((x.shape[1],) + np.asarray(targets).shape[1:]), s


def _au_order(name: str) -> int:
    return int(name[2:])


def most_frequent_sets(clips: list[ClipFlow], kept: set[str]) -> dict[str, dict]:
    """Per emotion (and MEGC composite class), the most frequent AU set among its clips, counting only ``kept``
    AUs: ``{label: {"aus": [...], "count": k, "clips": n}}``; ties go to the smaller set, then the lower AUs."""
    by_label: dict[str, Counter] = {}
    for clip in clips:
        aus = tuple(sorted((a for a in clip.aus if a in kept), key=_au_order))
        if not aus:
            continue
        for label in {clip.emotion.strip().lower(), composite_class(clip.dataset, clip.emotion)} - {None, ""}:
            by_label.setdefault(label, Counter())[aus] += 1
    out = {}
    for label, counter in sorted(by_label.items()):
        aus, count = min(counter.items(), key=lambda kv: (-kv[1], len(kv[0]), [_au_order(a) for a in kv[0]]))
        out[label] = {"aus": list(aus), "count": int(count), "clips": int(sum(counter.values()))}
    return out


def _apex_flow(clip: ClipFlow, head: HeadMotion) -> np.ndarray:
    """The clip's apex flow (H, W, 2) with its head motion kept or removed: the known expression where the clip has
    one, else the robust estimate's remainder (``expression_only``)."""
    if head == HeadMotion.KEEP:
        return clip.flow
    return clip.expression if clip.expression is not None else expression_only(clip.flow, clip.landmarks)


def fit_basis(clips: list[ClipFlow], size: int = BASIS_SIZE, min_clips: int = MIN_CLIPS, ridge: float = RIDGE,
              retarget: Retarget = Retarget.LANDMARKS, head: HeadMotion = HeadMotion.REMOVE,
              provenance: dict | None = None, strength_rounds: int = STRENGTH_ROUNDS) -> AUBasis:
    """The AU basis of coded ``clips``: the canonical face of their onsets, each clip's apex flow (less its head
    motion, ``head="remove"``; ``keep`` where the clips have none) carried into it and held to the face
    (``megen.face.controls.face_weight``), one field per AU coded in at
    least ``min_clips`` clips (the others are refused, named with their counts in ``provenance["refused"]``;
    their clips still count for the AUs they share). Each clip has a strength of its own (``strength_fields``,
    ``strength_rounds`` rounds; 0: every clip at strength 1, plain ridge).

    Removing the head costs a little of the expression: the robust similarity takes 3-10 % of a lone AU12's peak
    (the lip corners' motion is broad) as head motion."""
    clips = [c for c in clips if c.aus]
    counts = Counter(a for c in clips for a in c.aus)
    kept = sorted((a for a, n in counts.items() if n >= min_clips), key=_au_order)
    refused = {a: int(n) for a, n in sorted(counts.items(), key=lambda kv: _au_order(kv[0])) if n < min_clips}
    if not kept:
        raise BasisError(f"no AU is coded in at least min_clips={min_clips} clips: "
                         + (", ".join(f"{a} {n}" for a, n in refused.items()) or "no coded clip"))
    clips = [c for c in clips if any(a in kept for a in c.aus)]
    canonical = canonical_landmarks([c.landmarks for c in clips], size)
    head = HeadMotion.parse(head, "head")
    apex = np.stack([to_canonical(_apex_flow(c, head), c.landmarks, canonical, size, retarget) for c in clips])
    # an AU moves the face: what the flows hold beyond it (the background's noise, the removed head motion's
    # extrapolation) is not the AU's
    apex *= face_weight(canonical, (size, size))[None, ..., None]
    design = np.array([[c.aus.get(a, 0.0) for a in kept] for c in clips])
    fields, strength = strength_fields(design, apex, ridge, strength_rounds)
    fields = fields.astype(np.float32)
    rise = {a: [round(c.rise_ms, 3) for c in clips if a in c.aus] for a in kept}
    fall = {a: [round(c.fall_ms, 3) for c in clips if a in c.aus] for a in kept}
    record = dict(provenance or {})
    record.update(clips=len(clips), clips_per_au={a: int(counts[a]) for a in kept}, refused=refused,
                  min_clips=int(min_clips), ridge=float(ridge), retarget=str(retarget), size=int(size),
                  clip_strength={"rounds": int(strength_rounds), "sd": round(float(strength.std()), 4),
                                 "range": [round(float(strength.min()), 4), round(float(strength.max()), 4)]},
                  head="kept" if head == HeadMotion.KEEP else
                  f"removed before the fit: known in {sum(c.expression is not None for c in clips)} clips, estimated "
                  f"(megen.face.controls) in {sum(c.expression is None for c in clips)}")
    return AUBasis(tuple(kept), fields, canonical, rise, fall, most_frequent_sets(clips, set(kept)), record)


def coded_aus(text) -> dict:
    """A sheet's AU cell as ``{AU: intensity}`` (``parse_action_units``, the unread tokens dropped)."""
    return parse_action_units(text)[0]


__all__ = ["ClipFlow", "MIN_CLIPS", "RIDGE", "STRENGTH_ROUNDS", "canonical_landmarks", "coded_aus", "expression_only",
           "fit_basis", "most_frequent_sets", "ridge_fields", "strength_fields", "to_canonical"]
