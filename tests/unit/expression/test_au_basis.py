"""The AU motion basis (megen.expression): reading AU codes, the ridge fit recovering known per-AU fields through
the canonical face, the basis file, composing a clip's motion from AUs, and the two commands' errors."""
import json

import numpy as np
import pytest
from helpers import run_module

from megen.expression import AUBasis, BasisError, au_name, load_basis, parse_action_units, save_basis
from megen.expression.compose import au_motion, frames_of
from megen.expression.fit import ClipFlow, canonical_landmarks, fit_basis, ridge_fields, strength_fields, to_canonical
from megen.synthetic import AU_TEMPLATES, embedded_photo_paths
from megen.synthetic.clips import motion_between
from megen.synthetic.identities import base_face

SIZE = 64


def test_au_codes_as_the_sheets_write_them():
    assert parse_action_units("4+L10") == ({"AU4": 1.0, "AU10": 1.0}, [])
    assert parse_action_units("R12B+14") == ({"AU12": 0.4, "AU14": 1.0}, [])
    assert parse_action_units("L12A+R12C, AU04") == ({"AU12": 0.6, "AU4": 1.0}, [])
    assert parse_action_units("(25)+?") == ({"AU25": 1.0}, ["?"])
    assert parse_action_units("") == ({}, [])
    assert au_name("au 07") == "AU7" and au_name(12) == "AU12"
    with pytest.raises(ValueError, match="'brow'"):
        au_name("brow")


def test_ridge_fit_recovers_fields_from_their_sums():
    rng = np.random.default_rng(0)
    fields = rng.normal(size=(4, 6, 6, 2))
    design = rng.integers(0, 2, size=(40, 4)).astype(float) * rng.uniform(0.5, 1.0, size=(40, 4))
    targets = np.einsum("na,a...->n...", design, fields) + rng.normal(scale=0.01, size=(40, 6, 6, 2))
    np.testing.assert_allclose(ridge_fields(design, targets, ridge=1e-6), fields, atol=0.02)


def test_the_strength_fit_recovers_fields_and_strengths_that_the_codes_do_not_give():
    """Clips coded without intensity, each its AUs' fields summed at a strength of its own (0.5-2, mean 1, as the
    synthetic set scales each clip to its sampled apex): the alternating fit recovers the fields within 0.03 and
    every strength within 0.03; the plain ridge, which takes every clip at strength 1, is off by more than 0.2."""
    rng = np.random.default_rng(0)
    fields = rng.normal(size=(4, 6, 6, 2))
    design = rng.integers(0, 2, size=(60, 4)).astype(float)
    design[design.sum(1) == 0, 0] = 1.0
    strength = rng.uniform(0.5, 2.0, size=60)
    strength /= strength.mean()
    targets = strength[:, None, None, None] * np.einsum("na,a...->n...", design, fields)
    targets += rng.normal(scale=0.01, size=targets.shape)
    got, got_strength = strength_fields(design, targets, ridge=1e-6, rounds=30)
    np.testing.assert_allclose(got, fields, atol=0.03)
    np.testing.assert_allclose(got_strength, strength, atol=0.03)
    assert np.abs(ridge_fields(design, targets, ridge=1e-6) - fields).max() > 0.2
    plain, ones = strength_fields(design, targets, ridge=1e-6, rounds=0)
    np.testing.assert_array_equal(plain, ridge_fields(design, targets, ridge=1e-6))
    np.testing.assert_array_equal(ones, 1.0)


@pytest.fixture(scope="module")
def canonical():
    face = base_face(str(embedded_photo_paths()[0]), SIZE)
    return canonical_landmarks([np.asarray(face.landmarks, np.float64)], SIZE)


def _au_field(canonical, au: int, px: float = 1.5) -> np.ndarray:
    """The synthetic set's backward flow of one AU on the canonical face, ``px`` at its largest landmark."""
    t = AU_TEMPLATES[au] / np.linalg.norm(AU_TEMPLATES[au], axis=1).max()
    z = np.zeros(2, np.float32)
    return motion_between(canonical, canonical + px * t, z, z, canonical, SIZE)


