"""Dense motion: K+1 sparse motions -> softmax masks -> deformation and occlusion."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from megen.models.blocks import AntiAliasInterpolation2d, Hourglass
from megen.models.motion import gaussian_heatmaps, sparse_motions, warp


class DenseMotionNetwork(nn.Module):
    """Predict a dense deformation from two sets of key points / regions.

    Inputs: source (B, C, H, W) and the motion dicts of source and driving (see motion_networks).
    Output dict at ``scale_factor`` resolution (h, w)::

        deformation     (B, h, w, 2) where each driving pixel samples the source
        mask            (B, K+1, h, w) softmax weights of the sparse motions (0 = background)
        sparse_motion   (B, K+1, h, w, 2)
        occlusion       (B, 1, h, w) in [0, 1] (if estimated)
    """

    def __init__(self, num_kp: int, num_channels: int = 3, block_expansion: int = 32, num_blocks: int = 4,
                 max_features: int = 256, scale_factor: float = 0.25, kp_variance: float = 0.01,
                 estimate_occlusion: bool = True):
        super().__init__()
        self.down = AntiAliasInterpolation2d(num_channels, scale_factor)
        in_ch = (num_kp + 1) * (num_channels + 1)
        self.hourglass = Hourglass(in_ch, block_expansion, num_blocks, max_features)
        self.mask = nn.Conv2d(self.hourglass.out_channels, num_kp + 1, kernel_size=7, padding=3)
        self.occlusion = nn.Conv2d(self.hourglass.out_channels, 1, 7, padding=3) if estimate_occlusion else None
        self.kp_variance = kp_variance
        self.num_kp = num_kp

    def _heatmaps(self, motion_s, motion_d, size):
        hs = gaussian_heatmaps(motion_s["value"], size, self.kp_variance, motion_s.get("covar"))
        hd = gaussian_heatmaps(motion_d["value"], size, self.kp_variance, motion_d.get("covar"))
        diff = hd - hs
        return torch.cat([torch.zeros_like(diff[:, :1]), diff], dim=1)          # (B, K+1, h, w)

    def forward(self, source, motion_s: dict, motion_d: dict, background=None) -> dict:
        src = self.down(source)
        b, c, h, w = src.shape
        heat = self._heatmaps(motion_s, motion_d, (h, w))
        motions = sparse_motions(motion_s["value"], motion_d["value"], motion_s.get("jacobian"),
                                 motion_d.get("jacobian"), (h, w), background)            # (B, K+1, h, w, 2)
        k1 = motions.shape[1]
        deformed = warp(src.repeat_interleave(k1, dim=0), motions.reshape(b * k1, h, w, 2)).view(b, k1, c, h, w)
        x = torch.cat([heat[:, :, None], deformed], dim=2).view(b, -1, h, w)
        features = self.hourglass(x)
        mask = F.softmax(self.mask(features), dim=1)
        deformation = (mask[..., None] * motions).sum(dim=1)
        out = {"deformation": deformation, "mask": mask, "sparse_motion": motions}
        if self.occlusion is not None:
            out["occlusion"] = torch.sigmoid(self.occlusion(features))
        return out
