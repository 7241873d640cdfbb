"""Animate a target face with a driving clip: one pipeline (validation, the model's motion source, one batched
loop of motion and rendering) for every model; the source side is computed once per clip."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from megen.animation.errors import GenerationError
from megen.animation.native import RENDERS
from megen.animation.precision import with_precision
from megen.animation.sources import motion_source, render_frames
from megen.config.choices import Device, Render
from megen.face.prior import PriorSetting
from megen.models.full import MotionTransferModel


@dataclass
class FaceInput:
    """A cropped face and its onset prior: frames (T, 3, S, S) in [0, 1], prior (1, C, s, s), keypoints (1, K, 2)."""

    frames: torch.Tensor
    prior: torch.Tensor
    keypoints: torch.Tensor
    landmarks: np.ndarray | None = None     # (68, 2) pixels of the crop, onset frame
    face_found: bool = True
    native: torch.Tensor | None = None      # (T, 1 | 3, N, N) the same crop at its own size and colour
    native_landmarks: np.ndarray | None = None   # (68, 2) pixels of the native crop
    # the clip's motion already measured where it is visible (a synthetic set's fine-render guides):
    # megen.face.flow.DriverFlow, used instead of measuring the (coarser) frames again
    measured: object | None = None

    @classmethod
    def build(cls, frames: np.ndarray, keypoints: np.ndarray, prior: PriorSetting, landmarks=None, face_found=True):
        """From (T, S, S) uint8 gray frames and (K, 2) onset key points in pixels, with ``prior``
        the model's prior setting."""
        size = frames.shape[-1]
        stack = torch.from_numpy(np.ascontiguousarray(frames)).float().div(255.0)[:, None].expand(-1, 3, -1, -1)
        maps = prior.maps(np.asarray(keypoints)[None], size)
        kp = torch.from_numpy((2.0 * np.asarray(keypoints) + 1.0) / size - 1.0).float()[None]
        return cls(stack.contiguous(), maps, kp, landmarks, face_found)


@with_precision     # precision="fp32" | "bf16" (megen.animation.precision)
@torch.inference_mode()
def animate(model: MotionTransferModel, target: FaceInput, driving: FaceInput, relative: bool = True,
            adapt_movement_scale: bool = False, batch_size: int = 8, start: int = 0,
            on_frames: Callable[[int], None] | None = None, engine=None, render: str = "decoder",
            controls=None, positions=None, magnify: float = 1.0, magnify_estimator=None) -> torch.Tensor:
    """Generated frames with the target's appearance and the driving clip's motion: (T, 3, S, S) at
    the model's frame size (``render="decoder"``), or (T, C, N, N) at the size and colour of the
    target's native crop (``render="native"``, needs ``target.native``; see ``megen.animation.native``).

    One pipeline for every model: the options are checked, the model's motion source
    (``megen.animation.sources``) sees the clip once (the target encoded, the driver's reference
    frame ``start``), then driving frames go through motion and rendering in batches.
    ``relative`` transfers motion relative to driving frame ``start`` (the paper's setting);
    otherwise driving key points are used as they are; options that mean nothing to a source
    (``relative=False`` for the flow-guided model) are refused by name. ``on_frames(n)`` is called
    after each batch of n frames (progress). ``engine`` (an ``OnnxFrameEngine`` of this model,
    ``megen.animation.onnx_backend``) runs the key-point families' per-frame part. ``controls``
    (``megen.face.controls.MotionControls``: head, gain, regions) shape the driver's measured motion;
    ``positions`` (M,) (``MotionControls.positions``: fractional driving frames) retime it, M output frames
    made by interpolating the measured motion (sources that can: ``retime``). ``magnify`` > 1: a key-point
    model sees the driver's motion magnified that many times and its motion is reduced again
    (``megen.animation.magnify``; ``render="native"``, the driver's >= 256-px crop in ``driving.native``), its
    motion measured by ``magnify_estimator`` (a ``megen.ops.flow`` estimator; default ``DRIVER_FLOW``).
    """
    if render not in RENDERS:
        raise ValueError(f"render={render!r} is not valid; valid: {', '.join(RENDERS)}")
    if render == Render.NATIVE and target.native is None:
        raise ValueError("render=native needs the target's native crop (Animator.face_input(..., native=...))")
    source = motion_source(model, engine, relative, adapt_movement_scale, controls, magnify, magnify_estimator)
    if render not in source.renders:
        raise ValueError("backend=onnxruntime renders at the model's frame size: use render=decoder or backend=torch"
                         if engine is not None else f"magnify={magnify:g} renders the target warped at its own size: "
                         f"use render=native (the decoder's frames show the magnified motion)")
    if positions is not None and not hasattr(source, "retime"):
        raise GenerationError("out_fps= and duration_ms= resample the driver's measured optical flow: use the "
                              "flow-guided model (the default) or method=flow_transfer")
    model.eval()
    source.start(target, driving, start, native=render == Render.NATIVE)
    count = len(driving.frames)
    if positions is not None:
        source.retime(positions)
        count = len(positions)
    out = []
    for a in range(0, count, batch_size):
        n = min(batch_size, count - a)
        out.append(render_frames(source.motion(a, n), target, render).float().cpu())
        if on_frames is not None:
            on_frames(n)
    return torch.cat(out)


