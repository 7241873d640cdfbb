"""Motion-transfer errors (MTE, onset-relative rMTE) and the flow end-point error.

Micro-expression motion is a few pixels, so these metrics compare *changes* between frames
rather than the frames themselves; the static baseline (a copy of the source) scores exactly 1.
"""
from __future__ import annotations

import torch
from torchmetrics import Metric

from megen.metrics._frames import check_pair


class MotionTransferError(Metric):
    """Ratio of the motion error to the true motion, summed over every frame seen.

    ``update(generated, target, generated_ref, target_ref=None)``, all (B, C, H, W) in [0, 1]:

    * ``relative=True`` (rMTE): ``generated_ref`` is the model's own output for the onset frame
      and ``target_ref`` the ground-truth onset frame:
      ``sum_k |(G_k - G_1) - (GT_k - GT_1)|_1 / sum_k |GT_k - GT_1|_1``.
      Subtracting the model's own onset output removes its reconstruction blur, which at micro
      scale is larger than the motion itself.
    * ``relative=False`` (MTE): ``generated_ref`` is the source image S and ``target_ref`` is
      left out (S is the reference of both): ``sum_k |G_k - GT_k|_1 / sum_k |GT_k - S|_1``.
      This one also charges the blur.

    A reference of shape (B, C, H, W) or (1, C, H, W) broadcasts over the batch, so a clip of
    T frames can be passed as a batch with its onset/source as a single frame.

    1.0 = no motion transferred (a static output), 0 = perfect; nan when no motion was seen.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, relative: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.relative = relative
        self.add_state("err_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("motion_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, generated: torch.Tensor, target: torch.Tensor, generated_ref: torch.Tensor,
               target_ref: torch.Tensor | None = None) -> None:
        check_pair(generated, target)
        if self.relative and target_ref is None:
            raise ValueError("rMTE needs both onset references: update(G, GT, G_onset, GT_onset)")
        if not self.relative and target_ref is not None:
            raise ValueError("plain MTE has one reference, the source: update(G, GT, source)")
        ref_t = target_ref if target_ref is not None else generated_ref
        for name, ref in (("generated_ref", generated_ref), ("target_ref", ref_t)):
            if ref.ndim != 4 or ref.shape[1:] != generated.shape[1:] or ref.shape[0] not in (1, generated.shape[0]):
                raise ValueError(f"{name} must be (B or 1, C, H, W) like {tuple(generated.shape)}, "
                                 f"got {tuple(ref.shape)}")
        g, t = generated.double(), target.double()
        true_motion = t - ref_t.double()
        # the same expression for both variants, so a static output (G = ref) gives a numerator
        # bitwise equal to the denominator, i.e. exactly 1.0
        self.err_sum += ((g - generated_ref.double()) - true_motion).abs().sum()
        self.motion_sum += true_motion.abs().sum()

    def compute(self) -> torch.Tensor:
        if self.motion_sum == 0:
            return torch.full_like(self.motion_sum, float("nan"))
        return self.err_sum / self.motion_sum


def clip_rmte(generated, truth) -> float:
    """rMTE of a whole generated clip against its true clip, each against its own first frame: (T, H, W) uint8
    arrays of gray frames (a study's renders) -> float, 1 = the static copy."""
    g, t = (torch.from_numpy(x.astype("float32") / 255.0)[:, None] for x in (generated, truth))
    metric = MotionTransferError(relative=True)
    metric.update(g, t, g[:1], t[:1])
    return float(metric.compute())


def end_point_error(pred_flow: torch.Tensor, true_flow: torch.Tensor) -> torch.Tensor:
    """Per-pixel Euclidean distance of two (B, H, W, 2) flows -> (B, H, W)."""
    if pred_flow.shape != true_flow.shape or pred_flow.ndim != 4 or pred_flow.shape[-1] != 2:
        raise ValueError(f"flows must both be (B, H, W, 2), got {tuple(pred_flow.shape)} and {tuple(true_flow.shape)}")
    return (pred_flow.double() - true_flow.double()).norm(dim=-1)


def _masked_sum_count(epe: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    if mask is None:
        return epe.sum(), torch.tensor(float(epe.numel()), dtype=torch.float64, device=epe.device)
    if mask.shape != epe.shape:
        raise ValueError(f"mask must be (B, H, W) like the flows, got {tuple(mask.shape)}")
    w = mask.to(torch.float64)   # bool or soft weights
    return (epe * w).sum(), w.sum()


def zero_flow_epe(true_flow: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean EPE of predicting no motion, i.e. the mean true flow magnitude: the flow baseline.

    true_flow: (B, H, W, 2) pixels; mask: optional (B, H, W) bool/weights.
    """
    s, n = _masked_sum_count(end_point_error(torch.zeros_like(true_flow), true_flow), mask)
    return s / n if n > 0 else torch.full_like(s, float("nan"))


class FlowEndPointError(Metric):
    """Mean end-point error (pixels) of a predicted dense flow against the true displacement.

    ``update(pred_flow_px, true_flow_px, mask=None)``: flows (B, H, W, 2) in pixels (x, y) with
    the same convention (e.g. both backward flows; ``megen.models.motion.deformation_to_flow``
    turns a model deformation into one); ``mask`` (B, H, W) restricts or weights the pixels
    (e.g. the face). Report it beside :func:`zero_flow_epe` of the same data.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("epe_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("weight", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred_flow_px: torch.Tensor, true_flow_px: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        s, n = _masked_sum_count(end_point_error(pred_flow_px, true_flow_px), mask)
        self.epe_sum += s
        self.weight += n

    def compute(self) -> torch.Tensor:
        if self.weight == 0:
            return torch.full_like(self.weight, float("nan"))
        return self.epe_sum / self.weight


__all__ = ["FlowEndPointError", "MotionTransferError", "clip_rmte", "end_point_error", "zero_flow_epe"]
