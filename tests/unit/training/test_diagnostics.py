"""Per-term gradient norms on each network, the motion summary, and the monitor callback."""
import math
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from helpers import compose_train
from torch.utils.data import DataLoader

from megen.training.diagnostics import GradientShareMonitor, diagnose, loss_gradient_norms, motion_summary


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(tmp folder, config, system in training mode, an onset -> apex batch of 2 synthetic pairs)."""
    from hydra.utils import instantiate

    tmp = tmp_path_factory.mktemp("diagnostics")
    cfg = compose_train(tmp)
    datamodule = instantiate(cfg.data, progress=False)
    datamodule.setup("fit")
    # apex pairs: deterministic, and the pair that moves most
    batch = next(iter(DataLoader(datamodule.dataset("train", pairs="apex"), batch_size=2)))
    torch.manual_seed(0)
    system = instantiate(cfg.system).train()
    return tmp, cfg, system, batch


def test_each_term_reaches_the_networks_it_should(tiny):
    _, _, system, batch = tiny
    norms = loss_gradient_norms(system, batch)
    losses, _ = system.generator_losses(batch)
    assert set(norms) == set(losses)
    assert all(set(per_net) == {"motion_net", "dense_motion", "generator"} for per_net in norms.values())
    assert norms["flow"]["motion_net"] > 0 and norms["flow"]["dense_motion"] > 0
    assert norms["flow"]["generator"] == 0.0              # the deformation does not depend on the generator
    assert norms["perceptual"]["generator"] > 0
    assert norms["equivariance_value"]["dense_motion"] == 0.0 and norms["equivariance_value"]["motion_net"] > 0


def test_cutting_the_key_point_path_zeroes_the_flow_gradient_on_the_motion_net(tiny, monkeypatch):
    _, _, system, batch = tiny
    net = system.model.motion_net
    forward = net.forward

    def detached(*args, **kwargs):
        out = forward(*args, **kwargs)
        return {**out, "value": out["value"].detach(), "jacobian": out["jacobian"].detach()}

    monkeypatch.setattr(net, "forward", detached)
    norms = loss_gradient_norms(system, batch)
    assert norms["flow"]["motion_net"] == 0.0
    assert norms["flow"]["dense_motion"] > 0


def test_diagnose_leaves_grads_statistics_and_random_stream_untouched(tiny):
    _, _, system, batch = tiny
    params = list(system.parameters())
    sentinel = torch.full_like(params[0], 3.0)
    params[0].grad = sentinel.clone()
    buffers = {k: v.clone() for k, v in system.named_buffers()}
    assert any("running_mean" in k for k in buffers)      # BatchNorm in training mode would update them
    rng = torch.get_rng_state()
    norms, summary = diagnose(system, batch)
    assert norms["flow"]["motion_net"] > 0
    torch.testing.assert_close(params[0].grad, sentinel, rtol=0, atol=0)
    assert all(p.grad is None for p in params[1:])
    for k, v in system.named_buffers():
        torch.testing.assert_close(v, buffers[k], rtol=0, atol=0, msg=k)
    assert torch.equal(torch.get_rng_state(), rng)
    params[0].grad = None


def test_motion_summary_against_a_known_flow():
    from megen.models.motion import coordinate_grid

    flow = torch.zeros(1, 8, 8, 2)
    flow[0, :2, :, 0] = 1.0                                # a quarter of the pixels move 1 px
    mask = torch.zeros(1, 3, 4, 4)
    mask[:, 0] = 0.75
    mask[:, 1:] = 0.125
    out = {"deformation": coordinate_grid(4, 4)[None], "mask": mask}   # zero predicted flow
    s = motion_summary(out, {"source": torch.zeros(1, 3, 8, 8), "flow": flow})
    assert s["background_weight"] == pytest.approx(0.75)
    assert s["pred_flow_px"] == 0 and s["pred_flow_moving_px"] == 0
    assert s["true_flow_px"] == pytest.approx(0.25) and s["epe_px"] == pytest.approx(0.25)
    assert s["moving_fraction"] == pytest.approx(0.25) and s["true_flow_moving_px"] == pytest.approx(1.0)
    s = motion_summary(out, {"source": torch.zeros(1, 3, 8, 8)})
    assert set(s) == {"background_weight", "pred_flow_px"}


def test_monitor_logs_every_n_batches_on_rank_zero(tiny, monkeypatch):
    _, _, system, batch = tiny
    calls = []
    monkeypatch.setattr(system, "log_dict", lambda metrics, **kw: calls.append((metrics, kw)))
    monitor = GradientShareMonitor(every_n_batches=2)
    trainer = SimpleNamespace(is_global_zero=True)          # no logger connector: every due batch logs
    for i in range(3):
        monitor.on_train_batch_end(trainer, system, None, batch, i)
    assert len(calls) == 2                                   # batches 0 and 2
    metrics, kw = calls[0]
    assert kw["on_step"] is True and kw["on_epoch"] is False
    for key in ("grad/flow/motion_net", "grad/flow/dense_motion", "grad/perceptual/generator",
                "motion/background_weight", "motion/pred_flow_px", "motion/true_flow_px"):
        assert key in metrics and math.isfinite(metrics[key])
    monitor.on_train_batch_end(SimpleNamespace(is_global_zero=False), system, None, batch, 3)
    monitor.on_train_batch_end(SimpleNamespace(is_global_zero=False), system, None, batch, 4)
    assert len(calls) == 2                                   # due at batch 4, but not rank zero


def test_monitor_waits_for_a_batch_the_logger_writes(tiny, monkeypatch):
    _, _, system, batch = tiny
    calls = []
    monkeypatch.setattr(system, "log_dict", lambda metrics, **kw: calls.append(metrics))
    monitor = GradientShareMonitor(every_n_batches=2)
    connector = SimpleNamespace(should_update_logs=False)
    trainer = SimpleNamespace(is_global_zero=True, _logger_connector=connector)
    monitor.on_train_batch_end(trainer, system, None, batch, 0)
    assert not calls
    connector.should_update_logs = True
    monitor.on_train_batch_end(trainer, system, None, batch, 1)      # the first written step
    monitor.on_train_batch_end(trainer, system, None, batch, 2)      # written, but only 1 batch later
    assert len(calls) == 1
    monitor.on_train_batch_end(trainer, system, None, batch, 3)
    assert len(calls) == 2
    assert monitor.state_dict() == {"batches": 4, "last": 3}


def test_monitor_readings_reach_the_csv_log_of_a_run(tiny):
    from megen.train import train

    tmp, _, _, _ = tiny
    cfg = compose_train(tmp, "trainer.log_every_n_steps=2", "callbacks.gradient_share.every_n_batches=2",
                        "evaluate_at_end=false")
    result = train(cfg)
    assert result["global_step"] > 0
    logged = pd.read_csv(tmp / "run" / "logs" / "metrics.csv")
    assert {"grad/flow/motion_net", "grad/perceptual/generator", "motion/background_weight"} <= set(logged.columns)
    rows = logged.dropna(subset=["grad/flow/motion_net"])
    assert len(rows) == 1 and rows["grad/flow/motion_net"].iloc[0] > 0


def test_diagnose_fit_prints_scores_before_and_after_each_stretch(tmp_path, capsys, monkeypatch):
    from megen.diagnose import main as diagnose_main

    monkeypatch.chdir(tmp_path)
    diagnose_main(["fit", "fit.steps=2", "fit.report_every=1", "fit.pairs=2", "model=fomm", "model.generator.block_expansion=8",
                "model.motion.block_expansion=8", "model.dense_motion.block_expansion=8"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("fit ")]
    scores = [dict(f.split("=", 1) for f in line.split() if "=" in f and not f.startswith("model.")) for line in lines]
    assert [s["step"] for s in scores] == ["0", "1", "2"]
    assert abs(float(scores[0]["rmte"]) - 1.0) < 0.1           # the untrained default is about a static copy
    assert all(float(s["epe_over_zero_flow"]) > 0 for s in scores)
    with pytest.raises(SystemExit) as stopped:
        diagnose_main(["fit", "fit.stepz=2"])
    assert stopped.value.code == 2 and capsys.readouterr().err.strip() == "error: Could not override 'fit.stepz'."
    with pytest.raises(SystemExit):
        diagnose_main(["fit", "fit.steps=0"])
    assert capsys.readouterr().err.strip() == "error: fit.steps=0 must be > 0"
