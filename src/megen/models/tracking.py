"""Point tracking between two frames: a differentiable, batched Lucas-Kanade.

Used to move the onset's prior key points onto a driving frame (``landmarks`` key-point mode):
micro-expression motion is a fraction of a pixel to a few pixels, the regime where the
linearisation behind Lucas-Kanade is exact enough and no learned detector is needed to see it.
Coordinates are (x, y) in [-1, 1] at pixel centres (``align_corners=False``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _sample(image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) at (B, K, P, 2) points -> (B, K, P)."""
    return F.grid_sample(image, points, mode="bilinear", padding_mode="border", align_corners=False)[:, 0]


def to_gray(frames: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 1, H, W), the channel mean (gray replicated to 3 channels stays gray)."""
    return frames.mean(dim=1, keepdim=True)


def lucas_kanade(frame: torch.Tensor, reference: torch.Tensor, points: torch.Tensor, radius_px: int = 4,
                 iterations: int = 4, levels: int = 2, damping: float = 1e-3) -> torch.Tensor:
    """Where the ``reference`` content at ``points`` has moved to in ``frame``, coarse to fine.

    Args:
        frame, reference: (B, 1, H, W) gray images.
        points: (B, K, 2) positions in the reference, [-1, 1] units.
        radius_px: half-width of the square window, in pixels of each pyramid level;
            Gaussian-weighted (sd radius / 2).
        iterations: Gauss-Newton steps per level (each re-samples the frame at the current estimate).
        levels: pyramid levels (2x average pooling each); the coarse ones catch motions of a few
            pixels, the finest resolves fractions of one.
        damping: Tikhonov term added to the 2x2 structure tensor (flat patches do not move).

    Returns:
        (B, K, 2) displacement in [-1, 1] units: ``points + displacement`` is the tracked position.
        Identical images give exactly zero.
    """
    pyramid = [(frame, reference)]
    for _ in range(1, levels):
        f, r = pyramid[-1]
        if min(f.shape[-2:]) < 4 * (2 * radius_px + 1):
            break
        pyramid.append((F.avg_pool2d(f, 2), F.avg_pool2d(r, 2)))
    displacement = torch.zeros_like(points)
    for f, r in reversed(pyramid):
        displacement = _refine(f, r, points, displacement, radius_px, iterations, damping)
    return displacement


def _refine(frame, reference, points, displacement, radius_px: int, iterations: int, damping: float):
    """Gauss-Newton steps of Lucas-Kanade at one resolution, from ``displacement`` ([-1, 1] units)."""
    b, _, h, w = frame.shape
    dtype, device = frame.dtype, frame.device
    pixel = torch.tensor([2.0 / w, 2.0 / h], dtype=dtype, device=device)
    r = torch.arange(-radius_px, radius_px + 1, dtype=dtype, device=device)
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    offsets = torch.stack([xx, yy], dim=-1).reshape(-1, 2)                          # (P, 2) pixels
    weight = torch.exp(-0.5 * (offsets**2).sum(-1) / (radius_px / 2.0) ** 2)       # (P,)
    window = points[:, :, None, :] + offsets * pixel                               # (B, K, P, 2)
    ref = _sample(reference, window)
    # the reference's gradient by central differences, in intensity per pixel
    ex, ey = torch.tensor([0.5, 0.0], dtype=dtype, device=device), torch.tensor([0.0, 0.5], dtype=dtype, device=device)
    gx = _sample(reference, window + ex * pixel) - _sample(reference, window - ex * pixel)
    gy = _sample(reference, window + ey * pixel) - _sample(reference, window - ey * pixel)
    wgx, wgy = weight * gx, weight * gy
    a, c, d = (wgx * gx).sum(-1) + damping, (wgx * gy).sum(-1), (wgy * gy).sum(-1) + damping
    det = a * d - c * c
    shift = displacement / pixel                                                     # pixels of this level
    for _ in range(iterations):
        diff = _sample(frame, window + (shift * pixel)[:, :, None, :]) - ref          # (B, K, P)
        bx, by = (wgx * diff).sum(-1), (wgy * diff).sum(-1)
        step = torch.stack([d * bx - c * by, a * by - c * bx], dim=-1) / det[..., None]
        shift = shift - step
    return shift * pixel
