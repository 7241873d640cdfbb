"""megen.synthetic.eyelids and the flow pairs' occlusion: a lid's field is exact, sharp at its edge, local."""
import numpy as np
import pytest

from megen.synthetic.eyelids import MAX_CLOSURE, Lid, closing_eyes, lids_field
from megen.synthetic.nuisance import Nuisance


def _eye(tilt: float = 0.0) -> np.ndarray:
    """68 landmarks, only the eyes meaningful: each 20 px wide and 8 px open around y = 50, rolled by ``tilt``."""
    lm = np.zeros((68, 2))
    for first, cx in ((36, 40.0), (42, 80.0)):
        lm[first:first + 6] = [(cx - 10, 50), (cx - 3.3, 46), (cx + 3.3, 46), (cx + 10, 50), (cx + 3.3, 54),
                               (cx - 3.3, 54)]
    c, s = np.cos(tilt), np.sin(tilt)
    return (lm - 60) @ np.array([[c, s], [-s, c]]) + 60


def test_the_lid_drops_by_its_amount_and_its_edge_comes_from_the_old_edge():
    lid = Lid.on(_eye(), 0, drop=1.5)
    assert lid.drop == pytest.approx(1.5) and lid.half_width == pytest.approx(10.0)
    assert lid.upper == pytest.approx(4.5)                # 4 px at the landmarks, 9/8 of it at the centre
    ys = np.linspace(35.0, 60.0, 2501)
    field = lid.field(np.full_like(ys, 40.0), ys)
    assert np.abs(field[:, 0]).max() < 1e-12             # an upright eye's lid moves straight down
    edge = 50.0 - 4.5 + 1.5                               # the old edge, 1.5 px lower
    above, below = field[ys < edge - 1e-6, 1], field[ys > edge + 1e-6, 1]
    assert above[-1] == pytest.approx(-1.5, abs=2e-3)    # just above the new edge: the old edge, 1.5 px up
    assert not below.any()                                # the eye below does not move: the strip between is gone
    assert field[ys <= 50 - 4.5 - 10, 1].max() == 0.0     # and the skin a half width above is still
    # the stretch between is linear in the height: each row of skin samples the onset from 0 to 1.5 px higher
    inside = (ys > 50 - 14.5) & (ys < edge - 1e-6)
    np.testing.assert_allclose(np.diff(field[inside, 1]), -1.5 / 11.5 * 0.01, atol=1e-9)


def test_the_lid_is_still_beyond_the_eye_corners_and_follows_the_eye_roll():
    lid = Lid.on(_eye(0.2), 1, drop=1.0)
    ys, xs = np.mgrid[0:120, 0:120].astype(float)
    field = lid.field(xs, ys)
    moving = np.linalg.norm(field, axis=-1) > 0
    distance = np.linalg.norm(np.stack([xs, ys], -1)[moving] - lid.centre, axis=-1)
    assert moving.any() and distance.max() <= lid.half_width * np.sqrt(2) + 1
    direction = field[moving] / np.linalg.norm(field[moving], axis=-1, keepdims=True)
    down = np.array([-np.sin(0.2), np.cos(0.2)])                    # the eye's own "down", rolled by 0.2 rad
    np.testing.assert_allclose(direction @ down, -1.0, atol=1e-9)    # it samples from above, along the roll


def test_a_lid_covers_at_most_most_of_the_eye_and_both_eyes_are_one_field():
    assert Lid.on(_eye(), 1, drop=50.0).drop == pytest.approx(MAX_CLOSURE * 9.0)   # 8 px at the landmarks: 9
    lids = closing_eyes(_eye(), np.random.default_rng(0), 1.0)
    ys, xs = np.mgrid[0:100, 0:120].astype(float)
    summed = lids_field(lids, xs, ys)
    assert summed.dtype == np.float32 and summed.shape == (100, 120, 2)
    np.testing.assert_allclose(summed, sum(lid.field(xs, ys) for lid in lids), atol=1e-6)
    assert len({len(closing_eyes(_eye(), np.random.default_rng(s), 1.0)) for s in range(20)}) == 2


def test_a_pair_with_an_occlusion_is_its_onset_moved_by_its_exact_field(identities):
    from megen.face.flow import warp_backward
    from megen.synthetic.flow_pairs import PairSpec, flow_pair

    face = identities[1]
    still_skin = PairSpec(motion_px=(1.5, 1.5), still=0.0, head=0.0, kinds=(0, 0, 1), nuisance=Nuisance())
    plain = flow_pair(face, np.random.default_rng(3), still_skin)
    frame, onset, field = flow_pair(face, np.random.default_rng(3), PairSpec(**{**still_skin.__dict__, "occlusion": 1.0}))
    lid = np.linalg.norm(field - plain[2], axis=-1) > 1e-6
    eyes = face.landmarks[36:48]
    ys, xs = np.nonzero(lid)
    assert lid.any() and xs.min() >= eyes[:, 0].min() - 1 and xs.max() <= eyes[:, 0].max() + 1
    assert ys.max() <= eyes[:, 1].max() + 1             # the lid moves over the eye, not below it
    # the pair renders the finer face: resampling the onset by the field comes close, by its opposite it does not
    def error(image):
        return np.abs(image.astype(float) - frame)[8:-8, 8:-8].mean()

    moved, wrong = (warp_backward(onset.astype(np.float32), f) for f in (field, -field))
    assert error(moved) < 0.5 * error(onset) < 0.5 * error(wrong)


def test_a_bad_occlusion_share_is_refused_by_name():
    from megen.data.flow_pairs import FlowPairsDataModule

    with pytest.raises(ValueError, match="pairs.occlusion"):
        FlowPairsDataModule(occlusion=1.5)
