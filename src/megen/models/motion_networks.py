"""Motion families: FOMM key points + Jacobians, MRAA regions, and background motion.

Both families share one trunk (anti-aliased downsampling, prior input, hourglass, heatmap
head) and return the same dict, so the dense motion network and the generator never need
to know which family produced it::

    value     (B, K, 2)     key point / region centre in [-1, 1]
    jacobian  (B, K, 2, 2)  local affine (identity when not estimated)
    heatmap   (B, K, h, w)  softmax heatmaps
    covar     (B, K, 2, 2)  region covariance (MRAA only)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from megen.models.blocks import AntiAliasInterpolation2d, DownBlock2d, Hourglass
from megen.models.motion import heatmap_covariance, heatmap_mean
from megen.models.prior_input import PriorInput

KEYPOINT_MODES = ("learned", "landmarks")


class HeatmapTrunk(nn.Module):
    """Frame (+ prior) -> K softmax heatmaps at ``scale_factor`` of the input and the hourglass features."""

    def __init__(self, num_kp: int, num_channels: int = 3, block_expansion: int = 32, max_features: int = 256,
                 num_blocks: int = 4, temperature: float = 0.1, scale_factor: float = 0.25,
                 prior_input: str = "concat", prior_maps: int = 1):
        super().__init__()
        self.down = AntiAliasInterpolation2d(num_channels, scale_factor)
        self.prior = PriorInput(prior_input, prior_maps)
        self.hourglass = Hourglass(num_channels + self.prior.extra_channels, block_expansion, num_blocks, max_features)
        self.head = nn.Conv2d(self.hourglass.out_channels, num_kp, kernel_size=7, padding=3)
        self.temperature = temperature
        self.num_kp = num_kp

    def forward(self, image: torch.Tensor, prior: torch.Tensor | None = None):
        x = self.prior(self.down(image), prior)
        features = self.hourglass(x)
        logits = self.head(features)
        b, k, h, w = logits.shape
        heatmap = F.softmax(logits.flatten(2) / self.temperature, dim=2).view(b, k, h, w)
        return heatmap, features


class KeypointDetector(nn.Module):
    """FOMM key points with local Jacobians.

    Modes: ``learned`` (key point = heatmap mean) or ``landmarks`` (the paper's reference
    implementation: positions are the given onset prior key points, shared by source and driving;
    the heatmaps only weight the Jacobians, so all motion comes from J_s J_d^-1).
    """

    def __init__(self, num_kp: int = 10, mode: str = "learned", estimate_jacobian: bool = True, **trunk):
        super().__init__()
        if mode not in KEYPOINT_MODES:
            raise ValueError(f"unknown key-point mode {mode!r}; valid: {', '.join(KEYPOINT_MODES)}")
        self.mode, self.num_kp = mode, num_kp
        self.trunk = HeatmapTrunk(num_kp, **trunk)
        self.jacobian = None
        if estimate_jacobian:
            self.jacobian = nn.Conv2d(self.trunk.hourglass.out_channels, 4 * num_kp, kernel_size=7, padding=3)
            nn.init.zeros_(self.jacobian.weight)
            self.jacobian.bias.data.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0]).repeat(num_kp))

    def forward(self, image, prior=None, keypoints=None) -> dict:
        heatmap, features = self.trunk(image, prior)
        b, k, h, w = heatmap.shape
        if self.mode == "landmarks":
            if keypoints is None or keypoints.shape[1] != k:
                raise ValueError(f"landmarks mode needs (B, {k}, 2) prior key points, got "
                                 f"{None if keypoints is None else tuple(keypoints.shape)}")
            value = keypoints.to(heatmap.dtype)
        else:
            value = heatmap_mean(heatmap)
        out = {"value": value, "heatmap": heatmap}
        if self.jacobian is not None:
            jac = self.jacobian(features).view(b, k, 4, h, w)
            out["jacobian"] = (jac * heatmap[:, :, None]).sum(dim=(3, 4)).view(b, k, 2, 2)
        else:
            out["jacobian"] = torch.eye(2, device=image.device, dtype=heatmap.dtype).expand(b, k, 2, 2)
        return out


class RegionPredictor(nn.Module):
    """MRAA regions: centre = heatmap mean, affine = U diag(sqrt(s)) from the covariance's SVD."""

    def __init__(self, num_kp: int = 10, mode: str = "learned", **trunk):
        super().__init__()
        if mode not in KEYPOINT_MODES:
            raise ValueError(f"unknown key-point mode {mode!r}; valid: {', '.join(KEYPOINT_MODES)}")
        self.mode, self.num_kp = mode, num_kp
        self.trunk = HeatmapTrunk(num_kp, **trunk)

    def forward(self, image, prior=None, keypoints=None) -> dict:
        heatmap, _ = self.trunk(image, prior)
        mean = heatmap_mean(heatmap)
        covar = heatmap_covariance(heatmap, mean)
        u, s, _ = torch.linalg.svd(covar)
        # the SVD's column signs are arbitrary: fix them so that an axis never flips between frames
        sign = torch.sign(u[..., 0:1, :]).masked_fill(u[..., 0:1, :] == 0, 1.0)
        affine = (u * sign) * s.clamp_min(1e-8).sqrt()[..., None, :]
        value = mean
        if self.mode == "landmarks":
            if keypoints is None or keypoints.shape[1] != self.num_kp:
                raise ValueError(f"landmarks mode needs (B, {self.num_kp}, 2) prior key points")
            value = keypoints.to(mean.dtype)
        return {"value": value, "jacobian": affine, "heatmap": heatmap, "covar": covar}


BACKGROUND_MODES = ("none", "affine", "perspective")


class BackgroundMotionPredictor(nn.Module):
    """Global motion of the background from (source, driving): (B, 3, 3), identity at initialisation."""

    def __init__(self, mode: str = "affine", num_channels: int = 3, block_expansion: int = 32, num_blocks: int = 4,
                 max_features: int = 256):
        super().__init__()
        if mode not in BACKGROUND_MODES:
            raise ValueError(f"unknown background motion {mode!r}; valid: {', '.join(BACKGROUND_MODES)}")
        self.mode = mode
        layers, cin = [], 2 * num_channels
        for i in range(num_blocks):
            cout = min(max_features, block_expansion * 2 ** (i + 1))
            layers.append(DownBlock2d(cin, cout))
            cin = cout
        self.encoder = nn.Sequential(*layers)
        self.head = nn.Linear(cin, 6 if mode == "affine" else 8)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, source, driving) -> torch.Tensor | None:
        if self.mode == "none":
            return None
        feat = self.encoder(torch.cat([source, driving], dim=1)).mean(dim=(2, 3))
        params = self.head(feat)
        b = params.shape[0]
        eye = torch.eye(3, device=params.device, dtype=params.dtype).expand(b, 3, 3).clone()
        if self.mode == "affine":
            eye[:, :2, :] = eye[:, :2, :] + params.view(b, 2, 3)
        else:
            eye.view(b, 9)[:, :8] += params
        return eye
