"""megen.augment: generated clips as a prepared set, leakage refusal, dataset=generated, recogniser use,
and the recogniser's classic augmentations (rotation, temporal jitter)."""
import shutil

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from megen.animation.animator import Animator
from megen.augmentation import GENERATED_COLUMNS, LeakageError, augment, check_rows
from megen.data.cache import MANIFEST_COLUMNS, PreparedSet, read_manifest
from megen.data.preparation import prepare_dataset, prepare_sources
from megen.recognition import ClassMapping, TrainSettings, load_recognition_set, run_loso_on_sets
from megen.recognition.model import RecognitionModule, rotate_flow_maps
from megen.recognition.samples import identity_keys
from megen.runtime.paths import conf_dir


@pytest.fixture(scope="module")
def gen(tiny_run):
    run, _, _ = tiny_run
    return Animator.from_checkpoint(run / "checkpoints" / "last.ckpt")


@pytest.fixture(scope="module")
def driving(tiny_run):
    _, cfg, _ = tiny_run
    return [f for f, _ in prepare_sources(cfg.dataset, cfg.paths.cache_dir, progress=False)][0]


@pytest.fixture(scope="module")
def generated(gen, driving, tiny_run, tmp_path_factory):
    """Every tiny clip of s02-s04 drives two other subjects' faces; s01 is the evaluation fold."""
    run, _, _ = tiny_run
    out = tmp_path_factory.mktemp("aug") / "generated"
    result = augment(gen, [driving], out, targets="subjects", per_clip=2, holdout=["synthetic/s01"],
                     checkpoint=str(run / "checkpoints" / "last.ckpt"), batch_size=8, progress=False)
    return result


def test_output_is_a_prepared_set(generated, driving, gen):
    real = PreparedSet.open(driving)
    out = PreparedSet.open(generated.folder)
    assert generated.skipped_holdout == 2 and generated.drivers == len(real) - 2
    assert len(out) == generated.drivers * 2 == generated.built
    header = (generated.folder / "manifest.csv").read_text().splitlines()[0].split(",")
    assert header == list(MANIFEST_COLUMNS) + list(GENERATED_COLUMNS)
    by_clip = {f"{r['dataset']}/{r['subject']}/{r['clip']}": r for r in real.rows}
    for i, row in enumerate(out.rows):
        src = by_clip[row["generated_from"]]
        arrays = out.load(i)
        assert arrays["frames"].dtype == np.uint8
        assert arrays["frames"].shape == (src["n_frames"], gen.frame_size, gen.frame_size) == (row["n_frames"], 64, 64)
        assert arrays["landmarks"].shape == (68, 2) and arrays["keypoints"].shape == (18, 2)
        for key in ("onset", "apex", "offset", "emotion", "action_units", "fps"):
            assert row[key] == src[key], key
        assert row["dataset"] == "generated" and row["target"].startswith("synthetic/")
        assert row["target"] != f"synthetic/{src['subject']}"     # never the driving subject's own face
        assert row["checkpoint"].endswith("last.ckpt")
    # the same settings again reuse every clip; other settings are refused without overwrite
    again = augment(gen, [driving], generated.folder, per_clip=2, holdout=["s01"], checkpoint=out.rows[0]["checkpoint"],
                    progress=False)
    assert again.reused == len(out) and again.built == 0
    with pytest.raises(FileExistsError, match="other settings"):
        augment(gen, [driving], generated.folder, per_clip=1, progress=False)


def test_leakage_is_refused(generated, gen, driving, tmp_path):
    rows = PreparedSet.open(generated.folder).rows
    assert not any("synthetic/s01" in identity_keys(r) for r in rows)
    with pytest.raises(LeakageError, match="synthetic/s01 is in holdout"):
        augment(gen, [driving], tmp_path / "a", targets=["s01", "s02"], holdout=["s01"], per_clip=1, progress=False)
    with pytest.raises(ValueError, match="holdout: no subject 's1'"):    # a typo must not leak silently
        augment(gen, [driving], tmp_path / "b", holdout=["s1"], progress=False)
    with pytest.raises(ValueError, match="per_clip=4 but only 2"):
        augment(gen, [driving], tmp_path / "c", holdout=["s01"], per_clip=4, progress=False)
    forged = dict(rows[0], generated_from="synthetic/s01/s01_01")
    with pytest.raises(LeakageError, match="carries held-out"):
        check_rows([forged], {"synthetic/s01"})
    assert not (tmp_path / "a" / "manifest.csv").exists()


