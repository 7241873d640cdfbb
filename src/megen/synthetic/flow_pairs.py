"""Pairs of face frames with exact sub-pixel motion between them: the micro-motion estimator's training
and validation data (``megen.models.microflow``).

A pair is an identity's onset face and the same face moved by a known backward field (frame pixel p shows
the onset at p + field(p)), rendered from the identity's finer image and area-reduced like every
synthetic frame, then passed through the camera's nuisances (``megen.synthetic.nuisance``). The
motion is one of:

* ``expression``: a facial action's landmark displacements (``action_units``), spread by the same
  spline as the synthetic set's clips;
* ``local``: one to three Gaussian bumps of random width and direction on random landmarks, exactly still
  elsewhere: one region moves while the rest of the face does not, as in a micro-expression, so that
  the estimator learns not to spread motion into still skin;
* ``smooth``: a random smooth field (filtered noise of random correlation length), motion of no facial
  meaning, so the estimator learns to measure rather than to recognise a face's actions;

in the shares ``PairSpec.kinds``, with a rigid head motion added to half of them and a tenth left still. The
peak of the non-rigid part is log-uniform in ``motion_px`` (pixels of the pair's frame). A share
``PairSpec.occlusion`` of the moving pairs also closes one eye or both a little (``megen.synthetic.eyelids``: the
lid covers part of the eye, a field with an edge), by its own peak from the same range.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from megen.synthetic.action_units import EMOTION_AUS, expression_template
from megen.synthetic.eyelids import Lid, closing_eyes, lids_field
from megen.synthetic.identities import Identity
from megen.synthetic.nuisance import Nuisance, draw_head_motion, photometric
from megen.synthetic.warp import anchor_points, flow_model, tps_eval_grid, warp_image, with_anchors

#: coarse grid step of the spline and smooth fields (pixels of the frame); bilinear in between
FIELD_STEP = 4
#: the non-rigid motion's kinds, in the order of ``PairSpec.kinds``
KINDS = ("expression", "local", "smooth")
#: the local bumps' width range (Gaussian sd, pixels of a 256-px frame)
LOCAL_SD_PX = (8.0, 32.0)


@dataclass(frozen=True)
class PairSpec:
    """What a pair set draws from (its seed picks identities' draws, not the identities)."""

    motion_px: tuple[float, float] = (0.05, 3.0)
    still: float = 0.1               # share of pairs with no motion but the nuisances
    kinds: tuple[float, ...] = (0.35, 0.35, 0.3)   # shares of KINDS among the moving pairs
    head: float = 0.5                # share of pairs with rigid head motion added
    nuisance: Nuisance = Nuisance(noise=1.5, jpeg_quality=90, flicker=0.001, head_px=1.5, levels=32)
    vary_nuisance: bool = True       # draw each level between none and the level given (training)
    occlusion: float = 0.0           # share of moving pairs whose eyelids also close a little


def _upsample(coarse: np.ndarray, size: int) -> np.ndarray:
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_LINEAR)


def expression_field(identity: Identity, rng: np.random.Generator, peak_px: float) -> np.ndarray:
    """A random facial action's backward field (S, S, 2) on ``identity``, largest landmark motion ``peak_px``."""
    size = identity.image.shape[0]
    options = EMOTION_AUS[sorted(EMOTION_AUS)[rng.integers(len(EMOTION_AUS))]]
    aus = options[rng.integers(len(options))]
    template = expression_template(aus, rng.uniform(0.6, 1.0, len(aus)), roll=identity.roll)
    lm = np.asarray(identity.landmarks, np.float64)
    anchors = anchor_points(size, lm)
    model = flow_model(with_anchors(lm, anchors), with_anchors(lm + peak_px * template, anchors))
    centres = np.arange(size // FIELD_STEP, dtype=np.float64) * FIELD_STEP + (FIELD_STEP - 1) / 2
    return _upsample(tps_eval_grid(model, centres, centres).astype(np.float32), size)


def smooth_field(size: int, rng: np.random.Generator, peak_px: float) -> np.ndarray:
    """Filtered noise (S, S, 2): correlation length 6-48 px, largest vector ``peak_px``."""
    cells = size // FIELD_STEP
    sd = rng.uniform(6.0, 48.0) / FIELD_STEP
    noise = cv2.GaussianBlur(rng.normal(size=(cells, cells, 2)).astype(np.float32), (0, 0), sd,
                             borderType=cv2.BORDER_REFLECT101)
    noise *= peak_px / max(float(np.linalg.norm(noise, axis=-1).max()), 1e-9)
    return _upsample(noise, size)


def local_field(identity: Identity, rng: np.random.Generator, peak_px: float) -> np.ndarray:
    """One to three Gaussian bumps (S, S, 2) on random landmarks of ``identity``, each of its own width
    (log-uniform in ``LOCAL_SD_PX``, scaled to the frame) and direction; largest vector ``peak_px``."""
    size = identity.image.shape[0]
    cells = size // FIELD_STEP
    centres = np.arange(cells, dtype=np.float64) * FIELD_STEP + (FIELD_STEP - 1) / 2
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    field = np.zeros((cells, cells, 2))
    for _ in range(int(rng.integers(1, 4))):
        cx, cy = identity.landmarks[rng.integers(len(identity.landmarks))]
        sd = float(np.exp(rng.uniform(*np.log(LOCAL_SD_PX)))) * size / 256
        angle = rng.uniform(0, 2 * np.pi)
        weight = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sd * sd)) * rng.uniform(0.3, 1.0)
        field += weight[..., None] * np.array([np.cos(angle), np.sin(angle)])
    field *= peak_px / max(float(np.linalg.norm(field, axis=-1).max()), 1e-9)
    return _upsample(field.astype(np.float32), size)


