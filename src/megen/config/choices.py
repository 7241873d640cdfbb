"""Every option with a fixed set of values, declared once: the code that reads an option and the check
that names a bad value (``megen.config.check``) both take its list from here.

``str`` Enums, since OmegaConf has no ``Literal``: a member equals its value (``Render.NATIVE == "native"``),
so configs keep plain strings. Nothing heavy is imported: generation checks its options before torch loads.
"""
from __future__ import annotations

from enum import Enum


class Choice(str, Enum):
    """A set of option values; ``values()`` is what error messages list as valid, in declaration order."""

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)


class KeypointMode(Choice):
    """``prior.keypoint_mode``: what the model's key points are (models.motion_networks.KeypointDetector)."""
    LEARNED = "learned"          # heatmap means
    ANCHORED = "anchored"        # the onset prior points plus learned offsets
    LANDMARKS = "landmarks"      # the onset points tracked onto each frame plus a learned residual
    REFERENCE = "reference"      # the paper's public code: the onset points unchanged


class PriorInputMode(Choice):
    """``prior.input``: how the prior map enters the key-point network."""
    NONE = "none"
    CONCAT = "concat"            # one extra channel
    LEARNED = "learned"          # K maps fused by a learned 1x1 convolution


class PriorKernel(Choice):
    """``prior.kernel``: the shape of each key point's blob in the prior map."""
    GAUSSIAN = "gaussian"
    PAPER = "paper"
    REFERENCE = "reference"


class PriorFusion(Choice):
    """``prior.fusion``: the key points' maps summed into one, or kept one per point."""
    SUM = "sum"
    SEPARATE = "separate"


class RegionShape(Choice):
    """``model.motion.region_shape`` (mraa): each region's shape from the onset frame or from every frame."""
    ONSET = "onset"
    FRAME = "frame"


class BackgroundMode(Choice):
    """``model.background``: the camera motion model beside the key points' motion."""
    NONE = "none"
    AFFINE = "affine"
    PERSPECTIVE = "perspective"


class PairMode(Choice):
    """``data.pairs`` / ``data.val_pairs``: which frame pairs a clip gives the training loop."""
    RANDOM = "random"
    ONSET = "onset"
    APEX = "apex"


class NonfinitePolicy(Choice):
    """``loss.nonfinite``: what training does with a NaN or Inf loss."""
    RAISE = "raise"
    SKIP = "skip"


class Render(Choice):
    """``render``: the output at the target's own size and colour, or the model's decoder frames (the paper's)."""
    NATIVE = "native"
    DECODER = "decoder"


class GenerationMethod(Choice):
    """generate ``method``: a trained model, the training-free flow transfer (no checkpoint), or motion made
    from action units with no driving clip (``au``: a fitted basis, ``python -m megen.aubasis``)."""
    MODEL = "model"
    FLOW_TRANSFER = "flow_transfer"
    AU = "au"


class GeneratePrecision(Choice):
    """generate / evaluate ``precision``: the networks' arithmetic."""
    FP32 = "fp32"
    BF16 = "bf16"


class Device(Choice):
    """generate / evaluate ``device`` (``cuda:N`` picks one GPU)."""
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"
    MPS = "mps"


class Family(Choice):
    """``model.family`` / generate ``family``: the motion model (megen.models.full.FAMILIES)."""
    FOMM = "fomm"
    MRAA = "mraa"
    TPS = "tps"
    FLOW = "flow"


class Backend(Choice):
    """generate ``backend``: torch, or the per-frame graph exported to ONNX in ONNX Runtime (FOMM on the CPU)."""
    TORCH = "torch"
    ONNXRUNTIME = "onnxruntime"


class ClassMode(Choice):
    """recognise ``classes``: MEGC 2019's three composite classes, or each dataset's own emotion labels."""
    COMPOSITE = "composite"
    EMOTIONS = "emotions"


class HeadMotion(Choice):
    """``head=``: what becomes of the driver's rigid head motion (megen.face.controls)."""
    KEEP = "keep"
    REMOVE = "remove"            # the expression only; the target keeps its pose


class Retarget(Choice):
    """``retarget=``: how the driver's motion is carried into the target's face (megen.face.correspondence)."""
    SIMILARITY = "similarity"    # one similarity of the 68 onset landmarks
    LANDMARKS = "landmarks"      # that similarity bent by a thin-plate spline through the landmark pairs


class FaceRegion(Choice):
    """``regions=``: the facial regions whose expression motion may be kept (megen.face.controls.REGIONS)."""
    BROWS = "brows"
    EYES = "eyes"
    NOSE = "nose"
    MOUTH = "mouth"
