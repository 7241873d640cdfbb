"""Real-pair scoring without ground truth, on synthetic inputs: the metrics' properties, the flow-transfer
baseline, and ``python -m megen.evaluate real.pairs=`` with its errors."""
import cv2
import numpy as np
import pytest
from helpers import AMPLITUDES, moved_clip, regional_field, run_module, write_real_pairs

from megen.animation.flow_transfer import flow_transfer
from megen.evaluation.motion_cache import MotionCache, motion_key
from megen.face.align import apply_similarity, canonical_similarity, fit_similarity, similarity_from_two_points
from megen.face.flow import driver_flows, target_fields
from megen.metrics.expression import (
    EXPRESSION_REGIONS,
    drift,
    expression_motion,
    face_motion,
    motion_cosine,
    region_masks,
    rms,
    transfer_scores,
)
from megen.runtime.video import read_image
from megen.synthetic import embedded_photo_paths


def test_similarities_map_points_as_fitted():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 200, (68, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ rot.T + shift
    np.testing.assert_allclose(apply_similarity(fit_similarity(src, dst), src), dst, atol=1e-9)
    np.testing.assert_allclose(apply_similarity(similarity_from_two_points(src[:2], dst[:2]), src), dst, atol=1e-9)
    m = canonical_similarity(src)
    eyes = apply_similarity(m, np.stack([src[36:42].mean(0), src[42:48].mean(0)]))
    np.testing.assert_allclose(eyes, [[0.29 * 256, 0.33 * 256], [0.71 * 256, 0.33 * 256]], atol=1e-9)


def test_a_clip_against_itself_scores_one_and_a_static_clip_zero(face):
    frame, lm = face
    motion = expression_motion(moved_clip(frame, regional_field(lm)), lm)
    assert motion.shape == (len(AMPLITUDES), len(EXPRESSION_REGIONS), 2)
    assert transfer_scores(motion, motion) == pytest.approx({"cosine": 1.0, "amplitude": 1.0})
    static = expression_motion(np.stack([frame] * len(AMPLITUDES)), lm)
    assert rms(static) < 1e-3
    assert transfer_scores(motion, static) == {"cosine": 0.0, "amplitude": 0.0}
    # the direction of a motion under 5 % of the driver's is not scored
    assert transfer_scores(motion, 0.04 * motion) == {"cosine": 0.0, "amplitude": 0.0}
    assert transfer_scores(motion, 0.5 * motion) == pytest.approx({"cosine": 1.0, "amplitude": 0.5})
    assert motion_cosine(motion, -motion) == pytest.approx(-1.0)


def test_a_clip_shifted_as_a_whole_has_no_expression_motion(face):
    frame, lm = face
    shift = np.broadcast_to(np.float32([0.7, -0.4]), (256, 256, 2))
    motion, head = face_motion(moved_clip(frame, shift), lm)
    # the head moved 0.8 px; what is left after removing the face's mean is flow-estimation noise
    assert rms(motion) < 0.05 and np.abs(motion).max() < 0.1
    # and the head's motion is that shift (forward flow: minus the backward field), largest at amplitude 1,
    # within Farnebäck's sub-pixel bias (-14 % at 0.6 px: measured 0.59 of 0.7)
    np.testing.assert_allclose(head[3], [-0.7, 0.4], atol=0.13)
    assert drift(head) == pytest.approx(np.linalg.norm(head[3])) and drift(head) > 0.6


def test_a_known_regional_flow_comes_back(face):
    frame, lm = face
    field = regional_field(lm)
    measured = expression_motion(moved_clip(frame, field), lm)
    regions, whole = region_masks(lm)
    # for a small smooth warp the forward flow is minus the backward field
    expected = np.stack([-(np.stack([(a * field)[r].mean(0) for r in regions]) - (a * field)[whole].mean(0))
                         for a in AMPLITUDES])
    assert np.abs(measured - expected).max() < 0.06        # px, for a brow moving 0.28 px on average
    scores = transfer_scores(expected, measured)
    assert scores["cosine"] > 0.98 and 0.85 < scores["amplitude"] < 1.25


def test_flow_transfer_keeps_size_and_colour_and_a_static_clip_is_the_target(face):
    frame, lm = face
    target = read_image(embedded_photo_paths()[1])            # a colour photo of another person
    from megen.face.landmarks import detect_landmarks

    target_lm = detect_landmarks(target)
    static = flow_transfer(target, target_lm, [frame] * 4, lm)
    assert static.shape == (4, *target.shape) and static.dtype == np.uint8
    assert np.abs(static.astype(int) - target[None]).max() <= 1
    moving = flow_transfer(target, target_lm, list(moved_clip(frame, regional_field(lm))), lm)
    assert moving.shape == (len(AMPLITUDES), *target.shape)
    assert np.abs(moving[3].astype(int) - target).max() > 10      # the brow and the mouth corner moved
    assert not np.array_equal(moving[3][..., 0], moving[3][..., 1])   # still in colour


def test_flow_transfer_reproduces_a_known_shift(face):
    """A driver shifted by a known amount moves a target of another size by that amount, scaled to the target."""
    frame, lm = face
    shift = np.float32([0.6, -0.3])
    clip = list(moved_clip(frame, np.broadcast_to(shift, (256, 256, 2))))
    small = cv2.resize(frame, (128, 128), interpolation=cv2.INTER_AREA)
    small_lm = (lm + 0.5) / 2 - 0.5
    fields = target_fields(driver_flows(clip, lm), small_lm, small.shape)
    _, whole = region_masks(small_lm, 128)
    for k, a in enumerate(AMPLITUDES):
        # px of the half-size target: half the driver's shift, within 0.05 px over the face (Farneback's
        # sub-pixel bias on uint8 frames: +10 % at 0.1 px, -14 % at 0.6 px)
        np.testing.assert_allclose(fields[k][whole].mean(0), a * shift / 2, atol=0.05)
    out = flow_transfer(small, small_lm, clip, lm)
    assert out.shape == (len(AMPLITUDES), 128, 128)
    np.testing.assert_array_equal(out[0], small)


def test_evaluate_real_pairs_without_a_checkpoint_scores_the_baselines(tmp_path, face):
    pairs = write_real_pairs(tmp_path, face)
    out = run_module("megen.evaluate", f"real.pairs={pairs}", f"run_dir={tmp_path / 'run'}", "face_metrics=false",
                     "real.estimators=[dis_fast,farneback]", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    import json

    results = json.loads((tmp_path / "run" / "real_pairs.json").read_text())
    scores = results["mean"]
    assert results["estimators"] == ["dis_fast", "farneback"]
    # the driver itself, given as a published output, reproduces the driver's motion exactly, under each estimator
    assert scores["copy"]["cosine"] == pytest.approx(1.0) and scores["copy"]["amplitude"] == pytest.approx(1.0)
    for name in ("dis_fast", "farneback"):
        assert scores["copy"][f"cosine/{name}"] == pytest.approx(1.0) and scores["static"][f"amplitude/{name}"] == 0.0
    assert "Means under each estimator alone" in out.stdout and "dis_fast cosine / amplitude" in out.stdout
    assert scores["static"]["cosine"] == 0.0 and scores["static"]["amplitude"] == 0.0
    assert scores["flow_transfer"]["cosine"] > 0.9
    assert "| drive-target (driver" in out.stdout and "flow_transfer" in out.stdout
    # the driver read by each estimator: its mean is the reported amplitude, and their agreement a cosine
    row = results["pairs"][0]
    by = row["driver_amplitude_px_by"]
    assert set(by) == {"dis_fast", "farneback"} and min(by.values()) > 0
    assert row["driver_amplitude_px"] <= max(by.values()) + 1e-9 and 0.5 < row["driver_agreement"] <= 1.0
    assert "across the estimators, which agree at cosine" in out.stdout
    assert (tmp_path / "run" / "real_pairs" / "drive-target.png").is_file()
    # each measured clip is kept by content: driver, static, flow transfer, copy, under both estimators
    assert len(list((tmp_path / "data" / "cache" / "real_motion").glob("*.npz"))) >= 6


def test_evaluate_real_pairs_names_a_missing_clip_and_a_clip_without_a_face(tmp_path, face):
    pairs = write_real_pairs(tmp_path, face)
    pairs.write_text("driving,target\nnowhere.gif,target.png\n")
    out = run_module("megen.evaluate", f"real.pairs={pairs}", f"hydra.run.dir={tmp_path / 'run'}",
                     "real.estimators=[farneback]", cwd=tmp_path)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "nowhere.gif (no such file)" in out.stderr and "pairs.csv:2" in out.stderr
    blank = np.random.default_rng(0).integers(120, 136, (4, 96, 96)).astype(np.uint8)   # no face, frames differ
    write_real_pairs(tmp_path, face, blank)
    out = run_module("megen.evaluate", f"real.pairs={pairs}", f"hydra.run.dir={tmp_path / 'run2'}",
                     "real.estimators=[farneback]", cwd=tmp_path)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "no face found in" in out.stderr and "drive.gif" in out.stderr


def test_measured_motion_is_kept_by_content_and_read_back_unchanged(tmp_path, face):
    frame, lm = face
    clip = moved_clip(frame, regional_field(lm))
    cache = MotionCache(tmp_path / "cache")
    first = cache.measure(clip, lm, "farneback")
    again = cache.measure(clip, lm, "farneback")
    assert (cache.misses, cache.hits) == (1, 1)
    for a, b, c in zip(first, again, face_motion(clip, lm)):      # the scorer's default is the face Farnebäck
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=0, atol=1e-12)
    # one pixel changed by one level, landmarks moved, another estimator: each is its own measurement
    changed = clip.copy()
    changed[2, 100, 100] ^= 1
    keys = {motion_key(clip, lm, "farneback"), motion_key(changed, lm, "farneback"),
            motion_key(clip, lm + 0.5, "farneback"), motion_key(clip, lm, "dis_fast")}
    assert len(keys) == 4
    # a torn file is measured again and replaced, never read
    path = tmp_path / "cache" / f"{motion_key(clip, lm, 'farneback')}.npz"
    path.write_bytes(b"torn")
    np.testing.assert_array_equal(cache.measure(clip, lm, "farneback")[0], first[0])
    assert cache.misses == 2 and np.load(path)["motion"].shape == first[0].shape
    # no folder: measured every time, nothing written
    uncached = MotionCache(None)
    uncached.measure(clip, lm, "farneback")
    assert (uncached.hits, uncached.misses) == (0, 0) and len(list((tmp_path / "cache").iterdir())) == 1
