"""Animate a target face with a driving clip: the source side is computed once per clip."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from megen.animation.native import DRIVING_NATIVE, RENDERS, render_native
from megen.animation.precision import with_precision
from megen.face.prior import PriorSetting
from megen.models.full import MotionTransferModel
from megen.models.motion import movement_scale, relative_motion
from megen.models.motion_networks import track_anchors


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


def _expand(motion: dict, n: int) -> dict:
    return {k: v.expand(n, *v.shape[1:]) for k, v in motion.items()}


@with_precision     # precision="fp32" | "bf16" (megen.animation.precision)
@torch.inference_mode()
def animate(model: MotionTransferModel, target: FaceInput, driving: FaceInput, relative: bool = True,
            adapt_movement_scale: bool = False, batch_size: int = 8, start: int = 0,
            on_frames: Callable[[int], None] | None = None, engine=None, render: str = "decoder") -> torch.Tensor:
    """Generated frames with the target's appearance and the driving clip's motion: (T, 3, S, S) at
    the model's frame size (``render="decoder"``), or (T, C, N, N) at the size and colour of the
    target's native crop (``render="native"``, needs ``target.native``; see ``megen.animation.native``).

    The target is encoded once and its key points / heatmaps computed once; driving frames go
    through the network in batches. ``relative`` transfers motion relative to driving frame
    ``start`` (the paper's setting); otherwise driving key points are used as they are.
    ``on_frames(n)`` is called after each batch of n frames (progress). ``engine`` (an
    ``OnnxFrameEngine`` of this model, ``megen.animation.onnx_backend``) runs the per-frame part.
    The flow-guided family (``model.family == "flow"``) measures the driver's optical flow instead
    of tracking key points (``relative`` and ``adapt_movement_scale`` do not apply).
    """
    if render not in RENDERS:
        raise ValueError(f"render={render!r} is not valid; valid: {', '.join(RENDERS)}")
    if render == "native" and target.native is None:
        raise ValueError("render=native needs the target's native crop (Animator.face_input(..., native=...))")
    if getattr(model, "family", None) == "flow":
        return _animate_flow(model, target, driving, batch_size, start, on_frames, render)
    if engine is not None and render == "native":
        raise ValueError("backend=onnxruntime renders at the model's frame size: use render=decoder or backend=torch")
    model.eval()
    device = next(model.parameters()).device
    source = target.frames[:1].to(device)
    src_prior, src_kp = target.prior.to(device), target.keypoints.to(device)
    drv_prior, drv_kp = driving.prior.to(device), driving.keypoints.to(device)
    motion_s = model.motion(source, src_prior, src_kp, source)
    features = model.generator.encode(source)
    frames = driving.frames
    # key points tracked from the onset (landmarks mode) are measured against the start frame
    reference = frames[start:start + 1].to(device)
    # key points tracked from the onset are tracked on the driving clip's full-resolution crop when it is
    # given (its motion is a fraction of a pixel at the model's frame size); same [-1, 1] units
    native_tracking = driving.native is not None and getattr(model, "tracks_landmarks", False) and engine is None
    native_reference = driving.native[start:start + 1].to(device) if native_tracking else None
    motion_d0 = model.motion(reference, drv_prior, drv_kp, reference,
                             tracked=torch.zeros_like(drv_kp) if native_tracking else None)
    scale = movement_scale(motion_s["value"], motion_d0["value"]) if adapt_movement_scale else 1.0
    if engine is not None:
        return _animate_engine(engine, model, source, features, motion_s, motion_d0, scale, relative, frames,
                               drv_prior, drv_kp, reference, batch_size, on_frames)
    out = []
    for a in range(0, len(frames), batch_size):
        drv = frames[a:a + batch_size].to(device)
        n = drv.shape[0]
        kp_n = drv_kp.expand(n, *drv_kp.shape[1:])
        tracked = (track_anchors(driving.native[a:a + n].to(device), native_reference.expand(n, -1, -1, -1), kp_n)
                   if native_tracking else None)
        motion_d = model.motion(drv, drv_prior.expand(n, *drv_prior.shape[1:]), kp_n, reference.expand(n, -1, -1, -1),
                                tracked=tracked)
        if relative:
            kp, jac = relative_motion(motion_s["value"].expand(n, -1, -1), motion_d["value"],
                                      motion_d0["value"].expand(n, -1, -1), motion_s["jacobian"].expand(n, -1, -1, -1),
                                      motion_d["jacobian"], motion_d0["jacobian"].expand(n, -1, -1, -1), scale)
            motion_new = {"value": kp, "jacobian": jac}
            if "covar" in motion_s:
                motion_new["covar"] = jac @ jac.transpose(-1, -2)
        else:
            motion_new = motion_d
        src_n, feat_n = source.expand(n, -1, -1, -1), features.expand(n, -1, -1, -1)
        bg = None
        if model.background is not None:   # background motion of the driving clip, relative to its start frame
            bg_ref = frames[start:start + 1].to(device).expand(n, -1, -1, -1) if relative else src_n
            bg = model.background(bg_ref, drv)
        dense = model.dense_motion(src_n, _expand(motion_s, n), motion_new, bg)
        generated = model.generator.decode(feat_n, src_n, dense)["prediction"]
        if render == "native":
            generated = render_native(target.native.to(device), generated, dense.get("occlusion"), dense["deformation"])
        out.append(generated.float().cpu())
        if on_frames is not None:
            on_frames(n)
    return torch.cat(out)


def flow_guides(target: FaceInput, driving: FaceInput, start: int = 0, native: bool = True) -> torch.Tensor:
    """The driving clip's backward optical flow to frame ``start``, measured on its native crop and
    mapped into the target's crop by the onset landmarks: (T, N, N, 2) in pixels of the target's
    native crop (``native``) or of its model-size crop."""
    from megen.face.flow import measured_guides, target_fields
    from megen.runtime.video import to_uint8

    if target.landmarks is None or (native and target.native_landmarks is None):
        raise ValueError("the flow-guided family maps the driver's motion by landmarks: the target has no face "
                         "(crop=false without a detectable face)")
    if native:
        size, landmarks = target.native.shape[-1], target.native_landmarks
    else:
        size, landmarks = target.frames.shape[-1], target.landmarks
    if driving.measured is not None:
        if driving.measured.reference != start:
            raise ValueError(f"the driving clip's stored guides are measured to frame {driving.measured.reference}, "
                             f"not to frame {start}: animate from its onset")
        return torch.from_numpy(target_fields(driving.measured, landmarks, (size, size)))
    if driving.native is None or driving.native_landmarks is None or driving.native.shape[-1] < DRIVING_NATIVE[0]:
        raise ValueError(f"the flow-guided family measures the driver's motion on its face crop at >= "
                         f"{DRIVING_NATIVE[0]} px: this driving clip has no face, or only a smaller crop (a prepared "
                         f"clip needs dataset.frame_size={DRIVING_NATIVE[0]}, or a synthetic set dataset.guides=true)")
    frames = to_uint8(driving.native)
    frames = frames[..., 0] if driving.native.shape[1] == 1 else frames
    return torch.from_numpy(measured_guides(list(frames), driving.native_landmarks, landmarks, (size, size),
                                            reference=start))


def _animate_flow(model, target: FaceInput, driving: FaceInput, batch_size: int, start: int, on_frames,
                  render: str) -> torch.Tensor:
    """:func:`animate` for the flow-guided family: the guide is measured, the network corrects it."""
    from megen.models.flow_guided import resize_flow

    model.eval()
    device = next(model.parameters()).device
    native = render == "native"
    guides = flow_guides(target, driving, start, native)
    source, prior = target.frames[:1].to(device), target.prior.to(device)
    features = model.generator.encode(source)
    out = []
    for a in range(0, len(guides), batch_size):
        guide = guides[a:a + batch_size].to(device)
        n = guide.shape[0]
        src_n = source.expand(n, -1, -1, -1)
        dense = model.dense_motion(src_n, prior.expand(n, -1, -1, -1), guide)
        generated = model.generator.decode(features.expand(n, -1, -1, -1), src_n, dense)["prediction"]
        if native:
            # the measured flow at full resolution, the learned correction upsampled onto it
            flow = guide + resize_flow(dense["residual"], tuple(guide.shape[1:3]))
            generated = render_native(target.native.to(device), generated, dense["occlusion"], flow_px=flow)
        out.append(generated.float().cpu())
        if on_frames is not None:
            on_frames(n)
    return torch.cat(out)


def _animate_engine(engine, model, source, features, motion_s, motion_d0, scale, relative, frames, prior, keypoints,
                    reference, batch_size, on_frames=None) -> torch.Tensor:
    """The per-frame part of :func:`animate` through an exported graph (see ``megen.animation.onnx_backend``)."""
    from megen.animation.onnx_backend import driving_inputs

    kp_s, jac_s = motion_s["value"], motion_s["jacobian"]
    if relative:
        anchor = (kp_s, jac_s, motion_d0["value"], torch.inverse(motion_d0["jacobian"]),
                  torch.as_tensor(scale, dtype=kp_s.dtype).reshape(1, 1, 1))
    else:
        eye = torch.eye(2, dtype=jac_s.dtype).expand_as(jac_s)
        anchor = (torch.zeros_like(kp_s), eye, torch.zeros_like(kp_s), eye, torch.ones(1, 1, 1, dtype=kp_s.dtype))
    extra = {"prior": prior, "keypoints": keypoints, "reference": reference}
    fixed = (source, features, kp_s, jac_s, *anchor, *(extra[name] for name in driving_inputs(model)))
    out = []
    for a in range(0, len(frames), batch_size):
        out.append(engine(frames[a:a + batch_size], *fixed))
        if on_frames is not None:
            on_frames(out[-1].shape[0])
    return torch.cat(out)


def default_batch_size(device) -> int:
    """Frames per forward pass: 1 on CPUs (256x256 activations of a batch overflow the caches and
    run slower per frame), 8 on GPUs."""
    return 1 if str(device).startswith("cpu") else 8


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
