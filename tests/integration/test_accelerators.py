"""Training on the accelerators that ``conf/trainer`` names: ``trainer=gpu`` and ``trainer=ddp`` on CUDA devices.
They run where the devices are (``@pytest.mark.gpu``) and are skipped elsewhere; DDP on the CPU is
``tests/cli/test_train.py``'s."""
import json
import os

import pytest
import torch
from helpers import missing_devices, run_module, tiny_overrides


def _trained(tmp_path, *trainer: str) -> dict:
    env = {**os.environ, "PL_DISABLE_FORK": "1"}
    out = run_module("megen.train", *tiny_overrides(tmp_path, *trainer, "trainer.max_epochs=1",
                                                     "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
                                                     "evaluate_at_end=false", "callbacks.progress=null"),
                     cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    run = next((tmp_path / "out" / "train").iterdir())
    return json.loads((run / "metrics.json").read_text())["metrics"]


@pytest.mark.slow
@pytest.mark.gpu
@pytest.mark.parametrize("model", ["model=flow", "model=fomm"])
def test_trainer_gpu_trains_and_its_checkpoint_loads_on_the_cpu(tmp_path, model):
    from megen.runtime.checkpoints import load_checkpoint

    metrics = _trained(tmp_path, model, "trainer=gpu")
    assert torch.isfinite(torch.tensor(metrics["val/rmte"]))
    ckpt = load_checkpoint(next((tmp_path / "out" / "train").iterdir()) / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] > 0
    assert all(t.device.type == "cpu" for t in ckpt["state_dict"].values())


@pytest.mark.slow
@pytest.mark.gpu(count=2)
def test_trainer_ddp_trains_on_two_gpus(tmp_path):
    metrics = _trained(tmp_path, "trainer=ddp", "trainer.accelerator=gpu", "trainer.devices=2")
    assert torch.isfinite(torch.tensor(metrics["val/rmte"]))


def test_the_gpu_marker_skips_where_the_devices_are_missing():
    """The marker's rule, checked here on the CPU."""
    one, two = pytest.mark.gpu.mark, pytest.mark.gpu(count=2).mark
    assert missing_devices(None, have=0) is None
    assert missing_devices(one, have=0) == "needs 1 CUDA device(s), this machine has 0"
    assert missing_devices(one, have=1) is None
    assert missing_devices(two, have=1) == "needs 2 CUDA device(s), this machine has 1"
    assert missing_devices(two, have=8) is None