def test_fit_recovers_known_per_au_fields_on_faces_of_other_pose_and_size(canonical):
    """Clips built from known canonical fields (sums of their AUs'), each on a face moved by its own similarity
    (scale 0.85-1.15, roll +-6 degrees, shift): the fit, through the canonical face, recovers every field within
    0.12 px (of 1.5 px peaks) on the face, and the clips' timing and emotions."""
    rng = np.random.default_rng(1)
    aus = (4, 12, 15)
    truth = {f"AU{a}": _au_field(canonical, a) for a in aus}
    clips = []
    for i in range(18):
        coded = {f"AU{a}": 1.0 for a in aus if rng.random() < 0.5} or {f"AU{aus[i % 3]}": 1.0}
        field = sum(truth[a] for a in coded)
        angle, scale = np.deg2rad(rng.uniform(-6, 6)), rng.uniform(0.85, 1.15)
        rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        centre = np.array([SIZE / 2, SIZE / 2])
        face = (canonical - centre) @ rot.T + centre + rng.uniform(-2, 2, size=2)
        clip_flow = to_canonical(field, canonical, face, SIZE, "similarity")   # canonical -> this face
        clips.append(ClipFlow(f"c{i}", "synthetic", "disgust" if "AU4" in coded else "happiness", coded, clip_flow,
                              face, 50.0 + i, 80.0))
    basis = fit_basis(clips, size=SIZE, min_clips=3, ridge=1e-3, retarget="similarity", head="keep")
    assert basis.aus == ("AU4", "AU12", "AU15")
    inner = np.zeros((SIZE, SIZE), bool)
    x0, y0 = canonical.min(0).astype(int) + 2
    x1, y1 = canonical.max(0).astype(int) - 2
    inner[y0:y1, x0:x1] = True
    for a, field in truth.items():
        err = np.linalg.norm(basis.fields[basis.index(a)] - field, axis=-1)[inner]
        assert err.max() < 0.12, (a, float(err.max()))
    np.testing.assert_allclose(basis.landmarks, canonical, atol=1e-6)
    rise, fall = basis.timing(["AU4"])
    assert rise == np.median([c.rise_ms for c in clips if "AU4" in c.aus]) and fall == 80.0
    assert "AU4" in basis.emotion("disgust") and basis.emotion("negative") == basis.emotion("disgust")


def test_the_canonical_face_holds_the_motion_above_the_brows_and_below_the_chin():
    """A brow raise and a chin raise on a face framed as a prepared clip, carried into the canonical face and back,
    keep their fields (cosine > 0.99 over the frame): the canonical square frames the face with the crop's margin,
    so the motion around the brows and the chin is not cut off."""
    face = base_face(str(embedded_photo_paths()[0]), SIZE)
    lm = np.asarray(face.landmarks, np.float64)
    canonical = canonical_landmarks([lm], 2 * SIZE)
    assert canonical[17:27, 1].min() > 0.25 * 2 * SIZE and canonical[:, 1].max() < 0.9 * 2 * SIZE
    z = np.zeros(2, np.float32)
    for au in (1, 17):
        t = AU_TEMPLATES[au] / np.linalg.norm(AU_TEMPLATES[au], axis=1).max()
        field = motion_between(lm, lm + 1.5 * t, z, z, lm, SIZE)
        there = to_canonical(field, lm, canonical, 2 * SIZE, "similarity")
        back = to_canonical(there, canonical, lm, SIZE, "similarity")
        cosine = float((back * field).sum() / np.linalg.norm(back) / np.linalg.norm(field))
        assert cosine > 0.99, (au, cosine)


def test_an_au_with_too_few_clips_is_refused_by_name_with_its_count(canonical):
    field = _au_field(canonical, 4)
    clips = [ClipFlow(f"c{i}", "synthetic", "others", {"AU4": 1.0, **({"AU9": 1.0} if i == 0 else {})}, field,
                      canonical, 40.0, 60.0) for i in range(3)]
    basis = fit_basis(clips, size=SIZE, min_clips=2)
    assert basis.aus == ("AU4",) and basis.provenance["refused"] == {"AU9": 1}
    with pytest.raises(BasisError, match="AU9 cannot be generated: it had 1 clip"):
        basis.field({"AU9": 1.0})
    with pytest.raises(BasisError, match="min_clips=5 clips: AU4 3, AU9 1"):
        fit_basis(clips, size=SIZE, min_clips=5)


@pytest.fixture(scope="module")
def basis(canonical):
    fields = np.stack([_au_field(canonical, a) for a in (4, 12)])
    return AUBasis(("AU4", "AU12"), fields, canonical, {"AU4": [40.0, 60.0], "AU12": [80.0]},
                   {"AU4": [100.0], "AU12": [120.0]}, {"negative": {"aus": ["AU4"], "count": 2, "clips": 3}},
                   {"dataset": "synthetic", "clips": 3})


