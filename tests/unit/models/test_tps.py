"""The thin-plate-spline motion family: spline maths, control-point groups, dense motion with
multi-resolution occlusion, the generator that consumes it, its losses, animation and training."""
import numpy as np
import pytest
import torch
from helpers import compose_train

from megen.face.keypoints import keypoint_set, num_keypoints
from megen.face.prior import PriorSetting
from megen.models.full import build_model
from megen.models.generator import MultiScaleOcclusionGenerator
from megen.models.losses import background_cycle, warp_loss
from megen.models.motion import coordinate_grid
from megen.models.tps import tps_apply, tps_fit, tps_warp_points
from megen.models.tps_motion import (
    TPS_GROUPS,
    ScheduledBackground,
    TPSDenseMotionNetwork,
    dropout_softmax,
    tps_dropout_p,
    tps_groups,
)

SIZE = 64
TINY_TPS = {
    "family": "tps", "num_tps": 4, "num_channels": 3, "background": "none", "tps_regularisation": 1e-3,
    "dropout": {"until_epoch": 3, "start_p": 0.1, "max_p": 0.3, "ramp_epochs": 1},
    "motion": {"block_expansion": 8, "max_features": 32, "num_blocks": 3, "temperature": 0.1, "scale_factor": 0.5},
    "dense_motion": {"block_expansion": 8, "max_features": 32, "num_blocks": 3, "scale_factor": 0.5,
                     "mask_prior": True, "displacement_input": True},
    "generator": {"block_expansion": 8, "max_features": 32, "num_down_blocks": 2, "num_bottleneck_blocks": 1},
    "background_net": {"block_expansion": 8, "num_blocks": 3, "max_features": 32},
}


def _points(*shape, spread=0.6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, 2, generator=g) * 2 - 1) * spread


# -- spline maths --------------------------------------------------------------------------------

def test_control_points_map_exactly_onto_their_targets():
    control = _points(3, 4, 5, seed=1)
    target = control + 0.05 * _points(3, 4, 5, spread=1.0, seed=2)
    mapped = tps_warp_points(control, control, target)
    assert mapped.shape == (3, 4, 5, 2)
    torch.testing.assert_close(mapped, target, atol=1e-5, rtol=0)


@pytest.mark.parametrize("regularisation", [0.0, 1e-3, 1e-2])
def test_affine_correspondences_give_that_affine_map(regularisation):
    control = _points(2, 5, seed=3)
    a = torch.tensor([[[1.03, 0.02], [-0.04, 0.97]], [[0.9, -0.1], [0.1, 1.1]]])
    b = torch.tensor([[[0.02, -0.01]], [[-0.05, 0.03]]])
    weights, affine = tps_fit(control, control @ a.transpose(1, 2) + b, regularisation)
    assert weights.abs().max() < 1e-5                          # no bending at all
    elsewhere = _points(2, 50, spread=1.0, seed=4)
    torch.testing.assert_close(tps_apply(elsewhere, control, weights, affine), elsewhere @ a.transpose(1, 2) + b,
                               atol=1e-5, rtol=0)


def test_identical_points_give_exactly_the_identity_even_when_degenerate():
    line = torch.stack([torch.linspace(-0.5, 0.5, 5), torch.zeros(5)], dim=-1)[None]       # collinear
    doubled = torch.tensor([[[0.1, 0.1], [0.1, 0.1], [0.3, -0.2], [-0.2, 0.4], [0.0, 0.0]]])  # one point twice
    z = _points(1, 30, spread=1.0, seed=5)
    for control in (line, doubled, _points(1, 5, seed=6)):
        torch.testing.assert_close(tps_warp_points(z, control, control, 1e-3), z, atol=1e-6, rtol=0)
    # degenerate sets with a real motion still give a finite, bounded map
    moved = tps_warp_points(z, line, line + torch.tensor([0.03, 0.0]), 1e-3)
    assert torch.isfinite(moved).all() and (moved - z).abs().max() < 0.1


def test_matches_scipy_thin_plate_spline():
    from scipy.interpolate import RBFInterpolator

    control = _points(1, 5, seed=7).double()
    target = control + 0.1 * _points(1, 5, spread=1.0, seed=8).double()
    z = _points(1, 40, spread=1.0, seed=9).double()
    ref = RBFInterpolator(control[0].numpy(), target[0].numpy(), kernel="thin_plate_spline", degree=1)(z[0].numpy())
    textbook = tps_apply(z, control, *tps_fit(control, target, regularisation=0.0, affine_ridge=0.0))
    np.testing.assert_allclose(textbook[0].numpy(), ref, atol=1e-9)
    # the default ridge (which decides degenerate sets) moves a well-posed fit by under a micro-unit
    np.testing.assert_allclose(tps_warp_points(z, control, target)[0].numpy(), ref, atol=1e-6)


