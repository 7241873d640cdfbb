"""The whole motion-transfer network (without losses): motion family + dense motion + generator."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from megen.models.choices import NOT_EXPORTABLE, BackgroundMode, Family, KeypointMode, PriorInputMode, export_refusal
from megen.models.dense_motion import DenseMotionNetwork
from megen.models.generator import OcclusionAwareGenerator
from megen.models.motion import relative_motion
from megen.models.motion_networks import (
    ANCHORED_MODES,
    BackgroundMotionPredictor,
    KeypointDetector,
    RegionPredictor,
)
from megen.ops.choices import FlowEstimator
from megen.runtime.stages import stage

#: the motion network of each family (tps: key points without Jacobians, see models.tps_motion;
#: flow: no key points, the driver's optical flow guides the dense motion, see models.flow_guided)
FAMILIES = {Family.FOMM: KeypointDetector, Family.MRAA: RegionPredictor, Family.TPS: KeypointDetector, Family.FLOW: None}


class MotionTransferModel(nn.Module):
    """Animate ``source`` (B, C, H, W) with the motion of ``driving``.

    ``prior`` (B, P, h, w) and ``keypoints`` (B, K, 2) describe the clip's onset face and are
    shared by source and driving (the paper computes them on the onset frame only);
    ``reference`` (B, C, H, W) is the clip's onset frame, which key points tracked from the onset
    (``landmarks`` mode) are measured against. It defaults to the source: a source that is the
    onset, as in onset-relative training and animation.
    """

    has_keypoints = True
    measures_flow = False     # the driver's motion comes from key points / regions, not measured optical flow

    def __init__(self, family: Family, motion: nn.Module, dense_motion: DenseMotionNetwork,
                 generator: OcclusionAwareGenerator, background: BackgroundMotionPredictor | None = None):
        super().__init__()
        self.family = Family.parse(family, "model.family")
        self.motion_net = motion
        self.dense_motion = dense_motion
        self.generator = generator
        self.background = background

    def onnx_refusal(self) -> str | None:
        """Why this model's per-frame graph cannot be exported to ONNX, or None where it can."""
        if self.family in NOT_EXPORTABLE:
            return export_refusal(self.family)
        if self.background is not None:
            return "ONNX export does not cover background motion"
        return None

    @property
    def tracks_landmarks(self) -> bool:
        """Whether the motion network tracks the onset key points onto each frame (``landmarks`` mode)."""
        return getattr(self.motion_net, "mode", None) == KeypointMode.LANDMARKS

    def motion(self, frame, prior=None, keypoints=None, reference=None, tracked=None) -> dict:
        """``tracked`` (B, K, 2): key-point displacements measured at another resolution (``landmarks`` mode)."""
        if tracked is None:
            return self.motion_net(frame, prior, keypoints, reference)
        return self.motion_net(frame, prior, keypoints, reference, tracked=tracked)

    @staticmethod
    def transferred_motion(motion_s: dict, motion_d: dict, motion_d0: dict, relative: bool = True,
                           scale=1.0) -> dict:
        """The motion the target gets: the driving frame's key points / regions relative to the driving
        start frame's, carried onto the target's (FOMM's relative transfer: ``kp_s + (kp_d - kp_d0) * scale``,
        ``J_d J_d0^-1 J_s``), or the driving frame's as they are (``relative=False``). Regions (``covar``)
        get the covariance of their new affine. Every value (B, K, ...)."""
        if not relative:
            return motion_d
        kp, jac = relative_motion(motion_s["value"], motion_d["value"], motion_d0["value"], motion_s["jacobian"],
                                  motion_d["jacobian"], motion_d0["jacobian"], scale)
        out = {"value": kp, "jacobian": jac}
        if "covar" in motion_s:
            out["covar"] = jac @ jac.transpose(-1, -2)
        return out

    def transfer(self, source, source_features, motion_s: dict, motion_d: dict, driving=None,
                 background_from=None) -> dict:
        """Render from already computed source-side pieces (used when animating a whole clip). The background
        motion (where the model has one) is the driving frame's relative to ``background_from`` (default
        the source)."""
        bg = None
        with stage("motion"):
            if self.background is not None and driving is not None:
                bg = self.background(source if background_from is None else background_from, driving)
            dense = self.dense_motion(source, motion_s, motion_d, bg)
        with stage("decode"):
            out = self.generator.decode(source_features, source, dense)
        return {**dense, **out}

    def forward(self, source, driving, prior=None, keypoints=None, reference=None, guide=None) -> dict:
        """``guide``: a measured flow some batches carry for the flow-guided family; key points are tracked
        from the frames instead, so it is not read."""
        reference = source if reference is None else reference
        motion_s = self.motion(source, prior, keypoints, reference)
        motion_d = self.motion(driving, prior, keypoints, reference)
        out = self.transfer(source, self.generator.encode(source), motion_s, motion_d, driving)
        return {**out, "motion_source": motion_s, "motion_driving": motion_d}


