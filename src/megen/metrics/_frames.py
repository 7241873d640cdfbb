"""Shared checks and conversions for frame tensors."""
from __future__ import annotations

import numpy as np
import torch

# ITU-R BT.601 luma weights, the same as ``megen.face.to_gray_uint8`` uses, so every metric
# sees the same gray image whichever module converts it.
LUMA = (0.299, 0.587, 0.114)


def check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    """Both (B, C, H, W) with C in (1, 3) and equal shapes; raise ValueError otherwise."""
    if pred.shape != target.shape:
        raise ValueError(f"shape mismatch: pred {tuple(pred.shape)} vs target {tuple(target.shape)}")
    if pred.ndim != 4 or pred.shape[1] not in (1, 3):
        raise ValueError(f"expected frames (B, C, H, W) with C = 1 or 3, got {tuple(pred.shape)}")


def to_gray(frames: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) with C in (1, 3) -> (B, 1, H, W), same dtype."""
    if frames.shape[1] == 1:
        return frames
    w = torch.tensor(LUMA, dtype=frames.dtype, device=frames.device).view(1, 3, 1, 1)
    return (frames * w).sum(dim=1, keepdim=True)


def to_uint8_hwc(frame: torch.Tensor) -> np.ndarray:
    """One (C, H, W) float frame in [0, 1] -> (H, W, C) uint8 numpy (clipped, rounded)."""
    arr = frame.detach().to("cpu", torch.float64).clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    return np.ascontiguousarray(arr.permute(1, 2, 0).numpy())
