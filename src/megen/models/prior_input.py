"""How the facial prior enters a motion network: not at all, as one channel, or fused from K maps."""
from __future__ import annotations

import torch
from torch import nn

from megen.models.choices import PriorInputMode


class PriorInput(nn.Module):
    """Concatenate a prior channel to the (downsampled) frame.

    ``none``: the frame unchanged. ``concat``: the summed prior map (B, 1, h, w) is appended
    (the paper). ``learned``: K separate maps are fused by small convolutions K -> K/2 -> 1
    before being appended (the adaptive weighted prior of the follow-up work).
    """

    def __init__(self, mode: PriorInputMode = PriorInputMode.CONCAT, num_maps: int = 1):
        super().__init__()
        self.mode = mode = PriorInputMode.parse(mode, "prior.input")
        self.extra_channels = 0 if mode == PriorInputMode.NONE else 1
        if mode == PriorInputMode.LEARNED:
            mid = max(num_maps // 2, 1)
            self.fuse = nn.Sequential(nn.Conv2d(num_maps, mid, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(mid, 1, 3, padding=1), nn.Sigmoid())

    def forward(self, frame: torch.Tensor, prior: torch.Tensor | None) -> torch.Tensor:
        if self.mode == PriorInputMode.NONE:
            return frame
        if prior is None:
            raise ValueError(f"prior input {self.mode!r} needs a prior map in the batch")
        if prior.shape[-2:] != frame.shape[-2:]:
            raise ValueError(f"prior map {tuple(prior.shape[-2:])} does not match the detector input "
                             f"{tuple(frame.shape[-2:])}; set prior.map_size = frame size * scale_factor")
        if self.mode == PriorInputMode.LEARNED:
            prior = self.fuse(prior)
        elif prior.shape[1] != 1:
            prior = prior.amax(dim=1, keepdim=True)
        return torch.cat([frame, prior.to(frame.dtype)], dim=1)