def with_guide_architecture(model: dict) -> dict:
    """The ``model`` config with the learned guide network's arguments (``guide_net``) read from its checkpoint
    (``guide_checkpoint``), so that a trained model rebuilds that network where the file is not."""
    from megen.models.microflow import load_microflow

    if model.get("guide_estimator") != FlowEstimator.LEARNED or model.get("guide_net"):
        return model
    return {**model, "guide_net": load_microflow(model.get("guide_checkpoint"), "flow.checkpoint").hparams}


def guide_network(model: dict):
    """The learned guide estimator's network: loaded from ``guide_checkpoint`` (None: the packaged estimator) while
    it is there (training), else built empty from ``guide_net`` for a trained model's own weights to fill
    (generation on another machine); None for the classical estimators."""
    from megen.models.microflow import PACKAGED, MicroFlowNet, load_microflow

    if model.get("guide_estimator") != FlowEstimator.LEARNED:
        return None
    checkpoint = model.get("guide_checkpoint") or PACKAGED
    if Path(checkpoint).is_file():
        return load_microflow(checkpoint)
    return MicroFlowNet(**(model.get("guide_net") or {}))


def build_model(model: dict, prior: dict) -> MotionTransferModel:
    """Build from the ``model`` config mapping (see conf/model) and the prior's model arguments
    (``megen.face.PriorSetting.model_args()``: ``input``, ``keypoint_mode``, ``keypoints`` (the set's
    name), and the plain counts ``num_keypoints`` and ``channels``)."""
    family = Family.parse(model["family"], "model.family")
    missing = {"num_keypoints", "channels"} - set(prior)
    if missing:
        raise ValueError(f"build_model needs the prior's counts {sorted(missing)}: pass PriorSetting.model_args()")
    if family == Family.FLOW:
        from megen.models.flow_guided import FlowGuidedDenseMotion, FlowGuidedModel

        channels = int(model.get("num_channels", 3))
        prior_maps = int(prior["channels"]) if prior.get("input", PriorInputMode.CONCAT) != PriorInputMode.NONE else 0
        dense = FlowGuidedDenseMotion(num_channels=channels, prior_maps=prior_maps, **model["dense_motion"])
        guide = model.get("guide_estimator") or FlowEstimator.FARNEBACK
        return FlowGuidedModel(dense, OcclusionAwareGenerator(num_channels=channels, **model["generator"]), guide,
                               guide_network(model))
    if family == Family.TPS:
        from megen.models.tps_motion import build_tps_parts

        return MotionTransferModel(family, *build_tps_parts(model, prior))
    mode = KeypointMode.parse(prior.get("keypoint_mode", KeypointMode.LEARNED), "prior.keypoint_mode")
    num_kp = int(model["num_kp"])
    prior_input = prior.get("input", "concat")
    anchored = mode in ANCHORED_MODES
    if anchored:
        num_kp = int(prior["num_keypoints"])   # one key point per prior key point
    prior_maps = int(prior["channels"])
    channels = int(model.get("num_channels", 3))
    motion_cfg = dict(model["motion"])
    extra = {"estimate_jacobian": motion_cfg.pop("estimate_jacobian", True)} if family == Family.FOMM else {}
    motion_cfg.pop("estimate_jacobian", None)
    region_shape = motion_cfg.pop("region_shape", "frame")   # checkpoints from before the option: frame
    if family == Family.MRAA:
        extra["region_shape"] = region_shape
    motion = FAMILIES[family](num_kp=num_kp, mode=mode, num_channels=channels, prior_input=prior_input,
                              prior_maps=prior_maps, **extra, **motion_cfg)
    dense = DenseMotionNetwork(num_kp=num_kp, num_channels=channels, **model["dense_motion"])
    generator = OcclusionAwareGenerator(num_channels=channels, **model["generator"])
    bg_mode = BackgroundMode.parse(model.get("background", BackgroundMode.NONE), "model.background")
    background = None
    if bg_mode != BackgroundMode.NONE:
        background = BackgroundMotionPredictor(bg_mode, channels, **model.get("background_net", {}))
    return MotionTransferModel(family, motion, dense, generator, background)


@torch.no_grad()
def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
