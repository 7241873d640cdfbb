import itertools

import pytest
import torch

from megen.face.prior import PriorSetting
from megen.models import (
    BackgroundMotionPredictor,
    DenseMotionNetwork,
    KeypointDetector,
    MultiScaleDiscriminator,
    RegionPredictor,
    Vgg19,
    build_model,
)
from megen.models.blocks import AntiAliasInterpolation2d, Hourglass, upsample_nearest2x
from megen.models.motion_networks import region_affine
from megen.models.perceptual import VGG19_FILE, WeightsNotFoundError

TINY_TRUNK = {"block_expansion": 8, "max_features": 32, "num_blocks": 2, "scale_factor": 0.5}
TINY_MODEL = {
    "family": "fomm", "num_kp": 5, "num_channels": 3, "background": "none",
    "motion": {**TINY_TRUNK, "temperature": 0.1, "estimate_jacobian": True},
    "dense_motion": {"block_expansion": 8, "max_features": 32, "num_blocks": 2, "scale_factor": 0.5},
    "generator": {"block_expansion": 8, "max_features": 32, "num_down_blocks": 2, "num_bottleneck_blocks": 1},
    "background_net": {"block_expansion": 8, "num_blocks": 2, "max_features": 32},
}


def test_hourglass_and_antialias_shapes():
    h = Hourglass(4, 8, num_blocks=3, max_features=32)
    assert h(torch.rand(2, 4, 32, 32)).shape == (2, h.out_channels, 32, 32)
    down = AntiAliasInterpolation2d(3, 0.25)
    x = torch.full((1, 3, 64, 64), 0.7)
    y = down(x)
    assert y.shape == (1, 3, 16, 16) and torch.allclose(y, torch.full_like(y, 0.7), atol=1e-5)


def test_nearest_upsampling_is_the_interpolation_with_and_without_gradients():
    x = torch.randn(2, 3, 5, 4, generator=torch.Generator().manual_seed(0), requires_grad=True)
    want = torch.nn.functional.interpolate(x.detach(), scale_factor=2.0, mode="nearest")
    with torch.no_grad():
        fast = upsample_nearest2x(x)
    assert fast.shape == (2, 3, 10, 8) and torch.equal(fast, want)
    assert torch.equal(fast[:, :, 2 * 3 + 1, 2 * 2], x.detach()[:, :, 3, 2])      # each pixel on its 2 x 2 cell
    up = upsample_nearest2x(x)
    up.sum().backward()
    assert torch.equal(up.detach(), want) and torch.equal(x.grad, torch.full_like(x, 4.0))


def test_keypoint_detector_learned_and_identity_jacobian():
    det = KeypointDetector(num_kp=5, prior_input="concat", **TINY_TRUNK)
    out = det(torch.rand(2, 3, 32, 32), torch.rand(2, 1, 16, 16))
    assert out["value"].shape == (2, 5, 2) and out["heatmap"].shape == (2, 5, 16, 16)
    assert out["value"].abs().max() <= 1
    torch.testing.assert_close(out["jacobian"], torch.eye(2).expand(2, 5, 2, 2), atol=1e-5, rtol=0)
    assert torch.allclose(out["heatmap"].sum(dim=(2, 3)), torch.ones(2, 5))


def test_reference_mode_uses_the_given_points():
    det = KeypointDetector(num_kp=18, mode="reference", prior_input="concat", **TINY_TRUNK)
    kp = torch.rand(2, 18, 2) * 2 - 1
    out = det(torch.rand(2, 3, 32, 32), torch.rand(2, 1, 16, 16), kp)
    torch.testing.assert_close(out["value"], kp)
    with pytest.raises(ValueError, match="reference mode"):
        det(torch.rand(2, 3, 32, 32), torch.rand(2, 1, 16, 16), None)


@pytest.mark.parametrize("family", [KeypointDetector, RegionPredictor])
def test_anchored_modes_start_at_the_anchors_and_can_move(family):
    """Offsets start at zero; once the head learns anything, driving key points leave their anchors.
    (The onset frame itself: tracking it against itself moves nothing.)"""
    kp = torch.rand(2, 18, 2) * 1.6 - 0.8
    frame = torch.rand(2, 3, 32, 32)
    for mode in ("anchored", "landmarks"):
        det = family(num_kp=18, mode=mode, prior_input="none", **TINY_TRUNK)
        out = det(frame, None, kp, frame)
        torch.testing.assert_close(out["value"], kp)
        torch.nn.init.normal_(det.anchor_head.linear.weight, std=0.1)
        moved = det(frame, None, kp, frame)["value"]
        assert (moved - kp).abs().max() > 1e-3
        assert (moved - kp).abs().max() <= det.anchor_head.max_offset + 1e-6


