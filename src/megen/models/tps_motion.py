"""The thin-plate-spline motion family (TPSMM, CVPR 2022) on megen's shared networks.

K TPS transforms, each fitted to 5 control points between the driving and the source frame,
plus a background transform (identity, or affine), are combined by softmax masks into one dense
deformation; the same network predicts one occlusion map per generator scale. The key points come
from the shared key-point network (:class:`~megen.models.motion_networks.KeypointDetector`
without Jacobians): heatmap means in ``learned`` mode (TPSMM regresses them with a ResNet-18
instead; soft-argmax points are translation-equivariant to a fraction of a pixel, which is the
scale of micro-motion), or the onset's prior key points (``anchored`` / ``landmarks``), grouped
five by five by ``TPS_GROUPS``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from megen.models.blocks import AntiAliasInterpolation2d, Hourglass, UpBlock2d
from megen.models.choices import BackgroundMode, KeypointMode
from megen.models.motion import apply_homography, at_least_fp32, coordinate_grid, gaussian_heatmaps, warp
from megen.models.motion_networks import BackgroundMotionPredictor
from megen.models.tps import tps_apply, tps_fit

#: Control-point groups of each prior key-point set (indices into the set, five per transform),
#: one group per facial region, for ``prior.keypoint_mode=anchored|landmarks``. Groups may share
#: points; each spans two dimensions so that its spline is well posed. dlib numbering in comments,
#: "left" meaning the image's left.
TPS_GROUPS: dict[str, list[list[int]]] = {
    # 0:19 1:24 2:27 3:38 4:41 5:43 6:46 7:48 8:54 9:55 10:57 11:59 12:31-e/2 13:35+e/2 14:41+e/2 down
    # 15:46+e/2 down 16:48-e/2 17:54+e/2
    "paper18": [
        [0, 2, 3, 4, 14],        # left brow, lids and cheek (AU1/2/4/5/6/7)
        [1, 2, 5, 6, 15],        # right brow, lids and cheek
        [0, 1, 2, 3, 5],         # both brows over the nose root (AU1/2/4)
        [2, 12, 13, 14, 15],     # nose and cheeks (AU6/9)
        [7, 16, 11, 10, 12],     # left mouth corner (AU12/14/15/20)
        [8, 17, 9, 10, 13],      # right mouth corner
        [7, 8, 9, 10, 11],       # lips (AU10/16/25)
    ],
    # 50 landmarks, no jaw but the chin: 10 groups, like the MEGC 2022 winner's 50 control points
    "all68": [
        [17, 18, 19, 20, 21],    # left brow
        [22, 23, 24, 25, 26],    # right brow
        [36, 37, 38, 40, 41],    # left eye
        [43, 44, 45, 46, 47],    # right eye
        [27, 28, 29, 39, 42],    # nose bridge and inner eye corners
        [30, 31, 32, 34, 35],    # nose tip and wings
        [48, 49, 59, 60, 67],    # left mouth corner
        [54, 53, 55, 64, 65],    # right mouth corner
        [50, 51, 52, 62, 33],    # upper lip under the nose
        [56, 57, 58, 66, 8],     # lower lip and chin
    ],
    # 0:17 1:19 2:21 3:22 4:24 5:26 6:37 7:38 8:40 9:41 10:43 11:44 12:46 13:47 14:41+.75e down
    # 15:46+.75e down 16:27 17:31 18:35 19:48 20:54 21:51 22:57 23:8
    "au24": [
        [0, 1, 2, 6, 7],         # left brow and upper lid (AU1/2/4/5)
        [3, 4, 5, 10, 11],       # right brow and upper lid
        [6, 7, 8, 9, 14],        # left lids and cheek (AU6/7)
        [10, 11, 12, 13, 15],    # right lids and cheek
        [2, 3, 16, 17, 18],      # glabella and nose (AU4/9)
        [19, 17, 21, 22, 14],    # left mouth corner (AU12/14/15/20)
        [20, 18, 21, 22, 15],    # right mouth corner
        [19, 20, 21, 22, 23],    # lips and chin (AU17/25)
    ],
}


def tps_groups(keypoint_mode: KeypointMode, num_tps: int, keypoints: str) -> torch.Tensor:
    """(K, 5) indices of each transform's control points among the motion network's points.

    ``learned``: K = ``num_tps`` disjoint groups of learned points. With prior key points: the
    set's groups (``TPS_GROUPS``), whatever ``num_tps`` says.
    """
    keypoint_mode = KeypointMode.parse(keypoint_mode, "prior.keypoint_mode")
    if keypoint_mode == KeypointMode.LEARNED:
        return torch.arange(5 * int(num_tps)).view(int(num_tps), 5)
    if keypoint_mode == KeypointMode.REFERENCE:
        raise ValueError("keypoint_mode 'reference' keeps the onset points on every frame and TPS has no Jacobians "
                         "to carry motion instead; use learned, anchored or landmarks with model=tps")
    if keypoints not in TPS_GROUPS:
        raise ValueError(f"no TPS control-point grouping for key-point set {keypoints!r}; "
                         f"valid: {', '.join(sorted(TPS_GROUPS))}")
    return torch.tensor(TPS_GROUPS[keypoints])


def tps_dropout_p(epoch: int, until_epoch: int = 35, start_p: float = 0.1, max_p: float = 0.3,
                  ramp_epochs: float = 10) -> float:
    """TPSMM's drop probability of each transform at ``epoch``: ``min(epoch / ramp * max_p + start_p, max_p)``
    before ``until_epoch``, then 0 (its published schedule, formula as released)."""
    if epoch >= until_epoch:
        return 0.0
    return min(epoch / ramp_epochs * max_p + start_p, max_p)


def dropout_softmax(logits: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Softmax over dim 1 of (B, K+1, h, w) with each of the K transforms dropped, per sample, with
    probability ``p``; channel 0 (the background) is always kept, so every pixel keeps a motion.

    Dropping forces each transform to explain the motion it owns by itself instead of leaning on
    the others (TPSMM, Eq. 7-8)."""
    b, k1 = logits.shape[:2]
    keep = torch.rand(b, k1, generator=generator, device=logits.device) >= p
    keep[:, 0] = True
    return F.softmax(at_least_fp32(logits).masked_fill(~keep[:, :, None, None], float("-inf")), dim=1)


