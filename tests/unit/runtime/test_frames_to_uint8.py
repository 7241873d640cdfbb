"""megen.runtime.video.to_uint8: frames in [0, 1] to bytes, for tensors and arrays, gray and colour."""
import numpy as np
import pytest
import torch

from megen.runtime.video import to_uint8


def _reference(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) float -> (N, H, W, C) uint8 by the formula: clipped to [0, 1], times 255, rounded half to even."""
    return np.rint(np.clip(x.astype(np.float32), 0, 1) * np.float32(255)).astype(np.uint8).transpose(0, 2, 3, 1)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("gray_as_rgb", [True, False])
@pytest.mark.parametrize("as_tensor", [True, False])
def test_frames_become_rounded_clipped_bytes(channels, gray_as_rgb, as_tensor):
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.2, 1.2, (3, channels, 5, 7)).astype(np.float32)
    x[0, 0, 0, :4] = np.array([0.5, 1.5, 2.5, 254.5], np.float32) / 255      # ties round to even
    out = to_uint8(torch.from_numpy(x.copy()) if as_tensor else x.copy(), gray_as_rgb=gray_as_rgb)
    want = _reference(x)
    if channels == 1:
        want = np.repeat(want, 3, axis=-1) if gray_as_rgb else want[..., 0]
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, want)


def test_a_three_dimensional_clip_is_one_channel_and_the_input_is_not_written():
    x = torch.linspace(-0.5, 1.5, 2 * 4 * 4).reshape(2, 4, 4)
    before = x.clone()
    assert to_uint8(x).shape == (2, 4, 4, 3) and to_uint8(x, gray_as_rgb=False).shape == (2, 4, 4)
    assert torch.equal(x, before)
    assert to_uint8(x, gray_as_rgb=False)[0, 0, 0] == 0 and to_uint8(x, gray_as_rgb=False)[-1, -1, -1] == 255
