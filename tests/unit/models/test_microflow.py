"""megen.models.microflow: the learned micro-motion estimator's shapes, its least-squares start, training and
loading, and its use as the flow-guided model's guide."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from megen.face.flow import warp_backward
from megen.metrics.expression import region_masks
from megen.models.microflow import (
    LearnedFlow,
    MicroFlowNet,
    flow_estimator,
    load_microflow,
    normalise,
    relit,
    solve_flow,
    warp_by,
)
from megen.ops.flow import flows_to_reference, optical_flow


def _shifted(frame, dx, dy):
    field = np.empty(frame.shape + (2,), np.float32)
    field[...] = (-dx, -dy)
    return np.clip(np.rint(warp_backward(frame.astype(np.float32), field)), 0, 255).astype(np.uint8)


def test_shapes_and_the_untrained_network_is_its_least_squares_solution():
    net = MicroFlowNet(channels=8, dilations=(1, 2))
    a, b = torch.rand(3, 1, 64, 48) * 255, torch.rand(3, 1, 64, 48) * 255
    flow = net(a, b)
    assert flow.shape == (3, 64, 48, 2) and net.coarse(a, b).shape == (3, 2, 16, 12)
    # the corrections start at zero: two passes of least squares, the second on the onset warped by the first
    fa, fb = normalise(a), normalise(b)
    _, base = net.features(F.avg_pool2d(fa, 2), F.avg_pool2d(fb, 2))
    first = F.interpolate(base, size=(16, 12), mode="bilinear", align_corners=False) * 2
    full = F.interpolate(first, size=(64, 48), mode="bilinear", align_corners=False)
    _, rest = net.features(fa, warp_by(fb, full))
    torch.testing.assert_close(net.coarse(a, b), first + rest)
    bicubic = MicroFlowNet(channels=8, dilations=(1, 2), warp="bicubic")
    _, rest = net.features(fa, warp_by(fb, full, "bicubic"))
    torch.testing.assert_close(bicubic.coarse(a, b), first + rest)
    # wider windows add input channels, not outputs; the corrected solution stays the second window's
    wide = MicroFlowNet(channels=8, dilations=(1, 2), windows=(0, 1.0, 3.0, 6.0))
    assert wide.features(a, b)[0].shape[1] == net.features(a, b)[0].shape[1] + 2 * 3
    torch.testing.assert_close(wide.coarse(a, b), net.coarse(a, b))
    with pytest.raises(ValueError, match="net.windows"):
        MicroFlowNet(windows=(0, 2.0))
    with pytest.raises(ValueError, match="net.warp='nearest'"):
        MicroFlowNet(warp="nearest")


def test_bicubic_resampling_keeps_the_detail_that_bilinear_blurs_into_false_motion():
    """A half-pixel shift of a fine sinusoid: bilinear halves its amplitude (the averaging of two neighbours,
    read by the least squares as a change), bicubic keeps nearly all of it."""
    xs = torch.arange(64.0)
    period = 6.0
    image = torch.sin(2 * torch.pi * xs / period).view(1, 1, 1, -1).expand(1, 1, 8, 64).contiguous()
    flow = torch.zeros(1, 2, 8, 64)
    flow[:, 0] = 0.5
    truth = torch.sin(2 * torch.pi * (xs + 0.5) / period)[8:56]
    err = {m: (warp_by(image, flow, m)[0, 0, 4, 8:56] - truth).abs().max().item() for m in ("bilinear", "bicubic")}
    # bilinear: 1 - cos(pi / 6) = 0.13 of the amplitude lost at the samples' midpoints
    assert err["bilinear"] > 0.1 and err["bicubic"] < 0.3 * err["bilinear"]


def test_warp_by_moves_content_by_the_flow():
    image = torch.arange(64.0).view(1, 1, 8, 8)
    flow = torch.zeros(1, 2, 8, 8)
    flow[:, 0] = 1.0                                           # out(p) = image(p + (1, 0))
    torch.testing.assert_close(warp_by(image, flow)[..., :7], image[..., 1:])


def test_solve_flow_inverts_the_normal_equations():
    rng = np.random.default_rng(0)
    g = torch.tensor(rng.normal(size=(2, 50)), dtype=torch.float64)      # gradients of 50 pixels
    u = torch.tensor([0.3, -0.7], dtype=torch.float64)
    dt = -(g * u[:, None]).sum(0)                                           # It = -grad . u
    terms = torch.stack([(g[0] ** 2).sum(), (g[1] ** 2).sum(), (g[0] * g[1]).sum(), (g[0] * dt).sum(),
                         (g[1] * dt).sum()]).view(1, 5, 1, 1)
    torch.testing.assert_close(solve_flow(terms, torch.zeros(1, 1, 1, 1, dtype=torch.float64))[0, :, 0, 0], u)


#: px: the face's mean flow on a known 0.5-px shift by the untrained estimator without damping (its
#: least-squares start), measured here at 0.501 / 0.504; damping shrinks it (0.34 at 0.05), training undoes that
LEAST_SQUARES_TOLERANCE = 0.02


@pytest.mark.parametrize("shift", [(0.5, 0.0), (0.0, 0.5)])
def test_the_learned_estimator_recovers_a_half_pixel_shift_of_a_face(face, shift):
    frame, lm = face
    _, whole = region_masks(lm, 256)
    learned = LearnedFlow(MicroFlowNet(damping=0.0))
    flow = optical_flow(frame, _shifted(frame, *shift), learned)
    assert flow.shape == (256, 256, 2) and flow.dtype == np.float32
    np.testing.assert_allclose(flow[whole].mean(0), shift, atol=LEAST_SQUARES_TOLERANCE)
    assert np.abs(optical_flow(frame, frame, learned)[whole]).max() < 1e-3
    clip = [frame, _shifted(frame, *shift)]
    both = flows_to_reference(clip, 0, learned)              # batched (LearnedFlow.pairs)
    np.testing.assert_allclose(both[1], optical_flow(clip[1], clip[0], learned), atol=1e-5)
    assert not both[0].any()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A few steps of python -m megen.train_flow at 32 px: its checkpoint."""
    from megen.config.compose import compose_config
    from megen.train_flow import train_flow

    run = tmp_path_factory.mktemp("train_flow")
    cfg = compose_config("train_flow", f"run_dir={run}", "pairs.size=32", "pairs.identities=2", "pairs.val_identities=1",
                         "pairs.train_pairs=8", "pairs.val_pairs=4", "pairs.batch_size=4", "net.channels=4",
                         "trainer.max_epochs=1")
    return train_flow(cfg)


