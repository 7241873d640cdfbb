"""Facial prior maps from key points, vectorised over a batch of point sets."""
from __future__ import annotations

import numpy as np
import torch

PRIOR_KERNELS = ("gaussian", "paper", "reference")
PRIOR_FUSIONS = ("sum", "separate")


def pixel_grid(size: int, frame_size: float, dtype=torch.float32, device=None) -> torch.Tensor:
    """(size, size, 2) pixel-centre (x, y) coordinates of a size x size map, in frame pixels."""
    step = frame_size / size
    c = (torch.arange(size, dtype=dtype, device=device) + 0.5) * step - 0.5
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xx, yy], dim=-1)


def prior_map(
    points,
    size: int,
    sigma: float,
    kernel: str = "gaussian",
    fusion: str = "sum",
    frame_size: float = 256,
    eps: float = 1e-12,
) -> torch.Tensor:
    """Facial prior maps.

    Args:
        points: (B, K, 2) or (K, 2) key points, pixel (x, y) of a ``frame_size`` frame.
        size: output side length; the map covers the whole frame.
        sigma: kernel width in frame pixels (independent of ``size``).
        kernel: ``gaussian`` exp(-d^2 / 2s^2); ``paper`` exp(-d / 2s^2), Euclidean d (Eq. 5
            as printed); ``reference`` exp(-sqrt(d_L1) / 2s^2), each map divided by its max and
            zeroed below its mean (the public implementation).
        fusion: ``sum`` -> one channel scaled to [0, 1] by its max; ``separate`` -> K channels.
    Returns:
        (B, 1, size, size) for ``sum`` or (B, K, size, size) for ``separate``, float32 in [0, 1]
        (unbatched input gives no B axis).
    """
    if kernel not in PRIOR_KERNELS:
        raise ValueError(f"unknown prior kernel {kernel!r}; valid: {', '.join(PRIOR_KERNELS)}")
    if fusion not in PRIOR_FUSIONS:
        raise ValueError(f"unknown prior fusion {fusion!r}; valid: {', '.join(PRIOR_FUSIONS)}")
    if sigma <= 0:
        raise ValueError(f"prior sigma must be > 0, got {sigma}")
    pts = torch.as_tensor(np.asarray(points) if not torch.is_tensor(points) else points)
    pts = pts.to(torch.float64)
    unbatched = pts.dim() == 2
    if unbatched:
        pts = pts[None]
    if pts.dim() != 3 or pts.shape[-1] != 2:
        raise ValueError(f"points must have shape (B, K, 2) or (K, 2), got {tuple(pts.shape)}")

    grid = pixel_grid(size, frame_size, dtype=torch.float64, device=pts.device)      # (S, S, 2)
    diff = grid[None, None] - pts[:, :, None, None, :]                               # (B, K, S, S, 2)
    two_s2 = 2.0 * float(sigma) ** 2
    if kernel == "gaussian":
        maps = torch.exp(-(diff**2).sum(-1) / two_s2)
    elif kernel == "paper":
        maps = torch.exp(-(diff**2).sum(-1).sqrt() / two_s2)
    else:
        maps = torch.exp(-diff.abs().sum(-1).sqrt() / two_s2)
        maps = maps / maps.amax(dim=(-2, -1), keepdim=True).clamp_min(eps)
        maps = torch.where(maps < maps.mean(dim=(-2, -1), keepdim=True), torch.zeros_like(maps), maps)

    if fusion == "sum":
        maps = maps.sum(dim=1, keepdim=True)
        maps = maps / maps.amax(dim=(-2, -1), keepdim=True).clamp_min(eps)
    out = maps.to(torch.float32)
    return out[0] if unbatched else out
