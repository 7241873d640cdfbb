import numpy as np
import pytest
import torch

from megen.data.datamodule import MicroExpressionDataModule
from megen.data.transforms import hflip_sample, normalized_to_pixels, pixels_to_normalized
from megen.face import flip_index, keypoint_set


def _dm(prepared, **kw):
    prior = {"keypoints": "paper18", "sigma": 4.0, "map_size": 16, **kw.pop("prior", {})}
    dm = MicroExpressionDataModule(prepared, prior, batch_size=3, split={"val": 0.2, "test": 0.2, "seed": 1}, **kw)
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
    for split, idx in dm.splits.items():
        assert {dm.prepared.rows[i]["subject"] for i in idx} == subjects[split]
    assert sum(len(v) for v in dm.splits.values()) == len(dm.prepared)


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
    assert all(r["clip"] != "s01_01" for i in sum(dm.splits.values(), []) for r in [dm.prepared.rows[i]])
    all_clips = [r["clip"] for r in dm.prepared.rows]
    with pytest.raises(ValueError, match="no clips left"):
        _dm(prepared, exclude=all_clips)
