"""Onset -> apex optical flow and optical strain as a 3-channel map (OFF-ApexNet / STSTNet input).

Pure numpy / OpenCV functions: no files, no torch.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from megen.ops.flow import Farneback, as_gray_uint8, optical_flow

FEATURE_CHANNELS = ("u", "v", "strain")


@dataclass(frozen=True)
class FlowSettings:
    """Farnebäck parameters and the feature map size (everything that changes the features' bytes)."""

    size: int = 28
    # flat rather than a Farneback field: they are the features.* options, and their names key the feature cache
    pyr_scale: float = Farneback.pyr_scale
    levels: int = Farneback.levels
    winsize: int = Farneback.winsize
    iterations: int = Farneback.iterations
    poly_n: int = Farneback.poly_n
    poly_sigma: float = Farneback.poly_sigma

    def __post_init__(self):
        if int(self.size) < 4:
            raise ValueError(f"features.size must be at least 4, got {self.size}")
        try:    # the estimator checks its own parameters; named here as the features.* options they are
            _ = self.farneback
        except ValueError as err:
            raise ValueError(f"features.{err}") from None

    @classmethod
    def from_config(cls, cfg) -> "FlowSettings":
        cfg = dict(cfg or {})
        unknown = set(cfg) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown features setting(s) {sorted(unknown)}; valid: {sorted(cls.__dataclass_fields__)}")
        return cls(**cfg)

    @property
    def farneback(self) -> Farneback:
        """The estimator these settings describe (the feature size aside)."""
        return Farneback(self.pyr_scale, self.levels, self.winsize, self.iterations, self.poly_n, self.poly_sigma)

    def key(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def farneback_flow(onset: np.ndarray, apex: np.ndarray, settings: FlowSettings = FlowSettings()) -> np.ndarray:
    """Dense forward flow (H, W, 2) float32 in pixels from ``onset`` (H, W) to ``apex`` (H, W): the content at
    p in the onset frame is at p + flow(p) in the apex frame (``megen.ops.flow``, Farnebäck with ``settings``)."""
    return optical_flow(as_gray_uint8(onset, "onset"), as_gray_uint8(apex, "apex"), settings.farneback)


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Magnitude of the strain tensor of ``flow`` (H, W, 2) -> (H, W) float32.

    |e| = sqrt(u_x^2 + v_y^2 + 0.5 (u_y + v_x)^2): the shear term counts twice (e_xy and e_yx).
    A rigid translation has zero strain, so strain isolates the skin's deformation from head shift.
    """
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim != 3 or flow.shape[-1] != 2:
        raise ValueError(f"flow must be (H, W, 2), got shape {flow.shape}")
    u_y, u_x = np.gradient(flow[..., 0])
    v_y, v_x = np.gradient(flow[..., 1])
    return np.sqrt(u_x ** 2 + v_y ** 2 + 0.5 * (u_y + v_x) ** 2).astype(np.float32)


def flow_features(flow: np.ndarray, size: int = 28) -> np.ndarray:
    """(H, W, 2) flow -> (3, size, size) float32 map: horizontal, vertical flow and optical strain.

    Strain is taken at the full resolution (gradients of a reduced flow would mix neighbouring
    regions); all three are then area-averaged to ``size``. The flow channels are rescaled to
    pixels of the ``size`` map, so a motion covering the same fraction of the face gives the
    same feature whatever the prepared frame size.
    """
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim != 3 or flow.shape[-1] != 2:
        raise ValueError(f"flow must be (H, W, 2), got shape {flow.shape}")
    h, w = flow.shape[:2]
    strain = optical_strain(flow)
    resize = lambda m: cv2.resize(m, (size, size), interpolation=cv2.INTER_AREA)   # noqa: E731
    u = resize(flow[..., 0]) * (size / w)
    v = resize(flow[..., 1]) * (size / h)
    return np.stack([u, v, resize(strain)]).astype(np.float32)


def onset_apex_features(onset: np.ndarray, apex: np.ndarray, settings: FlowSettings = FlowSettings()) -> np.ndarray:
    """Onset (H, W) and apex (H, W) gray frames -> (3, size, size) flow + strain features."""
    return flow_features(farneback_flow(onset, apex, settings), settings.size)


def hflip_features(features: np.ndarray) -> np.ndarray:
    """Mirror (..., 3, S, S) features left-right: the horizontal flow changes sign, the rest moves."""
    out = np.flip(np.asarray(features), axis=-1).copy()
    out[..., 0, :, :] *= -1
    return out