def test_landmarks_mode_tracks_against_the_onset():
    """The same frame against itself and against another onset gives different key points, and
    the mode refuses to guess without an onset frame."""
    det = KeypointDetector(num_kp=18, mode="landmarks", prior_input="none", **TINY_TRUNK)
    torch.nn.init.normal_(det.anchor_head.linear.weight, std=0.1)
    kp = torch.rand(1, 18, 2) * 1.6 - 0.8
    frame = torch.rand(1, 3, 32, 32)
    still = det(frame, None, kp, frame)["value"]
    moved = det(frame, None, kp, torch.rand(1, 3, 32, 32))["value"]
    assert (still - moved).abs().max() > 1e-4
    with pytest.raises(ValueError, match="onset"):
        det(frame, None, kp, None)


def test_prior_input_errors_are_clear():
    det = KeypointDetector(num_kp=5, prior_input="concat", **TINY_TRUNK)
    with pytest.raises(ValueError, match="needs a prior map"):
        det(torch.rand(1, 3, 32, 32), None)
    with pytest.raises(ValueError, match="map_size"):
        det(torch.rand(1, 3, 32, 32), torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="none, concat, learned"):
        KeypointDetector(num_kp=5, prior_input="bogus", **TINY_TRUNK)


def test_learned_prior_fusion_takes_separate_maps():
    det = KeypointDetector(num_kp=5, prior_input="learned", prior_maps=18, **TINY_TRUNK)
    out = det(torch.rand(2, 3, 32, 32), torch.rand(2, 18, 16, 16))
    assert out["value"].shape == (2, 5, 2)
    assert any("fuse" in n for n, _ in det.named_parameters())


def test_region_predictor_affine_is_covariance_root_and_sign_stable():
    reg = RegionPredictor(num_kp=4, prior_input="none", **TINY_TRUNK)
    out = reg(torch.rand(2, 3, 32, 32))
    a, cov = out["jacobian"], out["covar"]
    torch.testing.assert_close(a @ a.transpose(-1, -2), cov, atol=1e-5, rtol=1e-4)
    assert (a[..., 0, :] >= 0).all()   # first row's signs fixed: no arbitrary axis flips


def _onset_clip(seed=0, size=32):
    gen = torch.Generator().manual_seed(seed)
    onset = torch.rand(2, 3, size, size, generator=gen)
    frame = (onset + 0.2 * torch.rand(2, 3, size, size, generator=gen)).clamp(0, 1)   # another frame of each clip
    points = torch.rand(2, 4, 2, generator=gen) * 1.2 - 0.6
    return onset, frame, points


@pytest.mark.parametrize("region_shape, shared", [("onset", True), ("frame", False)])
def test_landmark_regions_share_the_onset_shape_so_their_relative_affine_starts_at_identity(region_shape, shared):
    torch.manual_seed(0)
    reg = RegionPredictor(num_kp=4, mode="landmarks", region_shape=region_shape, prior_input="none", **TINY_TRUNK)
    onset, frame, points = _onset_clip()
    with torch.no_grad():
        a_onset = reg(onset, None, points, onset)["jacobian"]
        a_frame = reg(frame, None, points, onset)["jacobian"]
    relative = a_onset @ torch.linalg.inv(a_frame)    # the region's affine from the frame to the onset
    eye = torch.eye(2).expand_as(relative)
    # the learned correction starts at identity, so with the onset's shapes only the tracked centre moves
    assert torch.allclose(relative, eye, atol=1e-4) == shared
    if not shared:
        assert (relative - eye).abs().max() > 0.01   # two frames' own heatmap shapes disagree


def test_onset_region_shapes_are_the_onset_frames_heatmap_shapes():
    torch.manual_seed(0)
    reg = RegionPredictor(num_kp=4, mode="landmarks", region_shape="onset", prior_input="none", **TINY_TRUNK)
    onset, frame, points = _onset_clip(1)
    with torch.no_grad():
        shortcut = reg(onset, None, points, onset)["jacobian"]   # the image is the onset: its own heatmaps
        explicit = reg(frame, None, points, onset)["jacobian"]   # another frame: a second pass on the onset
        _, _, onset_shape = region_affine(reg.trunk(onset, None, onset)[0])
    torch.testing.assert_close(shortcut, onset_shape)
    torch.testing.assert_close(explicit, onset_shape, atol=1e-5, rtol=1e-4)   # the correction starts at identity


def test_unknown_region_shape_names_the_setting():
    with pytest.raises(ValueError, match="model.motion.region_shape='onsett'"):
        RegionPredictor(num_kp=4, region_shape="onsett", prior_input="none", **TINY_TRUNK)


def test_background_predictor_starts_at_identity():
    for mode in ("affine", "perspective"):
        bg = BackgroundMotionPredictor(mode, block_expansion=8, num_blocks=2, max_features=16)
        torch.testing.assert_close(bg(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)), torch.eye(3).expand(2, 3, 3))
    assert BackgroundMotionPredictor("none")(None, None) is None


