"""Facial prior maps from key points, vectorised over a batch of point sets, and the prior setting."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import torch

from megen.face.choices import PriorFusion, PriorKernel
from megen.face.keypoints import KEYPOINT_SETS, num_keypoints
from megen.models.choices import KeypointMode, PriorInputMode
from megen.runtime.choice import Choice


def pixel_grid(size: int, frame_size: float, dtype=torch.float32, device=None) -> torch.Tensor:
    """(size, size, 2) pixel-centre (x, y) coordinates of a size x size map, in frame pixels."""
    step = frame_size / size
    c = (torch.arange(size, dtype=dtype, device=device) + 0.5) * step - 0.5
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xx, yy], dim=-1)


def prior_map(
    points,
    size: int,
    sigma: float,
    kernel: str = "gaussian",
    fusion: str = "sum",
    frame_size: float = 256,
    eps: float = 1e-12,
) -> torch.Tensor:
    """Facial prior maps.

    Args:
        points: (B, K, 2) or (K, 2) key points, pixel (x, y) of a ``frame_size`` frame.
        size: output side length; the map covers the whole frame.
        sigma: kernel width in frame pixels (independent of ``size``).
        kernel: ``gaussian`` exp(-d^2 / 2s^2); ``paper`` exp(-d / 2s^2), Euclidean d (Eq. 5
            as printed); ``reference`` exp(-sqrt(d_L1) / 2s^2), each map divided by its max and
            zeroed below its mean (the public implementation).
        fusion: ``sum`` -> one channel scaled to [0, 1] by its max; ``separate`` -> K channels.
    Returns:
        (B, 1, size, size) for ``sum`` or (B, K, size, size) for ``separate``, float32 in [0, 1]
        (unbatched input gives no B axis).
    """
    kernel, fusion = PriorKernel.parse(kernel, "prior.kernel"), PriorFusion.parse(fusion, "prior.fusion")
    if sigma <= 0:
        raise ValueError(f"prior sigma must be > 0, got {sigma}")
    pts = torch.as_tensor(np.asarray(points) if not torch.is_tensor(points) else points)
    pts = pts.to(torch.float64)
    unbatched = pts.dim() == 2
    if unbatched:
        pts = pts[None]
    if pts.dim() != 3 or pts.shape[-1] != 2:
        raise ValueError(f"points must have shape (B, K, 2) or (K, 2), got {tuple(pts.shape)}")

    grid = pixel_grid(size, frame_size, dtype=torch.float64, device=pts.device)      # (S, S, 2)
    diff = grid[None, None] - pts[:, :, None, None, :]                               # (B, K, S, S, 2)
    two_s2 = 2.0 * float(sigma) ** 2
    if kernel == PriorKernel.GAUSSIAN:
        maps = torch.exp(-(diff**2).sum(-1) / two_s2)
    elif kernel == PriorKernel.PAPER:
        maps = torch.exp(-(diff**2).sum(-1).sqrt() / two_s2)
    else:
        maps = torch.exp(-diff.abs().sum(-1).sqrt() / two_s2)
        maps = maps / maps.amax(dim=(-2, -1), keepdim=True).clamp_min(eps)
        maps = torch.where(maps < maps.mean(dim=(-2, -1), keepdim=True), torch.zeros_like(maps), maps)

    if fusion == PriorFusion.SUM:
        maps = maps.sum(dim=1, keepdim=True)
        maps = maps / maps.amax(dim=(-2, -1), keepdim=True).clamp_min(eps)
    out = maps.to(torch.float32)
    return out[0] if unbatched else out


@dataclass(frozen=True)
class PriorSetting:
    """The facial prior of a model: which key points, how they become a map, how the model uses it.

    ``sigma`` is in pixels of the prepared frame; ``map_size`` is the side of the map the key-point
    detector reads (frame size x its scale factor, see ``from_config``). ``input`` is how the map
    reaches the detector and ``keypoint_mode`` what the model's key points are (see conf/prior).
    Checked on construction: a bad value raises ``ValueError`` naming the ``prior.<key>`` setting.
    """

    keypoints: str = "paper18"
    sigma: float = 8.0
    kernel: str = "gaussian"
    fusion: str = "sum"
    input: str = "concat"
    keypoint_mode: str = "learned"
    map_size: int = 64

    def __post_init__(self):
        if self.keypoints not in KEYPOINT_SETS:
            raise ValueError(f"prior.keypoints={self.keypoints!r} is not valid; valid: {', '.join(sorted(KEYPOINT_SETS))}")
        for key, choice in (("kernel", PriorKernel), ("fusion", PriorFusion), ("input", PriorInputMode),
                            ("keypoint_mode", KeypointMode)):
            object.__setattr__(self, key, choice.parse(getattr(self, key), f"prior.{key}"))
        for key, kind in (("sigma", float), ("map_size", int)):
            value = getattr(self, key)
            try:
                number = kind(value)
            except (TypeError, ValueError):
                raise ValueError(f"prior.{key}={value!r} is not a number") from None
            if number <= 0 or isinstance(value, bool):
                raise ValueError(f"prior.{key}={value!r} must be a positive number")
            object.__setattr__(self, key, number)

    @classmethod
    def from_config(cls, cfg, frame_size: int | None = None, scale_factor: float | None = None) -> "PriorSetting":
        """From a ``prior`` config mapping (unknown keys ignored). With ``frame_size`` and the key-point
        detector's ``scale_factor`` the map size is computed; otherwise the mapping's ``map_size`` is used."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in dict(cfg).items() if k in names}
        if frame_size is not None and scale_factor is not None:
            values["map_size"] = int(round(float(frame_size) * float(scale_factor)))
        return cls(**values)

    @property
    def num_keypoints(self) -> int:
        return num_keypoints(self.keypoints)

    @property
    def channels(self) -> int:
        """Prior map channels: one summed map, or one per key point."""
        return self.num_keypoints if self.fusion == PriorFusion.SEPARATE else 1

    def key(self) -> str:
        """A file-name key of everything that changes the maps (cache files are named by it)."""
        return f"{self.keypoints}-{self.kernel}-{self.fusion}-s{self.sigma:g}-m{self.map_size}"

    def maps(self, points, frame_size: float) -> torch.Tensor:
        """(B, K, 2) or (K, 2) key points in pixels of a ``frame_size`` frame -> (B, C, s, s) maps."""
        return prior_map(points, self.map_size, self.sigma, kernel=self.kernel, fusion=self.fusion,
                         frame_size=frame_size)

    def as_dict(self) -> dict:
        """The setting in plain values (an option's string, not its member), as configs and files hold it."""
        return {k: str(v) if isinstance(v, Choice) else v for k, v in asdict(self).items()}

    def model_args(self) -> dict:
        """What a model is built from: the setting plus plain counts, so models need no face code."""
        return {**self.as_dict(), "num_keypoints": self.num_keypoints, "channels": self.channels}
