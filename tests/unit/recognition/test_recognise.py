"""The recognition baseline: class table, flow features, UF1 / UAR, LOSO hygiene, the Hydra main."""
import json
import shutil
from collections import Counter

import cv2
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from megen.recognition import (
    COMPOSITE_CLASSES,
    ClassMapping,
    FlowSettings,
    RecognitionSet,
    TrainSettings,
    composite_class,
    farneback_flow,
    flow_features,
    identity_keys,
    load_recognition_set,
    loso_folds,
    optical_strain,
    random_baseline,
    run_loso_on_sets,
    uf1_uar,
)
from megen.recognition.features import cache_path, choose_apex, folder_features, reader_apex_flags
from megen.recognition.flow import hflip_features
from megen.recognition.model import RecognitionModule
from megen.runtime.paths import conf_dir

# --- classes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset, emotion, expected", [
    ("casme2", "happiness", "positive"), ("casme2", "surprise", "surprise"), ("casme2", "repression", "negative"),
    ("casme2", "disgust", "negative"), ("casme2", "fear", "negative"), ("casme2", "sadness", "negative"),
    ("casme2", "others", None),
    ("samm", "Anger", "negative"), ("samm", "contempt", "negative"), ("samm", "Happiness", "positive"),
    ("samm", "surprise", "surprise"), ("samm", "Other", None),
    ("smic", "negative", "negative"), ("smic", "positive", "positive"), ("smic", "surprise", "surprise"),
    ("synthetic", "repression", "negative"), ("synthetic", "others", None),
    ("generated", "happiness", "positive"), ("generated", "anger", "negative"),   # by emotion where all agree
    ("casme2", "boredom", None), ("generated", "boredom", None),
])
def test_composite_table(dataset, emotion, expected):
    assert composite_class(dataset, emotion) == expected


def test_class_mapping_modes_and_errors():
    rows = [{"dataset": "casme2", "emotion": e} for e in ("happiness", "others", "disgust", "fear")]
    composite = ClassMapping("composite")
    assert composite.classes == COMPOSITE_CLASSES
    assert [composite.label(r) for r in rows] == [1, None, 0, 0]
    emotions = ClassMapping("emotions", exclude_emotions=("Others",)).fit(rows)
    assert emotions.classes == ("disgust", "fear", "happiness")
    assert [emotions.label(r) for r in rows] == [2, None, 0, 1]
    fixed = ClassMapping("emotions", classes=("happiness",)).fit(rows)    # extra clips take the real set's classes
    assert [fixed.label(r) for r in rows] == [0, None, None, None]
    with pytest.raises(ValueError, match="classes='bogus'"):
        ClassMapping("bogus")


# --- flow features ---------------------------------------------------------------------------------


def _texture(size=64, seed=0):
    """A smooth random texture (Farnebäck needs gradients everywhere)."""
    noise = np.random.default_rng(seed).random((size, size)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).astype(np.uint8)


def test_zero_motion_gives_zero_flow_and_strain():
    frame = _texture()
    flow = farneback_flow(frame, frame)
    assert flow.shape == (64, 64, 2) and flow.dtype == np.float32
    assert np.abs(flow).max() < 1e-3
    feats = flow_features(flow, 28)
    assert feats.shape == (3, 28, 28) and feats.dtype == np.float32
    assert np.abs(feats).max() < 1e-3


def test_known_translation_gives_flow_of_that_size():
    size, (dx, dy) = 96, (2.0, -1.0)
    onset = _texture(size, seed=1)
    apex = cv2.warpAffine(onset, np.float32([[1, 0, dx], [0, 1, dy]]), (size, size), borderMode=cv2.BORDER_REFLECT)
    flow = farneback_flow(onset, apex)
    inner = flow[16:-16, 16:-16]                          # away from the reflected border
    assert np.median(inner[..., 0]) == pytest.approx(dx, abs=0.15)
    assert np.median(inner[..., 1]) == pytest.approx(dy, abs=0.15)
    feats = flow_features(flow, 28)                       # flow in pixels of the 28-px map
    assert np.median(feats[0, 6:-6, 6:-6]) == pytest.approx(dx * 28 / size, abs=0.05)
    assert np.median(feats[1, 6:-6, 6:-6]) == pytest.approx(dy * 28 / size, abs=0.05)
    assert np.median(feats[2, 6:-6, 6:-6]) < 0.05         # a rigid shift has (almost) no strain


