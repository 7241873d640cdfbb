"""Key-point sets built from the 68 dlib landmarks.

A set is a list of ``(landmark index, dx, dy)`` where the shift ``(dx, dy)`` is in units of
the inner-eye-corner distance ``e = x[42] - x[39]``. Describing sets this way lets the
horizontal-flip permutation be derived instead of written by hand: a point
``(i, dx, dy)`` mirrors to ``(FLIP_68[i], -dx, dy)``.
"""
from __future__ import annotations

import numpy as np


def _mirror_pairs() -> np.ndarray:
    pairs = [(i, 16 - i) for i in range(8)]                                    # jaw
    pairs += [(17, 26), (18, 25), (19, 24), (20, 23), (21, 22)]               # brows
    pairs += [(31, 35), (32, 34)]                                             # nostrils
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]     # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]               # outer lips
    pairs += [(60, 64), (61, 63), (65, 67)]                                   # inner lips
    perm = np.arange(68)
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


#: Landmark index of each landmark's mirror image under a horizontal flip.
FLIP_68: np.ndarray = _mirror_pairs()

_PAPER18 = [(i, 0.0, 0.0) for i in (19, 24, 27, 38, 41, 43, 46, 48, 54, 55, 57, 59)] + [
    (31, -0.5, 0.0),
    (35, 0.5, 0.0),
    (41, 0.0, 0.5),
    (46, 0.0, 0.5),
    (48, -0.5, 0.0),
    (54, 0.5, 0.0),
]

# Points where the action units of micro-expressions act: brows (AU1/2/4), lids (AU5/6/7),
# cheeks under the lower lids (AU6), nose root and wings (AU9), mouth corners and lips
# (AU10/12/14/15/20/25) and chin (AU17).
_AU24 = (
    [(i, 0.0, 0.0) for i in (17, 19, 21, 22, 24, 26)]
    + [(i, 0.0, 0.0) for i in (37, 38, 40, 41, 43, 44, 46, 47)]
    + [(41, 0.0, 0.75), (46, 0.0, 0.75)]
    + [(27, 0.0, 0.0), (31, 0.0, 0.0), (35, 0.0, 0.0)]
    + [(48, 0.0, 0.0), (54, 0.0, 0.0), (51, 0.0, 0.0), (57, 0.0, 0.0), (8, 0.0, 0.0)]
)

KEYPOINT_SETS: dict[str, list[tuple[int, float, float]]] = {
    "paper18": _PAPER18,
    "all68": [(i, 0.0, 0.0) for i in range(68)],
    "au24": _AU24,
}

#: The reference implementation's fallback paper18 points for a 256x256 frame with no face.
DEFAULT_PAPER18_256 = np.array(
    [(71, 36), (181, 42), (129, 65), (90, 63), (78, 72), (165, 65), (177, 73), (93, 168), (175, 165),
     (162, 169), (137, 173), (111, 172), (84, 134), (183, 133), (78, 98), (177, 99), (67, 168), (201, 165)],
    dtype=np.float64,
)


def _spec(name: str) -> list[tuple[int, float, float]]:
    if name not in KEYPOINT_SETS:
        raise KeyError(f"unknown key-point set {name!r}; valid: {', '.join(sorted(KEYPOINT_SETS))}")
    return KEYPOINT_SETS[name]


def num_keypoints(name: str) -> int:
    """K, the number of points of a set."""
    return len(_spec(name))


def keypoint_set(name: str, landmarks68) -> np.ndarray:
    """Key points of set ``name``.

    Args:
        landmarks68: (..., 68, 2) pixel (x, y) landmarks.
    Returns:
        (..., K, 2) float64 array, same pixel frame.
    """
    lm = np.asarray(landmarks68, dtype=np.float64)
    if lm.shape[-2:] != (68, 2):
        raise ValueError(f"landmarks must have shape (..., 68, 2), got {lm.shape}")
    spec = _spec(name)
    idx = np.array([s[0] for s in spec])
    shift = np.array([[s[1], s[2]] for s in spec])  # (K, 2) in eye-distance units
    eye = (lm[..., 42, 0] - lm[..., 39, 0])[..., None, None]
    return lm[..., idx, :] + shift * eye


def flip_index(name: str) -> np.ndarray:
    """Permutation ``p`` with ``set(flip(landmarks)) == mirror(set(landmarks))[p]``.

    After flipping an image horizontally and mirroring its key points' x, reorder the points
    with ``p`` so that point k still means the same facial location.
    """
    spec = _spec(name)
    lookup = {(i, dx, dy): k for k, (i, dx, dy) in enumerate(spec)}
    perm = []
    for i, dx, dy in spec:
        mirrored = (int(FLIP_68[i]), -dx if dx else 0.0, dy)
        if mirrored not in lookup:
            raise ValueError(f"key-point set {name!r} is not left/right symmetric at landmark {i}")
        perm.append(lookup[mirrored])
    return np.array(perm)


def default_keypoints(frame_size: int) -> np.ndarray:
    """The reference implementation's no-face paper18 points, scaled to ``frame_size``."""
    return DEFAULT_PAPER18_256 * (frame_size / 256.0)
