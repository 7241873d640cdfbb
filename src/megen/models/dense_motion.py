"""Dense motion: K+1 sparse motions -> softmax masks -> deformation and occlusion."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from megen.models.blocks import AntiAliasInterpolation2d, Hourglass
from megen.models.motion import at_least_fp32, coordinate_grid, gaussian_heatmaps, sparse_motions, warp


class DenseMotionNetwork(nn.Module):
    """Predict a dense deformation from two sets of key points / regions.

    Inputs: source (B, C, H, W) and the motion dicts of source and driving (see motion_networks).
    Output dict at ``scale_factor`` resolution (h, w)::

        deformation     (B, h, w, 2) where each driving pixel samples the source
        mask            (B, K+1, h, w) softmax weights of the sparse motions (0 = background)
        sparse_motion   (B, K+1, h, w, 2)
        occlusion       (B, 1, h, w) in [0, 1] (if estimated)

    ``mask_prior`` adds ``log(Gaussian at driving key point k + floor)`` to mask logit k and
    ``log(background_level)`` to the background's, so each key point's motion starts out owning its
    neighbourhood (variance ``mask_prior_variance`` in [-1, 1] units) and the rest is background.
    Without it the masks start uniform, and at micro-motion scale the cheapest early move is to
    hand every pixel to the identity (background) motion, after which the key points get almost
    no gradient: training collapses to zero flow.

    ``learn_masks=False`` (with ``mask_prior``) holds the mask network at zero, so the masks are the
    prior's Gaussians alone and the rest of the model (the key points' Jacobians) learns for them.
    """

    def __init__(self, num_kp: int, num_channels: int = 3, block_expansion: int = 32, num_blocks: int = 4,
                 max_features: int = 256, scale_factor: float = 0.25, kp_variance: float = 0.01,
                 estimate_occlusion: bool = True, mask_prior: bool = False, mask_prior_variance: float = 0.005,
                 background_level: float = 0.5, displacement_input: bool = False, learn_masks: bool = True):
        super().__init__()
        if not learn_masks and not mask_prior:
            raise ValueError("model.dense_motion.learn_masks=false needs model.dense_motion.mask_prior=true: "
                             "without the prior the held masks would be uniform")
        self.down = AntiAliasInterpolation2d(num_channels, scale_factor)
        self.displacement_input = displacement_input
        in_ch = (num_kp + 1) * (num_channels + 1 + (2 if displacement_input else 0))
        self.hourglass = Hourglass(in_ch, block_expansion, num_blocks, max_features)
        self.mask = nn.Conv2d(self.hourglass.out_channels, num_kp + 1, kernel_size=7, padding=3)
        self.occlusion = nn.Conv2d(self.hourglass.out_channels, 1, 7, padding=3) if estimate_occlusion else None
        self.kp_variance = kp_variance
        self.num_kp = num_kp
        self.mask_prior, self.mask_prior_variance, self.background_level = mask_prior, mask_prior_variance, background_level
        if mask_prior:   # start from the prior's masks exactly; learning refines them
            nn.init.zeros_(self.mask.weight)
            nn.init.zeros_(self.mask.bias)
        self.mask.requires_grad_(learn_masks)

    def _mask_prior(self, motion_d, size) -> torch.Tensor:
        """(B, K+1, h, w) additive mask logits: log-Gaussians at the driving key points, a constant for the background."""
        heat = gaussian_heatmaps(motion_d["value"], size, self.mask_prior_variance)
        bg = torch.full_like(heat[:, :1], self.background_level)
        return torch.log(torch.cat([bg, heat], dim=1) + 1e-4)

    def _displacements(self, motions, motion_d, size) -> torch.Tensor:
        """(B, K+1, 2, h, w) each sparse motion's displacement in pixels of the (h, w) grid, near its key point.

        Heatmap differences encode a key point's displacement only as a derivative-of-Gaussian
        whose amplitude shrinks with the displacement; at micro-motion scale it is lost in the
        noise, so the displacement itself is given, in pixels, where it applies.
        """
        h, w = size
        grid = coordinate_grid(h, w, dtype=motions.dtype, device=motions.device)
        near = gaussian_heatmaps(motion_d["value"], size, self.kp_variance)                      # (B, K, h, w)
        near = torch.cat([torch.ones_like(near[:, :1]), near], dim=1)
        shift = (motions - grid) * torch.tensor([w / 2.0, h / 2.0], dtype=motions.dtype, device=motions.device)
        return (shift * near[..., None]).permute(0, 1, 4, 2, 3)

    def _heatmaps(self, motion_s, motion_d, size):
        hs = gaussian_heatmaps(motion_s["value"], size, self.kp_variance, motion_s.get("covar"))
        hd = gaussian_heatmaps(motion_d["value"], size, self.kp_variance, motion_d.get("covar"))
        diff = hd - hs
        return torch.cat([torch.zeros_like(diff[:, :1]), diff], dim=1)          # (B, K+1, h, w)

    def forward(self, source, motion_s: dict, motion_d: dict, background=None) -> dict:
        src = self.down(source)
        b, c, h, w = src.shape
        heat = self._heatmaps(motion_s, motion_d, (h, w))
        motions = sparse_motions(motion_s["value"], motion_d["value"], motion_s.get("jacobian"),
                                 motion_d.get("jacobian"), (h, w), background)            # (B, K+1, h, w, 2)
        k1 = motions.shape[1]
        deformed = warp(src.repeat_interleave(k1, dim=0), motions.reshape(b * k1, h, w, 2)).view(b, k1, c, h, w)
        parts = [heat[:, :, None], deformed]
        if self.displacement_input:
            parts.append(self._displacements(motions, motion_d, (h, w)))
        x = torch.cat(parts, dim=2).view(b, -1, h, w)
        features = self.hourglass(x)
        logits = self.mask(features)
        if self.mask_prior:
            logits = logits + self._mask_prior(motion_d, (h, w))
        mask = F.softmax(at_least_fp32(logits), dim=1)      # float32 under bf16 autocast: it weights coordinates
        deformation = (mask[..., None] * motions).sum(dim=1)
        out = {"deformation": deformation, "mask": mask, "sparse_motion": motions}
        if self.occlusion is not None:
            out["occlusion"] = torch.sigmoid(at_least_fp32(self.occlusion(features)))
        return out