def test_fit_is_differentiable():
    control = _points(2, 5, seed=10).requires_grad_(True)
    target = (control.detach() + 0.02).requires_grad_(True)
    tps_warp_points(_points(2, 20, seed=11), control, target, 1e-3).sum().backward()
    assert torch.isfinite(control.grad).all() and target.grad.abs().sum() > 0


# -- control-point groups ------------------------------------------------------------------------

@pytest.mark.parametrize("name,k", [("paper18", 7), ("all68", 10), ("au24", 8)])
def test_groups_of_five_span_the_plane_on_a_face(identities, name, k):
    groups = tps_groups("landmarks", 10, name)
    assert groups.shape == (k, 5) and groups.min() >= 0 and groups.max() < num_keypoints(name)
    assert len(set(groups.flatten().tolist())) >= num_keypoints(name) - (18 if name == "all68" else 0)
    points = torch.from_numpy(keypoint_set(name, identities[0].landmarks))[groups]          # (K, 5, 2) pixels
    centred = points - points.mean(dim=1, keepdim=True)
    smallest = torch.linalg.svdvals(centred)[:, -1]                 # spread across the group's main axis
    assert smallest.min() > 0.3                                      # pixels at 64: not on one line
    if name == "all68":                                              # the 50 landmarks of the MEGC 2022 winner
        assert len(set(sum(TPS_GROUPS["all68"], []))) == 50


def test_learned_groups_and_refused_modes():
    torch.testing.assert_close(tps_groups("learned", 3, "paper18"), torch.arange(15).view(3, 5))
    with pytest.raises(ValueError, match="reference"):
        tps_groups("reference", 10, "paper18")
    with pytest.raises(ValueError, match="all68, au24, paper18"):
        tps_groups("landmarks", 10, "nose3")


# -- dropout schedule ----------------------------------------------------------------------------

def test_dropout_schedule_is_tpsmm_published_one():
    p = [tps_dropout_p(e) for e in (0, 3, 5, 10, 34, 35, 99)]
    assert p == pytest.approx([0.1, 0.19, 0.25, 0.3, 0.3, 0.0, 0.0])


def test_dropout_softmax_keeps_background_and_drops_whole_transforms():
    logits = torch.randn(64, 6, 4, 4)
    mask = dropout_softmax(logits, 0.5, torch.Generator().manual_seed(0))
    torch.testing.assert_close(mask.sum(1), torch.ones(64, 4, 4))
    assert (mask[:, 0] > 0).all()
    dropped = (mask[:, 1:].amax(dim=(2, 3)) == 0)
    assert 0.35 < dropped.float().mean() < 0.65
    torch.testing.assert_close(dropout_softmax(logits, 0.0), torch.softmax(logits, 1))


# -- dense motion and generator ------------------------------------------------------------------

def _dense(**kw):
    args = dict(groups=torch.arange(20).view(4, 5), num_points=20, block_expansion=8, num_blocks=3, max_features=32,
                scale_factor=0.5, occlusion_levels=3, mask_prior=True, displacement_input=True)
    args.update(kw)
    return TPSDenseMotionNetwork(**args)


def test_dense_motion_shapes_and_multi_resolution_occlusion():
    net = _dense().eval()
    src = torch.rand(2, 3, SIZE, SIZE)
    kp_s = _points(2, 20, seed=12)
    out = net(src, {"value": kp_s}, {"value": kp_s + 0.03})
    assert out["deformation"].shape == (2, 32, 32, 2) and out["sparse_motion"].shape == (2, 5, 32, 32, 2)
    torch.testing.assert_close(out["mask"].sum(1), torch.ones(2, 32, 32))
    assert [m.shape for m in out["occlusion_maps"]] == [(2, 1, 16, 16), (2, 1, 32, 32), (2, 1, 64, 64)]
    assert len(net.occlusion) == 3 and out["occlusion"] is out["occlusion_maps"][-1]
    # each transform takes its driving control points to the source ones (exactly up to the smoothing)
    grid_at = net.transformations(kp_s, kp_s + 0.03, (32, 32))
    assert grid_at.shape == (2, 5, 32, 32, 2)
    single = _dense(multi_mask=False).eval()(src, {"value": kp_s}, {"value": kp_s})
    assert [m.shape[-1] for m in single["occlusion_maps"]] == [16, 32, 64]