def test_train_flow_continues_from_an_estimator(trained, tmp_path):
    """``init=``: the run starts from that estimator's weights and takes its network arguments."""
    from megen.config.check import ConfigError, validate_train_flow
    from megen.config.compose import compose_config
    from megen.training.microflow import MicroFlowSystem

    start = load_microflow(trained["checkpoint"])
    system = MicroFlowSystem(net={"channels": 16}, init=trained["checkpoint"])
    assert system.hparams.net["channels"] == 4
    for a, b in zip(system.net.state_dict().values(), start.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert MicroFlowSystem(init="packaged").net.hparams == load_microflow().hparams
    with pytest.raises(ConfigError, match="init='nowhere.ckpt' is not a file"):
        validate_train_flow(compose_config("train_flow", "init=nowhere.ckpt"))
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"no")
    with pytest.raises(ValueError, match=f"init={bad}: not a micro-motion estimator checkpoint"):
        MicroFlowSystem(init=str(bad))


def test_refinement_passes_start_as_the_estimator_they_refine_and_train_alone_when_frozen(trained, tmp_path):
    """``net.refinements`` added to a trained estimator (``init=``): untrained, the same flow; ``freeze_init``
    leaves every weight it came with unchanged by a training step and moves the new pass's."""
    from megen.config.check import ConfigError, validate_train_flow
    from megen.config.compose import compose_config
    from megen.training.microflow import MicroFlowSystem, relative_epe

    start = load_microflow(trained["checkpoint"])
    system = MicroFlowSystem(net={"refinements": 1}, init=trained["checkpoint"], freeze_init=True)
    assert system.hparams.net["refinements"] == 1 and system.hparams.net["channels"] == 4
    torch.manual_seed(0)
    a, b = torch.rand(2, 1, 32, 32) * 255, torch.rand(2, 1, 32, 32) * 255
    torch.testing.assert_close(system.net.coarse(a, b), start.coarse(a, b))
    before = {k: v.clone() for k, v in system.net.state_dict().items()}
    # configure_optimizers' schedule needs a trainer: one plain Adam step over what it optimises stands in
    opt = torch.optim.Adam([p for p in system.net.parameters() if p.requires_grad], lr=1e-2)
    relative_epe(system.net.coarse(a, b), torch.full((2, 2, 8, 8), 0.3)).backward()
    opt.step()
    after = system.net.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith("refine.") for k in moved)
    # the refined network's checkpoint rebuilds it (its arguments travel in hparams)
    assert MicroFlowNet(**system.hparams.net).hparams["refinements"] == 1
    assert "refinements" not in MicroFlowNet().hparams      # two-pass networks keep their checkpoint form
    with pytest.raises(ValueError, match="net.refinements=-1"):
        MicroFlowNet(refinements=-1)
    with pytest.raises(ConfigError, match="freeze_init=.* needs init="):
        validate_train_flow(compose_config("train_flow", "freeze_init=true"))


