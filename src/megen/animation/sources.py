"""Motion sources: where the driver's motion for each generated frame comes from.

Generation is one pipeline (``megen.animation.animate``): validate, pick the motion source, then one
batched loop of *motion* (this module) and *rendering* (the decoder's output, or the target's own
crop warped at its size, ``megen.animation.native``). A source sees the whole clip once (``start``:
the target's encoding, the driver's reference frame) and then gives, for driving frames ``a:a+n``,
the dense motion the renderer needs:

    deformation (n, h, w, 2) in [-1, 1]   backward: where each output pixel samples the target
    occlusion   (n, 1, h, w) or None       what the warped target shows (1) or hides (0)
    prediction  (n, 3, S, S)               the decoder's frame at the model's size
    flow_px     (n, N, N, 2), optional     the motion at the target's native size in its pixels,
                                           where the source measured it there (used instead of
                                           upsampling the deformation)

Every motion family is a source: the key-point families (FOMM, MRAA, TPS) track the driver,
the flow-guided family measures its optical flow, and an exported ONNX graph runs the key-point
per-frame part. ``motion_source`` is the one place that picks a source for a model; options that
do not apply to a source are refused by name, never ignored.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
import torch

from megen.animation.errors import GenerationError
from megen.animation.native import DRIVING_NATIVE
from megen.config.choices import Render
from megen.models.flow_guided import resize_flow
from megen.models.motion import movement_scale
from megen.models.motion_networks import track_anchors
from megen.runtime.stages import stage


class KeypointSource:
    """Key points (or regions) of the target and of each driving frame, transferred relative to the driving
    frame ``start`` (``relative``, the paper's setting) or as they are, by the model's dense motion network."""

    renders = frozenset({"decoder", "native"})

    def __init__(self, model, relative: bool = True, adapt_movement_scale: bool = False):
        self.model, self.relative, self.adapt = model, relative, adapt_movement_scale

    def start(self, target, driving, start: int = 0, native: bool = False) -> None:
        model = self.model
        device = next(model.parameters()).device
        self.device, self.driving = device, driving
        self.source = target.frames[:1].to(device)
        src_prior, src_kp = target.prior.to(device), target.keypoints.to(device)
        self.prior, self.keypoints = driving.prior.to(device), driving.keypoints.to(device)
        with stage("motion"):
            self.motion_s = model.motion(self.source, src_prior, src_kp, self.source)
        with stage("encode"):
            self.features = model.generator.encode(self.source)
        # key points tracked from the onset (landmarks mode) are measured against the start frame, on the
        # driving clip's full-resolution crop when it is given (there its motion is more than a fraction of
        # a pixel); same [-1, 1] units
        self.reference = driving.frames[start:start + 1].to(device)
        self.native_tracking = driving.native is not None and model.tracks_landmarks
        self.native_reference = driving.native[start:start + 1].to(device) if self.native_tracking else None
        tracked = torch.zeros_like(self.keypoints) if self.native_tracking else None
        with stage("motion"):
            self.motion_d0 = model.motion(self.reference, self.prior, self.keypoints, self.reference, tracked=tracked)
        self.scale = movement_scale(self.motion_s["value"], self.motion_d0["value"]) if self.adapt else 1.0

    def motion(self, a: int, n: int) -> dict:
        model, device = self.model, self.device
        drv = self.driving.frames[a:a + n].to(device)
        kp_n = self.keypoints.expand(n, *self.keypoints.shape[1:])
        tracked = None
        with stage("motion"):
            if self.native_tracking:
                tracked = track_anchors(self.driving.native[a:a + n].to(device),
                                        self.native_reference.expand(n, -1, -1, -1), kp_n)
            motion_d = model.motion(drv, self.prior.expand(n, *self.prior.shape[1:]), kp_n,
                                    self.reference.expand(n, -1, -1, -1), tracked=tracked)
        motion_s = {k: v.expand(n, *v.shape[1:]) for k, v in self.motion_s.items()}
        motion_d0 = {k: v.expand(n, *v.shape[1:]) for k, v in self.motion_d0.items()}
        motion = model.transferred_motion(motion_s, motion_d, motion_d0, self.relative, self.scale)
        src = self.source.expand(n, -1, -1, -1)
        # background motion of the driving clip, relative to its start frame (or to the target, absolute)
        background_from = self.reference.expand(n, -1, -1, -1) if self.relative else src
        return model.transfer(src, self.features.expand(n, -1, -1, -1), motion_s, motion, drv,
                              background_from=background_from)


class GuidedFlowSource:
    """The flow-guided family: the driver's optical flow to frame ``start``, measured on its face crop at
    >= 256 px (or the set's stored guides) and mapped into the target, corrected by the network. Always
    relative to ``start``; at native size the measured flow is used at full resolution."""

    renders = frozenset({"decoder", "native"})

    def __init__(self, model, controls=None):
        self.model, self.controls = model, controls

    def start(self, target, driving, start: int = 0, native: bool = False) -> None:
        self.device = next(self.model.parameters()).device
        self.native = native
        with stage("guide"):
            self.guides = flow_guides(target, driving, start, native, self.model.guide_measurer(), self.controls)
        self.source = target.frames[:1].to(self.device)
        self.prior = target.prior.to(self.device)
        with stage("encode"):
            self.features = self.model.generator.encode(self.source)

    def retime(self, positions) -> None:
        """The output frames at driver ``positions`` (M,) (fractional frames): the guides interpolated there
        (``megen.ops.timing``); ``motion(a, n)`` then counts output frames."""
        from megen.ops.timing import resample_flows

        self.guides = torch.from_numpy(resample_flows(self.guides.numpy(), positions))

    def motion(self, a: int, n: int) -> dict:
        guide = self.guides[a:a + n].to(self.device)
        src = self.source.expand(n, -1, -1, -1)
        with stage("motion"):
            dense = self.model.dense_motion(src, self.prior.expand(n, -1, -1, -1), guide)
        with stage("decode"):
            out = {**dense, **self.model.generator.decode(self.features.expand(n, -1, -1, -1), src, dense)}
        if self.native:     # the measured flow at full resolution, the learned correction upsampled onto it
            out["flow_px"] = guide + resize_flow(dense["residual"], tuple(guide.shape[1:3]))
        return out


class ExportedSource:
    """The key-point families' per-frame part through an exported ONNX graph (``megen.animation.onnx_backend``):
    the source side is computed in torch once, each batch of driving frames in ONNX Runtime. It gives the
    decoder's frames only."""

    renders = frozenset({"decoder"})

    def __init__(self, model, engine, relative: bool = True, adapt_movement_scale: bool = False):
        self.torch_side = KeypointSource(model, relative, adapt_movement_scale)
        self.model, self.engine, self.relative = model, engine, relative

    def start(self, target, driving, start: int = 0, native: bool = False) -> None:
        from megen.animation.onnx_backend import driving_inputs

        side = self.torch_side
        side.start(target, driving, start)
        kp_s, jac_s = side.motion_s["value"], side.motion_s["jacobian"]
        if self.relative:
            anchor = (kp_s, jac_s, side.motion_d0["value"], torch.inverse(side.motion_d0["jacobian"]),
                      torch.as_tensor(side.scale, dtype=kp_s.dtype).reshape(1, 1, 1))
        else:
            eye = torch.eye(2, dtype=jac_s.dtype).expand_as(jac_s)
            anchor = (torch.zeros_like(kp_s), eye, torch.zeros_like(kp_s), eye, torch.ones(1, 1, 1, dtype=kp_s.dtype))
        extra = {"prior": side.prior, "keypoints": side.keypoints, "reference": side.reference}
        self.fixed = (side.source, side.features, kp_s, jac_s, *anchor,
                      *(extra[name] for name in driving_inputs(self.model)))
        self.frames = driving.frames

    def motion(self, a: int, n: int) -> dict:
        return {"prediction": self.engine(self.frames[a:a + n], *self.fixed), "occlusion": None, "deformation": None}


def flow_guides(target, driving, start: int = 0, native: bool = True, estimator=None, controls=None) -> torch.Tensor:
    """The driving clip's backward optical flow to frame ``start``, measured on its native crop by ``estimator``
    (``megen.ops.flow``'s kind; None: the default guide's), carried into the target's crop by the onset
    landmarks' correspondence (``controls.retarget``), with ``controls`` (``megen.face.controls.MotionControls``:
    head, gain, regions) applied there: (T, N, N, 2) in pixels of the target's native crop (``native``) or of
    its model-size crop."""
    from megen.face.controls import controlled_flows
    from megen.face.flow import target_fields
    from megen.runtime.video import to_uint8

    if target.landmarks is None or (native and target.native_landmarks is None):
        raise ValueError("the flow-guided family maps the driver's motion by landmarks: the target has no face "
                         "(crop=false without a detectable face)")
    retarget = "similarity" if controls is None else controls.retarget
    if native:
        size, landmarks = target.native.shape[-1], target.native_landmarks
    else:
        size, landmarks = target.frames.shape[-1], target.landmarks
    if driving.measured is not None:
        if driving.measured.reference != start:
            raise ValueError(f"the driving clip's stored guides are measured to frame {driving.measured.reference}, "
                             f"not to frame {start}: animate from its onset")
        fields = target_fields(driving.measured, landmarks, (size, size), retarget)
        return torch.from_numpy(controlled_flows(fields, landmarks, controls))
    if driving.native is None or driving.native_landmarks is None or driving.native.shape[-1] < DRIVING_NATIVE[0]:
        raise ValueError(f"the flow-guided family measures the driver's motion on its face crop at >= "
                         f"{DRIVING_NATIVE[0]} px: this driving clip has no face, or only a smaller crop (a prepared "
                         f"clip needs dataset.frame_size={DRIVING_NATIVE[0]}, or a synthetic set dataset.guides=true)")
    frames = to_uint8(driving.native, gray_as_rgb=False)
    from megen.face.flow import DRIVER_FLOW

    measured = measured_driver(frames, driving.native_landmarks, start, estimator or DRIVER_FLOW)
    fields = target_fields(measured, landmarks, (size, size), retarget)
    return torch.from_numpy(controlled_flows(fields, landmarks, controls))


#: drivers' measured flows kept by content (a few clips): a clip that animates several targets (augment's
#: per_clip, the MEGC kit's templates) is measured once, and the guide is most of generation's time
_MEASURED: OrderedDict = OrderedDict()
MEASURED_KEPT = 4


def forget_measured() -> None:
    """Drop the kept measurements (a benchmark times the measuring, not the keeping)."""
    _MEASURED.clear()


def measured_driver(frames: np.ndarray, landmarks: np.ndarray, start: int, estimator):
    """``megen.face.flow.driver_flows`` of a clip (T, H, W[, C]) uint8 with its onset ``landmarks``, to frame
    ``start``, by ``estimator``; the same content measured by the same estimator again is the kept result."""
    from megen.face.flow import driver_flows

    frames = np.ascontiguousarray(frames)
    digest = hashlib.sha1(frames.tobytes())
    digest.update(np.ascontiguousarray(landmarks, np.float64).tobytes())
    # the estimator object itself in the key (a learned one by its network): kept alive, its id is never reused
    key = (digest.hexdigest(), frames.shape, int(start), getattr(estimator, "net", estimator))
    if key in _MEASURED:
        _MEASURED.move_to_end(key)
        return _MEASURED[key]
    measured = driver_flows(list(frames), landmarks, reference=start, estimator=estimator)
    _MEASURED[key] = measured
    while len(_MEASURED) > MEASURED_KEPT:
        _MEASURED.popitem(last=False)
    return measured


def check_controls(model, controls) -> None:
    """A GenerationError naming the ``controls`` (``megen.face.controls.MotionControls``) set away from their
    defaults where ``model`` does not measure the driver's flow (they act on measured flow)."""
    if controls is not None and not controls.identity and not model.measures_flow:
        # the timing too: interpolating a key-point model's motion between frames is not built
        raise GenerationError(f"{controls.describe()} act{'s' if len(controls.changed()) == 1 else ''} on the "
                              f"driver's measured optical flow: use the flow-guided model (the default) or "
                              f"method=flow_transfer; a key-point model transfers key points")


def motion_source(model, engine=None, relative: bool = True, adapt_movement_scale: bool = False, controls=None,
                  magnify: float = 1.0, magnify_estimator=None):
    """The motion source for ``model`` (and an exported ``engine`` of it), with the options that apply to it;
    an option set away from its default where it has no meaning is a GenerationError naming it.
    ``controls`` (``megen.face.controls.MotionControls``) act on measured flow: the flow-guided family's.
    ``magnify`` > 1 feeds a key-point model the driver magnified and de-magnifies its motion
    (``megen.animation.magnify``), measured by ``magnify_estimator`` (default ``megen.face.flow.DRIVER_FLOW``)."""
    check_controls(model, controls)
    if model.measures_flow:
        refused = [name for name, off in (("relative=false", not relative),
                                          ("adapt_movement_scale=true", adapt_movement_scale),
                                          ("backend=onnxruntime", engine is not None),
                                          (f"magnify={magnify:g}", float(magnify) != 1.0)) if off]
        if refused:
            raise GenerationError(f"{', '.join(refused)} {'has' if len(refused) == 1 else 'have'} no meaning for "
                                  f"the flow-guided model: it measures the driver's optical flow relative to the "
                                  f"start frame and maps it by the faces' landmarks")
        return GuidedFlowSource(model, controls)
    if engine is not None:
        if float(magnify) != 1.0:
            raise GenerationError(f"magnify={magnify:g} renders the target warped at its own size: use backend=torch")
        return ExportedSource(model, engine, relative, adapt_movement_scale)
    source = KeypointSource(model, relative, adapt_movement_scale)
    if float(magnify) != 1.0:
        from megen.animation.magnify import MagnifiedSource

        return MagnifiedSource(source, magnify, magnify_estimator)
    return source


def render_frames(out: dict, target, render: str) -> torch.Tensor:
    """The renderer: the decoder's frames (``decoder``), or the target's native crop warped by the motion with
    the decoder filling what the occlusion map hides (``native``); (n, C, S | N, S | N)."""
    if render == Render.DECODER:
        return out["prediction"]
    from megen.animation.native import render_native

    native = target.native.to(out["prediction"].device)
    with stage("warp"):
        return render_native(native, out["prediction"], out.get("occlusion"), out.get("deformation"),
                             flow_px=out.get("flow_px"))


__all__ = ["ExportedSource", "GuidedFlowSource", "KeypointSource", "flow_guides", "forget_measured", "measured_driver",
           "motion_source", "render_frames"]