def test_photo_targets(gen, driving, tmp_path):
    from megen.synthetic.identities import embedded_photo_paths

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(embedded_photo_paths()[0], photos / "face_a.png")
    out = augment(gen, [driving], tmp_path / "gen", targets=str(photos), per_clip=1, exclude_clips=["s01_01", "s02_01",
                  "s02_02", "s03_01", "s03_02", "s04_01"], progress=False)
    rows = PreparedSet.open(out.folder).rows
    assert [r["target"] for r in rows] == ["face_a.png", "face_a.png"] and rows[0]["subject"] == "face_a"
    assert identity_keys(rows[0]) == {"generated/face_a", f"synthetic/{rows[0]['generated_from'].split('/')[1]}"}
    shutil.copy(embedded_photo_paths()[0], photos / "s01.png")   # named like a held-out subject
    with pytest.raises(LeakageError, match="named like held-out"):
        augment(gen, [driving], tmp_path / "gen2", targets=str(photos), holdout=["s01"], progress=False)


def test_dataset_generated_loads_and_mixes(generated, driving, tmp_path):
    from megen.data.datamodule import MicroExpressionDataModule

    folder, summary = prepare_dataset({"name": "generated", "path": str(generated.folder), "frame_size": 64}, tmp_path)
    assert folder == generated.folder and summary["clips"] == len(PreparedSet.open(folder))
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("train", overrides=["dataset=mix", "dataset.sources=[synthetic,generated]", "dataset.frame_size=64",
                                          f"+dataset.roots.generated={generated.folder}",
                                          "+dataset.overrides.synthetic={n_subjects:4,clips_per_subject:2}"])
    folders = [f for f, _ in prepare_sources(cfg.dataset, tmp_path / "cache", progress=False)]
    assert folders[1] == generated.folder
    dm = MicroExpressionDataModule(cache=folders, prior={"keypoints": "paper18"}, batch_size=2,
                                   split={"val": 0.2, "test": 0.2, "seed": 0}, scale_factor=0.5, progress=False)
    dm.setup()
    subjects = {s for split in dm.subject_splits.values() for s in split}
    assert any(s.startswith("generated/") for s in subjects) and any(s.startswith("synthetic/") for s in subjects)
    batch = next(iter(dm.train_dataloader()))
    assert batch["source"].shape[1:] == (3, 64, 64)
    with pytest.raises(ValueError, match="set dataset.frame_size=64"):
        prepare_dataset({"name": "generated", "path": str(generated.folder), "frame_size": 256}, tmp_path)
    with pytest.raises(ValueError, match="pass dataset.frame_size=64"):
        prepare_dataset({"name": "generated", "path": str(generated.folder)}, tmp_path)
    with pytest.raises(ValueError, match="dataset.path="):
        prepare_dataset({"name": "generated"}, tmp_path)


class _Stub:
    def __init__(self, n):
        self.n = n

    def predict_logits(self, x):
        return torch.zeros(len(x), self.n)


def test_recogniser_extra_uses_generated_clips(generated, driving):
    mapping = ClassMapping("emotions")
    real = load_recognition_set([driving], mapping)
    fixed = ClassMapping("emotions", classes=real.classes)
    extra = load_recognition_set([generated.folder], fixed)
    assert len(extra) == len(PreparedSet.open(generated.folder))
    seen = []

    def fit(x, y, c, settings, seed):
        seen.append(len(x))
        return _Stub(c)

    result = run_loso_on_sets(real, extra, TrainSettings(epochs=1), fit=fit)
    for fold, n in zip(result.folds, seen):
        assert n == len(fold.train_index) + len(fold.extra_index) and len(fold.extra_index) > 0
        assert fold.held_out not in fold.train_identities(real, extra)
    assert sum(f.extra_dropped for f in result.folds) > 0


def test_augment_command(tiny_run, driving, tmp_path, capsys):
    from megen.augment import run

    run_dir, cfg, _ = tiny_run
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        aug = compose("augment", overrides=[
            f"ckpt={run_dir / 'checkpoints' / 'last.ckpt'}", f"out={tmp_path / 'gen'}", "per_clip=1",
            "holdout=[synthetic/s02]", "progress=false", "dataset.n_subjects=4", "dataset.clips_per_subject=2",
            "dataset.frame_size=64", f"paths.data_dir={cfg.paths.data_dir}"])
    result = run(aug)
    assert result.clips == 6 and "synthetic/s02" in result.holdout
    assert "dataset=generated dataset.path=" in capsys.readouterr().out
    assert {r["generated_from"].split("/")[1] for r in read_manifest(tmp_path / "gen")} == {"s01", "s03", "s04"}


