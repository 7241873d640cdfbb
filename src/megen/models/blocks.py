"""Convolutional building blocks shared by every network."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.filters import get_gaussian_kernel2d
from torch import nn


def _relu() -> nn.ReLU:
    """In place: every ReLU here follows a BatchNorm, whose backward needs its input, not its output, so
    overwriting the output saves a tensor's allocation and a pass over memory with the same numbers."""
    return nn.ReLU(inplace=True)


#: a 3x3 convolution on a map of at most this many pixels, with at least this many weight matrices' entries
#: (in x out channels), runs as one matrix product on the CPU (:class:`Conv2d`)
SMALL_MAP_PIXELS, WIDE_CHANNELS = 16, 512 * 1024


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` that, on the CPU, computes a wide convolution on a tiny map as one matrix product of the
    unfolded input (im2col, then ``F.linear``).

    The hourglasses' innermost levels (1024 channels on 2x2 to 4x4 maps at 128 px) are bound by their tens of
    megabytes of weights, not by arithmetic: oneDNN's kernels there are 1.5-3x slower per call (forward and
    backward) than a single matrix product, and together took an eighth of a vox-256 training step. The same
    parameters (checkpoints load unchanged) and the same numbers to float rounding; graphs being traced or
    exported, and other devices, take ``nn.Conv2d``'s own path.
    """

    def _as_matmul(self, x: torch.Tensor) -> bool:
        return (x.device.type == "cpu" and x.dim() == 4 and x.shape[-1] * x.shape[-2] <= SMALL_MAP_PIXELS
                and self.in_channels * self.out_channels >= WIDE_CHANNELS and self.groups == 1
                and self.stride == (1, 1) and self.dilation == (1, 1) and self.padding_mode == "zeros"
                and isinstance(self.padding, tuple) and not torch.jit.is_tracing()
                and not torch.onnx.is_in_onnx_export())

    def forward(self, x):
        if not self._as_matmul(x):
            return super().forward(x)
        n, _, h, w = x.shape
        cols = F.unfold(x, self.kernel_size, padding=self.padding)                      # (N, Cin*k*k, H'*W')
        hh = h + 2 * self.padding[0] - self.kernel_size[0] + 1
        ww = w + 2 * self.padding[1] - self.kernel_size[1] + 1
        out = F.linear(cols.transpose(1, 2).reshape(n * hh * ww, -1), self.weight.reshape(self.out_channels, -1),
                       self.bias)                                                        # (N*H'*W', Cout)
        return out.view(n, hh, ww, self.out_channels).permute(0, 3, 1, 2).contiguous()


class ResBlock2d(nn.Module):
    """Pre-activation residual block; keeps (B, C, H, W)."""

    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        pad = kernel_size // 2
        self.body = nn.Sequential(
            nn.BatchNorm2d(channels), _relu(), nn.Conv2d(channels, channels, kernel_size, padding=pad),
            nn.BatchNorm2d(channels), _relu(), nn.Conv2d(channels, channels, kernel_size, padding=pad),
        )

    def forward(self, x):
        return x + self.body(x)


def upsample_nearest2x(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, 2H, 2W), each pixel repeated 2 x 2: ``F.interpolate(x, scale_factor=2, mode="nearest")``.

    Without gradients it is one broadcast copy, the same numbers 2-10x faster on the CPU than the interpolation
    kernel (a sixth of a generated frame's decoding); with gradients, or traced for export, the interpolation
    itself (its backward sums the four copies in its own order, which training keeps)."""
    if torch.is_grad_enabled() or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        return F.interpolate(x, scale_factor=2.0, mode="nearest")
    b, c, h, w = x.shape
    return x[:, :, :, None, :, None].expand(b, c, h, 2, w, 2).reshape(b, c, 2 * h, 2 * w)


class UpBlock2d(nn.Module):
    """(B, Cin, H, W) -> (B, Cout, 2H, 2W): nearest upsampling, conv, BN, ReLU."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Sequential(Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), _relu())

    def forward(self, x):
        return self.conv(upsample_nearest2x(x))


class DownBlock2d(nn.Module):
    """(B, Cin, H, W) -> (B, Cout, H/2, W/2): conv, BN, ReLU, average pooling."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Sequential(Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), _relu())

    def forward(self, x):
        return F.avg_pool2d(self.conv(x), 2)


class SameBlock2d(nn.Module):
    """Conv, BN, ReLU keeping the resolution."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(cin, cout, kernel_size, padding=kernel_size // 2), nn.BatchNorm2d(cout),
                                  _relu())

    def forward(self, x):
        return self.conv(x)


def _width(block_expansion: int, level: int, max_features: int) -> int:
    return min(max_features, block_expansion * (2 ** level))


class Hourglass(nn.Module):
    """U-Net style encoder/decoder: (B, Cin, H, W) -> (B, out_channels, H, W); H divisible by 2**num_blocks."""

    def __init__(self, in_channels: int, block_expansion: int, num_blocks: int = 3, max_features: int = 256):
        super().__init__()
        self.down = nn.ModuleList(
            DownBlock2d(in_channels if i == 0 else _width(block_expansion, i, max_features),
                        _width(block_expansion, i + 1, max_features))
            for i in range(num_blocks)
        )
        up = []
        for i in reversed(range(num_blocks)):
            cin = (1 if i == num_blocks - 1 else 2) * _width(block_expansion, i + 1, max_features)
            up.append(UpBlock2d(cin, _width(block_expansion, i, max_features)))
        self.up = nn.ModuleList(up)
        self.out_channels = block_expansion + in_channels
        # channels of each decoder level, coarsest (H / 2**(num_blocks - 1)) to finest (H)
        self.level_channels = [2 * _width(block_expansion, i, max_features) for i in reversed(range(1, num_blocks))]
        self.level_channels.append(self.out_channels)
        self.num_blocks = num_blocks

    def forward(self, x, all_levels: bool = False):
        """The finest decoder output, or with ``all_levels`` every decoder level, coarsest first."""
        skips = [x]
        for block in self.down:
            skips.append(block(skips[-1]))
        out = skips.pop()
        levels = []
        for block in self.up:
            out = torch.cat([block(out), skips.pop()], dim=1)
            levels.append(out)
        return levels if all_levels else out


class AntiAliasInterpolation2d(nn.Module):
    """Gaussian blur then subsample: (B, C, H, W) -> (B, C, H*scale, W*scale) without aliasing."""

    def __init__(self, channels: int, scale: float):
        super().__init__()
        self.scale = float(scale)
        sigma = (1.0 / scale - 1.0) / 2.0
        size = 2 * round(sigma * 4) + 1
        self.pad = size // 2
        kernel = get_gaussian_kernel2d((size, size), (max(sigma, 1e-6),) * 2)[0]    # (size, size), sums to 1
        self.register_buffer("kernel", kernel.expand(channels, 1, size, size).clone(), persistent=False)
        self.channels = channels
        self.step = int(round(1.0 / scale))

    def forward(self, x):
        if self.scale == 1.0:
            return x
        # the blur only where it is kept (every step-th pixel): the same values as blurring every
        # pixel and subsampling (kornia's gaussian_blur2d, then a slice), at 1 / step**2 of the work
        return F.conv2d(F.pad(x, (self.pad,) * 4, mode="reflect" if x.shape[-1] > self.pad else "replicate"),
                        self.kernel, groups=self.channels, stride=self.step)
