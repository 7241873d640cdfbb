import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from megen.models.equivariance import RandomTransform
from megen.models.motion import (
    coordinate_grid,
    deformation_to_flow,
    gaussian_heatmaps,
    heatmap_covariance,
    heatmap_mean,
    hull_area,
    movement_scale,
    relative_motion,
    sparse_motions,
    warp,
)


def test_coordinate_grid_pixel_centres():
    g = coordinate_grid(4, 8)
    assert g.shape == (4, 8, 2)
    assert torch.allclose(g[0, :, 0], torch.tensor([-7, -5, -3, -1, 1, 3, 5, 7]) / 8.0)
    assert torch.allclose(g[:, 0, 1], torch.tensor([-3, -1, 1, 3]) / 4.0)


def test_identity_deformation_reproduces_the_image():
    img = torch.rand(2, 3, 16, 12)
    grid = coordinate_grid(16, 12)[None].expand(2, -1, -1, -1)
    torch.testing.assert_close(warp(img, grid), img, atol=1e-5, rtol=0)


def test_known_shift_moves_content():
    img = torch.zeros(1, 1, 16, 16)
    img[0, 0, 8, 8] = 1.0
    flow_px = torch.zeros(1, 16, 16, 2)
    flow_px[..., 0] = 2.0                                  # every pixel samples 2 px to the right
    deformation = coordinate_grid(16, 16)[None] + flow_px * (2.0 / 16)
    out = warp(img, deformation)
    assert out[0, 0, 8, 6] == pytest.approx(1.0, abs=1e-5)
    torch.testing.assert_close(deformation_to_flow(deformation), flow_px, atol=1e-5, rtol=0)


@settings(max_examples=20, deadline=None)
@given(x=st.floats(-0.8, 0.8), y=st.floats(-0.8, 0.8))
def test_heatmap_mean_and_covariance_of_a_gaussian(x, y):
    kp = torch.tensor([[[x, y]]], dtype=torch.float64)
    h = gaussian_heatmaps(kp, (64, 64), variance=0.005)
    h = h / h.sum(dim=(2, 3), keepdim=True)
    mean = heatmap_mean(h)
    torch.testing.assert_close(mean, kp, atol=2e-3, rtol=0)
    cov = heatmap_covariance(h, mean)[0, 0]
    torch.testing.assert_close(cov, 0.005 * torch.eye(2, dtype=torch.float64), atol=6e-4, rtol=0)


def test_sparse_motions_identity_and_translation():
    kp = torch.rand(2, 5, 2) * 2 - 1
    eye = torch.eye(2).expand(2, 5, 2, 2)
    m = sparse_motions(kp, kp, eye, eye, (8, 8))
    grid = coordinate_grid(8, 8)
    assert m.shape == (2, 6, 8, 8, 2)
    torch.testing.assert_close(m, grid[None, None].expand_as(m), atol=1e-6, rtol=0)
    shifted = sparse_motions(kp + 0.1, kp, eye, eye, (8, 8))
    torch.testing.assert_close(shifted[:, 1:] - grid, torch.full_like(shifted[:, 1:], 0.1), atol=1e-6, rtol=0)


def test_sparse_motion_applies_js_jd_inverse():
    kp = torch.zeros(1, 1, 2)
    js = torch.tensor([[[[2.0, 0.0], [0.0, 1.0]]]])
    jd = torch.eye(2)[None, None]
    m = sparse_motions(kp, kp, js, jd, (4, 4))[0, 1]
    grid = coordinate_grid(4, 4)
    torch.testing.assert_close(m[..., 0], 2 * grid[..., 0])
    torch.testing.assert_close(m[..., 1], grid[..., 1])


def test_background_homography_identity():
    kp = torch.zeros(1, 2, 2)
    m = sparse_motions(kp, kp, None, None, (4, 4), background=torch.eye(3)[None])
    torch.testing.assert_close(m[0, 0], coordinate_grid(4, 4))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1000), scale=st.floats(0.5, 2.0))
def test_relative_motion_formula(seed, scale):
    g = torch.Generator().manual_seed(seed)
    kp_s, kp_d, kp_d0 = (torch.rand(1, 4, 2, generator=g) for _ in range(3))
    j = lambda: torch.eye(2) + 0.1 * torch.rand(1, 4, 2, 2, generator=g)  # noqa: E731
    js, jd, jd0 = j(), j(), j()
    kp, jac = relative_motion(kp_s, kp_d, kp_d0, js, jd, jd0, scale)
    torch.testing.assert_close(kp, kp_s + (kp_d - kp_d0) * scale)
    torch.testing.assert_close(jac, jd @ torch.inverse(jd0) @ js)
    same, same_j = relative_motion(kp_s, kp_d0, kp_d0, js, jd0, jd0)
    torch.testing.assert_close(same, kp_s)
    torch.testing.assert_close(same_j, js, atol=1e-5, rtol=0)


def test_hull_scale():
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1.0]])
    assert hull_area(square) == pytest.approx(1.0)
    s = movement_scale(torch.tensor(square[None] * 2), torch.tensor(square[None]))
    assert float(s[0]) == pytest.approx(2.0)
    assert hull_area(np.zeros((3, 2))) == 0.0


def test_random_transform_identity_and_jacobian():
    t = RandomTransform(2, sigma_affine=0.0, sigma_tps=0.0)
    z = torch.rand(2, 7, 2) * 2 - 1
    torch.testing.assert_close(t.warp_coordinates(z), z)
    torch.testing.assert_close(t.jacobian(z), torch.eye(2).expand(2, 7, 2, 2))
    frame = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(t.transform_frame(frame), frame, atol=1e-5, rtol=0)


def test_random_transform_jacobian_matches_finite_differences():
    t = RandomTransform(1, 0.05, 0.005, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    z = torch.tensor([[[0.3, -0.2]]], dtype=torch.float64)
    eps = 1e-6
    num = torch.stack([(t.warp_coordinates(z + torch.tensor([eps, 0.0], dtype=torch.float64))
                        - t.warp_coordinates(z - torch.tensor([eps, 0.0], dtype=torch.float64))) / (2 * eps),
                       (t.warp_coordinates(z + torch.tensor([0.0, eps], dtype=torch.float64))
                        - t.warp_coordinates(z - torch.tensor([0.0, eps], dtype=torch.float64))) / (2 * eps)], dim=-1)
    torch.testing.assert_close(t.jacobian(z), num, atol=1e-6, rtol=0)