def test_optical_strain_of_exact_fields():
    y, x = np.mgrid[0:32, 0:32].astype(np.float32)
    stretch = np.stack([0.1 * x, np.zeros_like(x)], -1)            # u_x = 0.1
    shear = np.stack([0.1 * y, np.zeros_like(x)], -1)              # u_y = 0.1
    shift = np.stack([np.full_like(x, 3.0), np.full_like(x, -2.0)], -1)
    assert np.allclose(optical_strain(stretch), 0.1, atol=1e-6)
    assert np.allclose(optical_strain(shear), np.sqrt(0.5) * 0.1, atol=1e-6)
    assert np.allclose(optical_strain(shift), 0.0)
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        optical_strain(np.zeros((4, 4)))


def test_flip_in_training_matches_the_numpy_mirror():
    feats = np.random.default_rng(0).normal(size=(2, 3, 28, 28)).astype(np.float32)
    module = RecognitionModule(3, flip_prob=1.0)
    assert np.allclose(module._flip(torch.from_numpy(feats)).numpy(), hflip_features(feats))
    assert np.allclose(hflip_features(hflip_features(feats)), feats)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="features.poly_n"):
        FlowSettings(poly_n=6)
    with pytest.raises(ValueError, match="unknown features setting"):
        FlowSettings.from_config({"window": 3})
    with pytest.raises(ValueError, match="train.class_weights"):
        TrainSettings(class_weights="inverse")


# --- apex and the feature cache ----------------------------------------------------------------------


def test_apex_policy():
    row = {"dataset": "casme2", "subject": "sub01", "clip": "EP01", "onset": 0, "apex": 5, "offset": 9, "file": "x"}
    assert choose_apex(row, 10) == (5, "")
    idx, note = choose_apex({**row, "apex": 0}, 10)                  # apex at the onset: no motion
    assert idx == 5 and "middle" in note
    idx, note = choose_apex({**row, "apex": 14}, 10)
    assert idx == 5 and "outside" in note
    idx, note = choose_apex({**row, "dataset": "smic", "apex": 4}, 10)   # the reader's middle frame, flagged
    assert idx == 4 and "smic" in note
    idx, note = choose_apex(row, 10, "apex not annotated ('/'): middle frame 5 of onset..offset used")
    assert idx == 5 and note.startswith("reader:")


def test_reader_apex_flags_from_meta(tmp_path):
    (tmp_path / "meta.json").write_text(json.dumps({"reader": {"flagged": [
        ["sub01/EP01", "apex not annotated ('/'): middle frame 7 of onset..offset used"],
        ["sub02/EP02", "apex 99 outside onset..offset 1..9: middle frame 5 used"],
        ["sub03/EP03", "offset 80 past the last frame 70: clamped to 70"],
    ]}}))
    assert set(reader_apex_flags(tmp_path)) == {"sub01/EP01", "sub02/EP02"}


def test_features_are_cached_per_folder_and_rebuilt_for_a_new_manifest(prepared, tmp_path, monkeypatch):
    folder = tmp_path / "set"
    shutil.copytree(prepared, folder, ignore=shutil.ignore_patterns("features"))
    settings = FlowSettings()
    first = folder_features(folder, settings)
    assert cache_path(folder, settings).is_file()
    assert first.features.shape == (len(first.prepared), 3, 28, 28)
    assert not first.apex_estimated.any()                            # synthetic apexes are known

    import megen.recognition.features as features_module

    def no_compute(*a, **k):
        raise AssertionError("features recomputed although cached")

    monkeypatch.setattr(features_module, "compute_features", no_compute)
    again = folder_features(folder, settings)
    assert np.array_equal(again.features, first.features)
    monkeypatch.undo()

    manifest = folder / "manifest.csv"                               # re-prepared: drop one clip
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:-1]))
    (folder / "manifest.csv.sha1").unlink()
    fewer = folder_features(folder, settings)
    assert len(fewer.features) == len(first.features) - 1
    assert np.array_equal(fewer.features, first.features[:-1])


# --- scores -----------------------------------------------------------------------------------------


def _from_confusion(matrix):
    target, preds = [], []
    for t, row in enumerate(matrix):
        for p, n in enumerate(row):
            target += [t] * n
            preds += [p] * n
    return np.array(preds), np.array(target)