def test_dense_motion_follows_a_translation_and_is_identity_without_motion():
    net = _dense().eval()
    src = torch.rand(1, 3, SIZE, SIZE)
    kp = _points(1, 20, seed=13)
    shift = torch.tensor([0.04, -0.02])                               # 1.3 / 0.6 px at 64
    out = net(src, {"value": kp + shift}, {"value": kp})
    torch.testing.assert_close(out["sparse_motion"][:, 1:] - coordinate_grid(32, 32), shift.expand(1, 4, 32, 32, 2),
                               atol=1e-5, rtol=0)
    still = net(src, {"value": kp}, {"value": kp})
    torch.testing.assert_close(still["deformation"], coordinate_grid(32, 32)[None], atol=1e-6, rtol=0)


def test_generator_consumes_every_occlusion_scale():
    torch.manual_seed(0)
    gen = MultiScaleOcclusionGenerator(3, block_expansion=8, max_features=32, num_down_blocks=2).eval()
    src = torch.rand(1, 3, SIZE, SIZE)
    ident = coordinate_grid(32, 32)[None]
    maps = [torch.rand(1, 1, s, s) * 0.8 + 0.1 for s in (16, 32, 64)]
    base = gen(src, {"deformation": ident, "occlusion_maps": maps})["prediction"]
    assert base.shape == (1, 3, SIZE, SIZE)
    for i in range(3):
        changed = [m.clone() for m in maps]
        changed[i] = changed[i] * 0.5
        assert (gen(src, {"deformation": ident, "occlusion_maps": changed})["prediction"] - base).abs().max() > 1e-4
    # fully visible: the output is the warped source, here (identity at full size) the source itself
    ones = [torch.ones_like(m) for m in maps]
    out = gen(src, {"deformation": coordinate_grid(SIZE, SIZE)[None], "occlusion_maps": ones})
    torch.testing.assert_close(out["prediction"], src, atol=1e-5, rtol=0)
    # the packed encoding (encode once, expand over driving frames) decodes like the forward pass
    packed = gen.encode(src)
    assert packed.dim() == 4
    torch.testing.assert_close(gen.decode(packed.expand(2, -1, -1, -1), src.expand(2, -1, -1, -1),
                                          {"deformation": ident.expand(2, -1, -1, -1),
                                           "occlusion_maps": [m.expand(2, -1, -1, -1) for m in maps]})["prediction"][1:],
                               base)


def test_warp_loss_trains_the_motion_only_and_vanishes_for_a_still_pair():
    torch.manual_seed(0)
    model = build_model(TINY_TPS, PriorSetting("paper18", input="none", keypoint_mode="learned").model_args()).train()
    frame = torch.rand(2, 3, SIZE, SIZE)
    out = model(frame, frame)
    target = model.generator.target_features(frame, out["occlusion_maps"])
    assert [t.shape[-1] for t in target] == [16, 32, 64] and len(out["warped_features"]) == 3
    # same frame, identity motion: nothing to correct (but for the border of the resized deformation)
    inner = [x[..., 1:-1, 1:-1] for x in target], [x[..., 1:-1, 1:-1] for x in out["warped_features"]]
    assert warp_loss(*inner) < 1e-5
    moved = model(frame, torch.roll(frame, 2, dims=-1))
    loss = warp_loss(model.generator.target_features(frame, moved["occlusion_maps"]), moved["warped_features"])
    loss.backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.generator.parameters())
    assert sum(p.grad.abs().sum() for p in model.dense_motion.parameters() if p.grad is not None) > 0


def test_background_cycle_and_scheduled_start():
    a = torch.tensor([[[1.02, 0.03, 0.01], [-0.02, 0.98, 0.02], [0.0, 0.0, 1.0]]])
    assert background_cycle(a, torch.inverse(a)) < 1e-6 and background_cycle(a, a) > 1e-3
    bg = ScheduledBackground("affine", start_epoch=2, block_expansion=8, num_blocks=3, max_features=32).train()
    s, d = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    bg.set_epoch(1)
    assert bg(s, d) is None
    bg.set_epoch(2)
    torch.testing.assert_close(bg(s, d), torch.eye(3)[None])            # identity at initialisation
    assert bg.eval().set_epoch(0) is None and bg(s, d).shape == (1, 3, 3)


# -- the whole model -----------------------------------------------------------------------------

