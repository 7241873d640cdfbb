"""Thin-plate splines as pure functions: fit one to control points, apply it to points.

A TPS maps a point z to ``z + a_0 + A z + sum_i w_i U(|z - c_i|)`` with ``U(r) = r^2 log r``: of
all maps taking the control points c_i to their targets t_i it bends the plane least, and an
affine correspondence gives exactly that affine map (w = 0). Coordinates are (x, y) in [-1, 1]
like every motion in megen; any number of leading batch dimensions is allowed, so the K
transforms of a whole batch, (B, K, 5, 2) control points, are fitted in one solve.

Why not kornia's ``get_tps_transform``: it centres the kernels on the *target* points while
evaluating them at the control points (an interpolant, but not the least-bending spline), and it
solves without regularisation, so learned control points that coincide or fall on a line make its
system singular mid-training.
"""
from __future__ import annotations

import torch

from megen.models.motion import full_precision

#: Ridge on the affine part (towards the identity). It only decides cases the control points leave
#: open (all on one line, or fewer than three distinct); elsewhere it moves the map by ~1e-7.
AFFINE_RIDGE = 1e-6


def tps_kernel(squared_distance: torch.Tensor) -> torch.Tensor:
    """U = r^2 log r from r^2 (0 at r = 0), any shape."""
    return 0.5 * squared_distance * torch.log(squared_distance + 1e-12)


def _pairwise_kernel(points: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(..., M, 2) points and (..., N, 2) centres -> (..., M, N) kernel values."""
    return tps_kernel(((points[..., :, None, :] - centres[..., None, :, :]) ** 2).sum(-1))


def tps_fit(control: torch.Tensor, target: torch.Tensor, regularisation: float = 0.0,
            affine_ridge: float = AFFINE_RIDGE) -> tuple[torch.Tensor, torch.Tensor]:
    """The spline taking ``control`` to ``target``.

    Args:
        control, target: (..., N, 2) corresponding points, N >= 3.
        regularisation: added to the kernel block's diagonal: a smoothing spline that trades exact
            interpolation for bounded weights when control points nearly coincide. 0 = exact.
            Affine correspondences stay exact for any value (the affine part is never smoothed).
        affine_ridge: see ``AFFINE_RIDGE``; 0 gives the textbook system.

    Returns:
        weights (..., N, 2) and affine (..., 3, 2), rows (1, x, y), of the *displacement*: solving for
        ``target - control`` makes identical point sets give exactly the identity.
    """
    lead, n = control.shape[:-2], control.shape[-2]
    if n < 3:
        raise ValueError(f"a thin-plate spline needs at least 3 control points, got {n}")
    dtype = control.dtype
    # the (N+3)^2 systems are tiny: solving in float64 costs nothing and keeps near-coincident
    # points from losing the interpolation to round-off
    c = control.reshape(-1, n, 2).double()
    d = (target.reshape(-1, n, 2).double() - c)
    m = c.shape[0]
    kernel = _pairwise_kernel(c, c) + regularisation * torch.eye(n, dtype=c.dtype, device=c.device)
    poly = torch.cat([torch.ones_like(c[..., :1]), c], dim=-1)                         # (M, N, 3)
    ridge = -affine_ridge * torch.eye(3, dtype=c.dtype, device=c.device).expand(m, 3, 3)
    system = torch.cat([torch.cat([kernel, poly], dim=-1), torch.cat([poly.transpose(1, 2), ridge], dim=-1)], dim=1)
    rhs = torch.cat([d, d.new_zeros(m, 3, 2)], dim=1)
    solution = torch.linalg.solve(system, rhs)
    weights = solution[:, :n].reshape(*lead, n, 2).to(dtype)
    affine = solution[:, n:].reshape(*lead, 3, 2).to(dtype)
    return weights, affine


@full_precision
def tps_apply(points: torch.Tensor, control: torch.Tensor, weights: torch.Tensor, affine: torch.Tensor) -> torch.Tensor:
    """Map (..., M, 2) points through the spline (control (..., N, 2), weights, affine) -> (..., M, 2).

    Leading dimensions broadcast: one (1, 1, M, 2) grid through (B, K, ...) splines gives (B, K, M, 2).
    """
    bend = _pairwise_kernel(points, control) @ weights                                  # (..., M, 2)
    return points + affine[..., :1, :] + points @ affine[..., 1:, :] + bend


def tps_warp_points(points: torch.Tensor, control: torch.Tensor, target: torch.Tensor,
                    regularisation: float = 0.0) -> torch.Tensor:
    """Fit the spline ``control -> target`` and map ``points`` through it: (..., M, 2)."""
    weights, affine = tps_fit(control, target, regularisation)
    return tps_apply(points, control, weights, affine)
