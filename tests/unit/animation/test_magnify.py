"""Magnify, animate, de-magnify (``megen.animation.magnify``): the driver's micro-motion magnified for a key-point
model, its deformation reduced again."""
import numpy as np
import pytest
import torch

from megen.animation.errors import GenerationError
from megen.animation.magnify import MagnifiedSource, demagnify, magnify_frames
from megen.animation.sources import KeypointSource, motion_source
from megen.face.flow import DRIVER_FLOW, pixel_grid, warp_backward
from megen.models.motion import coordinate_grid
from megen.ops.flow import estimator, flows_to_reference


def test_demagnify_scales_the_displacement_and_one_is_the_identity():
    identity = coordinate_grid(16, 16)[None]
    shift = torch.randn(2, 16, 16, 2) * 0.05
    torch.testing.assert_close(demagnify(identity + shift, 1.0), identity + shift)
    torch.testing.assert_close(demagnify(identity + shift, 4.0), identity + shift / 4, atol=1e-6, rtol=0)


@pytest.mark.parametrize("factor", [4.0, 8.0])
def test_a_known_flow_magnified_and_reduced_comes_back(face, factor):
    """A 0.5-px brow raise, magnified k times and measured again, is k times the motion measured on the clip
    itself: divided by k it is that motion, within 0.05 px where it is over half its peak (Farnebäck measures
    both; on this clean face it reads the 0.5-px raise about half as large, which magnifying cannot undo)."""
    frame, lm = face
    centre = lm[17:27].mean(0)
    weight = np.exp(-((pixel_grid(256, 256) - centre) ** 2).sum(-1) / (2 * 14.0**2)).astype(np.float32)
    field = weight[..., None] * np.float32([0.0, 0.5])
    clip = np.stack([frame, warp_backward(frame.astype(np.float32), field).round().clip(0, 255).astype(np.uint8)])
    magnified = magnify_frames(clip, factor)
    assert magnified.shape == clip.shape and np.array_equal(magnified[0], frame)
    measured = flows_to_reference(list(clip), 0)[1]
    back = flows_to_reference(list(magnified), 0)[1] / factor
    strong = weight > 0.5
    assert np.abs(back[strong] - measured[strong]).mean() < 0.05
    assert back[strong][:, 1].mean() > 0.4 * field[strong][:, 1].mean()     # the motion, not zero


def test_magnify_is_for_key_point_models_and_one_is_the_plain_path():
    class KeypointModel:
        measures_flow = False

    class FlowModel:
        measures_flow = True

    assert type(motion_source(KeypointModel(), magnify=1.0)) is KeypointSource
    source = motion_source(KeypointModel(), magnify=8.0)
    assert isinstance(source, MagnifiedSource) and source.renders == {"native"}
    assert source.estimator is DRIVER_FLOW                                   # what measures the driver
    assert motion_source(KeypointModel(), magnify=8.0, magnify_estimator=estimator("dis")).estimator is estimator("dis")
    with pytest.raises(GenerationError, match="magnify=8 has no meaning for the flow-guided model"):
        motion_source(FlowModel(), magnify=8.0)
    with pytest.raises(GenerationError, match="magnify=100"):
        motion_source(KeypointModel(), magnify=100.0)
    with pytest.raises(GenerationError, match="backend=torch"):
        motion_source(KeypointModel(), engine=object(), magnify=4.0)
