import json
import os

import cv2
import pandas as pd
import pytest
import torch
from helpers import EPOCH_LINE, compose_train, run_module, tiny_overrides

from megen.config.check import ConfigError
from megen.runtime.checkpoints import load_checkpoint
from megen.train import train

LOSS_TERMS = {"perceptual", "generator_gan", "feature_matching", "equivariance_value", "equivariance_flow",
              "flow", "discriminator_gan", "total"}


#: what a training log used to show and never should again (each has been fixed or silenced at its source)
HARMLESS_NOISE = ("LeafSpec", "module(s) in eval mode", "You have overridden", "litlogger", "Tip:", "weights_only")


def assert_epoch_lines(out, epochs: list[int], total: int, tested: bool = True) -> None:
    """stdout piped: exactly one progress line per epoch, with its fields, and none of the known noise."""
    lines = [line for line in out.stdout.splitlines() if EPOCH_LINE.match(line)]
    assert [int(EPOCH_LINE.match(line)["epoch"]) for line in lines] == epochs, out.stdout[-3000:]
    assert all(int(EPOCH_LINE.match(line)["total"]) == total for line in lines)
    assert len([line for line in out.stdout.splitlines() if line.startswith("epoch ")]) == len(epochs)
    assert len([line for line in out.stdout.splitlines() if line.startswith("test rMTE ")]) == int(tested)
    assert "it/s" not in out.stdout                          # no progress bar dumped into the log
    both = out.stdout + out.stderr
    assert not [n for n in HARMLESS_NOISE if n in both], [n for n in HARMLESS_NOISE if n in both]


@pytest.mark.slow
def test_cli_trains_checkpoints_samples_and_resumes(tmp_path):
    out = run_module("megen.train", *tiny_overrides(tmp_path, "trainer.max_epochs=2"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert_epoch_lines(out, [1, 2], total=2)
    run = next((tmp_path / "out" / "train").iterdir())
    result = json.loads((run / "metrics.json").read_text())
    m = result["metrics"]
    for key in ("val/rmte", "val/mte", "val/l1", "val/l1_static", "val/epe", "val/epe_zero", "test/rmte"):
        assert key in m and m[key] == m[key]          # present and not NaN
    assert m["val/l1_static"] < 0.05 and m["val/epe_zero"] > 0
    history = result["convergence"]["history"]                 # megen.training.convergence: one value per epoch
    assert len(history["train/total_epoch"]) == 2 and history["val/rmte"][-1] == pytest.approx(m["val/rmte"])
    assert result["convergence"]["converged"] in (True, False)
    ckpts = {p.name for p in (run / "checkpoints").iterdir()}
    assert "last.ckpt" in ckpts and any(n.startswith("best-") for n in ckpts)
    sheet = cv2.imread(str(sorted((run / "samples").glob("epoch*.png"))[0]))
    assert sheet.shape[0] == 3 * (32 + 2) + 2                      # driving, generated, difference rows
    logged = pd.read_csv(run / "logs" / "metrics.csv")
    assert {f"train/{t}_step" for t in LOSS_TERMS} <= set(logged.columns)
    assert (run / "config.yaml").is_file()

    first = load_checkpoint(run / "checkpoints" / "last.ckpt")
    assert "optimizer_states" in first and len(first["optimizer_states"]) == 3 and first["lr_schedulers"]
    assert not any(k.startswith("vgg.") for k in first["state_dict"])
    again = run_module("megen.train", *tiny_overrides(tmp_path, "ckpt_path=last", "trainer.max_epochs=3"),
                       cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resuming from {run / 'checkpoints' / 'last.ckpt'}" in again.stdout
    assert_epoch_lines(again, [3], total=3)                   # the resumed run counts on from the checkpoint
    runs = sorted((tmp_path / "out" / "train").iterdir())
    resumed = load_checkpoint(runs[-1] / "checkpoints" / "last.ckpt")
    assert resumed["global_step"] == 3 * first["global_step"] // 2 and resumed["epoch"] == 2
    # the curves continue from the checkpoint's: the verdict covers the whole run, not the resumed part
    resumed_history = json.loads((runs[-1] / "metrics.json").read_text())["convergence"]["history"]
    assert resumed_history["train/total_epoch"][:2] == history["train/total_epoch"]
    assert len(resumed_history["train/total_epoch"]) == 3


@pytest.mark.parametrize("extra", [
    ("model=mraa", "prior=none", "logger=tensorboard"),
    ("model=mraa", "prior=paper"),      # landmark regions with the onset's shapes
    ("prior.keypoint_mode=reference", "prior.kernel=reference", "prior.sigma=1.0"),
    ("prior.keypoint_mode=landmarks", "data.pairs=random", "loss.weights.equivariance_flow=10"),
    ("prior=adaptive", "prior.keypoints=au24"),
])
def test_model_and_prior_variants_train(tmp_path, extra):
    cfg = compose_train(tmp_path, *extra)
    result = train(cfg)
    assert result["global_step"] > 0
    assert 0 < result["metrics"]["val/rmte"] < 10


@pytest.mark.slow
def test_wandb_logger_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    result = train(compose_train(tmp_path, "logger=wandb"))
    assert result["global_step"] > 0
    assert list((tmp_path / "run").rglob("*.wandb"))


def test_missing_vgg_weights_fail_with_instructions(tmp_path):
    cfg = compose_train(tmp_path, "loss.perceptual.allow_random=false",
                        f"loss.perceptual.weights_path={tmp_path / 'nope.pth'}")
    with pytest.raises(ConfigError, match="vgg19-dcbb9e9d.pth"):   # checked with the config, before any work
        train(cfg)


@pytest.mark.slow
def test_ddp_on_cpu_with_two_processes(tmp_path):
    env = {**os.environ, "PL_DISABLE_FORK": "1"}
    out = run_module("megen.train", *tiny_overrides(tmp_path, "trainer=ddp", "trainer.accelerator=cpu",
                                                     "trainer.devices=2", "trainer.max_epochs=1",
                                                     "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
                                                     "evaluate_at_end=false", "callbacks.progress=null"),
                     cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert_epoch_lines(out, [1], total=1, tested=False)       # printed by rank zero only
    run = next((tmp_path / "out" / "train").iterdir())
    ckpt = load_checkpoint(run / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] > 0
    assert torch.isfinite(torch.tensor(json.loads((run / "metrics.json").read_text())["metrics"]["val/rmte"]))
