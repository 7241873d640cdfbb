"""Misspelt config values fail up front: exit status 2, one line naming key, value and what is
valid, no traceback and no run folder."""
import typing

import pytest
from helpers import compose_train, run_module
from hydra import compose, initialize_config_dir

from megen.config.check import (
    ACCELERATORS,
    PRECISIONS,
    ConfigError,
    validate_evaluate,
    validate_generate,
    validate_train,
)
from megen.runtime.paths import conf_dir


def _one_error_line(out) -> str:
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    lines = [x for x in out.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_train_typo_exits_2_with_one_line_and_leaves_no_folder(tmp_path):
    out = run_module("megen.train", "prior.kernel=gausian", f"paths.output_root={tmp_path / 'out'}",
                     f"paths.data_dir={tmp_path / 'data'}", cwd=tmp_path)
    line = _one_error_line(out)
    assert line == "error: prior.kernel='gausian' is not valid; valid: gaussian, paper, reference"
    assert not (tmp_path / "out").exists() and not (tmp_path / "data").exists()


def test_train_lists_every_bad_value_at_once(tmp_path):
    typos = ["prior.keypoints=au25", "prior.sigma=abc", "model.family=vae", "data.pairs=onsett",
             "loss.nonfinite=ignore", "trainer.max_epochs=abc", "trainer.precision=17", "optim.betas=5"]
    out = run_module("megen.train", *typos, f"paths.output_root={tmp_path / 'out'}", cwd=tmp_path)
    line = _one_error_line(out)
    for expected in ("prior.keypoints='au25' is not valid; valid: all68, au24, paper18",
                     "prior.sigma='abc' is not a number",
                     "model.family='vae' is not valid; valid: fomm, mraa, tps",
                     "data.pairs='onsett' is not valid; valid: random, onset, apex",
                     "loss.nonfinite='ignore' is not valid; valid: raise, skip",
                     "trainer.max_epochs='abc' must be a number",
                     "trainer.precision=17 is not valid; valid: 16-mixed",
                     "optim.betas=5 must be a list"):
        assert expected in line
    assert not (tmp_path / "out").exists()


def test_train_multirun_typo_leaves_no_sweep_folder(tmp_path):
    out = run_module("megen.train", "-m", "prior.sigma=2,abc", "prior.kernel=box",
                     f"paths.output_root={tmp_path / 'out'}", cwd=tmp_path)
    assert out.returncode == 2 and "prior.kernel='box' is not valid" in out.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("override,expected", [
    ("model.motion.num_blocks=four", "model.motion.num_blocks='four' must be a whole number"),
    ("model.dense_motion.estimate_occlusion=maybe", "estimate_occlusion='maybe' must be true or false"),
    ("loss.weights.perceptual=10", "loss.weights.perceptual=10 must be a list"),
    ("model.background=sky", "model.background='sky' is not valid; valid: none, affine, perspective"),
    ("data.batch_size=0", "data.batch_size=0 must be > 0"),
    ("data.flip_prob=2", "data.flip_prob=2 must be <= 1"),
    ("trainer.accelerator=gpus", "trainer.accelerator='gpus' is not valid; valid: auto, cpu, gpu"),
    ("trainer.devices=0", "trainer.devices=0 is not valid"),
    ("trainer.limit_train_batches=1.5", "trainer.limit_train_batches=1.5 is not valid"),
    ("dataset.n_subjects=many", "dataset.n_subjects='many' must be a whole number"),
    ("dataset.frame_size=12.5", "dataset.frame_size=12.5 must be a whole number"),
    ("prior.fusion=mean", "prior.fusion='mean' is not valid; valid: sum, separate"),
    ("ckpt_path=/no/such.ckpt", "checkpoint not found: /no/such.ckpt"),
    ("callbacks.weight_average.decay=1", "callbacks.weight_average.decay=1 must be < 1"),
    ("callbacks.weight_average.start_step=-5", "callbacks.weight_average.start_step=-5 must be >= 0"),
    ("callbacks.weight_average.bias_correction=maybe",
     "callbacks.weight_average.bias_correction='maybe' must be true or false"),
])
def test_train_values_checked_before_anything_runs(tmp_path, override, expected):
    with pytest.raises(ConfigError, match=None) as err:
        validate_train(compose_train(tmp_path, override))
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_vgg_weights_are_named_unless_the_fallback_is_allowed(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    missing = f"loss.perceptual.weights_path={tmp_path / 'nope.pth'}"
    with pytest.raises(ConfigError, match=r"loss.perceptual.weights_path='.*nope.pth' has no VGG-19 .* "
                                          r"copy torchvision's vgg19-dcbb9e9d.pth there"):
        validate_train(compose_train(tmp_path, missing, "loss.perceptual.allow_random=false"))
    validate_train(compose_train(tmp_path, missing))     # the synthetic default allows the random fallback


def test_a_missing_real_dataset_root_is_named(tmp_path):
    with pytest.raises(ConfigError, match="dataset.root=.*samm.*is not a folder"):
        validate_train(compose_train(tmp_path, "dataset=samm"))
    with pytest.raises(ConfigError) as err:
        validate_train(compose_train(tmp_path, "dataset=mix", "dataset.sources=[casme2,synthetic,smic]"))
    assert "dataset.roots.casme2=" in str(err.value) and "dataset.roots.smic=" in str(err.value)
    assert "dataset.roots.synthetic" not in str(err.value)


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (conf_dir() / "experiment").glob("*.yaml")))
def test_every_shipped_configuration_validates(tmp_path, experiment):
    validate_train(compose_train(tmp_path, f"experiment={experiment}"))


