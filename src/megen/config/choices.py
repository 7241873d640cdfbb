"""Every option with a fixed set of values, in one place: the code that reads an option and the check
that names a bad value (``megen.config.check``) both take its list from its ``Choice``.

The commands' own vocabularies are declared here; those of the lower layers are declared where they are
read (``megen.models.choices``, ``megen.face.choices``, ``megen.data.choices``, ``megen.ops.choices``, so that neither models/ nor
data/ imports config/) and gathered here. Nothing heavy is imported: generation checks its options before
torch loads.
"""
from __future__ import annotations

from megen.data.choices import AnnotationLayout, PairMode
from megen.face.choices import FaceRegion, HeadMotion, PriorFusion, PriorKernel, Retarget
from megen.models.choices import BackgroundMode, Family, KeypointMode, PriorInputMode, RegionShape
from megen.ops.choices import FlowEstimator
from megen.runtime.choice import Choice


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


class AugmentMethod(Choice):
    """augment ``method``: a trained model driven by every clip, or classes filled with clips made from action
    units (``au``: a fitted basis, ``fill=``)."""
    MODEL = "model"
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


class Backend(Choice):
    """generate ``backend``: torch, or the per-frame graph exported to ONNX in ONNX Runtime (FOMM on the CPU)."""
    TORCH = "torch"
    ONNXRUNTIME = "onnxruntime"


class ClassWeighting(Choice):
    """recognise ``train.class_weights``: balanced loss weights per class, or none."""
    BALANCED = "balanced"
    NONE = "none"


class MovedFrameRender(Choice):
    """bench ``flow_render``: how ``bench flow`` renders the moved frame."""
    FINE = "fine"                # drawn 4x finer, moved there, area-reduced (the synthetic set's frames)
    BICUBIC = "bicubic"          # the 256-px face warped bicubically


class EvaluateRender(Choice):
    """evaluate ``render``: one of generation's renders, or both (a row / folder each)."""
    NATIVE = "native"
    DECODER = "decoder"
    BOTH = "both"


class ClassMode(Choice):
    """recognise ``classes``: MEGC 2019's three composite classes, or each dataset's own emotion labels."""
    COMPOSITE = "composite"
    EMOTIONS = "emotions"


__all__ = [
    "AnnotationLayout", "AugmentMethod", "Backend", "BackgroundMode", "Choice", "ClassMode", "ClassWeighting",
    "EvaluateRender", "MovedFrameRender", "Device", "FaceRegion", "Family", "FlowEstimator",
    "GeneratePrecision",
    "GenerationMethod", "HeadMotion", "KeypointMode", "NonfinitePolicy", "PairMode", "PriorFusion", "PriorInputMode",
    "PriorKernel", "RegionShape", "Render", "Retarget"
]
