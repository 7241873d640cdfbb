"""The path from the losses to the motion works: a small model learns the motion of a fixed batch.

If anything between the loss terms and the predicted deformation is cut (detached key points,
masks that cannot leave the background, a flow target in the wrong convention), rMTE on the
batch stays at 1 (a static output) and this test fails. The floor is not 0: warping these 64-px
frames bilinearly with the *true* flow leaves about 0.47 of the static copy's error. Measured on
this batch (one thread): rMTE 0.99 -> 0.70 and flow EPE 0.99 -> 0.61 of zero flow's after 40 steps,
0.67 / 0.59 after 60 and 0.70 / 0.59 after 120 (the fit has levelled off by 40); a cut path stays at
1.0. The thresholds sit between; 50 steps leave a margin for other CPUs' kernels.
"""
import pytest
import torch
from helpers import compose_train
from hydra.utils import instantiate

from megen.training.diagnostics import FIXED_BATCH_SETTING, batch_scores, fit_batch, fixed_batch

STEPS = 50


def _fixed_batch(tmp_path):
    # the default recipe on a tiny model; one perceptual scale keeps the fit to a minute
    cfg = compose_train(tmp_path, *FIXED_BATCH_SETTING, "data.batch_size=6")
    dm = instantiate(cfg.data, progress=False)
    dm.setup()
    return cfg, fixed_batch(dm, pairs=4)


@pytest.fixture(scope="module")
def fixed(tmp_path_factory):
    return _fixed_batch(tmp_path_factory.mktemp("learning"))


@pytest.mark.slow
def test_default_recipe_learns_the_motion_of_a_fixed_batch(fixed):
    cfg, batch = fixed
    torch.manual_seed(0)
    system = instantiate(cfg.system)
    before = batch_scores(system, batch)
    fit_batch(system, batch, STEPS)
    rmte, epe = batch_scores(system, batch)
    assert rmte < 0.8, f"rMTE {rmte:.3f} after {STEPS} steps (before {before[0]:.3f}): motion not learned"
    assert epe < 0.7, f"flow EPE / zero-flow EPE {epe:.3f} (before {before[1]:.3f})"


@pytest.mark.slow
def test_a_cut_path_from_the_losses_to_the_motion_does_not_learn(fixed, monkeypatch):
    """The same fit with the dense deformation detached from every loss stays a static copy."""
    cfg, batch = fixed
    torch.manual_seed(0)
    system = instantiate(cfg.system)
    dense = system.model.dense_motion
    forward = dense.forward

    def detached(*args, **kwargs):
        out = forward(*args, **kwargs)
        return {**out, "deformation": out["deformation"].detach()}

    monkeypatch.setattr(dense, "forward", detached)
    fit_batch(system, batch, 40)
    rmte, _ = batch_scores(system, batch)
    assert rmte > 0.85
