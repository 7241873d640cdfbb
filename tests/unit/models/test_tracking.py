import pytest
import torch
import torch.nn.functional as F

from megen.models.motion import coordinate_grid
from megen.models.tracking import lucas_kanade


def _texture(size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    img = F.avg_pool2d(torch.rand(1, 1, size + 8, size + 8, generator=g), 5, 1, 0)
    return F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False)


def _shifted(img, dx, dy):
    """The content of ``img`` moved by (+dx, +dy) pixels."""
    size = img.shape[-1]
    grid = coordinate_grid(size, size)[None] - torch.tensor([dx * 2 / size, dy * 2 / size])
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)


def test_identical_frames_do_not_move():
    img = _texture()
    points = torch.rand(2, 7, 2) * 1.2 - 0.6
    assert lucas_kanade(img.expand(2, -1, -1, -1), img.expand(2, -1, -1, -1), points).abs().max() == 0


@pytest.mark.parametrize("dx,dy", [(1.0, 0.5), (-0.6, 0.8), (2.5, -1.5)])
def test_a_translation_is_recovered(dx, dy):
    img = _texture(seed=1)
    points = torch.rand(1, 12, 2) * 1.2 - 0.6
    moved = lucas_kanade(_shifted(img, dx, dy), img, points) * 32          # pixels of the 64 frame
    err = (moved - torch.tensor([dx, dy])).norm(dim=-1)
    assert err.median() < 0.15 * (dx**2 + dy**2) ** 0.5, moved


def test_coarse_to_fine_catches_what_one_level_misses():
    img = _texture(seed=2)
    points = torch.rand(1, 12, 2) * 1.2 - 0.6
    frame = _shifted(img, 3.0, -2.0)
    truth = torch.tensor([3.0, -2.0])
    one = ((lucas_kanade(frame, img, points, levels=1) * 32 - truth).norm(dim=-1)).median()
    two = ((lucas_kanade(frame, img, points, levels=2) * 32 - truth).norm(dim=-1)).median()
    assert two < one and two < 0.5


def test_a_sub_pixel_shift_of_a_256_px_clip_is_tracked_within_005_px():
    # the driving clip's full-resolution crop is where key points are tracked when rendering natively:
    # a micro-expression's 0.3 px at 256 is found there, within 0.05 px at every point, while the same
    # motion tracked on the 64-px frame (0.075 px there) is off by more than that, in 256-px units
    from megen.models.motion_networks import track_anchors

    img = F.interpolate(_texture(128, seed=4), size=(256, 256), mode="bilinear", align_corners=False)
    points = torch.rand(1, 18, 2, generator=torch.Generator().manual_seed(5)) * 1.2 - 0.6
    truth = torch.tensor([0.3, -0.2])
    frame = _shifted(img, *truth.tolist())
    native = track_anchors(frame, img, points) * 128                       # pixels of the 256 crop
    assert (native - truth).norm(dim=-1).max() < 0.05, native
    small = track_anchors(F.avg_pool2d(frame, 4), F.avg_pool2d(img, 4), points) * 128
    assert (small - truth).norm(dim=-1).max() > 0.05