def _smooth_gain(shape, sd, seed=0):
    """(1, 1, H, W) relative gain field 1 + g, g of sd ``sd`` varying over 16 px (the shading nuisance's scale)."""
    from megen.synthetic.nuisance import shading_field

    return torch.from_numpy(1.0 + shading_field(shape, sd, np.random.default_rng(seed))).float()[None, None]


def test_relit_takes_a_smooth_gain_field_off_and_leaves_an_edge_motion(face):
    frame, lm = face
    _, whole = region_masks(lm, 256)
    inside = torch.from_numpy(whole)
    onset = torch.from_numpy(frame).float()[None, None]
    lit = onset * _smooth_gain((256, 256), 0.03)
    before = ((lit - onset).abs() / onset.clamp_min(1))[0, 0][inside].mean()
    after = ((relit(lit, onset, 8.0) - onset).abs() / onset.clamp_min(1))[0, 0][inside].mean()
    assert before > 0.015 and after < 0.25 * before       # measured 0.022 -> 0.003
    # a half-pixel shift moves edges finer than the scale: relighting keeps nearly all of the change it makes
    moved = torch.from_numpy(_shifted(frame, 0.5, 0.0)).float()[None, None]
    change = (moved - onset)[0, 0][inside].abs().mean()
    kept = (relit(moved, onset, 8.0) - onset)[0, 0][inside].abs().mean()
    assert 0.75 * change < kept <= 1.01 * change      # measured 0.87 of it



def test_relit_with_a_tolerance_leaves_an_occlusion_out_of_the_light():
    """An eye-sized blob that darkens (a lid over an eye) is not light: the plain ratio spreads it over the skin
    around it, the second estimate without the pixels far off leaves that skin as it was."""
    skin = torch.full((1, 1, 96, 96), 120.0)
    onset, frame = skin.clone(), skin.clone()
    frame[..., 40:52, 36:60] = 40.0
    around = torch.zeros(96, 96, dtype=torch.bool)
    around[30:62, 26:70] = True
    around[38:54, 34:62] = False
    plain = (relit(onset, frame, 8.0)[0, 0] - skin[0, 0]).abs()[around].max() / 120
    robust = (relit(onset, frame, 8.0, tolerance=0.1)[0, 0] - skin[0, 0]).abs()[around].max() / 120
    assert plain > 0.1 and robust < 0.3 * plain       # measured 0.20 and 0.03
    # a smooth light (over 16 px of a 256-px face) is still taken off
    onset = torch.full((1, 1, 256, 256), 120.0)
    lit = onset * _smooth_gain((256, 256), 0.03)
    err = (relit(lit, onset, 8.0, tolerance=0.1) - onset).abs().mean()
    assert err < 0.25 * (lit - onset).abs().mean()


