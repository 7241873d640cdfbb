"""Regional motion fidelity: does the generated clip move the same face regions, with the same timing
and amplitude, as the driving clip? Needs no ground truth, so it applies to cross-identity transfer.

For each clip, dense Farneback optical flow from the onset frame to every frame gives a per-region
mean flow magnitude curve (T,) inside boxes around the onset landmarks of that clip. The driving
and generated curves of each region are compared by Pearson correlation (timing/shape) and by the
ratio of their sums (amplitude; 1 = same amount of motion, 0 = none).
"""
from __future__ import annotations

import numpy as np
import torch
from torchmetrics import Metric

from megen.face.landmarks import to_gray_uint8
from megen.ops.flow import FARNEBACK_SMALL, flows_from_reference

# dlib 68-point indices
REGIONS: dict[str, tuple[int, ...]] = {
    "brows": tuple(range(17, 27)),
    "eyes": tuple(range(36, 48)),
    "nose": tuple(range(27, 36)),
    "mouth": tuple(range(48, 68)),
}

#: the estimator for motions of a few pixels on small frames (``megen.ops.flow.FARNEBACK_SMALL``)
FARNEBACK = FARNEBACK_SMALL

# Farneback returns ~1e-6 px, not 0, between identical frames, and a correlation of that residue
# is meaningless: region curves whose range stays below this (pixels) count as "no motion".
MIN_MOTION = 0.01


def clip_to_gray_uint8(clip) -> np.ndarray:
    """A clip -> (T, H, W) uint8.

    Accepts a torch tensor (T, C, H, W) float in [0, 1], or numpy (T, H, W) / (T, H, W, C)
    (uint8, or float in [0, 1]).
    """
    if isinstance(clip, torch.Tensor):
        if clip.ndim != 4 or clip.shape[1] not in (1, 3):
            raise ValueError(f"expected a tensor clip (T, C, H, W) with C = 1 or 3, got {tuple(clip.shape)}")
        arr = clip.detach().to("cpu", torch.float64).clamp(0, 1).mul(255).round().to(torch.uint8)
        frames = arr.permute(0, 2, 3, 1).numpy()
    else:
        frames = np.asarray(clip)
        if frames.ndim not in (3, 4):
            raise ValueError(f"expected a numpy clip (T, H, W[, C]), got shape {frames.shape}")
        if np.issubdtype(frames.dtype, np.floating):
            frames = np.clip(np.rint(frames * 255.0), 0, 255).astype(np.uint8)
    return np.stack([to_gray_uint8(f) for f in frames])


def region_boxes(landmarks: np.ndarray, shape: tuple[int, int], pad: float = 0.15) -> dict[str, tuple[int, int, int, int]]:
    """Box (x0, y0, x1, y1), end-exclusive and clipped to ``shape`` (H, W), around each region.

    The padding is ``pad`` times the inter-ocular distance (at least 1 px): landmarks sit on
    the edges of brows, lids and lips, and the moving skin extends a little beyond them.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"expected (68, 2) landmarks, got {lm.shape}")
    h, w = shape
    eye_dist = np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0))
    p = max(1.0, pad * eye_dist)
    boxes = {}
    for name, idx in REGIONS.items():
        (x0, y0), (x1, y1) = lm[list(idx)].min(0) - p, lm[list(idx)].max(0) + p
        x0, y0 = int(np.clip(np.floor(x0), 0, w - 1)), int(np.clip(np.floor(y0), 0, h - 1))
        x1, y1 = int(np.clip(np.ceil(x1) + 1, x0 + 1, w)), int(np.clip(np.ceil(y1) + 1, y0 + 1, h))
        boxes[name] = (x0, y0, x1, y1)
    return boxes


def flow_magnitudes(gray: np.ndarray) -> np.ndarray:
    """(T, H, W) uint8 -> (T, H, W) float32 magnitude of the flow from frame 0 to each frame."""
    return np.linalg.norm(flows_from_reference(gray, 0, FARNEBACK), axis=-1)


def region_curves(clip, landmarks: np.ndarray, pad: float = 0.15) -> dict[str, np.ndarray]:
    """Per-region mean optical-flow magnitude (pixels) from the onset to each frame.

    Args:
        clip: (T, C, H, W) tensor in [0, 1] or numpy (T, H, W[, C]); frame 0 is the onset.
        landmarks: (68, 2) pixel (x, y) landmarks of the onset frame.
    Returns:
        {region: (T,) float64 curve}, regions as in REGIONS; curve[0] = 0.
    """
    gray = clip_to_gray_uint8(clip)
    mags = flow_magnitudes(gray)
    boxes = region_boxes(landmarks, gray.shape[1:], pad)
    return {name: mags[:, y0:y1, x0:x1].reshape(len(mags), -1).mean(1).astype(np.float64)
            for name, (x0, y0, x1, y1) in boxes.items()}


def moves(curve: np.ndarray, min_motion: float = MIN_MOTION) -> bool:
    """Whether a region curve shows motion: its peak-to-peak exceeds ``min_motion`` pixels."""
    return float(np.ptp(curve)) > min_motion


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two curves; 0 when either is constant."""
    a = np.asarray(a, np.float64) - np.mean(a)
    b = np.asarray(b, np.float64) - np.mean(b)
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else 0.0


