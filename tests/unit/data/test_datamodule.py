import pytest
import torch

from megen.data.cache import PreparedSet
from megen.data.datamodule import MicroExpressionDataModule
from megen.data.transforms import hflip_sample, normalized_to_pixels, pixels_to_normalized
from megen.face import flip_index, keypoint_set


def _dm(prepared, **kw):
    prior = {"keypoints": "paper18", "sigma": 4.0, "map_size": 16, **kw.pop("prior", {})}
    split = kw.pop("split_override", {"val": 0.2, "test": 0.2, "seed": 1})
    dm = MicroExpressionDataModule(prepared, prior, batch_size=3, split=split, **kw)
    dm.setup()
    return dm


def test_batch_shapes(prepared):
    dm = _dm(prepared)
    b = next(iter(dm.train_dataloader()))
    assert b["source"].shape == b["driving"].shape == (3, 3, 64, 64)
    assert b["prior"].shape == (3, 1, 16, 16) and b["keypoints"].shape == (3, 18, 2)
    assert b["flow"].shape == (3, 64, 64, 2)
    assert torch.equal(b["source"][:, 0], b["source"][:, 1])   # gray replicated
    assert b["keypoints"].abs().max() <= 1.0


def test_separate_prior_has_one_channel_per_keypoint(prepared):
    dm = _dm(prepared, prior={"keypoints": "au24", "fusion": "separate"})
    b = next(iter(dm.val_dataloader()))
    assert b["prior"].shape[1:] == (24, 16, 16) and b["keypoints"].shape[1] == 24


def test_splits_are_subject_wise_and_cover_everything(prepared):
    dm = _dm(prepared)
    subjects = {k: set(v) for k, v in dm.subject_splits.items()}
    assert all(subjects.values())
    assert not (subjects["train"] & subjects["val"]) and not (subjects["train"] & subjects["test"])
    assert not (subjects["val"] & subjects["test"])
    for split, clips in dm.splits.items():
        assert {c.subject_key for c in clips} == subjects[split]
    assert sum(len(v) for v in dm.splits.values()) == 10


def test_leave_one_subject_out_folds(prepared):
    held = set()
    for k in range(5):
        dm = _dm(prepared, split_override={"loso": k})
        assert len(dm.subject_splits["test"]) == 1 and len(dm.subject_splits["train"]) == 4
        held |= set(dm.subject_splits["test"])
    assert len(held) == 5
    with pytest.raises(ValueError, match="folds 0..4"):
        _dm(prepared, split_override={"loso": 5})


def test_mix_of_sources_with_weights(prepared, tmp_path):
    import shutil

    twin = tmp_path / "twin"
    shutil.copytree(prepared, twin)
    dm = MicroExpressionDataModule([prepared, twin], {"keypoints": "paper18", "sigma": 4.0, "map_size": 16},
                                   batch_size=4, split={"val": 0.2, "test": 0.2, "seed": 1}, weights=[1.0, 3.0])
    dm.setup()
    loader = dm.train_dataloader()
    assert loader.sampler.__class__.__name__ == "WeightedRandomSampler"
    w = loader.sampler.weights
    n = len(dm.splits["train"]) // 2
    assert torch.isclose(w[n:].sum() / w[:n].sum(), torch.tensor(3.0, dtype=torch.double))
    with pytest.raises(ValueError, match="weights"):
        MicroExpressionDataModule([prepared], {"keypoints": "paper18"}, weights=[1, 2])


def test_prior_maps_are_cached_once_per_setting(prepared):
    _dm(prepared, prior={"sigma": 5.0})
    files = {p.name for p in (prepared / "priors").iterdir()}
    _dm(prepared, prior={"sigma": 5.0})
    assert {p.name for p in (prepared / "priors").iterdir()} == files
    assert any("s5-" in f for f in files)


def test_apex_pairs_carry_true_motion(prepared):
    dm = _dm(prepared)
    b = next(iter(dm.val_dataloader()))
    assert (b["source_index"] == 0).all()
    assert (b["flow"].flatten(1).abs().amax(1) > 0.05).all()


def test_flip_moves_keypoints_with_the_pixels(prepared):
    dm = _dm(prepared)
    sample = dm.dataset("train", "apex")[0]
    perm = torch.as_tensor(flip_index("paper18"))
    flipped = hflip_sample(sample, perm)
    # key points recomputed from the flipped landmarks agree with the flipped key points
    expected = pixels_to_normalized(torch.from_numpy(keypoint_set("paper18", flipped["landmarks"].numpy())).float(), 64)
    torch.testing.assert_close(flipped["keypoints"], expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(flipped["source"], sample["source"].flip(-1))
    back = hflip_sample(flipped, perm)
    for key in ("source", "prior", "keypoints", "landmarks", "flow"):
        torch.testing.assert_close(back[key], sample[key])


def test_normalised_coordinates_roundtrip():
    p = torch.tensor([[0.0, 63.0], [31.5, 10.0]])
    torch.testing.assert_close(normalized_to_pixels(pixels_to_normalized(p, 64), 64), p)
    assert torch.allclose(pixels_to_normalized(torch.tensor([31.5]), 64), torch.tensor([0.0]))


def test_exclusion_and_empty_dataset_errors(prepared):
    dm = _dm(prepared, exclude=["s01_01"])
    kept = [c.row["clip"] for v in dm.splits.values() for c in v]
    assert "s01_01" not in kept and len(kept) == 9 and [c.row["clip"] for c in dm.excluded] == ["s01_01"]
    all_clips = [r["clip"] for r in PreparedSet.open(prepared).rows]
    with pytest.raises(ValueError, match="no clips left"):
        _dm(prepared, exclude=all_clips)
