"""Faults produced on purpose: kills, NaNs, corrupt caches, racing writers, hostile inputs, unsafe files."""
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from helpers import compose_train, run_module, tiny_overrides

from megen.data.cache import CacheError, PreparedSet, read_manifest
from megen.data.preparation import prepare_synthetic
from megen.data.prepare_real import read_gray
from megen.runtime.checkpoints import load_checkpoint
from megen.runtime.video import ImageReadError
from megen.train import train
from megen.training.system import MotionTransferSystem

EVERY_STEP = ["callbacks.periodic_last.every_n_batches=1"]


def _wait_for_step(path, step, proc, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"training ended early: {proc.stderr.read()[-2000:]}")
        if path.is_file():
            try:
                if load_checkpoint(path)["global_step"] >= step:
                    return
            except RuntimeError:
                pass   # never happens for an atomic write; a retry would hide it, so fail below
        time.sleep(0.2)
    raise AssertionError(f"no checkpoint at step {step} after {timeout} s")


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_from_last(tmp_path):
    long_epoch = ["data.repeats=20", "trainer.limit_train_batches=20", "evaluate_at_end=false"]
    args = tiny_overrides(tmp_path, *EVERY_STEP, *long_epoch, "callbacks.progress=null")
    proc = subprocess.Popen([sys.executable, "-m", "megen.train", *args], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    run = None
    try:
        deadline = time.time() + 120
        while run is None and time.time() < deadline:
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            found = list((tmp_path / "out" / "train").glob("*/checkpoints"))
            run = found[0].parent if found else None
            time.sleep(0.2)
        assert run is not None, "no run folder appeared"
        _wait_for_step(run / "checkpoints" / "last.ckpt", 2, proc)   # two batches (a step is a batch)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    saved = load_checkpoint(run / "checkpoints" / "last.ckpt")   # complete and loadable after the kill
    assert 2 <= saved["global_step"] < 20, "killed mid-epoch"
    assert len(saved["optimizer_states"]) == 3 and len(saved["lr_schedulers"]) == 3
    assert saved["optimizer_states"][0]["state"], "optimiser moments were saved"
    out = run_module("megen.train", *tiny_overrides(tmp_path, "ckpt_path=last", *long_epoch), cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"resuming from {run / 'checkpoints' / 'last.ckpt'}" in out.stdout
    resumed_run = max((tmp_path / "out" / "train").iterdir(), key=lambda p: p.stat().st_mtime)
    done = load_checkpoint(resumed_run / "checkpoints" / "last.ckpt")
    assert resumed_run != run and done["global_step"] == 20
    logged = pd.read_csv(resumed_run / "logs" / "metrics.csv")
    trained_again = logged["train/total_step"].dropna().shape[0]
    assert trained_again == 20 - saved["global_step"]          # only the batches after the kill


def _nan_after(step):
    original = MotionTransferSystem._generator_losses

    def patched(self, batch, out):
        losses = original(self, batch, out)
        if self.global_step >= step:
            losses["perceptual"] = losses["perceptual"] * float("nan")
        return losses

    return patched


def test_nan_loss_stops_naming_step_and_terms_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(MotionTransferSystem, "_generator_losses", _nan_after(2))
    cfg = compose_train(tmp_path, *EVERY_STEP, "data.repeats=4", "trainer.limit_train_batches=4")
    with pytest.raises(FloatingPointError, match=r"global step 2 .*perceptual=nan"):
        train(cfg)
    last = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert last["global_step"] == 2
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point())


def test_nan_loss_skip_policy(tmp_path, monkeypatch):
    monkeypatch.setattr(MotionTransferSystem, "_generator_losses", _nan_after(1))
    result = train(compose_train(tmp_path, "loss.nonfinite=skip", "data.repeats=4", "trainer.limit_train_batches=3"))
    assert result["global_step"] == 1        # one good batch, two skipped


def test_corrupt_manifest_is_detected_and_rebuilt(tmp_path, small_spec):
    folder, _ = prepare_synthetic(small_spec, tmp_path, progress=False)
    manifest = folder / "manifest.csv"
    manifest.write_bytes(manifest.read_bytes()[:-40])
    with pytest.raises(CacheError, match="checksum"):
        read_manifest(folder)
    _, summary = prepare_synthetic(small_spec, tmp_path, progress=False)
    assert summary["reused"] == summary["clips"] and len(read_manifest(folder)) == summary["clips"]


@pytest.mark.slow
def test_two_prepares_on_one_cache_at_once(tmp_path):
    args = ["megen.prepare", f"paths.data_dir={tmp_path}", "dataset.n_subjects=3", "dataset.clips_per_subject=2",
            "progress=false"]
    procs = [subprocess.Popen([sys.executable, "-m", *args], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    folder = next((tmp_path / "cache").glob("synthetic-*"))
    prepared = PreparedSet.open(folder)
    assert len(prepared) == 6
    for i in range(len(prepared)):
        prepared.load(i)                       # every clip complete and valid
    assert not list(folder.rglob("*.tmp"))


@pytest.mark.parametrize("kind", ["gray", "rgb", "rgba", "uint16"])
def test_image_formats_and_non_ascii_paths(tmp_path, kind):
    base = (np.arange(64 * 48).reshape(48, 64) % 251).astype(np.uint8)
    image = {"gray": base, "rgb": np.dstack([base] * 3), "rgba": np.dstack([base] * 3 + [np.full_like(base, 255)]),
             "uint16": base.astype(np.uint16) * 257}[kind]
    folder = tmp_path / "sujet_élève_顔"
    folder.mkdir()
    path = folder / f"img1_{kind}.png"
    ok, buf = cv2.imencode(".png", image)
    path.write_bytes(buf.tobytes())
    np.testing.assert_allclose(read_gray(path).astype(int), base.astype(int), atol=1)


def test_corrupt_image_is_named(tmp_path):
    bad = tmp_path / "img7.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(ImageReadError, match="img7.jpg"):
        read_gray(bad)


@pytest.mark.parametrize("override,valid", [
    ("prior.kernel=box", "gaussian, paper, reference"),
    ("prior.keypoints=nose3", "all68, au24, paper18"),
    ("model.family=vae", "fomm, mraa, tps"),
    ("prior.input=sometimes", "none, concat, learned"),
    ("loss.nonfinite=ignore", "raise, skip"),
    ("dataset.name=casme3", "valid"),
])
def test_unknown_config_values_list_the_valid_ones(tmp_path, override, valid):
    with pytest.raises((ValueError, KeyError), match=valid):
        train(compose_train(tmp_path, override))


class _Arbitrary:
    pass


def test_checkpoints_load_weights_only_and_unsafe_needs_opt_in(tmp_path, monkeypatch):
    path = tmp_path / "unsafe.ckpt"
    torch.save({"state_dict": {}, "payload": _Arbitrary()}, path)
    # a user's file, refused as one line by the commands (a ValueError), not a crash
    with pytest.raises(ValueError, match="unsafe.ckpt.*MEGEN_ALLOW_UNSAFE_CHECKPOINTS"):
        load_checkpoint(path)
    monkeypatch.setenv("MEGEN_ALLOW_UNSAFE_CHECKPOINTS", "1")
    assert isinstance(load_checkpoint(path)["payload"], _Arbitrary)


@pytest.mark.slow
def test_same_seed_same_first_losses(tmp_path):
    losses = []
    for name in ("a", "b"):
        result = train(compose_train(tmp_path / name, "data.repeats=4", "trainer.limit_train_batches=2",
                                     "evaluate_at_end=false"))
        logged = pd.read_csv(tmp_path / name / "run" / "logs" / "metrics.csv")
        losses.append(logged[[c for c in logged.columns if c.startswith("train/") and c.endswith("_step")]].dropna())
        assert result["global_step"] == 2
    pd.testing.assert_frame_equal(losses[0].reset_index(drop=True), losses[1].reset_index(drop=True))


@pytest.mark.slow
def test_last_checkpoint_is_the_newest_epoch_even_when_it_is_not_the_best(tmp_path):
    # val/l1_static is the same every epoch, so only the first epoch is ever a "best" checkpoint
    cfg = compose_train(tmp_path, "data.repeats=2", "trainer.limit_train_batches=2", "trainer.max_epochs=3",
                        "callbacks.checkpoint.monitor=val/l1_static", "evaluate_at_end=false")
    train(cfg)
    checkpoints = tmp_path / "run" / "checkpoints"
    assert [p.name[:13] for p in checkpoints.glob("best-*.ckpt")] == ["best-epoch000"]
    assert [p.name for p in checkpoints.glob("last*.ckpt")] == ["last.ckpt"]   # one last checkpoint, no last-v1
    last = load_checkpoint(checkpoints / "last.ckpt")
    assert last["epoch"] == 2 and last["global_step"] == 6, "last.ckpt is the final epoch, not the best one"
