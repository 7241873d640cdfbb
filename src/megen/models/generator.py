"""Occlusion-aware generator: encode the source, warp its features, decode the driving frame."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from megen.models.blocks import DownBlock2d, ResBlock2d, SameBlock2d, UpBlock2d
from megen.models.motion import at_least_fp32, warp


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
        prediction = torch.sigmoid(at_least_fp32(self.final(x)))     # frames in float32 under bf16 autocast too
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


class MultiScaleOcclusionGenerator(nn.Module):
    """TPSMM's generator: warped source features enter the decoder at every scale, each masked by
    the occlusion map of that scale, then the output is blended with the warped source.

    (source (B, C, H, W), dense motion dict with ``deformation`` (B, h, w, 2) and ``occlusion_maps``
    [(B, 1, H / 2**d, W / 2**d) for d = D ... 0]) -> ``prediction`` (B, C, H, W) in [0, 1],
    ``warped_source``, and while training ``warped_features``: the warped, occluded source features
    coarse to fine, computed from detached features and maps so that the warp loss against the
    driving frame's own features (``target_features``) trains the motion only.

    ``num_bottleneck_blocks`` residual blocks run before each up-sampling (TPSMM: 2); H and W must
    be divisible by 2**``num_down_blocks``.
    """

    def __init__(self, num_channels: int = 3, block_expansion: int = 64, max_features: int = 512,
                 num_down_blocks: int = 3, num_bottleneck_blocks: int = 2):
        super().__init__()
        if num_down_blocks < 1:
            raise ValueError("the multi-scale occlusion generator needs num_down_blocks >= 1")
        d = num_down_blocks
        self.widths = [min(max_features, block_expansion * 2**i) for i in range(d + 1)]
        self.first = SameBlock2d(num_channels, block_expansion, kernel_size=7)
        self.down = nn.ModuleList(DownBlock2d(self.widths[i], self.widths[i + 1]) for i in range(d))
        # decoder step i reads scale d - i: the warped bottleneck first, then [up-sampled, warped skip]
        inputs = [self.widths[d]] + [2 * self.widths[d - i] for i in range(1, d)]
        self.res = nn.ModuleList(nn.Sequential(*[ResBlock2d(c) for _ in range(num_bottleneck_blocks)]) for c in inputs)
        self.up = nn.ModuleList(UpBlock2d(c, self.widths[d - 1 - i]) for i, c in enumerate(inputs))
        self.final = nn.Conv2d(self.widths[0], num_channels, kernel_size=7, padding=3)
        self.num_down_blocks = d

    def feature_pyramid(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Encoder features, fine to coarse: [(B, widths[s], H / 2**s, W / 2**s) for s = 0 ... D]."""
        maps = [self.first(image)]
        for block in self.down:
            maps.append(block(maps[-1]))
        return maps

    def encode(self, source: torch.Tensor) -> torch.Tensor:
        """The source's feature pyramid packed into one (B, N, 1, 1) tensor, so that callers that
        encode a target once and expand it over a batch of driving frames treat it as one tensor."""
        return torch.cat([m.flatten(1) for m in self.feature_pyramid(source)], dim=1)[:, :, None, None]

    def _unpack(self, packed: torch.Tensor, size) -> list[torch.Tensor]:
        h, w = size
        shapes = []
        for width in self.widths:
            shapes.append((width, h, w))
            h, w = h // 2, w // 2
        parts = packed.flatten(1).split([c * hh * ww for c, hh, ww in shapes], dim=1)
        return [p.reshape(-1, *s) for p, s in zip(parts, shapes)]

    def target_features(self, driving: torch.Tensor, occlusion_maps: list) -> list[torch.Tensor]:
        """The driving frame's own features, occluded like the warped ones, coarse to fine, no gradient."""
        with torch.no_grad():
            maps = self.feature_pyramid(driving)
        return [maps[self.num_down_blocks - i] * occlusion_maps[i].detach() for i in range(self.num_down_blocks + 1)]

    def decode(self, features, source, motion: dict) -> dict:
        maps = self._unpack(features, source.shape[2:]) if torch.is_tensor(features) else features
        deformation, occlusion = motion["deformation"], motion["occlusion_maps"]
        d = self.num_down_blocks
        warped = []
        x = None
        for i in range(d + 1):
            skip = warp(maps[d - i], deformation) * occlusion[i]
            if self.training:
                warped.append(warp(maps[d - i].detach(), deformation) * occlusion[i].detach())
            if i == 0:
                x = skip
            elif i < d:
                x = torch.cat([x, skip], dim=1)
            else:   # finest scale: the decoder fills in where the warped features are occluded
                x = x * (1 - occlusion[i]) + skip
            if i < d:
                x = self.up[i](self.res[i](x))
        prediction = torch.sigmoid(self.final(x))
        warped_source = warp(source, deformation)
        o = occlusion[-1]
        out = {"prediction": o * warped_source + (1 - o) * prediction, "warped_source": warped_source}
        if self.training:
            out["warped_features"] = warped
        return out

    def forward(self, source, motion: dict) -> dict:
        return self.decode(self.feature_pyramid(source), source, motion)
