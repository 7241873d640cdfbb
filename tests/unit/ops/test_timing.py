"""Temporal resampling of the driver's motion (``megen.ops.timing``, ``out_fps=``, ``duration_ms=``): frames at
new times by interpolating the flow, the onset, apex and offset kept in their places."""
import numpy as np
import pytest

from megen.animation.errors import GenerationError
from megen.animation.flow_transfer import flow_transfer
from megen.animation.sources import motion_source
from megen.config.check import ConfigError, validate_generate
from megen.config.compose import compose_config
from megen.face.controls import MotionControls
from megen.face.flow import pixel_grid, warp_backward
from megen.ops.timing import resample_flows, resample_positions, retimed_index


def _curve(t: np.ndarray) -> np.ndarray:
    """A micro-expression's amplitude over time (s): up over 60 ms to its apex, back down by 200 ms."""
    return np.where(t < 0.06, np.sin(np.pi / 2 * t / 0.06), np.cos(np.pi / 2 * np.clip((t - 0.06) / 0.14, 0, 1)))


def _flows(amplitudes: np.ndarray, size: int = 8) -> np.ndarray:
    """(T, size, size, 2) flows, each a fixed field times its amplitude."""
    field = np.random.default_rng(0).normal(size=(size, size, 2)).astype(np.float32)
    return amplitudes.astype(np.float32)[:, None, None, None] * field


@pytest.mark.parametrize("fps", [100.0, 200.0])
def test_resampling_at_the_same_rate_and_duration_is_the_identity(fps):
    positions = resample_positions(41, fps)
    np.testing.assert_array_equal(positions, np.arange(41))
    np.testing.assert_array_equal(resample_positions(41, fps, out_fps=fps, duration_ms=41 / fps * 1000), positions)
    flows = _flows(np.linspace(0, 1, 41))
    np.testing.assert_array_equal(resample_flows(flows, positions), flows)
    assert MotionControls(gain=2.0).positions(41, fps) is None       # no timing asked for: none applied


@pytest.mark.parametrize("out_fps, duration_ms", [(30.0, None), (25.0, None), (200.0, 400.0), (60.0, 100.0),
                                                  (None, 300.0)])
def test_a_resampled_curve_matches_the_original_at_the_times_they_share(out_fps, duration_ms):
    """The issue's goal, as a property: the motion at each output frame is the driver's at that time (stretched
    by duration_ms / the clip's duration), within 5 % of its peak."""
    fps, n = 200.0, 41
    flows = _flows(_curve(np.arange(n) / fps))
    positions = resample_positions(n, fps, out_fps, duration_ms)
    stretch = 1.0 if duration_ms is None else duration_ms / 1000 / (n / fps)
    rate = out_fps or fps
    assert len(positions) == round(n * stretch * rate / fps)
    out = resample_flows(flows, positions)
    times = np.arange(len(out)) / rate / stretch                      # the driver's time each output frame shows
    truth = _flows(_curve(np.minimum(times, (n - 1) / fps)))
    assert np.abs(out - truth).max() <= 0.05 * np.abs(flows).max()


def test_onset_apex_and_offset_keep_their_places():
    fps, n, apex = 200.0, 41, 12
    # twice the duration at the same rate: the apex is at twice its frame; at 50 fps it is at a quarter
    assert retimed_index(apex, n, fps, duration_ms=2 * n / fps * 1000) == 2 * apex
    assert retimed_index(apex, n, fps, out_fps=50.0) == 3
    assert retimed_index(0, n, fps, out_fps=30.0) == 0
    assert retimed_index(n - 1, n, fps, out_fps=30.0) == len(resample_positions(n, fps, 30.0)) - 1
    positions = resample_positions(n, fps, 50.0)
    flows = _flows(_curve(np.arange(n) / fps))
    peak = np.abs(resample_flows(flows, positions)).sum((1, 2, 3)).argmax()
    assert peak == retimed_index(int(np.abs(flows).sum((1, 2, 3)).argmax()), n, fps, 50.0)


def test_fractional_positions_interpolate_the_flow_linearly():
    flows = _flows(np.array([0.0, 1.0, 3.0]))
    out = resample_flows(flows, np.array([0.25, 1.5, 2.0]))
    np.testing.assert_allclose(out, flows[[1, 1, 2]] * np.float32([0.25, 2.0, 3.0])[:, None, None, None] /
                               np.float32([1.0, 1.0, 3.0])[:, None, None, None], rtol=1e-6)


def test_timing_options_are_checked_and_named():
    with pytest.raises(ValueError, match="out_fps=0"):
        MotionControls(out_fps=0.0)
    with pytest.raises(ValueError, match="duration_ms=-5"):
        MotionControls(duration_ms=-5.0)
    assert MotionControls(out_fps=30.0, duration_ms=400.0).describe() == "out_fps=30, duration_ms=400"
    assert MotionControls(out_fps=30.0).retimes and not MotionControls(out_fps=30.0).reshapes
    with pytest.raises(ConfigError, match="out_fps"):
        validate_generate(compose_config("generate", "out_fps=0"))
    with pytest.raises(ConfigError, match="duration_ms"):
        validate_generate(compose_config("generate", "duration_ms=abc"))
    validate_generate(compose_config("generate", "out_fps=30", "duration_ms=400"))
    controls = MotionControls.of(compose_config("generate", "out_fps=30", "duration_ms=400"))
    assert (controls.out_fps, controls.duration_ms) == (30.0, 400.0)


def test_a_key_point_model_refuses_the_timing_by_name():
    class KeypointModel:
        measures_flow = False

    with pytest.raises(GenerationError, match="out_fps=30 acts on the driver's measured optical flow"):
        motion_source(KeypointModel(), controls=MotionControls(out_fps=30.0))


def test_the_flow_transfer_at_new_times_shows_the_driver_at_those_times(face):
    """Half the rate: every other frame of the full-rate transfer, exactly; twice the duration: the frames in
    between are the warps by the mean of their neighbours' flows."""
    frame, lm = face
    grid = pixel_grid(256, 256)
    field = (np.exp(-((grid - lm[19]) ** 2).sum(-1) / (2 * 12.0**2))[..., None] * [0.0, 1.5]).astype(np.float32)
    clip = [frame] + [warp_backward(frame, a * field) for a in (0.3, 0.7, 1.0, 0.6)]
    full = flow_transfer(frame, lm, clip, lm)
    half = flow_transfer(frame, lm, clip, lm, positions=MotionControls(out_fps=50.0).positions(len(clip), 100.0))
    assert len(half) == 2           # 5 frames at 100 fps last 50 ms: 2.5 frames at 50 fps, rounded to even
    np.testing.assert_array_equal(half, full[::2][:len(half)])
    slow = flow_transfer(frame, lm, clip, lm, positions=MotionControls(duration_ms=100.0).positions(len(clip), 100.0))
    assert len(slow) == 10
    np.testing.assert_array_equal(slow[::2], full)
    between = np.abs(slow[3].astype(int) - frame).sum()      # halfway between frames 1 and 2 of the driver
    assert np.abs(full[1].astype(int) - frame).sum() < between < np.abs(full[2].astype(int) - frame).sum()
