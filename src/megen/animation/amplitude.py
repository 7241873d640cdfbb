"""Is a driving clip within the motion a model was trained on? A micro-expression model asked to
follow a head turn or speech tears the face; one line says so before it does."""
from __future__ import annotations

import numpy as np
import torch

#: a driver is out of range when its motion exceeds the training's largest by this factor
TOLERANCE = 1.5
#: frames whose flow from the onset is measured (evenly spaced)
SAMPLED_FRAMES = 16
#: without a recorded training range (real datasets): real micro-expressions, head motion included,
#: move a face under about 4 px of a 256-px crop
REAL_MOTION_PX_AT_256 = 4.0


def driving_motion_px(frames: torch.Tensor) -> float:
    """The driving clip's motion (px of its frames (T, C, S, S)): the 95th percentile over pixels and
    sampled frames of the optical flow's length from the onset frame."""
    from megen.models.flow_guided import classical_backward_flow

    if len(frames) < 2:
        return 0.0
    idx = np.unique(np.linspace(1, len(frames) - 1, min(SAMPLED_FRAMES, len(frames) - 1)).round().astype(int))
    flow = classical_backward_flow(frames[idx], frames[:1].expand(len(idx), -1, -1, -1))
    return float(torch.quantile(flow.norm(dim=-1).flatten().float(), 0.95))


def out_of_range_warning(frames: torch.Tensor, trained_px: float | None, frame_size: int) -> str | None:
    """One line when a driving clip (T, C, S, S) moves more than ``TOLERANCE`` x the training's largest
    motion ``trained_px`` (px of the S frame; None: the real-data bound), else None."""
    trained = trained_px if trained_px else REAL_MOTION_PX_AT_256 * frame_size / 256.0
    measured = driving_motion_px(frames)
    if measured <= TOLERANCE * trained:
        return None
    return (f"warning: the driving clip moves {measured:.1f} px at the model's {frame_size}-px frame (95th percentile "
            f"of its optical flow from the onset), beyond the {trained:.1f} px it was trained on: a micro-expression "
            f"model does not follow head turns or speech, expect a torn face")


__all__ = ["TOLERANCE", "driving_motion_px", "out_of_range_warning"]
