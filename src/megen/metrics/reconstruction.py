"""Pixel reconstruction metrics: L1, PSNR, SSIM.

All take ``update(pred, target)`` with float frames (B, C, H, W) in [0, 1], C = 1 or 3.
Sums are kept in float64: an evaluation adds up millions of small per-pixel errors, and the
micro-expression signal is a difference of such small numbers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics import Metric
from torchmetrics.functional.image import peak_signal_noise_ratio

from megen.metrics._frames import check_pair, to_gray


class L1Error(Metric):
    """Mean absolute error over every pixel and channel of every frame seen."""

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("abs_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """pred, target: (B, C, H, W) in [0, 1]."""
        check_pair(pred, target)
        self.abs_sum += (pred.double() - target.double()).abs().sum()
        self.n += pred.numel()

    def compute(self) -> torch.Tensor:
        return self.abs_sum / self.n if self.n > 0 else torch.full_like(self.abs_sum, float("nan"))


def psnr_per_frame(pred: torch.Tensor, target: torch.Tensor, max_db: float | None = 100.0) -> torch.Tensor:
    """PSNR (dB, data range 1) of each frame of (B, C, H, W) -> (B,) float64.

    Identical frames have infinite PSNR; ``max_db`` caps it (100 dB = MSE 1e-10, far beyond any
    uint8 rounding error) so that a single perfect frame does not turn the mean into inf.
    ``max_db=None`` keeps inf.
    """
    check_pair(pred, target)
    db = peak_signal_noise_ratio(pred.double(), target.double(), data_range=1.0, reduction="none", dim=(1, 2, 3))
    return db.clamp(max=max_db) if max_db is not None else db


class PSNR(Metric):
    """Per-frame PSNR (data range 1) averaged over frames.

    Averaging per frame (not one PSNR of the pooled MSE) is the usual video convention and keeps
    a few bad frames from dominating. Perfect frames count as ``max_db`` (default 100 dB;
    ``None`` gives inf, which makes the mean inf).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, max_db: float | None = 100.0, **kwargs):
        super().__init__(**kwargs)
        self.max_db = max_db
        self.add_state("db_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """pred, target: (B, C, H, W) in [0, 1]."""
        db = psnr_per_frame(pred, target, self.max_db)
        self.db_sum += db.sum()
        self.n += db.numel()

    def compute(self) -> torch.Tensor:
        return self.db_sum / self.n if self.n > 0 else torch.full_like(self.db_sum, float("nan"))


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype=torch.float64, device=None) -> torch.Tensor:
    """Normalised 1-D Gaussian (size,), centred on the middle tap."""
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2.0
    g = torch.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def ssim_per_frame(pred: torch.Tensor, target: torch.Tensor, window: int = 11, sigma: float = 1.5,
                   k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """SSIM (Wang et al. 2004, data range 1) of each gray-converted frame -> (B,) float64.

    Not torchmetrics' ``structural_similarity_index_measure``: it differs from this definition by up to
    0.006 on noisy 32x40 frames, which would move every pinned SSIM.

    The Gaussian-weighted local statistics are taken only where the window lies inside the
    frame ("valid" convolution), as in the original reference code; no padding means no
    border artefacts. Frames must be at least ``window`` pixels on each side.
    """
    check_pair(pred, target)
    if min(pred.shape[-2:]) < window:
        raise ValueError(f"SSIM needs frames of at least {window}x{window}, got {tuple(pred.shape[-2:])}")
    x = to_gray(pred.double())
    y = to_gray(target.double())
    g = gaussian_window(window, sigma, device=x.device)

    def blur(t: torch.Tensor) -> torch.Tensor:
        # separable: two 1-D passes cost 2k instead of k^2 multiplies per pixel
        t = F.conv2d(t, g.view(1, 1, 1, -1))
        return F.conv2d(t, g.view(1, 1, -1, 1))

    mu_x, mu_y = blur(x), blur(y)
    # population (biased) moments, the standard SSIM definition
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = k1**2, k2**2   # (K * data_range)^2 with data_range = 1
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return (num / den).flatten(1).mean(dim=1)


class SSIM(Metric):
    """Mean SSIM over frames: gray, Gaussian window 11, sigma 1.5, K1 = 0.01, K2 = 0.03, range 1."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, window: int = 11, sigma: float = 1.5, **kwargs):
        super().__init__(**kwargs)
        self.window = window
        self.sigma = sigma
        self.add_state("ssim_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """pred, target: (B, C, H, W) in [0, 1], H and W >= window."""
        s = ssim_per_frame(pred, target, self.window, self.sigma)
        self.ssim_sum += s.sum()
        self.n += s.numel()

    def compute(self) -> torch.Tensor:
        return self.ssim_sum / self.n if self.n > 0 else torch.full_like(self.ssim_sum, float("nan"))


__all__ = ["PSNR", "SSIM", "L1Error", "gaussian_window", "psnr_per_frame", "ssim_per_frame"]