def test_the_basis_file_round_trips_and_checks_its_version(basis, tmp_path):
    path = save_basis(basis, tmp_path / "b" / "au_basis.npz")
    back = load_basis(path)
    assert back.aus == basis.aus and back.emotion_aus == basis.emotion_aus and back.provenance == basis.provenance
    np.testing.assert_array_equal(back.fields, basis.fields)
    np.testing.assert_array_equal(back.landmarks, basis.landmarks)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["version"] = 0
    np.savez(tmp_path / "old.npz", fields=arrays["fields"], landmarks=arrays["landmarks"], meta=np.array(json.dumps(meta)))
    with pytest.raises(BasisError, match="old.npz is version 0"):
        load_basis(tmp_path / "old.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(BasisError, match="bad.npz is not an AU basis"):
        load_basis(tmp_path / "bad.npz")


def test_motion_from_aus_is_still_for_none_and_linear_in_intensity(basis):
    still = au_motion(basis, aus=[])
    assert not still.flows.any() and still.weights == {}
    one = au_motion(basis, aus=["AU4", "AU12"], intensity=1.0, duration_ms=200, fps=200)
    half = au_motion(basis, aus=["au4", "12"], intensity=0.5, duration_ms=200, fps=200)
    np.testing.assert_allclose(2 * half.flows, one.flows, atol=1e-6)
    # the clips' median rise and fall (60, 110 ms) split the 200 ms
    assert one.rise_ms == pytest.approx(200 * 60 / 170) and one.fall_ms == pytest.approx(200 * 110 / 170)
    assert len(one.flows) == 41 and one.apex == 14 and not one.flows[0].any() and not one.flows[-1].any()
    apex_field = basis.fields[0] + basis.fields[1]
    np.testing.assert_allclose(one.flows[one.apex], apex_field, atol=1e-6)
    # the timing: the median rise and fall of the clips coded with the AUs, at their ratio when a duration is given
    default = au_motion(basis, aus=["AU4"])
    assert (default.rise_ms, default.fall_ms) == (50.0, 100.0) and frames_of(50.0, 100.0, 200.0) == (31, 10)
    assert au_motion(basis, emotion="Negative").weights == {"AU4": 1.0}
    with pytest.raises(BasisError, match="AU7 cannot be generated"):
        au_motion(basis, aus=["AU7"])
    with pytest.raises(ValueError, match="one of them"):
        au_motion(basis, aus=["AU4"], emotion="negative")


def test_apex_px_sets_the_composed_apex_at_the_landmarks_and_intensity_still_scales_it(basis):
    from megen.expression.compose import landmark_peak

    pair = au_motion(basis, aus=["AU4", "AU12"], duration_ms=200, fps=200, apex_px=0.8)
    assert landmark_peak(pair.flows[pair.apex], basis.landmarks) == pytest.approx(0.8, rel=1e-5)
    # the pattern is the fields' sum, only its size changes
    summed = au_motion(basis, aus=["AU4", "AU12"], duration_ms=200, fps=200)
    ratio = pair.flows[pair.apex] / np.where(summed.flows[pair.apex] == 0, np.nan, summed.flows[pair.apex])
    assert np.nanstd(ratio) < 1e-4 and np.nanmean(ratio) == pytest.approx(0.8 / landmark_peak(
        summed.flows[pair.apex], basis.landmarks), rel=1e-4)
    half = au_motion(basis, aus=["AU4", "AU12"], intensity=0.5, duration_ms=200, fps=200, apex_px=0.8)
    np.testing.assert_allclose(2 * half.flows, pair.flows, atol=1e-6)
    assert pair.record()["apex_px"] == 0.8 and "apex_px" not in summed.record()
    assert not au_motion(basis, aus=[], apex_px=1.0).flows.any()


def test_the_still_face_renders_as_the_target(basis):
    from megen.animation.flow_transfer import transfer

    rng = np.random.default_rng(2)
    target = rng.integers(0, 255, size=(SIZE, SIZE, 3), dtype=np.uint8)
    frames = transfer(target, basis.landmarks, au_motion(basis, aus=[], duration_ms=20).driver())
    assert frames.shape == (5, SIZE, SIZE, 3) and (frames == target).all()


def test_commands_fit_a_basis_generate_from_it_and_name_bad_aus(tmp_path):
    from megen import generate
    from megen.config.check import ConfigError
    from megen.config.compose import compose_config

    data = ["dataset.n_subjects=3", "dataset.clips_per_subject=3", "dataset.frame_size=32",
            f"paths.data_dir={tmp_path / 'data'}"]
    fit = run_module("megen.aubasis", "fit", *data, "aubasis.min_clips=1", f"out={tmp_path / 'b'}", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    assert "AU basis of synthetic: 9 coded clips" in fit.stdout
    basis = tmp_path / "b" / "au_basis.npz"
    aus = load_basis(basis).aus
    # the synthetic set's head motion is known: taken off exactly, never estimated
    head = load_basis(basis).provenance["head"]
    assert head == "removed before the fit: known in 9 clips, estimated (megen.face.controls) in 0"
    sideways = run_module("megen.aubasis", "fit", *data, "aubasis.head=sideways", f"out={tmp_path / 'h'}", cwd=tmp_path)
    assert sideways.returncode == 2 and sideways.stderr.count("error:") == 1 and "aubasis.head=sideways" in sideways.stderr
    common = [f"basis={basis}", f"target={embedded_photo_paths()[0]}", "method=au", f"out={tmp_path / 'o'}",
              "duration_ms=50"]
    [folder] = generate.run(compose_config("generate", *common, f"aus=[{aus[0]}]", "intensity=0.5"))
    timing = json.loads((folder / "timing.json").read_text())
    assert timing["aus"] == {aus[0]: 0.5} and timing["render"] == "au" and timing["frames"] == 11
    assert len(list((folder / "frames").glob("*.png"))) == 11
    with pytest.raises(ConfigError, match="'brow' is not an action unit"):
        generate.run(compose_config("generate", *common, "aus=[brow]"))
    with pytest.raises(ConfigError, match="emotion=.*is for method=au"):
        generate.run(compose_config("generate", f"target={embedded_photo_paths()[0]}", "driving=x", "ckpt=y",
                                    "emotion=negative"))
    [sized] = generate.run(compose_config("generate", *common[:-2], f"out={tmp_path / 'p'}", "duration_ms=50",
                                          f"aus=[{aus[0]}]", "apex_px=1.5"))
    assert json.loads((sized / "timing.json").read_text())["apex_px"] == 1.5
    with pytest.raises(ConfigError, match="apex_px=1.5 is for method=au"):
        generate.run(compose_config("generate", f"target={embedded_photo_paths()[0]}", "driving=x", "ckpt=y",
                                    "apex_px=1.5"))
    with pytest.raises(ConfigError, match="apex_px"):
        generate.run(compose_config("generate", *common, f"aus=[{aus[0]}]", "apex_px=-1"))
    bad = run_module("megen.generate", *common, "aus=[AU99]", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("error:") == 1 and "AU99 cannot be generated" in bad.stderr
    # that clip drives another face; aus_gain scales its AU, and the face moves less at 0, more at 2
    from megen.runtime.video import frame_paths, read_image

    edit = [f"basis={basis}", f"target={embedded_photo_paths()[1]}", "method=flow_transfer",
            f"driving={folder / 'frames'}", "fps=200"]
    moved = {}
    for gain in (0, 1, 2):
        [out] = generate.run(compose_config("generate", *edit, f"out={tmp_path / f'e{gain}'}", f"aus_gain={{{aus[0]}:{gain}}}"))
        assert json.loads((out / "timing.json").read_text())["aus_gain"] == {aus[0]: gain}
        frames = [read_image(p).astype(float) for p in frame_paths(out / "frames")]
        moved[gain] = max(np.abs(f - frames[0]).mean() for f in frames)
    assert moved[0] < moved[1] < moved[2]
    with pytest.raises(ConfigError, match="aus_gain=.*method=flow_transfer"):
        generate.run(compose_config("generate", f"basis={basis}", f"target={embedded_photo_paths()[1]}", "ckpt=y",
                                    "driving=x", "aus_gain={AU4:0}"))


def test_one_au_of_a_driving_clip_is_removed_or_doubled_and_the_rest_kept(canonical):
    """A clip whose flow is a4(t) AU4 + a12(t) AU12 on a face moved by a similarity: aus_gain {AU12: 0} leaves
    a4(t) AU4 (within 0.05 px of 1.5-px peaks on the face), {AU12: 2} doubles the AU12 share, {AU4: 1} changes
    nothing, and the activations read are the clip's own."""
    from megen.expression.edit import au_activations, edit_aus
    from megen.face.correspondence import hull_distance
    from megen.face.flow import DriverFlow

    truth = {f"AU{a}": _au_field(canonical, a) for a in (4, 12)}
    basis = AUBasis(("AU4", "AU12"), np.stack([truth["AU4"], truth["AU12"]]), canonical)
    a4, a12 = np.array([0.0, 0.5, 1.0, 0.4]), np.array([0.0, 0.8, 0.6, 0.2])
    flows = (a4[:, None, None, None] * truth["AU4"] + a12[:, None, None, None] * truth["AU12"]).astype(np.float32)
    np.testing.assert_allclose(au_activations(flows, basis, ["AU4", "AU12"]), np.stack([a4, a12], 1), atol=1e-4)
    driver = DriverFlow(flows, np.eye(2, 3), canonical)
    face = hull_distance([canonical], (SIZE, SIZE)) == 0
    removed, peaks = edit_aus(driver, basis, {"au12": 0})
    assert peaks == pytest.approx({"AU12": 0.8}, abs=1e-3)
    expected = a4[:, None, None, None] * truth["AU4"]
    assert np.abs(removed.flows - expected)[:, face].max() < 0.05
    doubled, _ = edit_aus(driver, basis, {"AU12": 2})
    assert np.abs(doubled.flows - (flows + a12[:, None, None, None] * truth["AU12"]))[:, face].max() < 0.05
    same, _ = edit_aus(driver, basis, {"AU4": 1})
    np.testing.assert_array_equal(same.flows, flows)
