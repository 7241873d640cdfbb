"""Face identities for synthetic clips: real photos shipped in installed packages, morphed.

Every pseudo-identity is a deterministic function of (base photo, seed, index): a horizontal
flip, a similarity transform, a landmark-driven shape morph and photometric changes. Its
landmarks follow every geometric step exactly, so the onset frame needs no face detection.

Identities are built at a render scale r (the photo cropped to r times the frame size) and
reduced once with area averaging (``at_frame_size``); clips are rendered from the fine image and
reduced the same way, so every frame, onset included, is sampled alike and none is a resampling
of another (whose extra blur no flow would explain).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from megen.face.crop import crop_and_resize, crop_box, transform_points
from megen.face.keypoints import FLIP_68
from megen.face.landmarks import FaceNotFoundError, detect_landmarks, to_gray_uint8
from megen.runtime.video import is_image, read_image
from megen.synthetic.warp import anchor_points, backward_flow, warp_image, with_anchors


@dataclass(frozen=True)
class Identity:
    """A gray face at frame size with its 68 landmarks.

    ``hires``, when set, is the same face r times finer, (r*S, r*S) float32 in [0, 1], whose
    area average is ``image`` (before uint8 quantisation); clips are rendered from it. Frame
    pixel p and fine pixel q share a centre where p = (q + 0.5) / r - 0.5.
    """

    name: str
    image: np.ndarray       # (S, S) float32 in [0, 1], on the uint8 grid
    landmarks: np.ndarray   # (68, 2) float64 pixel (x, y) of the frame
    hires: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def render_scale(self) -> int:
        return 1 if self.hires is None else self.hires.shape[0] // self.image.shape[0]

    @property
    def eye_distance(self) -> float:
        return float(self.landmarks[42, 0] - self.landmarks[39, 0])

    @property
    def roll(self) -> float:
        d = self.landmarks[45] - self.landmarks[36]
        return float(np.arctan2(d[1], d[0]))


def embedded_photo_paths() -> list[Path]:
    """Face photos that ship inside installed packages (scikit-image astronaut, matplotlib grace_hopper)."""
    import matplotlib
    import skimage

    paths = [
        Path(skimage.__file__).parent / "data" / "astronaut.png",
        Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg",
    ]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"embedded face photo(s) missing: {missing}; reinstall scikit-image/matplotlib")
    return paths


def photo_paths(extra_dir: str | os.PathLike | None = None) -> list[Path]:
    """Embedded photos plus every image in ``extra_dir`` (sorted, for determinism)."""
    paths = embedded_photo_paths()
    if extra_dir:
        folder = Path(extra_dir)
        if not folder.is_dir():
            raise FileNotFoundError(f"synthetic identity folder not found: {folder}")
        paths += sorted(p for p in folder.iterdir() if is_image(p))
    return paths


@functools.lru_cache(maxsize=64)
def base_face(path: str, size: int, margin: float = 0.35) -> Identity:
    """Detect, crop and resize a photo's face to (size, size) gray; cached per process."""
    gray = to_gray_uint8(read_image(path))
    try:
        lm = detect_landmarks(gray, source=path)
    except FaceNotFoundError:
        lm = detect_landmarks(gray, fallback=True, source=path)
    box = crop_box(lm, gray.shape, margin=margin)
    face = crop_and_resize(gray, box, size).astype(np.float32) / 255.0
    return Identity(Path(path).stem, face, transform_points(lm, box, size))


def _flip(identity: Identity) -> Identity:
    size = identity.image.shape[1]
    lm = identity.landmarks[FLIP_68].copy()
    lm[:, 0] = size - 1 - lm[:, 0]
    return Identity(identity.name, identity.image[:, ::-1].copy(), lm)


