"""Rendering at the target's own resolution and colour (``render=native``).

A micro-expression moves the face by a pixel or two and disoccludes almost nothing, so the motion
model may run small while the output keeps the target's size and colour: the predicted
deformation and occlusion map are upsampled to the target crop's size, the full-resolution target
is warped there, and the decoder's output (upsampled) fills only what the occlusion map says the
warp cannot show. ``render=decoder`` is the model's own output at its frame size (the paper's).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from megen.config.choices import Render
from megen.models.motion import deformation_to_frame_flow

RENDERS = Render.values()

MAX_NATIVE = 512   # px: larger targets are reduced to this (the crop is warped per frame)
#: (low, high) px of the driving clip's full-resolution crop, where its motion is measured
DRIVING_NATIVE = (256, 512)


def native_size(side: int, out_size: int | None = None, low: int = 64, high: int = MAX_NATIVE) -> int:
    """The output size: ``out_size`` when given, else the crop's own ``side``, clipped to [low, high]."""
    return int(min(max(int(out_size or side), low), high))


def warp_pixels(image: torch.Tensor, flow_px: torch.Tensor) -> torch.Tensor:
    """Warp (B, C, N, N) by a backward flow (B, N, N, 2) in its pixels: out(p) = image(p + flow(p)) (bicubic)."""
    b, _, h, w = image.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=image.dtype, device=image.device),
                            torch.arange(w, dtype=image.dtype, device=image.device), indexing="ij")
    x = (xs + flow_px[..., 0] + 0.5) * (2.0 / w) - 1.0
    y = (ys + flow_px[..., 1] + 0.5) * (2.0 / h) - 1.0
    out = F.grid_sample(image, torch.stack([x, y], -1), mode="bicubic", padding_mode="border", align_corners=False)
    return out.clamp(0.0, 1.0)


def render_native(native: torch.Tensor, prediction: torch.Tensor, occlusion: torch.Tensor | None,
                  deformation: torch.Tensor | None = None, flow_px: torch.Tensor | None = None) -> torch.Tensor:
    """Frames at the target crop's size (B, C, N, N) in [0, 1].

    Args:
        native: the target crop at its own size (1 or B, C, N, N).
        prediction: the model's output (B, C', S, S) (C' = C, or 3 gray channels for a colour target).
        occlusion: (B, 1, h, w) in [0, 1] or None (all visible).
        deformation: (B, h, w, 2) in [-1, 1], upsampled to N; or
        flow_px: (B, N, N, 2) backward flow in pixels of the N grid, used as it is.
    """
    b, n = prediction.shape[0], native.shape[-1]
    if flow_px is None:
        flow_px = deformation_to_frame_flow(deformation, (n, n))
    warped = warp_pixels(native.expand(b, -1, -1, -1), flow_px)
    if occlusion is None:
        return warped
    o = F.interpolate(occlusion, size=(n, n), mode="bilinear", align_corners=False)
    decoded = F.interpolate(prediction, size=(n, n), mode="bilinear", align_corners=False)
    if decoded.shape[1] != warped.shape[1]:
        decoded = decoded.mean(1, keepdim=True).expand_as(warped)
    return o * warped + (1.0 - o) * decoded


def to_tensor_frames(frames: np.ndarray) -> torch.Tensor:
    """(T, N, N) or (T, N, N, 3) uint8 -> (T, 1 | 3, N, N) float in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float().div(255.0)
    return x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2).contiguous()


__all__ = ["DRIVING_NATIVE", "MAX_NATIVE", "RENDERS", "native_size", "render_native", "to_tensor_frames", "warp_pixels"]