class RegionalMotionFidelity(Metric):
    """Per-region correlation and amplitude ratio of optical-flow curves, generated vs driving.

    ``update(driving_clip, generated_clip, landmarks_driving, landmarks_generated=None)``: clips
    (T, C, H, W) in [0, 1] (or a batch (B, T, C, H, W) with landmarks (B, 68, 2)); landmarks are
    each clip's onset landmarks (``landmarks_generated`` defaults to the driving ones, as in
    reconstruction). ``compute()`` -> {"corr/<region>", "ratio/<region>", "corr", "ratio"}: means
    over clips, and "corr"/"ratio" the mean over regions. A region is scored only in clips where
    the driving curve moves (range > ``min_motion`` px); a region never scored is nan and left out
    of the means over regions.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, pad: float = 0.15, min_motion: float = MIN_MOTION, **kwargs):
        super().__init__(**kwargs)
        self.pad = pad
        self.min_motion = min_motion
        self.regions = tuple(REGIONS)
        for name in self.regions:
            for stat in ("corr", "ratio"):
                self.add_state(f"{stat}_sum_{name}", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
                self.add_state(f"{stat}_n_{name}", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, driving_clip: torch.Tensor, generated_clip: torch.Tensor, landmarks_driving,
               landmarks_generated=None) -> None:
        if driving_clip.shape != generated_clip.shape:
            raise ValueError(f"clip shapes differ: {tuple(driving_clip.shape)} vs {tuple(generated_clip.shape)}")
        lm_d = np.asarray(landmarks_driving.cpu() if isinstance(landmarks_driving, torch.Tensor) else landmarks_driving)
        lm_g = lm_d if landmarks_generated is None else np.asarray(
            landmarks_generated.cpu() if isinstance(landmarks_generated, torch.Tensor) else landmarks_generated)
        if driving_clip.ndim == 5:   # a batch of clips
            for i in range(driving_clip.shape[0]):
                self._update_clip(driving_clip[i], generated_clip[i], lm_d[i], lm_g[i])
        else:
            self._update_clip(driving_clip, generated_clip, lm_d, lm_g)

    def _update_clip(self, driving, generated, lm_d, lm_g) -> None:
        cd = region_curves(driving, lm_d, self.pad)
        cg = region_curves(generated, lm_g, self.pad)
        for name in self.regions:
            # a region the driving clip does not move has no timing or amplitude to reproduce
            if not moves(cd[name], self.min_motion):
                continue
            # a generated region that does not move shares no timing: scored 0 rather than
            # dropped, so a frozen generator cannot raise its mean by having clips skipped
            corr = pearson(cd[name], cg[name]) if moves(cg[name], self.min_motion) else 0.0
            self._add(f"corr_{{}}_{name}", corr)
            self._add(f"ratio_{{}}_{name}", cg[name].sum() / cd[name].sum())

    def _add(self, template: str, value: float) -> None:
        getattr(self, template.format("sum")).add_(value)
        getattr(self, template.format("n")).add_(1)

    def compute(self) -> dict[str, torch.Tensor]:
        out = {}
        for stat in ("corr", "ratio"):
            per = []
            for name in self.regions:
                s, n = getattr(self, f"{stat}_sum_{name}"), getattr(self, f"{stat}_n_{name}")
                v = s / n if n > 0 else torch.full_like(s, float("nan"))
                out[f"{stat}/{name}"] = v
                per.append(v)
            # nan-aware so one undefined region does not hide the others
            out[stat] = torch.stack(per).nanmean()
        return out


__all__ = ["FARNEBACK", "MIN_MOTION", "REGIONS", "RegionalMotionFidelity", "clip_to_gray_uint8", "flow_magnitudes",
           "moves", "pearson", "region_boxes", "region_curves"]