def test_dense_motion_masks_and_occlusion():
    dm = DenseMotionNetwork(num_kp=5, block_expansion=8, max_features=32, num_blocks=2, scale_factor=0.5)
    m = {"value": torch.rand(2, 5, 2) - 0.5, "jacobian": torch.eye(2).expand(2, 5, 2, 2)}
    out = dm(torch.rand(2, 3, 32, 32), m, m)
    assert out["deformation"].shape == (2, 16, 16, 2) and out["mask"].shape == (2, 6, 16, 16)
    assert torch.allclose(out["mask"].sum(1), torch.ones(2, 16, 16), atol=1e-5)
    assert out["occlusion"].shape == (2, 1, 16, 16) and 0 <= out["occlusion"].min() <= out["occlusion"].max() <= 1
    # identical source and driving key points: every sparse motion is the identity, so is the blend
    from megen.models.motion import coordinate_grid
    torch.testing.assert_close(out["deformation"], coordinate_grid(16, 16).expand(2, -1, -1, -1), atol=1e-5, rtol=0)


def test_held_masks_are_the_priors_gaussians_and_get_no_gradient():
    torch.manual_seed(0)
    dm = DenseMotionNetwork(num_kp=3, block_expansion=8, max_features=32, num_blocks=2, scale_factor=0.5,
                            mask_prior=True, background_level=0.5, learn_masks=False)
    src = {"value": torch.rand(1, 3, 2) - 0.5, "jacobian": torch.eye(2).expand(1, 3, 2, 2)}
    drv = {"value": src["value"] + 0.02, "jacobian": src["jacobian"]}
    out = dm(torch.rand(1, 3, 32, 32), src, drv)
    torch.testing.assert_close(out["mask"], torch.softmax(dm._mask_prior(drv, (16, 16)), dim=1), atol=1e-6, rtol=0)
    out["deformation"].sum().backward()
    assert dm.mask.weight.grad is None and not dm.mask.weight.requires_grad
    assert next(dm.hourglass.parameters()).requires_grad   # only the masks are held
    with pytest.raises(ValueError, match="learn_masks=false needs model.dense_motion.mask_prior=true"):
        DenseMotionNetwork(num_kp=3, block_expansion=8, max_features=32, num_blocks=2, learn_masks=False)


def test_discriminator_scales_and_spectral_norm():
    d = MultiScaleDiscriminator(scales=(1, 0.5), block_expansion=8, num_blocks=3, max_features=32, spectral_norm=True)
    out = d(torch.rand(2, 3, 32, 32))
    assert set(out) == {1.0, 0.5}
    feats, scores = out[1.0]
    assert len(feats) == 3 and scores.shape[:2] == (2, 1)
    assert any("weight_orig" in n for n, _ in d.named_parameters())


@pytest.mark.parametrize("family,prior_input,mode", list(itertools.product(
    ["fomm", "mraa"], ["none", "concat", "learned"], ["learned", "anchored", "landmarks", "reference"])))
def test_every_family_prior_and_mode_combination_runs(family, prior_input, mode):
    model_cfg = {**TINY_MODEL, "family": family, "background": "affine" if family == "mraa" else "none"}
    prior = {"keypoints": "paper18", "input": prior_input, "keypoint_mode": mode,
             "fusion": "separate" if prior_input == "learned" else "sum"}
    model = build_model(model_cfg, PriorSetting(**prior).model_args())
    channels = 18 if prior_input == "learned" else 1
    src, drv = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    out = model(src, drv, torch.rand(2, channels, 16, 16), torch.rand(2, 18, 2) * 2 - 1)
    assert out["prediction"].shape == (2, 3, 32, 32)
    k = 5 if mode == "learned" else 18
    assert out["motion_source"]["value"].shape == (2, k, 2)
    out["prediction"].mean().backward()


def test_unknown_family_lists_valid():
    with pytest.raises(ValueError, match="fomm, mraa, tps"):
        build_model({**TINY_MODEL, "family": "vae"}, PriorSetting().model_args())


def test_vgg_loads_torchvision_state_dict_and_refuses_missing_weights(tmp_path):
    ref = Vgg19(allow_random=True, weights_path=str(tmp_path / "absent.pth"))
    state = {f"features.{k}": v for k, v in ref.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(1)          # torchvision files carry the classifier too
    path = tmp_path / VGG19_FILE
    torch.save(state, path)
    loaded = Vgg19(weights_path=str(path))
    assert loaded.pretrained
    x = torch.rand(1, 3, 32, 32)
    for a, b in zip(loaded(x), ref(x)):
        torch.testing.assert_close(a, b)
    assert [f.shape[1] for f in loaded(x)] == [64, 128, 256, 512, 512]
    with pytest.raises(WeightsNotFoundError, match="allow_random"):
        Vgg19(weights_path=str(tmp_path / "missing.pth"))
    assert not any(p.requires_grad for p in loaded.parameters())


def test_vgg_follows_its_parents_mode_and_computes_the_same_in_both(tmp_path):
    """Frozen by its gradients alone: no layer depends on train/eval, so it need not stay in eval
    (Lightning warns about modules in eval mode when training starts)."""
    vgg = Vgg19(allow_random=True, weights_path=str(tmp_path / "absent.pth"))
    assert {type(m) for m in vgg.features} == {torch.nn.Conv2d, torch.nn.ReLU, torch.nn.MaxPool2d}
    x = torch.rand(1, 3, 32, 32)
    trained = [f.clone() for f in vgg.train()(x)]
    assert all(m.training for m in vgg.modules())
    for a, b in zip(trained, vgg.eval()(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
