"""Faces: dlib landmarks, key-point sets, facial prior maps and the crop policy."""
from megen.face.crop import crop_and_resize, crop_box
from megen.face.keypoints import (
    DEFAULT_PAPER18_256,
    FLIP_68,
    KEYPOINT_SETS,
    flip_index,
    keypoint_set,
    num_keypoints,
)
from megen.face.landmarks import FaceNotFoundError, detect_landmarks, to_gray_uint8
from megen.face.prior import KEYPOINT_MODES, PRIOR_FUSIONS, PRIOR_INPUTS, PRIOR_KERNELS, PriorSetting, prior_map

__all__ = [
    "FLIP_68",
    "KEYPOINT_SETS",
    "DEFAULT_PAPER18_256",
    "FaceNotFoundError",
    "KEYPOINT_MODES",
    "PRIOR_FUSIONS",
    "PRIOR_INPUTS",
    "PRIOR_KERNELS",
    "PriorSetting",
    "crop_and_resize",
    "crop_box",
    "detect_landmarks",
    "flip_index",
    "keypoint_set",
    "num_keypoints",
    "prior_map",
    "to_gray_uint8",
]
