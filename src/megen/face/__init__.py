"""Faces: dlib landmarks, key-point sets, facial prior maps and the crop policy; the values of the options
the face layer reads (``choices``)."""
from __future__ import annotations

import importlib

# names -> the module that defines them, imported on first use (PEP 562): ``megen.face.choices``
# is read by the config check before torch loads, and importing it must not import every network
_EXPORTS = {
    "DEFAULT_PAPER18_256": "megen.face.keypoints",
    "FLIP_68": "megen.face.keypoints",
    "FaceNotFoundError": "megen.face.landmarks",
    "KEYPOINT_MODES": "megen.face.prior",
    "KEYPOINT_SETS": "megen.face.keypoints",
    "PRIOR_FUSIONS": "megen.face.prior",
    "PRIOR_INPUTS": "megen.face.prior",
    "PRIOR_KERNELS": "megen.face.prior",
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


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))


__all__ = sorted(_EXPORTS)
