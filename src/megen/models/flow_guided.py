"""The flow-guided motion family: classical optical flow of the driver guides the dense motion.

A micro-expression moves a face by a pixel or two, under the resolution at which learned key points
and their Gaussian masks can place it, while classical dense optical flow of the driving clip
already measures it between the key points. Here the dense motion network receives that flow (the
*guide*: backward, driving -> onset, mapped into the target face) beside the source and its facial
prior, and predicts only a correction of it and the occlusion map:

    deformation = identity + guide + residual,   residual = 0 and occlusion ~ 1 at initialisation

so an untrained model is the training-free flow transfer, and training on the synthetic set's exact
flow teaches the residual where the guide errs. The guide's estimator (``guide_estimator``, the
``flow.estimator`` option: a classical one of ``megen.ops.flow`` or ``learned``, whose network the model
then holds, frozen, in ``guide_net``) measures the driver at generation and the synthetic set's training
guides. When a batch carries no guide, it is measured from the two small frames with OpenCV's
Farnebäck (no gradient: it is an input).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from megen.models.blocks import AntiAliasInterpolation2d, Hourglass
from megen.models.choices import Family, export_refusal
from megen.models.microflow import LearnedFlow, MicroFlowNet
from megen.models.motion import coordinate_grid, warp
from megen.ops.choices import FlowEstimator
from megen.ops.flow import FARNEBACK_SMALL, estimator, optical_flow


def classical_backward_flow(driving: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """Farnebäck flow (B, H, W, 2) in pixels from ``driving`` to ``source`` (B, C, H, W) in [0, 1]:
    driving pixel p shows what the source shows at p + flow(p). Computed on the CPU, no gradient
    (``megen.ops.flow.FARNEBACK_SMALL``: the model's frames are small)."""
    def gray(x):
        return x.detach().float().mean(1).clamp(0, 1).mul(255).round().to(torch.uint8).cpu().numpy()

    out = [optical_flow(d, s, FARNEBACK_SMALL) for d, s in zip(gray(driving), gray(source))]
    return torch.from_numpy(np.stack(out)).to(device=source.device, dtype=source.dtype)


def flow_to_deformation(flow_px: torch.Tensor) -> torch.Tensor:
    """Backward flow (B, h, w, 2) in pixels of that grid -> a deformation (B, h, w, 2) in [-1, 1]."""
    b, h, w, _ = flow_px.shape
    scale = torch.tensor([2.0 / w, 2.0 / h], dtype=flow_px.dtype, device=flow_px.device)
    return coordinate_grid(h, w, dtype=flow_px.dtype, device=flow_px.device) + flow_px * scale


def resize_flow(flow_px: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Backward flow (B, H, W, 2) in pixels -> (B, h, w, 2) in pixels of the (h, w) grid (area-averaged
    when reducing, bilinear when enlarging)."""
    h0, w0 = flow_px.shape[1:3]
    if (h0, w0) == tuple(size):
        return flow_px
    x = flow_px.permute(0, 3, 1, 2)
    x = F.adaptive_avg_pool2d(x, size) if size[0] < h0 else F.interpolate(x, size=size, mode="bilinear",
                                                                          align_corners=False)
    scale = torch.tensor([size[1] / w0, size[0] / h0], dtype=flow_px.dtype, device=flow_px.device)
    return x.permute(0, 2, 3, 1) * scale


class FlowGuidedDenseMotion(nn.Module):
    """(source (B, C, H, W), prior (B, P, p, p) or None, guide (B, H', W', 2) px) -> the dense motion dict at
    ``scale_factor`` resolution (h, w): ``deformation`` (B, h, w, 2), ``occlusion`` (B, 1, h, w),
    ``residual`` (B, h, w, 2) in pixels of (h, w), ``guide`` (B, h, w, 2) in pixels of (h, w).

    ``max_residual_px`` bounds the correction (tanh): it refines the measured flow, it does not replace it.
    """

    def __init__(self, num_channels: int = 3, prior_maps: int = 1, block_expansion: int = 16, num_blocks: int = 3,
                 max_features: int = 128, scale_factor: float = 0.5, max_residual_px: float = 1.0,
                 guide_gain: float = 4.0):
        super().__init__()
        self.down = AntiAliasInterpolation2d(num_channels, scale_factor)
        self.prior_maps = prior_maps
        in_ch = 2 * num_channels + prior_maps + 2
        self.hourglass = Hourglass(in_ch, block_expansion, num_blocks, max_features)
        self.residual = nn.Conv2d(self.hourglass.out_channels, 2, kernel_size=7, padding=3)
        self.occlusion = nn.Conv2d(self.hourglass.out_channels, 1, kernel_size=7, padding=3)
        nn.init.zeros_(self.residual.weight)
        nn.init.zeros_(self.residual.bias)
        nn.init.zeros_(self.occlusion.weight)
        nn.init.constant_(self.occlusion.bias, 4.0)     # sigmoid 0.98: the warped source is visible
        self.max_residual_px = max_residual_px
        self.guide_gain = guide_gain    # a micro-expression's guide is a fraction of a pixel: scaled up as an input

    def forward(self, source, prior, guide_px) -> dict:
        src = self.down(source)
        b, c, h, w = src.shape
        guide = resize_flow(guide_px, (h, w))
        parts = [src, warp(src, flow_to_deformation(guide)), guide.permute(0, 3, 1, 2) * self.guide_gain]
        if self.prior_maps:
            parts.append(F.interpolate(prior, size=(h, w), mode="bilinear", align_corners=False) if prior is not None
                         else src.new_zeros(b, self.prior_maps, h, w))
        features = self.hourglass(torch.cat(parts, dim=1))
        residual = self.max_residual_px * torch.tanh(self.residual(features)).permute(0, 2, 3, 1)
        return {"deformation": flow_to_deformation(guide + residual), "occlusion": torch.sigmoid(self.occlusion(features)),
                "residual": residual, "guide": guide}


class FlowGuidedModel(nn.Module):
    """Animate ``source`` (B, C, H, W) with the motion of ``driving`` through a guide flow.

    Same call as ``MotionTransferModel``; ``guide`` (B, H', W', 2), backward driving -> source in
    pixels of an (H', W') grid covering the source, is measured from the frames when not given.
    """

    family = Family.FLOW
    has_keypoints = False
    measures_flow = True      # the driver's motion is its measured optical flow (the guide), corrected
    tracks_landmarks = False

    def __init__(self, dense_motion: FlowGuidedDenseMotion, generator: nn.Module,
                 guide_estimator: FlowEstimator = FlowEstimator.FARNEBACK, guide_net: MicroFlowNet | None = None):
        super().__init__()
        guide_estimator = FlowEstimator.parse(guide_estimator, "flow.estimator")
        if (guide_estimator == FlowEstimator.LEARNED) != (guide_net is not None):
            raise ValueError("guide_estimator=learned comes with its network (guide_net), and only it")
        self.dense_motion = dense_motion
        self.generator = generator
        self.background = None
        self.guide_estimator = guide_estimator
        self.guide_net = guide_net.requires_grad_(False) if guide_net is not None else None

    def onnx_refusal(self) -> str:
        """Why the flow-guided model has no ONNX export: always (``MotionTransferModel.onnx_refusal``)."""
        return export_refusal(self.family)

    def guide_measurer(self):
        """The estimator that measures the driver's guide (``megen.ops.flow``'s kind of callable)."""
        return LearnedFlow(self.guide_net) if self.guide_net is not None else estimator(self.guide_estimator)

    def forward(self, source, driving, prior=None, keypoints=None, reference=None, guide=None) -> dict:
        guide = classical_backward_flow(driving, source) if guide is None else guide
        dense = self.dense_motion(source, prior, guide)
        out = self.generator.decode(self.generator.encode(source), source, dense)
        return {**dense, **out}


__all__ = ["FlowGuidedDenseMotion", "FlowGuidedModel", "classical_backward_flow", "flow_to_deformation", "resize_flow"]
