"""Random affine + thin-plate-spline transforms for the equivariance losses."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from megen.models.motion import coordinate_grid, full_precision


class RandomTransform:
    """A batch of random smooth transforms T of [-1, 1] coordinates: affine + TPS with a control grid.

    Not kornia's ``warp_affine``: the affine part is one term of a transform whose spline part kornia has
    no sampler for, and the key points must go through the same T as the pixels (``warp_coordinates``).

    ``warp_coordinates`` maps (B, N, 2) points; ``transform_frame`` resamples frames with it;
    ``jacobian`` is dT/dz at given points (autograd).
    """

    def __init__(self, batch: int, sigma_affine: float = 0.05, sigma_tps: float = 0.005, points_tps: int = 5,
                 generator: torch.Generator | None = None, device=None, dtype=torch.float32):
        noise = torch.randn(batch, 2, 3, generator=generator) * sigma_affine
        self.theta = (noise + torch.eye(2, 3)).to(device=device, dtype=dtype)
        self.control = coordinate_grid(points_tps, points_tps, dtype=dtype).reshape(1, -1, 2).to(device)
        self.params = (torch.randn(batch, 1, points_tps**2, generator=generator) * sigma_tps).to(device=device,
                                                                                                  dtype=dtype)

    @full_precision
    def warp_coordinates(self, z: torch.Tensor) -> torch.Tensor:
        theta = self.theta.to(z.dtype)
        out = torch.einsum("bij,bnj->bni", theta[:, :, :2], z) + theta[:, None, :, 2]
        r2 = ((z[:, :, None, :] - self.control[:, None].to(z.dtype)) ** 2).sum(-1)   # (B, N, P)
        u = 0.5 * r2 * torch.log(r2 + 1e-9)                                             # r^2 log r
        return out + (u * self.params.to(z.dtype)).sum(-1, keepdim=True)

    def transform_frame(self, frame: torch.Tensor) -> torch.Tensor:
        b, _, h, w = frame.shape
        grid = coordinate_grid(h, w, dtype=frame.dtype, device=frame.device).reshape(1, -1, 2).expand(b, -1, -1)
        coords = self.warp_coordinates(grid).view(b, h, w, 2)
        return F.grid_sample(frame, coords, mode="bilinear", padding_mode="reflection", align_corners=False)

    @full_precision
    def jacobian(self, z: torch.Tensor) -> torch.Tensor:
        """(B, N, 2) points -> (B, N, 2, 2) Jacobian of the transform at them."""
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            t = self.warp_coordinates(z)
            gx = torch.autograd.grad(t[..., 0].sum(), z, create_graph=True)[0]
            gy = torch.autograd.grad(t[..., 1].sum(), z, create_graph=True)[0]
        return torch.stack([gx, gy], dim=-2)
