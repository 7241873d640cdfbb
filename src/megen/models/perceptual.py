"""VGG-19 perceptual features, defined here, loading torchvision's ImageNet state-dict file.

No download ever happens: the weights come from ``weights_path`` or the torch hub cache
(``$TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth``). Without them the loss fails with a
message saying how to provide the file, unless ``allow_random`` selects the documented
fallback: a fixed, seeded random VGG-19 (a random-feature perceptual loss; used by the
synthetic default and the tests, and not comparable with published numbers).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from megen.models.blocks import AntiAliasInterpolation2d

VGG19_FILE = "vgg19-dcbb9e9d.pth"
# torchvision's vgg19 "features" layout: channel widths and 'M' for max-pooling
_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512]
# slices ending after relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 (indices into `features`)
_SLICES = [(0, 2), (2, 7), (7, 12), (12, 21), (21, 30)]


class WeightsNotFoundError(FileNotFoundError):
    pass


def hub_weights_path() -> Path:
    home = Path(os.environ.get("TORCH_HOME", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "torch"))
    return home / "hub" / "checkpoints" / VGG19_FILE


def _features() -> nn.Sequential:
    layers, cin = [], 3
    for v in _CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
            cin = v
    return nn.Sequential(*layers)


class Vgg19(nn.Module):
    """(B, 3, H, W) in [0, 1] -> five feature maps (relu1_1 ... relu5_1; fewer below 16x16). Frozen;
    no layer depends on the train/eval mode."""

    def __init__(self, weights_path: str | None = None, allow_random: bool = False, seed: int = 0):
        super().__init__()
        self.features = _features()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        path = Path(weights_path).expanduser() if weights_path else hub_weights_path()
        if path.is_file():
            state = torch.load(path, map_location="cpu", weights_only=True)
            feats = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
            self.features.load_state_dict(feats, strict=True)
            self.pretrained = True
        elif allow_random:
            warnings.warn(f"VGG-19 weights not found at {path}; using the seeded random VGG fallback", stacklevel=2)
            gen = torch.Generator().manual_seed(seed)
            for m in self.features:
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, generator=gen)
                    nn.init.zeros_(m.bias)
            self.pretrained = False
        else:
            raise WeightsNotFoundError(
                f"VGG-19 ImageNet weights not found at {path}. Copy torchvision's {VGG19_FILE} there (or set "
                f"loss.perceptual.weights_path=<file>), or allow the random-feature fallback with "
                f"loss.perceptual.allow_random=true (results then differ from published ones)."
            )
        # Frozen by its gradients only: convolutions, ReLU and max-pooling compute the same in train and
        # eval mode, so it follows its parent's mode (Lightning warns about modules left in eval mode).
        self.requires_grad_(False)

    def forward(self, x):
        x = (x - self.mean) / self.std
        out = []
        for a, b in _SLICES:
            if min(x.shape[-2:]) < 2 and any(isinstance(m, nn.MaxPool2d) for m in self.features[a:b]):
                break   # tiny pyramid levels have no deep features; the loss uses the ones there are
            for layer in self.features[a:b]:
                x = layer(x)
            out.append(x)
        return out


class ImagePyramid(nn.Module):
    """{scale: (B, C, H*scale, W*scale)} anti-aliased copies of an image.

    Not kornia's ``build_pyramid``: it halves each level with one fixed 5x5 kernel, where each scale here is
    blurred once from the full image with a Gaussian sized to that scale (the first-order-model pyramid)."""

    def __init__(self, scales, num_channels: int = 3):
        super().__init__()
        self.scales = [float(s) for s in scales]
        self.down = nn.ModuleList(AntiAliasInterpolation2d(num_channels, s) for s in self.scales)

    def forward(self, x) -> dict:
        return {s: d(x) for s, d in zip(self.scales, self.down)}