def test_relight_makes_the_estimator_blind_to_the_light_and_switches_on_from_a_checkpoint(face, trained):
    """``net.relight``: on a still face under a changed smooth light the least-squares start reads far less false
    motion with it than without; it is 0 (and absent from the checkpoint) by default, and ``net=`` may switch it on
    for an estimator continued by ``init=`` (it has no weights)."""
    from megen.training.microflow import MicroFlowSystem

    frame, lm = face
    _, whole = region_masks(lm, 256)
    onset = torch.from_numpy(frame).float()[None, None]
    lit = (onset * _smooth_gain((256, 256), 0.02)).clamp(0, 255)
    torch.manual_seed(0)
    plain, relighting = MicroFlowNet(channels=4, dilations=(1,)), MicroFlowNet(channels=4, dilations=(1,), relight=8)
    relighting.load_state_dict(plain.state_dict())
    false_plain = plain(lit, onset)[0].norm(dim=-1)[torch.from_numpy(whole)].mean()
    false_relit = relighting(lit, onset)[0].norm(dim=-1)[torch.from_numpy(whole)].mean()
    assert false_relit < 0.5 * false_plain      # measured 0.21 px against 0.92
    torch.testing.assert_close(relighting(onset, onset), torch.zeros(1, 256, 256, 2), atol=1e-4, rtol=0)
    assert "relight" not in plain.hparams and relighting.hparams["relight"] == 8.0
    with pytest.raises(ValueError, match="net.relight=-1"):
        MicroFlowNet(relight=-1)
    with pytest.raises(ValueError, match="net.relight_tolerance=-0.1"):
        MicroFlowNet(relight=8, relight_tolerance=-0.1)
    with pytest.raises(ValueError, match="net.relight_tolerance=0.1: .*with net.relight on"):
        MicroFlowNet(relight_tolerance=0.1)
    system = MicroFlowSystem(net={"relight": 6, "relight_tolerance": 0.1}, init=trained["checkpoint"])
    assert system.net.relight == 6.0 and system.net.relight_tolerance == 0.1 and system.hparams.net["channels"] == 4
    assert MicroFlowSystem(init=trained["checkpoint"]).net.relight == 0.0


def test_train_flow_writes_a_checkpoint_that_loads(trained):
    assert np.isfinite(trained["metrics"]["val/epe"]) and trained["metrics"]["val/epe_over_zero"] > 0
    net = load_microflow(trained["checkpoint"])
    assert net.hparams["channels"] == 4 and not net.training
    ckpt = torch.load(trained["checkpoint"], map_location="cpu", weights_only=True)
    torch.testing.assert_close(net.head.weight, ckpt["state_dict"]["net.head.weight"])
    assert isinstance(flow_estimator("learned", trained["checkpoint"]), LearnedFlow)


