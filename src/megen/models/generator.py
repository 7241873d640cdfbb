"""Occlusion-aware generator: encode the source, warp its features, decode the driving frame."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from megen.models.blocks import DownBlock2d, ResBlock2d, SameBlock2d, UpBlock2d
from megen.models.motion import warp


class OcclusionAwareGenerator(nn.Module):
    """(source (B, C, H, W), dense motion dict) -> prediction (B, C, H, W) in [0, 1].

    ``blend_warped_source`` composes the output as ``o * warp(source) + (1 - o) * decoded`` with
    the occlusion map ``o``: visible pixels are copied from the source at the predicted motion,
    which is what lets sub-pixel micro-motion survive the decoder's blur.
    """

    def __init__(self, num_channels: int = 3, block_expansion: int = 64, max_features: int = 512,
                 num_down_blocks: int = 2, num_bottleneck_blocks: int = 6, blend_warped_source: bool = False):
        super().__init__()
        self.first = SameBlock2d(num_channels, block_expansion, kernel_size=7)
        widths = [min(max_features, block_expansion * 2**i) for i in range(num_down_blocks + 1)]
        self.down = nn.ModuleList(DownBlock2d(widths[i], widths[i + 1]) for i in range(num_down_blocks))
        self.bottleneck = nn.Sequential(*[ResBlock2d(widths[-1]) for _ in range(num_bottleneck_blocks)])
        self.up = nn.ModuleList(UpBlock2d(widths[i + 1], widths[i]) for i in reversed(range(num_down_blocks)))
        self.final = nn.Conv2d(block_expansion, num_channels, kernel_size=7, padding=3)
        self.blend_warped_source = blend_warped_source

    def encode(self, source: torch.Tensor) -> torch.Tensor:
        """Source features (B, F, H / 2**d, W / 2**d); computed once per target when animating."""
        x = self.first(source)
        for block in self.down:
            x = block(x)
        return x

    def decode(self, features, source, motion: dict) -> dict:
        occlusion = motion.get("occlusion")
        warped = warp(features, motion["deformation"])
        if occlusion is not None:
            occ = F.interpolate(occlusion, size=warped.shape[2:], mode="bilinear", align_corners=False)
            warped = warped * occ
        x = self.bottleneck(warped)
        for block in self.up:
            x = block(x)
        prediction = torch.sigmoid(self.final(x))
        out = {"prediction": prediction}
        if self.blend_warped_source:
            warped_source = warp(source, motion["deformation"])
            o = (F.interpolate(occlusion, size=source.shape[2:], mode="bilinear", align_corners=False)
                 if occlusion is not None else torch.ones_like(prediction[:, :1]))
            out["prediction"] = o * warped_source + (1 - o) * prediction
            out["warped_source"] = warped_source
        return out

    def forward(self, source, motion: dict) -> dict:
        return self.decode(self.encode(source), source, motion)
