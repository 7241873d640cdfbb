"""The driver's motion under control: head motion kept or removed, expression gain, regions
(``megen.face.controls``), through the flow transfer and the generation pipeline's refusals."""
import numpy as np
import pytest

from megen.animation.errors import GenerationError
from megen.animation.flow_transfer import flow_transfer
from megen.animation.sources import motion_source
from megen.config.check import ConfigError, validate_generate
from megen.config.compose import compose_config
from megen.face.align import apply_similarity
from megen.face.controls import (
    HEAD_TUKEY,
    REGIONS,
    MotionControls,
    controlled_flows,
    head_motion,
    head_points,
    region_weights,
    robust_similarity,
    sample_flow,
    similarity_field,
)
from megen.face.flow import pixel_grid, warp_backward


def _similarity(angle=0.01, scale=1.004, shift=(0.8, -0.5), centre=(128.0, 128.0)) -> np.ndarray:
    """(2, 3): a small head motion about ``centre``."""
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    lin = np.array([[c, -s], [s, c]])
    centre = np.asarray(centre)
    return np.hstack([lin, (centre - lin @ centre + np.asarray(shift))[:, None]])


def _bump(centre, vector, sd=12.0, size=256) -> np.ndarray:
    w = np.exp(-((pixel_grid(size, size) - np.asarray(centre)) ** 2).sum(-1) / (2 * sd * sd))
    return (w[..., None] * np.asarray(vector, np.float32)).astype(np.float32)


def test_head_motion_recovers_a_known_similarity_and_removing_it_leaves_nothing(face):
    _, lm = face
    m = _similarity()
    rigid = similarity_field(m[None], (256, 256))
    np.testing.assert_allclose(rigid[0][100, 60], apply_similarity(m, np.array([[60.0, 100.0]]))[0] - [60, 100],
                               atol=1e-4)
    # OpenCV reads the flow at 1/32-px positions: 1e-3 px over a face moving 1 % per pixel is that, not a misfit
    np.testing.assert_allclose(apply_similarity(head_motion(rigid, lm)[0], lm), apply_similarity(m, lm), atol=1e-3)
    removed = controlled_flows(rigid, lm, MotionControls(head="remove"))
    assert np.abs(removed).max() < 1e-3          # a purely rigid motion, head removed: the still target
    kept = controlled_flows(rigid, lm, MotionControls(gain=2.0))
    np.testing.assert_allclose(kept, rigid, atol=1e-3)    # the gain scales the expression, not the head


def test_the_expression_survives_head_removal_and_scales_with_the_gain(face):
    _, lm = face
    expression = _bump(lm[17:22].mean(0), (0.0, 1.0)) + _bump(lm[48], (-0.8, 0.0))
    flows = np.stack([expression + similarity_field(_similarity()[None], (256, 256))[0]])
    # the stable landmarks are far from the brow and the mouth corner: the head comes back almost exactly
    out = controlled_flows(flows, lm, MotionControls(head="remove"))
    assert np.abs(out[0] - expression).max() < 0.02
    doubled = controlled_flows(flows, lm, MotionControls(head="remove", gain=2.0))
    np.testing.assert_allclose(doubled, 2 * out, atol=1e-5)
    assert np.abs(controlled_flows(flows, lm, MotionControls(head="remove", gain=0.0))).max() == 0
    assert controlled_flows(flows, lm, MotionControls()) is flows


def test_a_tight_tukey_scale_keeps_a_broad_expression_out_of_the_head(face):
    _, lm = face
    # a smile whose pull spreads over a quarter of the eye distance and more: a fifth of the face's points move
    sd = 0.28 * np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0))
    smile = _bump(lm[48], (-0.7, -0.7), sd) + _bump(lm[54], (0.7, -0.7), sd)
    points = head_points(lm)
    own = np.sqrt((sample_flow(smile, points) ** 2).sum(-1).mean())

    def leak(tukey: float) -> float:
        head = robust_similarity(points, points + sample_flow(smile, points), tukey=tukey)
        return float(np.sqrt((sample_flow(similarity_field(head[None], (256, 256))[0], points) ** 2).sum(-1).mean()))

    # the textbook scale (the default) keeps the smile an inlier and takes 41 % of it as head motion; 1.5 takes 9 %
    assert leak(HEAD_TUKEY) > 0.3 * own
    assert leak(1.5) < 0.15 * own
    np.testing.assert_allclose(head_motion(smile[None], lm)[0],
                               robust_similarity(points, points + sample_flow(smile, points)), atol=1e-9)


