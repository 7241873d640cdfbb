"""68-point facial landmarks with dlib.

The predictor and the optional CNN face detector ship in ``face-recognition-models``.
That package's own ``__init__`` imports ``pkg_resources``, so the model files are located
with ``importlib`` instead of importing it.
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np


class FaceNotFoundError(RuntimeError):
    """No face was found in an image (the message names the image when known)."""


MODEL_FILES = {
    "shape68": "shape_predictor_68_face_landmarks.dat",
    "shape5": "shape_predictor_5_face_landmarks.dat",
    "cnn_detector": "mmod_human_face_detector.dat",
    "face_descriptor": "dlib_face_recognition_resnet_model_v1.dat",
}


def model_path(name: str) -> Path:
    """Path of a model file shipped in face-recognition-models (``name`` is a key of MODEL_FILES)."""
    if name not in MODEL_FILES:
        raise KeyError(f"unknown dlib model {name!r}; valid: {sorted(MODEL_FILES)}")
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the package face-recognition-models is not installed; run `make install` "
            "or `pip install face-recognition-models`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / MODEL_FILES[name]
    if not path.is_file():
        raise FileNotFoundError(f"dlib model file missing: {path}")
    return path


@functools.lru_cache(maxsize=None)
def _frontal_detector():
    import dlib

    return dlib.get_frontal_face_detector()


@functools.lru_cache(maxsize=None)
def _cnn_detector():
    import dlib

    return dlib.cnn_face_detection_model_v1(str(model_path("cnn_detector")))


@functools.lru_cache(maxsize=None)
def _shape_predictor():
    import dlib

    return dlib.shape_predictor(str(model_path("shape68")))


def to_gray_uint8(image: np.ndarray) -> np.ndarray:
    """Any of gray (H, W), (H, W, 1), RGB, RGBA, uint8/uint16/float -> contiguous (H, W) uint8."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 2 and img.dtype == np.uint8:     # already what is asked: the rounding below would copy it twice
        return np.ascontiguousarray(img)
    if img.ndim == 3:
        if img.shape[2] not in (3, 4):
            raise ValueError(f"expected 1, 3 or 4 channels, got image of shape {img.shape}")
        rgb = img[..., :3].astype(np.float64)
        img = rgb @ np.array([0.299, 0.587, 0.114])
        src_dtype = image.dtype
    else:
        if img.ndim != 2:
            raise ValueError(f"expected a 2-D or 3-D image, got shape {img.shape}")
        src_dtype = img.dtype
    if src_dtype == np.uint8:
        out = img
    elif src_dtype == np.uint16:
        out = np.asarray(img, dtype=np.float64) / 257.0
    elif np.issubdtype(src_dtype, np.floating):
        out = np.asarray(img, dtype=np.float64) * (255.0 if np.nanmax(img) <= 1.0 else 1.0)
    else:
        out = np.asarray(img, dtype=np.float64)
    return np.ascontiguousarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def _largest(rects):
    return max(rects, key=lambda r: r.width() * r.height())


def detect_faces(gray: np.ndarray, upsample: int = 1, fallback: bool = False) -> list:
    """Every face rectangle (dlib.rectangle) the HOG detector finds; ``fallback`` tries the CNN detector
    when it finds none."""
    rects = list(_frontal_detector()(gray, upsample))
    if not rects and fallback:
        rects = [d.rect for d in _cnn_detector()(gray, upsample)]
    return rects


def detect_face(gray: np.ndarray, upsample: int = 1, fallback: bool = False):
    """The largest face rectangle (dlib.rectangle) or None. ``fallback`` tries the CNN detector."""
    rects = detect_faces(gray, upsample, fallback)
    return _largest(rects) if rects else None


def detect_landmarks(
    image: np.ndarray, upsample: int = 1, fallback: bool = False, source: str | None = None,
    upscale_below: int = 200, on_several=None,
) -> np.ndarray:
    """68 dlib landmarks of the largest face.

    Args:
        image: (H, W) gray or (H, W, 3|4) RGB(A); uint8, uint16 or float in [0, 1].
        upsample: dlib's detector upsampling (the reference uses 1).
        fallback: also try the CNN (mmod) detector when the HOG detector finds nothing.
        source: a file name for the error message.
        upscale_below: images whose shorter side is smaller are enlarged (bicubic) for detection,
            because dlib's detectors miss faces under about 80 pixels (prepared 64x64 crops).
        on_several: called with a one-line message when the image holds more than one face.
    Returns:
        (68, 2) float64 array of pixel (x, y).
    Raises:
        FaceNotFoundError when no face is found.
    """
    import dlib

    gray = to_gray_uint8(image)
    factor = 1
    if min(gray.shape) < upscale_below:
        import cv2

        factor = -(-upscale_below // min(gray.shape))
        gray = cv2.resize(gray, (gray.shape[1] * factor, gray.shape[0] * factor), interpolation=cv2.INTER_CUBIC)
    rects = detect_faces(gray, upsample=upsample, fallback=fallback)
    rect = _largest(rects) if rects else None
    if len(rects) > 1 and on_several is not None:
        side = int(round(max(rect.width(), rect.height()) / factor))
        on_several(f"{len(rects)} faces found{' in ' + source if source else ''}; the largest ({side} px, at "
                   f"x={int(rect.left() / factor)}, y={int(rect.top() / factor)}) is used")
    if rect is None:
        where = f" in {source}" if source else ""
        raise FaceNotFoundError(
            f"no face found{where} (image {gray.shape[1]}x{gray.shape[0]}, "
            f"detector={'hog+cnn' if fallback else 'hog'})"
        )
    shape = _shape_predictor()(gray, dlib.rectangle(rect.left(), rect.top(), rect.right(), rect.bottom()))
    points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
    # map pixel centres of the enlarged image back to the original
    return (points + 0.5) / factor - 0.5 if factor > 1 else points
