"""Multi-scale PatchGAN discriminator."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm as sn

from megen.models.blocks import AntiAliasInterpolation2d


class PatchDiscriminator(nn.Module):
    """(B, C, H, W) -> (feature maps, patch scores (B, 1, h, w))."""

    def __init__(self, num_channels: int = 3, block_expansion: int = 32, num_blocks: int = 4, max_features: int = 512,
                 spectral_norm: bool = False):
        super().__init__()
        wrap = sn if spectral_norm else (lambda m: m)
        layers, cin = [], num_channels
        for i in range(num_blocks):
            cout = min(max_features, block_expansion * 2 ** (i + 1))
            layers.append(nn.ModuleDict({
                "conv": wrap(nn.Conv2d(cin, cout, kernel_size=4, padding=1)),
                "norm": nn.InstanceNorm2d(cout, affine=True) if i > 0 else nn.Identity(),
            }))
            cin = cout
        self.blocks = nn.ModuleList(layers)
        self.pool = [i < num_blocks - 1 for i in range(num_blocks)]
        self.score = wrap(nn.Conv2d(cin, 1, kernel_size=4, padding=1))

    def forward(self, x):
        features = []
        for block, pool in zip(self.blocks, self.pool):
            x = F.leaky_relu(block["norm"](block["conv"](x)), 0.2)
            if pool:
                x = F.avg_pool2d(x, 2)
            features.append(x)
        return features, self.score(x)


class MultiScaleDiscriminator(nn.Module):
    """One PatchGAN per scale; returns {scale: (features, scores)}."""

    def __init__(self, scales=(1,), num_channels: int = 3, **kwargs):
        super().__init__()
        self.scales = [float(s) for s in scales]
        self.nets = nn.ModuleDict({str(i): PatchDiscriminator(num_channels, **kwargs) for i in range(len(self.scales))})
        self.down = nn.ModuleDict({str(i): AntiAliasInterpolation2d(num_channels, s) for i, s in enumerate(self.scales)})

    def forward(self, x: torch.Tensor) -> dict:
        return {s: self.nets[str(i)](self.down[str(i)](x)) for i, s in enumerate(self.scales)}
