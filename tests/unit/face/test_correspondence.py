"""The correspondence that carries the driver's motion into the target's face (``megen.face.correspondence``,
``retarget=similarity|landmarks``)."""
import numpy as np
import pytest

from megen.animation.errors import GenerationError
from megen.animation.sources import motion_source
from megen.config.check import ConfigError, validate_generate
from megen.config.compose import compose_config
from megen.face.align import apply_similarity
from megen.face.choices import Retarget
from megen.face.controls import MotionControls, sample_flow
from megen.face.correspondence import carry_flow, correspondence, thin_plate_spline
from megen.face.flow import DriverFlow, target_fields


@pytest.fixture(scope="module")
def faces():
    """Two synthetic identities of other proportions (their shape morphs differ), 256 px: landmarks (68, 2) each."""
    from megen.synthetic import embedded_photo_paths
    from megen.synthetic.identities import base_face, make_identity

    base = base_face(str(embedded_photo_paths()[0]), 256)
    a = make_identity(base, np.random.default_rng(1), "a", 1.0)
    b = make_identity(base, np.random.default_rng(101), "b", 1.0)
    return a.landmarks.astype(np.float64), b.landmarks.astype(np.float64)


def test_the_landmark_correspondence_maps_every_landmark_onto_its_partner(faces):
    driver, target = faces
    positions, _ = correspondence(target, driver, (256, 256), "landmarks")
    assert np.abs(sample_flow(positions, target) - driver).max() < 0.5
    similar, _ = correspondence(target, driver, (256, 256), "similarity")
    assert np.abs(sample_flow(similar, target) - driver).max() > 2.0     # what the similarity leaves over
    # beyond the face the bend fades: at the crop's corners it is a small part of what it is on the face
    corners = (slice(0, 256, 255), slice(0, 256, 255))
    bend = np.abs(positions - similar)
    assert bend[corners].max() < 0.1 * bend.max()


def test_the_thin_plate_spline_interpolates_its_points_and_reproduces_an_affine_map():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 200, (30, 2))
    values = rng.normal(size=(30, 2))
    np.testing.assert_allclose(thin_plate_spline(points, values, smoothing=0.0)(points), values, atol=1e-8)
    affine = np.array([[0.9, 0.2], [-0.1, 1.1]])
    spline = thin_plate_spline(points, points @ affine.T + [3.0, -2.0], smoothing=1e-3)
    anywhere = rng.uniform(-100, 300, (50, 2))
    np.testing.assert_allclose(spline(anywhere), anywhere @ affine.T + [3.0, -2.0], atol=1e-6)


def test_the_similarity_carries_a_flow_through_its_scale_and_rotation(faces):
    driver, _ = faces
    m = np.array([[0.5, 0.0, 10.0], [0.0, 0.5, -4.0]])           # the target is twice the driver's size
    target = apply_similarity(np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2], driver)
    uniform = np.broadcast_to(np.float32([0.4, -0.2]), (256, 256, 2))
    positions, linear = correspondence(target, driver, (256, 256), "similarity")
    np.testing.assert_allclose(linear, m[:, :2], atol=1e-9)
    carried = carry_flow(uniform, positions, linear)
    inside = carried[100:150, 100:150]
    np.testing.assert_allclose(inside, np.broadcast_to([0.8, -0.4], inside.shape), atol=1e-5)


def test_landmarks_put_the_drivers_motion_on_the_targets_features(faces):
    """A motion at one of the driver's features lands on the target's (the truth: the same motion there), where
    the similarity leaves it where the driver's feature would be: the brow, eye, nose or mouth point that the
    similarity misplaces most (2.6 px on these faces)."""
    driver, target = faces
    from megen.face.flow import pixel_grid

    similar, _ = correspondence(target, driver, (256, 256), "similarity")
    k = 17 + int(np.linalg.norm(sample_flow(similar, target) - driver, axis=1)[17:].argmax())

    def bump(centre):
        w = np.exp(-((pixel_grid(256, 256) - centre) ** 2).sum(-1) / (2 * 4.0**2))
        return (w[..., None] * np.float32([1.0, 0.0])).astype(np.float32)

    flows = np.stack([np.zeros((256, 256, 2), np.float32), bump(driver[k])])
    # the truth: the same bump at the target's corner, its vector turned and scaled by the faces' similarity
    _, linear = correspondence(target, driver, (256, 256), "similarity")
    truth = bump(target[k]) @ np.linalg.inv(linear).T.astype(np.float32)
    errors = {}
    for retarget in ("similarity", "landmarks"):
        carried = target_fields(DriverFlow(flows, np.eye(2, 3), driver), target, (256, 256), retarget)[1]
        errors[retarget] = np.linalg.norm(carried - truth, axis=-1).sum()
    assert errors["landmarks"] < 0.5 * errors["similarity"], errors


def test_retarget_is_checked_and_refused_by_key_point_models():
    with pytest.raises(ValueError, match="retarget='mesh' is not valid; valid: similarity, landmarks"):
        MotionControls(retarget="mesh")
    with pytest.raises(ConfigError, match="retarget"):
        validate_generate(compose_config("generate", "retarget=mesh"))
    assert MotionControls.of(compose_config("generate", "retarget=landmarks")).retarget is Retarget.LANDMARKS

    class KeypointModel:
        measures_flow = False

    with pytest.raises(GenerationError, match="retarget=landmarks acts on the driver's measured optical flow"):
        motion_source(KeypointModel(), controls=MotionControls(retarget="landmarks"))


def test_a_clip_is_carried_as_its_frames_are_and_read_bilinearly_at_the_drivers_positions(faces):
    """``carry_flow`` of (T, S, S, 2) equals each frame's; at a fractional position it reads the bilinear mix of
    the four pixels around it, and nothing outside the crop."""
    driver, target = faces
    rng = np.random.default_rng(3)
    clip = rng.normal(size=(3, 64, 64, 2)).astype(np.float32)
    positions, linear = correspondence(target * 0.25, driver * 0.25, (48, 48), "landmarks")
    together = carry_flow(clip, positions, linear)
    assert together.shape == (3, 48, 48, 2) and together.dtype == np.float32
    for k in range(3):
        np.testing.assert_array_equal(together[k], carry_flow(clip[k], positions, linear))
    at = np.float32([[[10.25, 20.75], [-3.0, 5.0]]])                 # (1, 2, 2): inside, and beyond the left edge
    read = carry_flow(clip[0], at, np.eye(2))
    x0, y0, fx, fy = 10, 20, 0.25, 0.75
    mix = ((1 - fx) * (1 - fy) * clip[0, y0, x0] + fx * (1 - fy) * clip[0, y0, x0 + 1]
           + (1 - fx) * fy * clip[0, y0 + 1, x0] + fx * fy * clip[0, y0 + 1, x0 + 1])
    np.testing.assert_allclose(read[0, 0], mix, atol=1e-5)
    np.testing.assert_array_equal(read[0, 1], 0.0)
