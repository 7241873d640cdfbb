"""Magnify, animate, de-magnify: a key-point model (FOMM, MRAA, TPS) sees the driver's micro-motion magnified
k times, at the scale its key points resolve, and its predicted motion is reduced by k again.

    the driver's crop at >= 256 px (T, C, N, N)
      -> its backward optical flow of every frame to the reference frame (``megen.ops.flow``)
      -> each frame re-rendered as the reference warped by k x that flow (Lagrangian magnification: the
         content moves k times as far, the texture stays sharp)
      -> the key-point model animates the target with these frames
      -> the displacement of its deformation scaled by 1 / k, the target warped at its own size

The decoder's frames show the magnified motion, so they are not used: the output is the target warped by the
de-magnified deformation (``render=native``), with no occlusion fill (a micro-expression uncovers nothing).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F

from megen.animation.errors import GenerationError
from megen.face.flow import DRIVER_FLOW, warp_backward
from megen.models.motion import coordinate_grid
from megen.ops.flow import flows_to_reference

#: the magnification factors ``magnify=`` may ask for
MAGNIFY_RANGE = (1.0, 64.0)


def magnify_frames(frames: np.ndarray, factor: float, reference: int = 0, estimator=DRIVER_FLOW) -> np.ndarray:
    """(T, H, W[, C]) uint8 -> the same clip with its motion to frame ``reference`` magnified ``factor`` times:
    frame t is the reference warped by ``factor`` x the backward flow of frame t (measured on the gray frames by
    ``estimator``). ``factor`` 1 gives the reference warped by the measured flow itself."""
    frames = np.asarray(frames)
    gray = frames if frames.ndim == 3 else frames.mean(-1).round().astype(np.uint8)
    flows = flows_to_reference(list(gray), reference, estimator)
    base = frames[reference]
    return np.stack([base if t == reference else warp_backward(base, np.float32(factor) * f)
                     for t, f in enumerate(flows)])


def demagnify(deformation: torch.Tensor, factor: float) -> torch.Tensor:
    """A deformation (n, h, w, 2) in [-1, 1] with its displacement from the identity grid scaled by 1 / ``factor``."""
    identity = coordinate_grid(*deformation.shape[1:3], dtype=deformation.dtype, device=deformation.device)
    return identity + (deformation - identity) / float(factor)


class MagnifiedSource:
    """A key-point source (``megen.animation.sources.KeypointSource``) fed the driver magnified ``factor`` times
    (``magnify_frames`` on its >= 256-px crop), its deformation de-magnified; rendered natively only."""

    renders = frozenset({"native"})

    def __init__(self, inner, factor: float, estimator=None):
        """``estimator`` (``megen.ops.flow``'s signature; default ``DRIVER_FLOW``) measures the driver's motion
        before it is magnified: its noise is magnified with it."""
        if not MAGNIFY_RANGE[0] <= float(factor) <= MAGNIFY_RANGE[1]:
            raise GenerationError(f"magnify={factor}: expected a number in [{MAGNIFY_RANGE[0]:g}, {MAGNIFY_RANGE[1]:g}]")
        self.inner, self.factor = inner, float(factor)
        self.estimator = estimator or DRIVER_FLOW

    def start(self, target, driving, start: int = 0, native: bool = False) -> None:
        from megen.runtime.video import to_uint8

        if driving.native is None:
            raise GenerationError("magnify= measures the driver's motion on its face crop at >= 256 px: the driving "
                                  "clip has no face, or only a model-size crop")
        clip = to_uint8(driving.native)
        clip = clip[..., 0] if driving.native.shape[1] == 1 else clip
        big = torch.from_numpy(magnify_frames(clip, self.factor, start, self.estimator)).float().div(255.0)
        big = big[:, None] if big.ndim == 3 else big.permute(0, 3, 1, 2)
        size = driving.frames.shape[-1]
        small = F.interpolate(big.mean(1, keepdim=True), size=(size, size), mode="area").expand(-1, 3, -1, -1)
        # stored guides are the unmagnified clip's: they do not carry over
        magnified = dataclasses.replace(driving, frames=small.contiguous(), native=big.contiguous(), measured=None)
        self.inner.start(target, magnified, start, native)

    def motion(self, a: int, n: int) -> dict:
        out = self.inner.motion(a, n)
        return {**out, "deformation": demagnify(out["deformation"], self.factor), "occlusion": None}


__all__ = ["MAGNIFY_RANGE", "MagnifiedSource", "demagnify", "magnify_frames"]