def test_uf1_uar_match_hand_computed_values():
    # rows = true class, columns = predicted class
    preds, target = _from_confusion([[5, 2, 1], [1, 3, 0], [2, 0, 4]])
    f1 = [2 * 5 / (2 * 5 + 3 + 3), 2 * 3 / (2 * 3 + 2 + 1), 2 * 4 / (2 * 4 + 1 + 2)]   # 0.625, 0.667, 0.727
    recall = [5 / 8, 3 / 4, 4 / 6]
    got = uf1_uar(preds, target, 3)
    assert got["uf1"] == pytest.approx(np.mean(f1), abs=1e-6) == pytest.approx(0.672980, abs=1e-6)
    assert got["uar"] == pytest.approx(np.mean(recall), abs=1e-6) == pytest.approx(0.680556, abs=1e-6)
    assert got["n"] == 18
    # a class without ground truth is not averaged (its false positives still cost the true class)
    preds, target = _from_confusion([[3, 0, 1], [0, 2, 0], [0, 0, 0]])
    got = uf1_uar(preds, target, 3)
    assert got["uar"] == pytest.approx((3 / 4 + 1) / 2)
    assert got["uf1"] == pytest.approx((6 / 7 + 1) / 2)


def test_random_baseline_is_chance():
    target = np.repeat([0, 1, 2], [30, 10, 5])
    rand = random_baseline(target, 3, draws=300, seed=0)
    assert rand["uar"] == pytest.approx(1 / 3, abs=0.02)
    assert rand["draws"] == 300 and rand["uf1_sd"] > 0


# --- LOSO ----------------------------------------------------------------------------------------------


def _toy_set(subjects, dataset="casme2", generated_from=None):
    """Clips whose features carry their subject's number, so a fold's training data is visible."""
    n = len(subjects)
    feats = np.zeros((n, 3, 28, 28), np.float32)
    rows = []
    for i, s in enumerate(subjects):
        feats[i, 0] = int(s[1:])
        row = {"dataset": dataset, "subject": s, "clip": f"{s}_{i}"}
        if generated_from:
            row["generated_from"] = generated_from[i]
        rows.append(row)
    idents = tuple(identity_keys(r) for r in rows)
    return RecognitionSet(feats, np.arange(n) % 3, COMPOSITE_CLASSES, (dataset,) * n,
                          tuple(f"{dataset}/{s}" for s in subjects), tuple(r["clip"] for r in rows), ("x",) * n, idents,
                          np.ones(n, np.int64), np.zeros(n, bool), ("",) * n, ("f",) * n, Counter())


class _Recorder:
    """Stands in for training: remembers which subjects each fold trained on, predicts class 0."""

    def __init__(self):
        self.seen = []

    def __call__(self, x, y, num_classes, settings, seed):
        self.seen.append(sorted({int(v) for v in x[:, 0, 0, 0]}))

        class Predictor:
            def predict_logits(self, t):
                return torch.zeros(len(t), num_classes)

        return Predictor()


def test_identity_keys_of_generated_clips():
    row = {"dataset": "generated", "subject": "g01", "generated_from": "casme2/sub05/EP02_01f", "target": "photo.jpg"}
    assert identity_keys(row) == {"generated/g01", "casme2/sub05"}
    assert identity_keys({**row, "target": "samm/006"}) == {"generated/g01", "casme2/sub05", "samm/006"}


def test_loso_never_trains_on_the_held_out_subject():
    real = _toy_set(["s1", "s1", "s2", "s3", "s3", "s4"])
    # extra (generated) clips: 91 is driven by s2's clip, 92 by s3's, 93 by a subject outside the set
    extra = _toy_set(["s91", "s92", "s93"], dataset="generated",
                     generated_from=["casme2/s2/s2_2", "casme2/s3/s3_3", "samm/s7/s7_0"])
    folds = loso_folds(real, extra)
    assert [f.held_out for f in folds] == ["casme2/s1", "casme2/s2", "casme2/s3", "casme2/s4"]
    for fold in folds:
        assert fold.held_out not in fold.train_identities(real, extra)
        assert set(fold.test_index).isdisjoint(fold.train_index)
    assert [f.extra_dropped for f in folds] == [0, 1, 1, 0]

    recorder = _Recorder()
    result = run_loso_on_sets(real, extra, TrainSettings(), fit=recorder)
    assert recorder.seen == [[2, 3, 4, 91, 92, 93], [1, 3, 4, 92, 93], [1, 2, 4, 91, 93], [1, 2, 3, 91, 92, 93]]
    assert sorted(p["clip"] for p in result.predictions) == sorted(real.clips)     # every real clip tested once
    assert all(p["subject"] != "generated/s91" for p in result.predictions)       # extra clips never tested
    with pytest.raises(ValueError, match="at least 2 subjects"):
        run_loso_on_sets(_toy_set(["s1", "s1"]), fit=recorder)


