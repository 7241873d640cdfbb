"""Classes filled with clips made from action units (megen.augmentation.au_fill, augment method=au)."""
from collections import Counter

import numpy as np
import pytest

from megen.augmentation.au_fill import au_code, au_fill, fill_counts
from megen.data.cache import PreparedSet
from megen.expression import AUBasis, BasisError, save_basis
from megen.face.align import apply_similarity, canonical_similarity
from megen.recognition.samples import identity_keys


def test_fill_counts_tops_every_class_up_to_the_goal():
    labels = ["disgust"] * 5 + ["fear"] * 1 + ["happiness"] * 3
    assert fill_counts(labels) == {"fear": 4, "happiness": 2}
    assert fill_counts(labels, fill=4) == {"fear": 3, "happiness": 1}
    assert fill_counts(labels, fill=1) == {}
    assert fill_counts([]) == {}
    with pytest.raises(ValueError, match="fill=0"):
        fill_counts(labels, fill=0)
    assert au_code(("AU4", "AU7")) == "4+7"


@pytest.fixture(scope="module")
def basis_file(prepared, tmp_path_factory):
    """A basis whose every emotion of the small set is AU4: a 1.5-px downward pull of the brows' region."""
    data = PreparedSet.open(prepared)
    lm = np.asarray(data.load(0)["landmarks"], np.float64)
    size = int(data.load(0)["frames"].shape[-1])
    canonical = apply_similarity(canonical_similarity(lm, size), lm)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    centre = canonical[17:27].mean(0)
    bump = 1.5 * np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * (size / 8) ** 2))
    field = np.stack([np.zeros_like(bump), -bump], -1)[None].astype(np.float32)
    emotions = {r["emotion"]: {"aus": ["AU4"], "count": 1, "clips": 1} for r in data.rows}
    basis = AUBasis(("AU4",), field, canonical, {"AU4": [20.0]}, {"AU4": [30.0]}, emotions,
                    {"dataset": "synthetic", "clips": 1})
    return save_basis(basis, tmp_path_factory.mktemp("basis") / "au_basis.npz")


def test_every_class_is_filled_on_faces_outside_the_holdout_and_the_set_reads_back(prepared, basis_file, tmp_path):
    data = PreparedSet.open(prepared)
    counts = Counter(r["emotion"] for r in data.rows)
    goal = max(counts.values()) + 1
    result = au_fill(basis_file, [prepared], tmp_path / "au", fill=goal, holdout=["synthetic/s01"], seed=0,
                     intensity=[0.5, 1.5], progress=False)
    made = PreparedSet.open(result.folder)
    assert Counter(r["emotion"] for r in made.rows) == {e: goal - n for e, n in counts.items()}
    assert result.built == len(made) and result.reused == 0
    for row in made.rows:
        assert row["target"] != "synthetic/s01" and "synthetic/s01" not in identity_keys(row)
        assert row["generated_from"] == "au:4" and row["action_units"] == "4"
        assert 0.5 <= float(row["gain"]) <= 1.5 and int(row["onset"]) == 0 < int(row["apex"]) < int(row["offset"])
    clip, row = made.load(0), made.rows[0]
    source = PreparedSet.open(prepared)
    target = next(source.load(i) for i, r in enumerate(source.rows)
                  if f"{r['dataset']}/{r['subject']}" == row["target"] and int(r["onset"]) == 0)
    assert clip["frames"].shape[0] == int(row["n_frames"]) and clip["frames"].dtype == np.uint8
    np.testing.assert_array_equal(clip["frames"][0], target["frames"][0])     # frame 0 is the target's onset face
    apex = clip["frames"][int(row["apex"])].astype(float)
    assert np.abs(apex - clip["frames"][0]).mean() > 0.05                    # and its face moves by the apex
    again = au_fill(basis_file, [prepared], tmp_path / "au", fill=goal, holdout=["synthetic/s01"], seed=0,
                    intensity=[0.5, 1.5], progress=False)
    assert again.built == 0 and again.reused == len(made)


def test_an_emotion_the_basis_cannot_make_is_refused_by_name_before_any_clip(prepared, tmp_path):
    data = PreparedSet.open(prepared)
    lm = np.asarray(data.load(0)["landmarks"], np.float64)
    size = int(data.load(0)["frames"].shape[-1])
    basis = AUBasis(("AU4",), np.zeros((1, size, size, 2), np.float32), lm, {"AU4": [20.0]}, {"AU4": [30.0]},
                    {"nothing": {"aus": ["AU4"], "count": 1, "clips": 1}})
    path = save_basis(basis, tmp_path / "b.npz")
    with pytest.raises(BasisError, match="emotion=.*the basis knows nothing"):
        au_fill(path, [prepared], tmp_path / "out", fill=99, progress=False)
    assert not (tmp_path / "out" / "clips").exists()
