"""Faces: dlib landmarks, key-point sets, facial prior maps and the crop policy; the values of the options
the face layer reads (``choices``)."""
from __future__ import annotations

from megen.runtime.lazy import lazy_exports

# names -> the module that defines them, imported on first use: ``megen.face.choices`` is read by the config
# check before torch loads, and importing it must not import the landmarks and prior maps
_EXPORTS = {
    "DEFAULT_PAPER18_256": "megen.face.keypoints",
    "FLIP_68": "megen.face.keypoints",
    "FaceNotFoundError": "megen.face.landmarks",
    "KEYPOINT_SETS": "megen.face.keypoints",
    "PriorSetting": "megen.face.prior",
    "crop_and_resize": "megen.face.crop",
    "crop_box": "megen.face.crop",
    "detect_landmarks": "megen.face.landmarks",
    "flip_index": "megen.face.keypoints",
    "keypoint_set": "megen.face.keypoints",
    "num_keypoints": "megen.face.keypoints",
    "prior_map": "megen.face.prior",
    "to_gray_uint8": "megen.face.landmarks",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