# --- the recogniser's classic augmentations ---------------------------------------------------------


def test_rotation_turns_the_map_and_its_vectors():
    x = torch.zeros(1, 3, 9, 9)
    x[0, 0, 4, 7] = 1.0          # a rightward flow to the right of the centre
    x[0, 2, 4, 7] = 2.0          # strain there
    out = rotate_flow_maps(x, torch.tensor([np.pi / 2]))
    assert out[0, 1, 7, 4] == pytest.approx(1.0, abs=1e-5)     # moved below the centre, now pointing down
    assert out[0, 0].abs().max() < 1e-5
    assert out[0, 2, 7, 4] == pytest.approx(2.0, abs=1e-5)     # strain moves, unchanged
    same = rotate_flow_maps(x, torch.zeros(1))
    assert torch.allclose(same, x, atol=1e-6)
    module = RecognitionModule(3, size=28, rotate_deg=5.0)
    loss = module.training_step((torch.randn(4, 3, 28, 28), torch.tensor([0, 1, 2, 0])), 0)
    assert torch.isfinite(loss)
    assert TrainSettings(rotate_deg=5).rotate_deg == 5


def test_temporal_jitter_copies(driving):
    base = load_recognition_set([driving], "emotions")
    later = load_recognition_set([driving], ClassMapping("emotions", classes=base.classes), apex_shift=1)
    assert 0 < len(later) <= len(base)
    assert all(c.endswith("@apex+1") for c in later.clips)
    lookup = {c: a for c, a in zip(base.clips, base.apex)}
    assert all(a == lookup[c[: -len("@apex+1")]] + 1 for c, a in zip(later.clips, later.apex))
    held = sorted(set(base.subjects))[0]
    from megen.recognition import loso_folds

    fold = next(f for f in loso_folds(base, later) if f.held_out == held)
    assert held not in {later.subjects[i] for i in fold.extra_index}


def test_controls_are_refused_for_a_key_point_model_before_any_clip(gen, driving, tmp_path):
    from megen.animation.errors import GenerationError

    with pytest.raises(GenerationError, match=r"gain=2 acts on the driver's measured optical flow"):
        augment(gen, [driving], tmp_path / "gain", gain=2.0, progress=False)
    assert not (tmp_path / "gain" / "clips").exists()
    with pytest.raises(ValueError, match=r"gain=\[2.0, 1.0\]"):
        augment(gen, [driving], tmp_path / "bad", gain=[2.0, 1.0], progress=False)


def test_augment_method_au_fills_the_classes_without_a_checkpoint_and_names_its_mistakes(tmp_path):
    from helpers import run_module

    from megen.config.check import ConfigError, validate_augment
    from megen.config.compose import compose_config

    data = ["dataset.n_subjects=3", "dataset.clips_per_subject=3", "dataset.frame_size=32",
            f"paths.data_dir={tmp_path / 'data'}", f"paths.cache_dir={tmp_path / 'cache'}"]
    fit = run_module("megen.aubasis", "fit", *data, "aubasis.min_clips=1", f"out={tmp_path / 'b'}", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    basis = tmp_path / "b" / "au_basis.npz"
    out = run_module("megen.augment", *data, "method=au", f"basis={basis}", "fill=4", f"out={tmp_path / 'au'}",
                     "progress=false", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "clips made from action units" in out.stdout
    made = PreparedSet.open(tmp_path / "au")
    driving = PreparedSet.open(next((tmp_path / "cache").glob("synthetic-*")))
    before = {e: sum(r["emotion"] == e for r in driving.rows) for e in {r["emotion"] for r in driving.rows}}
    after = {e: n + sum(r["emotion"] == e for r in made.rows) for e, n in before.items()}
    assert len(made) > 0 and all(n == max(4, before[e]) for e, n in after.items()), (before, after)
    with pytest.raises(ConfigError) as err:
        validate_augment(compose_config("augment", "method=au", f"out={tmp_path / 'x'}", "intensity=[2,1]"))
    assert {p.split("=")[0] for p in err.value.problems} == {"basis", "intensity"}
    with pytest.raises(ConfigError, match="fill=3 is for method=au"):
        validate_augment(compose_config("augment", "ckpt=c", "fill=3", f"out={tmp_path / 'x'}"))
