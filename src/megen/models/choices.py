"""The values of the options the networks read: key-point modes, the prior"s input, region shapes, the
background motion and the motion families. Imports nothing heavy: the config check reads them before torch loads."""
from __future__ import annotations

from megen.runtime.choice import Choice


class KeypointMode(Choice):
    """``prior.keypoint_mode``: what the model"s key points are (models.motion_networks.KeypointDetector)."""
    LEARNED = "learned"          # heatmap means
    ANCHORED = "anchored"        # the onset prior points plus learned offsets
    LANDMARKS = "landmarks"      # the onset points tracked onto each frame plus a learned residual
    REFERENCE = "reference"      # the paper"s public code: the onset points unchanged


class PriorInputMode(Choice):
    """``prior.input``: how the prior map enters the key-point network."""
    NONE = "none"
    CONCAT = "concat"            # one extra channel
    LEARNED = "learned"          # K maps fused by a learned 1x1 convolution


class RegionShape(Choice):
    """``model.motion.region_shape`` (mraa): each region"s shape from the onset frame or from every frame."""
    ONSET = "onset"
    FRAME = "frame"


class BackgroundMode(Choice):
    """``model.background``: the camera motion model beside the key points" motion."""
    NONE = "none"
    AFFINE = "affine"
    PERSPECTIVE = "perspective"


class Family(Choice):
    """``model.family`` / generate ``family``: the motion model (megen.models.full.FAMILIES)."""
    FOMM = "fomm"
    MRAA = "mraa"
    TPS = "tps"
    FLOW = "flow"


#: why a family's per-frame graph has no ONNX export (fomm's has one): the key-point model and the flow-guided
#: one (which are not one class) refuse with the same sentence
NOT_EXPORTABLE = {Family.MRAA: "its regions need an SVD per frame, which has no ONNX operator",
                  Family.TPS: "its splines need a linear solve per frame, which has no ONNX operator",
                  Family.FLOW: "its guide is optical flow that OpenCV measures per frame, outside any network"}


def export_refusal(family: Family) -> str:
    """The sentence that refuses an ONNX export to a family of ``NOT_EXPORTABLE``."""
    return f"ONNX export covers the fomm family; this checkpoint is {family.value!r} ({NOT_EXPORTABLE[family]})"


__all__ = ["NOT_EXPORTABLE", "BackgroundMode", "Family", "KeypointMode", "PriorInputMode", "RegionShape", "export_refusal"]