def test_the_packaged_estimator_is_used_without_a_checkpoint_and_a_foreign_file_is_refused_by_name(tmp_path, face):
    from megen.models.microflow import PACKAGED, packaged_checkpoint

    packaged = flow_estimator("learned")
    assert isinstance(packaged, LearnedFlow) and PACKAGED.is_file() and not packaged.net.training
    # it is a train_flow checkpoint without the optimiser: remaking it from itself changes no weight
    again = load_microflow(packaged_checkpoint(PACKAGED, tmp_path / "again.ckpt"))
    for a, b in zip(packaged.net.state_dict().values(), again.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    frame, lm = face
    _, whole = region_masks(lm, 256)
    # a trained estimator: a still face reads (nearly) still, a 0.5-px shift reads 0.5 px
    assert np.abs(packaged(frame, frame)[whole]).mean() < 0.02
    shifted = warp_backward(frame.astype(np.float32), np.broadcast_to(np.float32([-0.5, 0.0]), (256, 256, 2)))
    moved = packaged(frame, np.clip(np.rint(shifted), 0, 255).astype(np.uint8))[whole].mean(0)
    np.testing.assert_allclose(moved, [0.5, 0.0], atol=0.05)
    bad = tmp_path / "not.ckpt"
    bad.write_bytes(b"no")
    with pytest.raises(ValueError, match=f"flow.checkpoint={bad}: not a micro-motion estimator checkpoint"):
        load_microflow(bad)


def test_the_train_config_check_takes_the_packaged_estimator_or_an_existing_checkpoint():
    from megen.config.check import ConfigError, validate_train
    from megen.config.compose import compose_config

    validate_train(compose_config("train", "flow.estimator=learned"))        # the packaged estimator
    with pytest.raises(ConfigError, match="flow.checkpoint='nowhere.ckpt' is not a file"):
        validate_train(compose_config("train", "flow.estimator=learned", "flow.checkpoint=nowhere.ckpt"))
    with pytest.raises(ConfigError, match="flow.estimator='raft' is not valid; valid: farneback, dis, dis_fast, "
                                          "deepflow, tvl1, learned"):
        validate_train(compose_config("train", "flow.estimator=raft"))


def test_the_flow_guided_model_holds_its_learned_guide(trained):
    from megen.models.full import build_model, with_guide_architecture

    prior = {"num_keypoints": 18, "channels": 1, "input": "concat"}
    cfg = {"family": "flow", "num_channels": 1, "dense_motion": {"block_expansion": 4, "max_features": 8,
                                                                 "num_blocks": 2},
           "generator": {"block_expansion": 4, "max_features": 8, "num_down_blocks": 1, "num_bottleneck_blocks": 1},
           "guide_estimator": "learned", "guide_checkpoint": trained["checkpoint"]}
    model = build_model(cfg, prior)
    assert any(k.startswith("guide_net.") for k in model.state_dict())
    assert not any(p.requires_grad for p in model.guide_net.parameters())
    torch.testing.assert_close(model.guide_net.head.weight, load_microflow(trained["checkpoint"]).head.weight)
    # on another machine the file is gone: the network is built empty and filled by the model's own weights
    stored = with_guide_architecture(cfg)               # what a trained model's hyper-parameters keep
    assert stored["guide_net"]["channels"] == 4
    moved = build_model({**stored, "guide_checkpoint": "/nowhere/last.ckpt"}, prior)
    moved.load_state_dict(model.state_dict())
    torch.testing.assert_close(moved.guide_net.head.weight, model.guide_net.head.weight)
    assert isinstance(moved.guide_measurer(), LearnedFlow)
    assert build_model({**cfg, "guide_estimator": "tvl1"}, prior).guide_net is None


def test_bench_flow_measures_the_learned_estimator(trained, capsys):
    from megen.bench import main

    main(["flow", "bench.identities=1", "bench.flow_px=[1.0]", "bench.estimators=[learned]", "bench.flow_levels=32",
          f"bench.flow_checkpoint={trained['checkpoint']}"])
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("flow learned ")]
    assert len(lines) == 2 and "levels=32" in lines[-1]
    assert 0 < float(dict(i.split("=", 1) for i in lines[0].split()[2:] if "=" in i)["magnitude"]) < 3


def test_generate_refuses_a_flow_estimator_for_a_model_and_takes_it_for_the_flow_transfer():
    from megen.config.check import ConfigError, validate_generate
    from megen.config.compose import compose_config

    with pytest.raises(ConfigError, match="flow.estimator='?tvl1'? is for method=flow_transfer"):
        validate_generate(compose_config("generate", "ckpt=x.ckpt", "flow.estimator=tvl1"))
    validate_generate(compose_config("generate", "method=flow_transfer", "flow.estimator=learned"))
    validate_generate(compose_config("generate", "method=flow_transfer", "flow.estimator=tvl1"))


def test_the_region_loss_charges_shrinking_a_motion_more_than_noise_around_it():
    """A faint motion shrunk by half costs its region term half its relative size; zero-mean speckle of the same
    per-cell error costs the region term far less (the blur averages it out), so the term charges bias, not noise."""
    from megen.training.microflow import region_epe, relative_epe

    torch.manual_seed(0)
    ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    bump = 0.1 * torch.exp(-((xs - 32) ** 2 + (ys - 32) ** 2) / (2 * 6.0 ** 2))
    true = torch.stack([bump, torch.zeros_like(bump)])[None]          # (1, 2, 64, 64), 0.1 px peak
    shrunk = 0.5 * true
    speckle = true + torch.randn_like(true) * 0.5 * true.norm(dim=1, keepdim=True).mean()
    assert region_epe(true, true).item() == pytest.approx(0.0, abs=1e-4)
    assert region_epe(shrunk, true).item() > 3 * region_epe(speckle, true).item()
    assert relative_epe(speckle, true).item() > relative_epe(shrunk, true).item()
