"""Motion maths as pure functions.

Coordinates are (x, y) in [-1, 1] at pixel centres (the ``align_corners=False`` convention of
``grid_sample``); a *deformation* (B, H, W, 2) gives, for each output pixel, where to sample the
source frame.
"""
from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F


def motion_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype motion is computed in beside features of ``dtype``: float32 for bfloat16 / float16."""
    return torch.float32 if dtype in (torch.bfloat16, torch.float16) else dtype


def at_least_fp32(t: torch.Tensor) -> torch.Tensor:
    """A bfloat16 / float16 tensor in float32; float32 and float64 ones as they are."""
    return t.to(motion_dtype(t.dtype))


def full_precision(fn):
    """``fn`` outside autocast, its half-precision tensor arguments in float32 (for the motion maths).

    Under bf16 autocast (``trainer.precision=bf16-mixed``, generation ``precision=bf16``) the
    convolutions run in bfloat16, but key-point coordinates, Jacobians and sparse motions must not:
    bf16's 8-bit mantissa rounds a [-1, 1] coordinate to 1/128, a quarter pixel of a 64 px map, more
    than a micro-expression moves. Without autocast this is ``fn`` itself (and so in exported graphs).
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        tensor = next((a for a in (*args, *kwargs.values()) if torch.is_tensor(a)), None)
        device = tensor.device.type if tensor is not None else "cpu"
        if not torch.is_autocast_enabled(device):
            return fn(*args, **kwargs)
        up = lambda a: at_least_fp32(a) if torch.is_tensor(a) else a   # noqa: E731
        with torch.autocast(device_type=device, enabled=False):
            return fn(*map(up, args), **{k: up(v) for k, v in kwargs.items()})

    return wrapper


