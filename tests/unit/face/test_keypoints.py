import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from megen.face import FLIP_68, KEYPOINT_SETS, flip_index, keypoint_set, num_keypoints


def _random_landmarks(seed):
    rng = np.random.default_rng(seed)
    lm = rng.uniform(10, 240, size=(68, 2))
    lm[42, 0] = lm[39, 0] + rng.uniform(10, 60)   # left inner eye corner right of the right one
    return lm


def test_paper18_recipe():
    lm = _random_landmarks(0)
    kp = keypoint_set("paper18", lm)
    assert kp.shape == (18, 2)
    np.testing.assert_array_equal(kp[:12], lm[[19, 24, 27, 38, 41, 43, 46, 48, 54, 55, 57, 59]])
    e = lm[42, 0] - lm[39, 0]
    expected = np.array([
        [lm[31, 0] - e / 2, lm[31, 1]], [lm[35, 0] + e / 2, lm[35, 1]],
        [lm[41, 0], lm[41, 1] + e / 2], [lm[46, 0], lm[46, 1] + e / 2],
        [lm[48, 0] - e / 2, lm[48, 1]], [lm[54, 0] + e / 2, lm[54, 1]],
    ])
    np.testing.assert_allclose(kp[12:], expected)


def test_all68_and_batch():
    lm = np.stack([_random_landmarks(1), _random_landmarks(2)])
    np.testing.assert_array_equal(keypoint_set("all68", lm), lm)
    assert keypoint_set("au24", lm).shape == (2, 24, 2)
    assert num_keypoints("au24") == 24


def test_unknown_set_lists_valid_names():
    with pytest.raises(KeyError, match="all68.*au24.*paper18"):
        keypoint_set("nope", _random_landmarks(0))


def test_flip68_is_an_involution_keeping_the_midline():
    assert (FLIP_68[FLIP_68] == np.arange(68)).all()
    assert set(np.flatnonzero(FLIP_68 == np.arange(68))) == {8, 27, 28, 29, 30, 33, 51, 57, 62, 66}


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), name=st.sampled_from(sorted(KEYPOINT_SETS)), width=st.integers(64, 512))
def test_flip_index_moves_keypoints_with_the_image(seed, name, width):
    lm = _random_landmarks(seed)
    mirrored = lm.copy()
    mirrored[:, 0] = width - 1 - mirrored[:, 0]
    flipped_landmarks = mirrored[FLIP_68]             # what a detector finds on the flipped image
    direct = keypoint_set(name, flipped_landmarks)
    moved = keypoint_set(name, lm)
    moved[:, 0] = width - 1 - moved[:, 0]
    np.testing.assert_allclose(direct, moved[flip_index(name)], atol=1e-9)