#: ``batch_size=auto``: ``default_batch_size`` of the device
AUTO_BATCH = "auto"


def resolve_device(device) -> str:
    """``device=`` as the torch device it names: ``auto`` is cuda where torch sees a GPU, else cpu."""
    if device != Device.AUTO:
        return str(device)
    return Device.CUDA.value if torch.cuda.is_available() else Device.CPU.value


def resolve_batch_size(batch_size, device) -> int:
    """``batch_size=``: a number, or ``auto`` (``default_batch_size`` of ``device``)."""
    return default_batch_size(device) if batch_size == AUTO_BATCH else int(batch_size)


def default_batch_size(device) -> int:
    """Frames per forward pass: 4 on CPUs, 8 on GPUs. Measured by ``bench generate bench.native_batches=[1,2,4,8]``
    on a 2-core CPU: the default renders 256 px at 50 / 55 / 63 / 57 fps and 512 px at 16 / 19 / 20 / 17 fps."""
    return 4 if str(device).startswith("cpu") else 8


def normalised_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks centred and scaled to unit RMS radius (pose/expression comparison without size)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    lm = lm - lm.mean(axis=0)
    return lm / max(np.sqrt((lm**2).sum(axis=1).mean()), 1e-9)


def best_frame(target_landmarks: np.ndarray, driving_landmarks: list) -> int:
    """Index of the driving frame whose normalised landmarks are closest to the target's (None = no face)."""
    t = normalised_landmarks(target_landmarks)
    best, best_d = 0, np.inf
    for i, lm in enumerate(driving_landmarks):
        if lm is None:
            continue
        d = np.abs(normalised_landmarks(lm) - t).sum()
        if d < best_d:
            best, best_d = i, d
    return best


def _frames_of(driving: FaceInput, index) -> FaceInput:
    native = None if driving.native is None else driving.native[index]
    # stored guides (``measured``) are to the onset, not to the best frame: they do not carry over
    return FaceInput(driving.frames[index], driving.prior, driving.keypoints, driving.landmarks, driving.face_found,
                     native, driving.native_landmarks)


def animate_from_best_frame(model, target: FaceInput, driving: FaceInput, best: int, **kw) -> torch.Tensor:
    """Animate forwards from ``best`` and backwards to the first frame, both relative to ``best``."""
    n = len(driving.frames)
    forward = animate(model, target, _frames_of(driving, slice(best, n)), **kw)
    backward = animate(model, target, _frames_of(driving, torch.arange(best, -1, -1)), **kw)
    return torch.cat([backward.flip(0)[:-1], forward])
