"""The values of the options the face layer reads: the prior map"s kernel and fusion, what becomes of the
head motion, how motion is retargeted and the facial regions. Imports nothing heavy."""
from __future__ import annotations

from megen.runtime.choice import Choice


class PriorKernel(Choice):
    """``prior.kernel``: the shape of each key point"s blob in the prior map."""
    GAUSSIAN = "gaussian"
    PAPER = "paper"
    REFERENCE = "reference"


class PriorFusion(Choice):
    """``prior.fusion``: the key points" maps summed into one, or kept one per point."""
    SUM = "sum"
    SEPARATE = "separate"


class HeadMotion(Choice):
    """``head=``: what becomes of the driver"s rigid head motion (megen.face.controls)."""
    KEEP = "keep"
    REMOVE = "remove"            # the expression only; the target keeps its pose


class Retarget(Choice):
    """``retarget=``: how the driver"s motion is carried into the target"s face (megen.face.correspondence)."""
    SIMILARITY = "similarity"    # one similarity of the 68 onset landmarks
    LANDMARKS = "landmarks"      # that similarity bent by a thin-plate spline through the landmark pairs


class FaceRegion(Choice):
    """``regions=``: the facial regions whose expression motion may be kept (megen.face.controls.REGIONS)."""
    BROWS = "brows"
    EYES = "eyes"
    NOSE = "nose"
    MOUTH = "mouth"


__all__ = ["FaceRegion", "HeadMotion", "PriorFusion", "PriorKernel", "Retarget"]