def render_moved(identity: Identity, field: np.ndarray, lids: tuple[Lid, ...] = ()) -> np.ndarray:
    """``identity`` moved by the backward ``field`` (S, S, 2) plus the ``lids``' fields, rendered from its finer
    image and area-reduced: (S, S) float in [0, 255]. The finer field is the frame's, enlarged (the fields are
    smooth at the step), plus the lids' evaluated at the finer pixels (theirs have an edge)."""
    size = identity.image.shape[0]
    if identity.hires is None:
        return warp_image(identity.image, field + _lids_on_grid(lids, size, 1)) * 255.0
    r = identity.render_scale
    fine = warp_image(identity.hires, (_upsample(field, size * r) + _lids_on_grid(lids, size, r)) * r)
    return cv2.resize(fine, (size, size), interpolation=cv2.INTER_AREA) * 255.0


def _lids_on_grid(lids, size: int, scale: int) -> np.ndarray | float:
    """The lids' field (size*scale, size*scale, 2) in frame pixels, at the centres of a grid ``scale`` times finer."""
    if not lids:
        return 0.0
    centres = (np.arange(size * scale) + 0.5) / scale - 0.5
    xs, ys = np.meshgrid(centres, centres)
    return lids_field(list(lids), xs, ys)


def _levels(spec: PairSpec, rng: np.random.Generator) -> Nuisance:
    n = spec.nuisance
    if not spec.vary_nuisance:
        return n
    # each compression half the time, at its level (JPEG: that quality or better)
    quality = None if n.jpeg_quality is None or rng.random() < 0.5 else int(rng.integers(n.jpeg_quality, 101))
    levels = None if n.levels is None or rng.random() < 0.5 else n.levels
    shading = rng.uniform(0, n.shading) if n.shading > 0 else 0.0     # no draw without it: older sets stay as they were
    return Nuisance(rng.uniform(0, n.noise), quality, rng.uniform(0, n.flicker), rng.uniform(0, n.head_px), levels,
                    n.dither, shading)


def flow_pair(identity: Identity, rng: np.random.Generator, spec: PairSpec = PairSpec()):
    """One pair: ``(frame, onset, field)``, frame and onset (S, S) uint8, field (S, S, 2) float32 the exact
    backward flow frame -> onset in pixels (the forward flow an estimator reports from frame to onset)."""
    size = identity.image.shape[0]
    field, lids = np.zeros((size, size, 2), np.float32), ()
    if rng.random() >= spec.still:
        peak = float(np.exp(rng.uniform(*np.log(spec.motion_px))))
        kind = KINDS[rng.choice(len(KINDS), p=np.asarray(spec.kinds) / np.sum(spec.kinds))]
        draw = {"expression": expression_field, "local": local_field}.get(kind)
        field = draw(identity, rng, peak) if draw else smooth_field(size, rng, peak)
        # drawn only when asked for, so that the pairs of a spec without it stay as they were
        if spec.occlusion > 0 and rng.random() < spec.occlusion:
            lids = tuple(closing_eyes(identity.landmarks, rng, float(np.exp(rng.uniform(*np.log(spec.motion_px))))))
    nuisance = _levels(spec, rng)
    if nuisance.head_px > 0 and rng.random() < spec.head:
        field = field + draw_head_motion(rng, size, identity.landmarks.mean(0), nuisance.head_px)
    frame = photometric(render_moved(identity, field, lids), nuisance, rng)
    onset = photometric(identity.image * 255.0, nuisance, rng)
    return frame, onset, field + _lids_on_grid(lids, size, 1)


__all__ = ["FIELD_STEP", "KINDS", "LOCAL_SD_PX", "PairSpec", "expression_field", "flow_pair", "local_field",
           "render_moved", "smooth_field"]