@pytest.mark.parametrize("prior_input,mode", [("none", "learned"), ("concat", "landmarks"), ("learned", "anchored")])
def test_model_runs_in_each_prior_input_and_keypoint_mode(prior_input, mode):
    torch.manual_seed(0)
    prior = {"keypoints": "paper18", "input": prior_input, "keypoint_mode": mode,
             "fusion": "separate" if prior_input == "learned" else "sum"}
    model = build_model(TINY_TPS, PriorSetting(**prior).model_args()).train()
    if model.motion_net.anchor_head is not None:   # starts at exactly zero offset: give the features a say
        torch.nn.init.normal_(model.motion_net.anchor_head.linear.weight, std=1e-3)
    src, drv = torch.rand(2, 3, SIZE, SIZE), torch.rand(2, 3, SIZE, SIZE)
    maps = torch.rand(2, 18 if prior_input == "learned" else 1, 32, 32, requires_grad=True)
    kp = torch.from_numpy(keypoint_set("paper18", np.random.default_rng(0).uniform(16, 48, (68, 2)))).float()
    kp = ((2 * kp + 1) / SIZE - 1)[None].expand(2, -1, -1)
    out = model(src, drv, maps, kp, src)
    k, p = (4, 20) if mode == "learned" else (7, 18)
    assert out["prediction"].shape == (2, 3, SIZE, SIZE) and out["mask"].shape == (2, k + 1, 32, 32)
    assert out["motion_source"]["value"].shape == (2, p, 2)
    out["prediction"].mean().backward()
    if prior_input == "none":
        assert maps.grad is None
    else:                                                             # the prior reaches the key-point network
        assert maps.grad.abs().sum() > 0


def test_same_frame_gives_identity_motion_and_the_source_back_where_visible():
    torch.manual_seed(0)
    model = build_model(TINY_TPS, PriorSetting("paper18", input="concat", keypoint_mode="landmarks").model_args()).eval()
    frame = torch.rand(1, 3, SIZE, SIZE)
    kp = _points(1, 18, spread=0.5, seed=14)
    out = model(frame, frame, torch.rand(1, 1, 32, 32), kp, frame)
    torch.testing.assert_close(out["deformation"], coordinate_grid(32, 32)[None], atol=1e-6, rtol=0)
    # (the 32-px deformation is resized to the frame: the outermost pixels sample half a pixel inwards)
    torch.testing.assert_close(out["warped_source"][..., 1:-1, 1:-1], frame[..., 1:-1, 1:-1], atol=1e-4, rtol=0)


def test_animation_with_relative_motion_and_movement_scale():
    from megen.animation import FaceInput, animate

    torch.manual_seed(0)
    model = build_model(TINY_TPS, PriorSetting("paper18", input="concat", keypoint_mode="landmarks").model_args())
    kp = _points(1, 18, spread=0.5, seed=15)
    target = FaceInput(torch.rand(1, 3, SIZE, SIZE), torch.rand(1, 1, 32, 32), kp)
    still = torch.rand(1, 3, SIZE, SIZE)
    driving = FaceInput(torch.cat([still, still, torch.roll(still, 1, dims=-1)]), torch.rand(1, 1, 32, 32), kp)
    out = animate(model, target, driving, batch_size=2, adapt_movement_scale=True)
    assert out.shape == (3, 3, SIZE, SIZE)
    torch.testing.assert_close(out[0], out[1])                        # the onset itself: zero motion
    assert (out[2] - out[0]).abs().max() > 0


def test_tps_trains_on_the_synthetic_set(tmp_path):
    from megen.train import train

    result = train(compose_train(tmp_path, "model=tps", "dataset.frame_size=64", "model.background=affine",
                                 "model.background_start=0", "loss.weights.background=10"))
    assert result["global_step"] > 0
    m = result["metrics"]
    assert 0 < m["val/rmte"] < 10 and np.isfinite(m["val/epe"]) and m["val/epe_zero"] > 0
    import pandas as pd

    logged = pd.read_csv(tmp_path / "run" / "logs" / "metrics.csv")
    assert {"train/warp_step", "train/background_step", "train/equivariance_value_step"} <= set(logged.columns)
    assert "train/equivariance_jacobian_step" not in logged.columns          # no Jacobians to hold equivariant


@pytest.mark.slow
def test_tps_trains_with_ddp_on_cpu(tmp_path):
    """Two processes, through the dropout epochs: every parameter gets a gradient in every step."""
    import json
    import os

    from helpers import run_module, tiny_overrides

    env = {**os.environ, "PL_DISABLE_FORK": "1"}
    out = run_module("megen.train", *tiny_overrides(tmp_path, "model=tps", "trainer=ddp", "trainer.accelerator=cpu",
                                                     "trainer.devices=2", "trainer.max_epochs=2",
                                                     "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
                                                     "evaluate_at_end=false", "callbacks.progress=null"),
                     cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    run = next((tmp_path / "out" / "train").iterdir())
    assert np.isfinite(json.loads((run / "metrics.json").read_text())["metrics"]["val/rmte"])