@pytest.mark.parametrize("group,name", [(g, p.stem) for g in ("model", "prior", "trainer", "logger")
                                        for p in sorted((conf_dir() / g).glob("*.yaml"))])
def test_every_group_option_validates(tmp_path, group, name):
    validate_train(compose_train(tmp_path, f"{group}={name}"))


def test_the_copied_choices_match_their_owners():
    from lightning_fabric.connector import _PRECISION_INPUT_INT, _PRECISION_INPUT_STR, _PRECISION_INPUT_STR_ALIAS
    from pytorch_lightning.accelerators import AcceleratorRegistry

    assert set(AcceleratorRegistry.available_accelerators()) | {"auto", "gpu"} == set(ACCELERATORS)
    lightning = {x for t in (_PRECISION_INPUT_STR, _PRECISION_INPUT_STR_ALIAS, _PRECISION_INPUT_INT)
                 for x in typing.get_args(t)}
    assert lightning == set(PRECISIONS)


def _compose(name, *overrides):
    from megen.config.schema import register

    register()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(name, overrides=list(overrides))


def test_generate_and_evaluate_values():
    validate_generate(_compose("generate"))
    with pytest.raises(ConfigError) as err:
        validate_generate(_compose("generate", "protocol=megc2012", "batch_size=0", "fps=abc", "crop=maybe"))
    for expected in ("protocol='megc2012' is not valid; valid: megc2021, megc2022", "batch_size=0 must be > 0",
                     "fps='abc' must be a number", "crop='maybe' must be true or false"):
        assert expected in str(err.value)
    validate_evaluate(_compose("evaluate"))
    with pytest.raises(ConfigError, match="face_every='often' must be a whole number"):
        validate_evaluate(_compose("evaluate", "face_every=often"))


def test_generate_cli_typo(tmp_path):
    out = run_module("megen.generate", "ckpt=x", "target=y", "driving=z", "protocol=megc2012", cwd=tmp_path)
    assert _one_error_line(out) == "error: protocol='megc2012' is not valid; valid: megc2021, megc2022"


def test_evaluate_cli_typo_leaves_no_run_folder(tmp_path):
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"x")
    out = run_module("megen.evaluate", f"ckpt={ckpt}", "face_every=often", "dataset.name=casme3",
                     f"paths.output_root={tmp_path / 'out'}", cwd=tmp_path)
    line = _one_error_line(out)
    assert "face_every='often' must be a whole number" in line and "dataset.name='casme3' is not valid" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("module", ["megen.prepare", "megen.recognise"])
def test_prepare_and_recognise_cli_typo(tmp_path, module):
    out = run_module(module, "dataset.n_subjects=many", "dataset.name=synthetic", f"paths.data_dir={tmp_path}",
                     f"paths.output_root={tmp_path / 'out'}", cwd=tmp_path)
    assert _one_error_line(out) == "error: dataset.n_subjects='many' must be a whole number"
    assert not (tmp_path / "out").exists() and not (tmp_path / "outputs").exists()