def coordinate_grid(h: int, w: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """(H, W, 2) pixel-centre coordinates (x, y) in [-1, 1].

    Not kornia's ``create_meshgrid``: its normalised grid puts -1 and 1 on the corner pixels' centres
    (``align_corners=True``); every warp here samples with ``align_corners=False``."""
    x = (2 * torch.arange(w, dtype=dtype, device=device) + 1) / w - 1
    y = (2 * torch.arange(h, dtype=dtype, device=device) + 1) / h - 1
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    return torch.stack([xx, yy], dim=-1)


def warp(image: torch.Tensor, deformation: torch.Tensor) -> torch.Tensor:
    """Sample (B, C, H, W) at a (B, h, w, 2) deformation (resized to the image if needed) -> (B, C, H, W)."""
    if deformation.shape[1:3] != image.shape[2:]:
        deformation = F.interpolate(deformation.permute(0, 3, 1, 2), size=image.shape[2:], mode="bilinear",
                                    align_corners=False).permute(0, 2, 3, 1)
    return F.grid_sample(image, deformation, mode="bilinear", padding_mode="border", align_corners=False)


def heatmap_mean(heatmap: torch.Tensor) -> torch.Tensor:
    """Expected coordinate of (B, K, H, W) probability maps -> (B, K, 2)."""
    grid = coordinate_grid(*heatmap.shape[2:], dtype=heatmap.dtype, device=heatmap.device)
    return (heatmap[..., None] * grid).sum(dim=(2, 3))


@full_precision
def heatmap_covariance(heatmap: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """Second central moment of (B, K, H, W) maps around (B, K, 2) -> (B, K, 2, 2)."""
    grid = coordinate_grid(*heatmap.shape[2:], dtype=heatmap.dtype, device=heatmap.device)
    d = grid[None, None] - mean[:, :, None, None, :]                     # (B, K, H, W, 2)
    return torch.einsum("bkhw,bkhwi,bkhwj->bkij", heatmap, d, d)


@full_precision
def gaussian_heatmaps(kp: torch.Tensor, size: tuple[int, int], variance: float = 0.01,
                      covariance: torch.Tensor | None = None) -> torch.Tensor:
    """Unnormalised Gaussians at (B, K, 2) key points -> (B, K, H, W).

    Isotropic with ``variance`` unless a (B, K, 2, 2) ``covariance`` is given (regions).
    """
    grid = coordinate_grid(*size, dtype=kp.dtype, device=kp.device)
    d = grid[None, None] - kp[:, :, None, None, :]                       # (B, K, H, W, 2)
    if covariance is None:
        return torch.exp(-0.5 * (d**2).sum(-1) / variance)
    inv = torch.inverse(covariance + 1e-6 * torch.eye(2, device=kp.device, dtype=kp.dtype))
    return torch.exp(-0.5 * torch.einsum("bkhwi,bkij,bkhwj->bkhw", d, inv, d))


@full_precision
def sparse_motions(kp_source: torch.Tensor, kp_driving: torch.Tensor, jac_source: torch.Tensor | None,
                   jac_driving: torch.Tensor | None, size: tuple[int, int],
                   background: torch.Tensor | None = None) -> torch.Tensor:
    """First-order motions, one per key point plus the background -> (B, K+1, H, W, 2).

    Motion k maps a driving coordinate z to ``J_s J_d^-1 (z - kp_d) + kp_s``; motion 0 is the
    identity, or ``background`` (B, 3, 3) applied to the grid in homogeneous coordinates.
    """
    b, k, _ = kp_driving.shape
    grid = coordinate_grid(*size, dtype=kp_source.dtype, device=kp_source.device)   # (H, W, 2)
    z = grid[None, None] - kp_driving[:, :, None, None, :]                            # (B, K, H, W, 2)
    if jac_source is not None and jac_driving is not None:
        # ONNX has no matrix inverse: an exported graph gets the closed form (equal to rounding)
        inverse = inverse_2x2 if torch.onnx.is_in_onnx_export() else torch.inverse
        jac = jac_source @ inverse(jac_driving)                                       # (B, K, 2, 2)
        z = torch.einsum("bkij,bkhwj->bkhwi", jac, z)
    motions = z + kp_source[:, :, None, None, :]
    if background is None:
        bg = grid[None].expand(b, -1, -1, -1)
    else:
        bg = apply_homography(background, grid.reshape(1, -1, 2).expand(b, -1, -1)).reshape(b, *size, 2)
    return torch.cat([bg[:, None], motions], dim=1)


def inverse_2x2(m: torch.Tensor) -> torch.Tensor:
    """Inverse of (..., 2, 2) matrices in closed form (adjugate / determinant)."""
    a, b, c, d = m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]
    det = (a * d - b * c)[..., None, None]
    return torch.stack([torch.stack([d, -b], dim=-1), torch.stack([-c, a], dim=-1)], dim=-2) / det


@full_precision
def apply_homography(matrix: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) applied to (B, N, 2) points -> (B, N, 2)."""
    ones = torch.ones_like(points[..., :1])
    p = torch.cat([points, ones], dim=-1) @ matrix.transpose(1, 2)
    return p[..., :2] / p[..., 2:]


@full_precision
def relative_motion(kp_source: torch.Tensor, kp_driving: torch.Tensor, kp_driving_initial: torch.Tensor,
                    jac_source=None, jac_driving=None, jac_driving_initial=None, movement_scale=1.0):
    """Transfer the driving clip's motion relative to its first frame onto the source key points.

    Returns (kp_new (B, K, 2), jac_new (B, K, 2, 2) or None) with
    ``kp_new = kp_s + (kp_d - kp_d0) * scale`` and ``J_new = J_d J_d0^-1 J_s``.
    """
    scale = torch.as_tensor(movement_scale, dtype=kp_source.dtype, device=kp_source.device)
    if scale.dim() == 1:
        scale = scale[:, None, None]
    kp_new = kp_source + (kp_driving - kp_driving_initial) * scale
    jac_new = None
    if jac_source is not None and jac_driving is not None and jac_driving_initial is not None:
        jac_new = jac_driving @ torch.inverse(jac_driving_initial) @ jac_source
    return kp_new, jac_new


def hull_area(points: np.ndarray) -> float:
    """Area of the convex hull of (K, 2) points (0 for degenerate sets)."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        return float(ConvexHull(np.asarray(points, dtype=np.float64)).volume)
    except (QhullError, ValueError):
        return 0.0


def movement_scale(kp_source: torch.Tensor, kp_driving_initial: torch.Tensor) -> torch.Tensor:
    """sqrt(hull area of source key points) / sqrt(hull area of the first driving key points), per batch item."""
    out = []
    for s, d in zip(kp_source.detach().cpu().numpy(), kp_driving_initial.detach().cpu().numpy()):
        a_d = hull_area(d)
        out.append(np.sqrt(hull_area(s)) / np.sqrt(a_d) if a_d > 0 else 1.0)
    return torch.tensor(out, dtype=kp_source.dtype, device=kp_source.device)


def deformation_to_flow(deformation: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 2) deformation -> backward flow in pixels of that resolution (B, H, W, 2)."""
    h, w = deformation.shape[1:3]
    grid = coordinate_grid(h, w, dtype=deformation.dtype, device=deformation.device)
    scale = torch.tensor([w / 2.0, h / 2.0], dtype=deformation.dtype, device=deformation.device)
    return (deformation - grid) * scale


def deformation_to_frame_flow(deformation: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, h, w, 2) deformation -> backward flow (B, H, W, 2) in pixels of an (H, W) frame."""
    h, w = deformation.shape[1:3]
    flow = deformation_to_flow(deformation) * torch.tensor([size[1] / w, size[0] / h], dtype=deformation.dtype,
                                                           device=deformation.device)
    flow = F.interpolate(flow.permute(0, 3, 1, 2), size=size, mode="bilinear", align_corners=False)
    return flow.permute(0, 2, 3, 1)