# --- end to end ------------------------------------------------------------------------------------------

E2E = ["dataset.n_subjects=6", "dataset.clips_per_subject=6", "dataset.frame_size=32", "dataset.seed=1",
       "+dataset.emotions.happiness=1", "+dataset.emotions.surprise=1", "+dataset.emotions.disgust=1",
       "train.epochs=12", "progress=false", "seed=0",
       # the clean set: this checks the recogniser, not how much the camera's nuisances hide at 32 px
       "dataset.nuisance.noise=0", "dataset.nuisance.levels=null", "dataset.nuisance.flicker=0",
       "dataset.nuisance.head_px=0"]


def _compose(tmp_path, *extra):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("recognise", overrides=[*E2E, f"paths.data_dir={tmp_path / 'data'}",
                                               f"run_dir={tmp_path / 'out'}", *extra])


def test_recognise_main_beats_the_majority_baseline_and_is_deterministic(tmp_path, capsys):
    from megen.recognise import run

    result = run(_compose(tmp_path))
    printed = capsys.readouterr().out
    assert "UF1" in printed and "majority" in printed and "random" in printed
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    overall = saved["summary"]["overall"]
    assert overall["n"] == 36 and saved["classes"] == list(COMPOSITE_CLASSES)
    assert overall["model"]["uf1"] > overall["majority"]["uf1"] + 0.3, overall
    assert overall["model"]["uar"] > overall["random"]["uar"] + 0.3, overall
    assert {"synthetic"} == set(saved["summary"]["per_dataset"])
    assert len(saved["folds"]) == 6 and (tmp_path / "out" / "predictions.csv").is_file()
    assert any((tmp_path / "data" / "cache").glob("synthetic-*/features/flow-*.npz"))

    # the same seed gives the same predictions (features now come from the cache)
    real = load_recognition_set(saved["settings"]["folders"], "composite")
    again = run_loso_on_sets(real, train=TrainSettings(epochs=12), seed=0)
    assert [p["pred"] for p in again.predictions] == [p["pred"] for p in result.predictions]


def test_recognise_main_names_a_bad_class_mode(tmp_path):
    from megen.recognise import run

    with pytest.raises(ValueError, match="classes='nope'"):
        run(_compose(tmp_path, "classes=nope"))
    with pytest.raises(ValueError, match="unknown train setting"):
        run(_compose(tmp_path, "+train.momentum=0.9"))
    with pytest.raises(FileNotFoundError, match="extra="):
        run(_compose(tmp_path, f"extra=[{tmp_path / 'nowhere'}]"))
    assert not (tmp_path / "data").exists()          # refused before anything was prepared


def test_recognise_main_on_a_mix_of_real_dataset_layouts(tmp_path):
    """CASME II, SAMM and SMIC-HS raw trees (written from synthetic clips, with the releases' quirks)."""
    from megen.recognise import run
    from megen.synthetic import SyntheticSpec, generate
    from megen.testing.rawtree import write_raw_tree

    clips = list(generate(SyntheticSpec(seed=4, frame_size=64, n_subjects=2, clips_per_subject=3,
                                        duration_s=(0.04, 0.06), fps=100.0)))
    for layout in ("casme2", "samm", "smic"):
        write_raw_tree(clips, tmp_path / "data" / layout, layout, canvas=(288, 352), quirks=True, seed=1)
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("recognise", overrides=[
            "dataset=mix", "dataset.frame_size=64", "dataset.workers=1", "classes=emotions", "train.epochs=2",
            "progress=false", f"paths.data_dir={tmp_path / 'data'}", f"run_dir={tmp_path / 'out'}"])
    result = run(cfg)
    per_dataset = result.data["real"]["per_dataset"]
    assert set(per_dataset) == set(result.summary["per_dataset"]) == {"casme2", "samm", "smic"}
    assert len({p["subject"] for p in result.predictions}) == len(result.folds) == 6   # subjects are per dataset
    # SMIC never annotates apexes; the CASME II '/' apex and SAMM's missing / impossible apexes are flagged
    assert per_dataset["smic"]["apex_estimated"] == per_dataset["smic"]["clips"]
    assert per_dataset["casme2"]["apex_estimated"] >= 1 and per_dataset["samm"]["apex_estimated"] >= 2
    notes = {p["dataset"]: p["apex_note"] for p in result.predictions if p["apex_estimated"]}
    assert "does not annotate apexes" in notes["smic"] and notes["casme2"].startswith("reader: apex")