class TPSDenseMotionNetwork(nn.Module):
    """K TPS transforms + background -> softmax masks -> deformation, and multi-resolution occlusion.

    Same call as :class:`~megen.models.dense_motion.DenseMotionNetwork`: source (B, C, H, W), the
    motion dicts of source and driving (``value`` (B, P, 2) key points) and an optional (B, 3, 3)
    background transform. ``groups`` (K, 5) picks each transform's control points among the P.
    Output dict, at ``scale_factor`` resolution (h, w) unless stated::

        deformation     (B, h, w, 2)       where each driving pixel samples the source
        mask            (B, K+1, h, w)     softmax weights of the transforms (0 = background)
        sparse_motion   (B, K+1, h, w, 2)  each transform on the grid
        occlusion_maps  [(B, 1, H / 2**d, W / 2**d) for d = occlusion_levels - 1 ... 0], coarse to fine
        occlusion       the finest of them

    ``multi_mask`` gives each occlusion map its own head, on the hourglass level of that
    resolution (or on up-sampled features above the network's resolution); without it one map
    is resized to every scale. ``mask_prior`` / ``displacement_input`` as for the FOMM dense motion,
    with a transform's neighbourhood being that of its five driving points. ``dropout`` is a TPS
    dropout schedule (keys of :func:`tps_dropout_p`) applied while training, set by ``set_epoch``.
    """

    def __init__(self, groups: torch.Tensor, num_points: int, num_channels: int = 3, block_expansion: int = 32,
                 num_blocks: int = 4, max_features: int = 256, scale_factor: float = 0.25, kp_variance: float = 0.01,
                 occlusion_levels: int = 3, multi_mask: bool = True, regularisation: float = 1e-3,
                 mask_prior: bool = False, mask_prior_variance: float = 0.005, background_level: float = 0.5,
                 displacement_input: bool = False, dropout: dict | None = None):
        super().__init__()
        self.register_buffer("groups", torch.as_tensor(groups, dtype=torch.long), persistent=False)
        k = self.groups.shape[0]
        self.num_tps, self.scale_factor, self.kp_variance = k, float(scale_factor), kp_variance
        self.regularisation, self.multi_mask = regularisation, multi_mask
        self.mask_prior, self.mask_prior_variance, self.background_level = mask_prior, mask_prior_variance, background_level
        self.displacement_input = displacement_input
        self.dropout = dict(dropout) if dropout else None
        self.dropout_p = tps_dropout_p(0, **self.dropout) if self.dropout else 0.0
        self.down = AntiAliasInterpolation2d(num_channels, scale_factor)
        in_ch = (num_points + 1) + (k + 1) * (num_channels + (2 if displacement_input else 0))
        self.hourglass = Hourglass(in_ch, block_expansion, num_blocks, max_features)
        self.mask = nn.Conv2d(self.hourglass.out_channels, k + 1, kernel_size=7, padding=3)
        if mask_prior:   # start from the prior's masks exactly; learning refines them
            nn.init.zeros_(self.mask.weight)
            nn.init.zeros_(self.mask.bias)
        self.occlusion_levels = occlusion_levels
        self._build_occlusion(num_blocks)

    def _build_occlusion(self, num_blocks: int) -> None:
        """Heads for occlusion at frame scales 2**-d, d = levels-1 ... 0 (where each one reads its features)."""
        steps = math.log2(1.0 / self.scale_factor)
        if abs(steps - round(steps)) > 1e-6:
            raise ValueError(f"dense_motion.scale_factor must be a power of 1/2 for multi-resolution occlusion, "
                             f"got {self.scale_factor}")
        steps = int(round(steps))
        channels = self.hourglass.level_channels
        self.sources = []            # per map: ("level", index into the hourglass levels) or ("up", number of ups)
        if not self.multi_mask:
            self.sources = [("level", -1)]
        else:
            for d in reversed(range(self.occlusion_levels)):
                finer = steps - d         # > 0: above the hourglass's finest level, by that many 2x ups
                if finer <= 0 and -finer >= len(channels):
                    raise ValueError(f"dense_motion.num_blocks={num_blocks} gives no level at 1/{2 ** d} of the frame "
                                     f"for the generator's occlusion; use num_blocks >= {d - steps + 1}")
                self.sources.append(("up", finer) if finer > 0 else ("level", -1 + finer))
        n_up = max([n for kind, n in self.sources if kind == "up"], default=0)
        ups, c = [], channels[-1]
        for _ in range(n_up):
            ups.append(UpBlock2d(c, max(c // 2, 1)))
            c = max(c // 2, 1)
        self.up = nn.ModuleList(ups)
        self.occlusion = nn.ModuleList(
            nn.Conv2d(channels[n] if kind == "level" else max(channels[-1] // 2 ** n, 1), 1, kernel_size=7, padding=3)
            for kind, n in self.sources)

    def set_epoch(self, epoch: int) -> None:
        self.dropout_p = tps_dropout_p(epoch, **self.dropout) if self.dropout else 0.0

    def transformations(self, kp_source: torch.Tensor, kp_driving: torch.Tensor, size: tuple[int, int],
                        background: torch.Tensor | None = None) -> torch.Tensor:
        """(B, K+1, h, w, 2): the background transform (identity without one), then each TPS driving -> source."""
        h, w = size
        b = kp_driving.shape[0]
        grid = coordinate_grid(h, w, dtype=kp_driving.dtype, device=kp_driving.device).reshape(1, 1, -1, 2)
        control, target = kp_driving[:, self.groups], kp_source[:, self.groups]            # (B, K, 5, 2)
        weights, affine = tps_fit(control, target, self.regularisation)
        motions = tps_apply(grid, control, weights, affine).view(b, -1, h, w, 2)
        if background is None:
            bg = grid.view(1, h, w, 2).expand(b, -1, -1, -1)
        else:
            bg = apply_homography(background, grid.view(1, -1, 2).expand(b, -1, -1)).view(b, h, w, 2)
        return torch.cat([bg[:, None], motions], dim=1)

    def _near(self, kp_driving: torch.Tensor, size, variance: float) -> torch.Tensor:
        """(B, K, h, w): Gaussian nearness to the closest of each transform's driving points."""
        return gaussian_heatmaps(kp_driving, size, variance)[:, self.groups].amax(dim=2)

    def forward(self, source, motion_s: dict, motion_d: dict, background=None) -> dict:
        src = self.down(source)
        b, c, h, w = src.shape
        kp_s, kp_d = motion_s["value"], motion_d["value"]
        heat = gaussian_heatmaps(kp_d, (h, w), self.kp_variance) - gaussian_heatmaps(kp_s, (h, w), self.kp_variance)
        heat = torch.cat([torch.zeros_like(heat[:, :1]), heat], dim=1)                     # (B, P+1, h, w)
        motions = self.transformations(kp_s, kp_d, (h, w), background)                      # (B, K+1, h, w, 2)
        k1 = motions.shape[1]
        deformed = warp(src.repeat_interleave(k1, dim=0), motions.reshape(b * k1, h, w, 2)).view(b, k1, c, h, w)
        parts = [heat, deformed.flatten(1, 2)]
        if self.displacement_input:
            # displacement in pixels where each transform applies: at micro scale the warped
            # copies differ from the source by a few gray levels only
            near = torch.cat([torch.ones_like(heat[:, :1]), self._near(kp_d, (h, w), self.kp_variance)], dim=1)
            grid = coordinate_grid(h, w, dtype=motions.dtype, device=motions.device)
            shift = (motions - grid) * torch.tensor([w / 2.0, h / 2.0], dtype=motions.dtype, device=motions.device)
            parts.append((shift * near[..., None]).permute(0, 1, 4, 2, 3).flatten(1, 2))
        levels = self.hourglass(torch.cat(parts, dim=1), all_levels=True)
        logits = self.mask(levels[-1])
        if self.mask_prior:
            heat_k = self._near(kp_d, (h, w), self.mask_prior_variance)
            prior = torch.cat([torch.full_like(heat_k[:, :1], self.background_level), heat_k], dim=1)
            logits = logits + torch.log(prior + 1e-4)
        if self.training and self.dropout_p > 0:
            mask = dropout_softmax(logits, self.dropout_p)
        else:
            mask = F.softmax(at_least_fp32(logits), dim=1)     # float32 under bf16 autocast: it weights coordinates
        deformation = (mask[..., None] * motions).sum(dim=1)
        maps = self._occlusion_maps(levels, source.shape[2:])
        return {"deformation": deformation, "mask": mask, "sparse_motion": motions, "occlusion_maps": maps,
                "occlusion": maps[-1]}

    def _occlusion_maps(self, levels: list, frame_size) -> list:
        ups, x = [], levels[-1]
        for block in self.up:
            x = block(x)
            ups.append(x)
        maps = []
        for (kind, n), head in zip(self.sources, self.occlusion):
            maps.append(torch.sigmoid(head(levels[n] if kind == "level" else ups[n - 1])))
        if not self.multi_mask:
            one = maps[0]
            maps = [F.interpolate(one, size=(frame_size[0] // 2**d, frame_size[1] // 2**d), mode="bilinear",
                                  align_corners=False) for d in reversed(range(self.occlusion_levels))]
        return maps


class ScheduledBackground(BackgroundMotionPredictor):
    """Background transform that joins training at ``start_epoch`` (TPSMM's ``bg_start``): before it,
    training sees no background motion, so the key points learn the face's motion first. Always on
    outside training."""

    def __init__(self, mode: str = "affine", start_epoch: int = 0, **kw):
        super().__init__(mode, **kw)
        self.start_epoch, self.epoch = int(start_epoch), int(start_epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def forward(self, source, driving):
        if self.training and self.epoch < self.start_epoch:
            return None
        return super().forward(source, driving)


def build_tps_parts(model: dict, prior: dict):
    """(motion network, dense motion, generator, background or None) of ``model.family=tps``."""
    from megen.models.generator import MultiScaleOcclusionGenerator
    from megen.models.motion_networks import KeypointDetector

    mode = KeypointMode.parse(prior.get("keypoint_mode", KeypointMode.LEARNED), "prior.keypoint_mode")
    groups = tps_groups(mode, int(model.get("num_tps", 10)), prior.get("keypoints", "paper18"))
    prior_input = prior.get("input", "concat")
    num_points = 5 * groups.shape[0] if mode == KeypointMode.LEARNED else int(prior["num_keypoints"])
    prior_maps = int(prior["channels"])
    channels = int(model.get("num_channels", 3))
    motion_cfg = {k: v for k, v in dict(model["motion"]).items() if k != "estimate_jacobian"}
    motion = KeypointDetector(num_kp=num_points, mode=mode, estimate_jacobian=False, num_channels=channels,
                              prior_input=prior_input, prior_maps=prior_maps, **motion_cfg)
    gen_cfg = dict(model["generator"])
    dense = TPSDenseMotionNetwork(groups, num_points, num_channels=channels,
                                  occlusion_levels=int(gen_cfg.get("num_down_blocks", 2)) + 1,
                                  regularisation=float(model.get("tps_regularisation", 1e-3)),
                                  dropout=model.get("dropout"), **model["dense_motion"])
    generator = MultiScaleOcclusionGenerator(num_channels=channels, **gen_cfg)
    background = None
    if BackgroundMode.parse(model.get("background", BackgroundMode.NONE), "model.background") != BackgroundMode.NONE:
        background = ScheduledBackground(model["background"], int(model.get("background_start", 0)),
                                         num_channels=channels, **model.get("background_net", {}))
    return motion, dense, generator, background
