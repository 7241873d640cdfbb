"""Evaluation metrics (torchmetrics ``Metric`` subclasses: usable standalone or inside Lightning;
every state is summed across processes, so they are correct under DDP).

Frames are float tensors (B, C, H, W) in [0, 1] with C = 1 or 3.

* reconstruction: :class:`L1Error`, :class:`PSNR`, :class:`SSIM` -- ``update(pred, target)``;
* motion transfer: :class:`MotionTransferError` (rMTE / MTE), :class:`FlowEndPointError`
  with :func:`zero_flow_epe` as its baseline;
* face models: :class:`AverageKeypointDistance` (AKD), :class:`AverageEuclideanDistance` (AED)
  -- ``update(generated, target)``, with a ``skipped`` count of face-less pairs;
* :class:`RegionalMotionFidelity` and :func:`region_curves` -- needs no ground truth.

Every number is reported beside the static baseline, see :func:`static_baseline`.
"""
from __future__ import annotations

import torch

from megen.metrics.landmarks import AverageEuclideanDistance, AverageKeypointDistance
from megen.metrics.motion_transfer import (
    FlowEndPointError,
    MotionTransferError,
    end_point_error,
    zero_flow_epe,
)
from megen.metrics.reconstruction import PSNR, SSIM, L1Error, psnr_per_frame, ssim_per_frame
from megen.metrics.regional import REGIONS, RegionalMotionFidelity, region_curves


def static_baseline(source: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The output of a generator that copies the source: ``source`` repeated to ``like``'s shape.

    A micro-expression moves a few pixels, so a frozen copy of the source already scores a low L1
    and a high SSIM; a model's numbers only mean something next to this baseline's. Pairing: feed
    the static clip wherever the model's output goes, with the same targets --

    * L1 / PSNR / SSIM / AKD / AED: ``update(static_baseline(S, GT), GT)``;
    * rMTE: ``update(static, GT, S, GT_onset)`` -- the static model's own onset output is S, so
      the score is exactly 1.0; plain MTE: ``update(static, GT, S)``, also exactly 1.0;
    * regional fidelity: ``update(driving, static, lm_driving, lm_source)`` (ratio ~0, corr 0);
    * flow EPE: the static model's flow is zero, i.e. :func:`zero_flow_epe`.

    Args:
        source: (C, H, W), (1, C, H, W) or (B, C, H, W) source frame(s).
        like: the frames the copy stands in for, (T, C, H, W) or (B, T, C, H, W) -- e.g. the
            ground truth or driving clip.
    Returns:
        a contiguous tensor of ``like``'s shape (a real copy, safe to modify).
    """
    if like.ndim == 5 and source.ndim == 4:        # one source per clip of a batch of clips
        source = source[:, None]
    return source.expand_as(like).clone()


__all__ = [
    "PSNR",
    "REGIONS",
    "SSIM",
    "AverageEuclideanDistance",
    "AverageKeypointDistance",
    "FlowEndPointError",
    "L1Error",
    "MotionTransferError",
    "RegionalMotionFidelity",
    "end_point_error",
    "psnr_per_frame",
    "region_curves",
    "ssim_per_frame",
    "static_baseline",
    "zero_flow_epe",
]