def _similarity(identity: Identity, scale: float, angle_deg: float, shift: np.ndarray) -> Identity:
    size = identity.image.shape[0]
    centre = (size - 1) / 2.0
    m = cv2.getRotationMatrix2D((centre, centre), angle_deg, scale)
    m[:, 2] += shift
    img = cv2.warpAffine(identity.image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    lm = identity.landmarks @ m[:, :2].T + m[:, 2]
    return Identity(identity.name, img, lm)


def _shape_morph(identity: Identity, rng: np.random.Generator, strength: float) -> Identity:
    """Move landmark groups (eye spacing, mouth width, jaw width, brow height, nose length)."""
    lm = identity.landmarks
    e = identity.eye_distance
    disp = np.zeros((68, 2))
    centre_x = lm[27, 0]
    side = np.sign(lm[:, 0] - centre_x)
    groups = {
        "eyes": (np.r_[36:48], 0.06, 0.0),
        "mouth": (np.r_[48:68], 0.08, 0.0),
        "jaw": (np.r_[0:17], 0.10, 0.0),
        "brows": (np.r_[17:27], 0.0, 0.08),
        "nose": (np.r_[31:36], 0.0, 0.06),
    }
    for idx, sx, sy in groups.values():
        a, b = rng.uniform(-1, 1, size=2) * strength
        disp[idx, 0] += side[idx] * sx * a * e
        disp[idx, 1] += sy * b * e
    anchors = anchor_points(identity.image.shape[0], lm, ring_scale=1.6)
    src = with_anchors(lm, anchors)
    dst = with_anchors(lm + disp, anchors)
    flow = backward_flow(src, dst, identity.image.shape[0])
    return Identity(identity.name, warp_image(identity.image, flow), lm + disp)


def _photometric(image: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    img = np.clip(image, 0.0, 1.0) ** rng.uniform(0.75, 1.35)
    img = (img - img.mean()) * rng.uniform(0.8, 1.2) + img.mean()
    blur = rng.uniform(0.0, 0.8) * size / 256.0
    if blur > 0.05:
        img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), blur)
    img = img + rng.normal(0.0, rng.uniform(0.0, 0.01), img.shape)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def make_identity(base: Identity, rng: np.random.Generator, name: str, variation: float = 1.0) -> Identity:
    """A pseudo-identity: flip, similarity, shape morph and photometric changes of ``base``.

    ``variation`` = 0 returns the base face unchanged (but renamed).
    """
    ident = Identity(name, base.image, base.landmarks)
    if variation <= 0:
        return Identity(name, _quantise(base.image), base.landmarks)
    size = base.image.shape[0]
    if rng.random() < 0.5:
        ident = _flip(ident)
    ident = _similarity(
        ident,
        scale=1.0 + rng.uniform(-0.08, 0.08) * variation,
        angle_deg=rng.uniform(-5, 5) * variation,
        shift=rng.uniform(-0.03, 0.03, size=2) * size * variation,
    )
    ident = _shape_morph(ident, rng, strength=variation)
    return Identity(name, _quantise(_photometric(ident.image, rng, size)), ident.landmarks)


def at_frame_size(fine: Identity, scale: int) -> Identity:
    """The frame-size identity of a face built ``scale`` times finer; it keeps ``fine.image`` to render from.

    ``scale`` = 1 keeps the image (and no ``hires``: clips are then resampled at frame size).
    """
    if scale == 1:
        return Identity(fine.name, _quantise(fine.image), fine.landmarks)
    big = fine.image.shape[0]
    if big % scale or fine.image.shape[1] != big:
        raise ValueError(f"a {fine.image.shape} image does not reduce by {scale}")
    size = big // scale
    image = cv2.resize(fine.image, (size, size), interpolation=cv2.INTER_AREA)
    landmarks = (np.asarray(fine.landmarks, dtype=np.float64) + 0.5) / scale - 0.5
    return Identity(fine.name, _quantise(image), landmarks, hires=np.ascontiguousarray(fine.image, dtype=np.float32))


def _quantise(image: np.ndarray) -> np.ndarray:
    # identities live on the uint8 grid so that a stored onset frame equals its identity exactly
    return (np.rint(np.clip(image, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)
