import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from megen.face.prior import PriorSetting, pixel_grid, prior_map


def _reference_numpy(points, size, sigma, frame_size):
    """The public implementation's recipe written as plain loops over maps."""
    grid = pixel_grid(size, frame_size, dtype=torch.float64).numpy()
    total = np.zeros((size, size))
    for p in points:
        d = np.abs(grid - p).sum(-1)
        m = np.exp(-np.sqrt(d) / (2 * sigma**2))
        m = m / m.max()
        m[m < m.mean()] = 0
        total += m
    return total / total.max()


@settings(max_examples=25, deadline=None)
@given(x=st.floats(0, 63), y=st.floats(0, 63), sigma=st.floats(0.5, 12), size=st.sampled_from([16, 32, 64]))
def test_gaussian_and_paper_kernels_match_their_formulas(x, y, sigma, size):
    pts = torch.tensor([[[x, y]]], dtype=torch.float64)
    grid = pixel_grid(size, 64, dtype=torch.float64)
    d2 = ((grid - pts[0, 0]) ** 2).sum(-1)
    g = prior_map(pts, size, sigma, kernel="gaussian", fusion="separate", frame_size=64)[0, 0]
    torch.testing.assert_close(g.double(), torch.exp(-d2 / (2 * sigma**2)), atol=1e-6, rtol=1e-5)
    p = prior_map(pts, size, sigma, kernel="paper", fusion="separate", frame_size=64)[0, 0]
    torch.testing.assert_close(p.double(), torch.exp(-d2.sqrt() / (2 * sigma**2)), atol=1e-6, rtol=1e-5)


def test_reference_kernel_matches_loop_implementation():
    rng = np.random.default_rng(0)
    pts = rng.uniform(20, 230, size=(18, 2))
    ours = prior_map(pts, 64, 1.06, kernel="reference", fusion="sum", frame_size=256)[0].numpy()
    np.testing.assert_allclose(ours, _reference_numpy(pts, 64, 1.06, 256), atol=1e-5)
    sep = prior_map(pts, 64, 1.06, kernel="reference", fusion="separate", frame_size=256).numpy()
    assert sep.shape == (18, 64, 64)
    assert np.allclose(sep.max(axis=(1, 2)), 1.0)
    assert ((sep == 0).mean(axis=(1, 2)) > 0.3).all()   # below-mean zeroing happened


@pytest.mark.parametrize("size", [16, 32, 64, 256])
def test_sigma_is_in_frame_pixels_whatever_the_map_size(size):
    x, y, sigma, frame = 100.0, 120.0, 8.0, 256
    m = prior_map(torch.tensor([[x, y]]), size, sigma, fusion="separate", frame_size=frame)[0]
    step = frame / size
    centres = (np.arange(size) + 0.5) * step - 0.5          # pixel centres in frame pixels
    expected = np.exp(-((centres[None, :] - x) ** 2 + (centres[:, None] - y) ** 2) / (2 * sigma**2))
    np.testing.assert_allclose(m.numpy(), expected, atol=1e-6)


def test_sum_fusion_is_normalised_and_batches_are_independent():
    rng = np.random.default_rng(1)
    pts = torch.tensor(rng.uniform(0, 64, size=(3, 18, 2)))
    batch = prior_map(pts, 16, 4.0, frame_size=64)
    assert batch.shape == (3, 1, 16, 16)
    assert torch.allclose(batch.amax(dim=(1, 2, 3)), torch.ones(3))
    assert batch.min() >= 0
    for b in range(3):
        torch.testing.assert_close(batch[b], prior_map(pts[b], 16, 4.0, frame_size=64))


def test_peak_sits_at_the_keypoint():
    m = prior_map(torch.tensor([[40.0, 20.0]]), 64, 3.0, frame_size=64)[0]
    y, x = np.unravel_index(int(m.argmax()), m.shape)
    assert (x, y) == (40, 20)


@pytest.mark.parametrize("kwargs,match", [
    ({"kernel": "box"}, "gaussian, paper, reference"),
    ({"fusion": "mean"}, "sum, separate"),
    ({"sigma": 0.0}, "sigma"),
])
def test_bad_settings_are_named(kwargs, match):
    args = {"points": np.zeros((2, 2)), "size": 8, "sigma": 1.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        prior_map(**args)


def test_prior_setting_maps_equal_prior_map():
    pts = np.random.default_rng(0).uniform(5, 59, size=(2, 18, 2))
    for kernel, fusion in (("gaussian", "sum"), ("reference", "separate"), ("paper", "sum")):
        s = PriorSetting(sigma=4.0, kernel=kernel, fusion=fusion, map_size=32)
        torch.testing.assert_close(s.maps(pts, 64), prior_map(pts, 32, 4.0, kernel=kernel, fusion=fusion, frame_size=64))
        assert s.maps(pts, 64).shape[1] == s.channels


def test_prior_setting_names_the_bad_setting():
    with pytest.raises(ValueError, match=r"prior\.kernel='gausian'.*gaussian"):
        PriorSetting(kernel="gausian")
    with pytest.raises(ValueError, match=r"prior\.keypoints='au25'.*au24"):
        PriorSetting(keypoints="au25")
    with pytest.raises(ValueError, match=r"prior\.sigma='abc' is not a number"):
        PriorSetting(sigma="abc")
    assert PriorSetting.from_config({"sigma": 8}, frame_size=64, scale_factor=0.5).map_size == 32
