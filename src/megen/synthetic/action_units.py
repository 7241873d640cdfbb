"""Action units as 68-landmark displacement templates, and emotions as AU combinations.

Templates are in units of the inner-eye-corner distance ``e`` with image axes (y down).
Only their shape and relative sizes matter: a clip scales the combined template so that its
largest landmark displacement is the clip's apex amplitude.
"""
from __future__ import annotations

import numpy as np

from megen.ops.timing import intensity_curve  # noqa: F401  (re-exported: the clips' curve)

# (landmark indices, dx, dy) rows; for bilateral AUs dx is mirrored on the face's left side.
_RIGHT_LEFT = {
    # brows: 17-21 are the subject's right brow (image left), 22-26 the left
    "brow_inner": ([20, 21], [22, 23]),
    "brow_outer": ([17, 18], [25, 26]),
    "brow_mid": ([19], [24]),
    "upper_lid": ([37, 38], [43, 44]),
    "lower_lid": ([40, 41], [46, 47]),
    "eye_outer": ([36], [45]),
    "nose_wing": ([31, 32], [34, 35]),
    "mouth_corner": ([48, 60], [54, 64]),
    "upper_lip_side": ([49, 50, 61], [52, 53, 63]),
    "lower_lip_side": ([58, 59, 67], [55, 56, 65]),
    "cheek_jaw": ([2, 3], [13, 14]),
    "chin_side": ([6, 7], [9, 10]),
}
_MIDDLE = {
    "nose_root": [27, 28],
    "nose_ridge": [29, 30, 33],
    "upper_lip_mid": [51, 62],
    "lower_lip_mid": [57, 66],
    "chin": [8],
}

# AU -> list of (region, dx, dy); dx is "outwards" (away from the face's midline) for bilateral regions.
_AU_SPEC: dict[int, list[tuple[str, float, float]]] = {
    1: [("brow_inner", 0.0, -0.15), ("brow_mid", 0.0, -0.07)],
    2: [("brow_outer", 0.0, -0.15), ("brow_mid", 0.0, -0.08)],
    4: [("brow_inner", -0.06, 0.08), ("brow_mid", -0.03, 0.07), ("brow_outer", 0.0, 0.03), ("upper_lid", 0.0, 0.02)],
    5: [("upper_lid", 0.0, -0.07)],
    6: [("lower_lid", 0.0, -0.06), ("eye_outer", 0.0, -0.03), ("cheek_jaw", 0.0, -0.04), ("mouth_corner", 0.01, -0.02)],
    7: [("lower_lid", 0.0, -0.08), ("upper_lid", 0.0, 0.03)],
    9: [("nose_wing", 0.0, -0.08), ("nose_ridge", 0.0, -0.04), ("brow_inner", 0.0, 0.04), ("upper_lip_mid", 0.0, -0.04),
        ("upper_lip_side", 0.0, -0.03)],
    10: [("upper_lip_mid", 0.0, -0.10), ("upper_lip_side", 0.0, -0.09), ("nose_wing", 0.0, -0.03)],
    12: [("mouth_corner", 0.12, -0.10), ("upper_lip_side", 0.05, -0.04), ("lower_lip_side", 0.05, -0.03),
         ("cheek_jaw", 0.0, -0.02)],
    14: [("mouth_corner", -0.05, 0.0), ("upper_lip_side", -0.02, 0.0), ("lower_lip_side", -0.02, 0.0)],
    15: [("mouth_corner", 0.0, 0.10), ("lower_lip_side", 0.0, 0.05)],
    17: [("chin", 0.0, -0.08), ("chin_side", 0.0, -0.05), ("lower_lip_mid", 0.0, -0.06), ("lower_lip_side", 0.0, -0.04)],
    20: [("mouth_corner", 0.12, 0.02), ("upper_lip_side", 0.05, 0.0), ("lower_lip_side", 0.05, 0.01)],
    25: [("lower_lip_mid", 0.0, 0.06), ("lower_lip_side", 0.0, 0.04)],
}

ACTION_UNITS: tuple[int, ...] = tuple(sorted(_AU_SPEC))


def _build(spec: list[tuple[str, float, float]]) -> np.ndarray:
    t = np.zeros((68, 2))
    for region, dx, dy in spec:
        if region in _RIGHT_LEFT:
            right, left = _RIGHT_LEFT[region]
            t[right] += (-dx, dy)   # the subject's right side is on the image left: outwards = -x
            t[left] += (dx, dy)
        else:
            t[_MIDDLE[region]] += (0.0, dy)
    return t


#: AU number -> (68, 2) displacement template in eye-distance units (image axes).
AU_TEMPLATES: dict[int, np.ndarray] = {au: _build(s) for au, s in _AU_SPEC.items()}

#: Emotion -> AU combinations that may express it (after CASME II's coding conventions).
EMOTION_AUS: dict[str, list[tuple[int, ...]]] = {
    "happiness": [(6, 12), (12,), (6, 12, 25)],
    "disgust": [(9,), (10,), (4, 9), (4, 7), (9, 10)],
    "surprise": [(1, 2), (1, 2, 5), (1, 2, 25)],
    "repression": [(14,), (15,), (17,), (14, 17), (15, 17)],
    "sadness": [(1, 4), (1, 4, 15), (15, 17)],
    "fear": [(1, 2, 4), (1, 2, 4, 20), (4, 20)],
    "others": [(4,), (7,), (4, 7), (1,), (2,), (12, 15)],
}

#: CASME II's class frequencies (one release), used as default sampling weights.
EMOTION_WEIGHTS: dict[str, float] = {
    "others": 99, "disgust": 63, "happiness": 33, "repression": 27, "surprise": 25, "sadness": 8, "fear": 2,
}


def expression_template(aus, weights=None, roll: float = 0.0) -> np.ndarray:
    """Combined (68, 2) template of several AUs, scaled so its largest displacement is 1.

    Args:
        aus: AU numbers. weights: relative intensities (default all 1).
        roll: face roll angle in radians; the template rotates with the face.
    """
    aus = tuple(int(a) for a in aus)
    unknown = [a for a in aus if a not in AU_TEMPLATES]
    if unknown:
        raise KeyError(f"unknown action unit(s) {unknown}; valid: {list(ACTION_UNITS)}")
    weights = np.ones(len(aus)) if weights is None else np.asarray(weights, dtype=np.float64)
    t = sum(w * AU_TEMPLATES[a] for a, w in zip(aus, weights))
    c, s = np.cos(roll), np.sin(roll)
    t = t @ np.array([[c, s], [-s, c]])
    return t / np.linalg.norm(t, axis=1).max()