def test_regions_keep_their_motion_and_hold_the_rest_still_without_a_seam(face):
    _, lm = face
    weights = region_weights(lm, (256, 256), ["mouth"])
    assert weights.dtype == np.float32 and weights.min() >= 0 and weights.max() <= 1
    inside = np.round(lm[list(REGIONS["mouth"])]).astype(int)
    assert weights[inside[:, 1], inside[:, 0]].min() > 0.99
    for other in ("brows", "eyes"):
        pts = np.round(lm[list(REGIONS[other])]).astype(int)
        assert weights[pts[:, 1], pts[:, 0]].max() < 0.01, other
    eyes = np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0))
    gy, gx = np.gradient(weights)
    # a smooth falloff: no step steeper than the Gaussian's (1 / (sd sqrt(e)) per px), with a pixel's slack
    assert np.hypot(gx, gy).max() < 1.1 / (0.05 * eyes * np.sqrt(np.e))
    expression = _bump(lm[17:22].mean(0), (0.0, 1.0)) + _bump(lm[48], (-0.8, 0.0))
    out = controlled_flows(expression[None], lm, MotionControls(regions=("mouth",)))[0]
    assert np.abs(out[int(lm[48, 1]), int(lm[48, 0])] - expression[int(lm[48, 1]), int(lm[48, 0])]).max() < 0.01
    brow = np.round(lm[17:22].mean(0)).astype(int)
    assert np.abs(out[brow[1], brow[0]]).max() < 0.01


def test_bad_controls_are_refused_by_name():
    with pytest.raises(ValueError, match="head='tilt' is not valid; valid: keep, remove"):
        MotionControls(head="tilt")
    with pytest.raises(ValueError, match="gain=5"):
        MotionControls(gain=5.0)
    with pytest.raises(ValueError, match="unknown: lips"):
        MotionControls(regions=("lips",))
    with pytest.raises(ConfigError, match="regions.*unknown: lips"):
        validate_generate(compose_config("generate", "regions=[mouth,lips]"))
    with pytest.raises(ConfigError, match="gain"):
        validate_generate(compose_config("generate", "gain=-1"))
    with pytest.raises(ConfigError, match="head"):
        validate_generate(compose_config("generate", "head=tilt"))
    validate_generate(compose_config("generate", "regions=[brows,mouth]", "gain=2", "head=remove"))


def test_a_key_point_model_refuses_the_controls_by_name():
    class KeypointModel:
        measures_flow = False

    with pytest.raises(GenerationError, match=r"gain=2, regions=\[mouth\] act on the driver's measured optical flow"):
        motion_source(KeypointModel(), controls=MotionControls(gain=2.0, regions=("mouth",)))
    motion_source(KeypointModel(), controls=MotionControls())      # the defaults are no request


def test_flow_transfer_with_zero_gain_and_no_head_is_the_target(face):
    frame, lm = face
    m = _similarity()
    field = _bump(lm[17:22].mean(0), (0.0, 1.0)) + similarity_field(m[None], (256, 256))[0]
    clip = [frame] + [warp_backward(frame, a * field) for a in (0.5, 1.0)]
    still = flow_transfer(frame, lm, clip, lm, controls=MotionControls(head="remove", gain=0.0))
    assert all(np.array_equal(f, frame) for f in still)
    moving = flow_transfer(frame, lm, clip, lm, controls=MotionControls(head="remove"))
    assert np.abs(moving[2].astype(int) - frame).max() > 10
