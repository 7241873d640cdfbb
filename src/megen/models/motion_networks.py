"""Motion families: FOMM key points + Jacobians, MRAA regions, and background motion.

Both families share one trunk (anti-aliased downsampling, prior input, hourglass, heatmap
head) and return the same dict, so the dense motion network and the generator never need
to know which family produced it::

    value     (B, K, 2)     key point / region centre in [-1, 1]
    jacobian  (B, K, 2, 2)  local affine (identity when not estimated)
    heatmap   (B, K, h, w)  softmax heatmaps (not for anchored FOMM key points)
    covar     (B, K, 2, 2)  region covariance (MRAA only)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from megen.models.blocks import AntiAliasInterpolation2d, DownBlock2d, Hourglass
from megen.models.choices import BackgroundMode, KeypointMode, RegionShape
from megen.models.motion import at_least_fp32, full_precision, heatmap_covariance, heatmap_mean, motion_dtype
from megen.models.prior_input import PriorInput
from megen.models.tracking import lucas_kanade, to_gray

#: learned: key point = heatmap mean (FOMM / MRAA).
#: anchored: the clip's onset prior key points plus offsets regressed from the frame.
#: landmarks: the onset prior key points tracked onto the frame (Lucas-Kanade against the clip's
#:     onset frame) plus a learned residual offset, so driving key points move with the face.
#: reference: the paper's public code: the onset points themselves for every frame (no displacement,
#:     all motion from the Jacobians); kept for faithful reproduction and ablation.
ANCHORED_MODES = (KeypointMode.ANCHORED, KeypointMode.LANDMARKS, KeypointMode.REFERENCE)
OFFSET_MODES = (KeypointMode.ANCHORED, KeypointMode.LANDMARKS)     # anchored modes with a learned offset head


def tracking_radius(width: int) -> int:
    """The Lucas-Kanade window's half-width for a face crop ``width`` px wide: 6 % of the crop (a face
    unit: 4 px at 64, 15 px at 256), a patch of face texture around each key point."""
    return max(2, round(0.06 * int(width)))


def track_anchors(frame: torch.Tensor, reference: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """(B, K, 2) displacement, [-1, 1] units, of the onset ``anchors`` from ``reference`` (B, C, H, W) to
    ``frame``, the window ``tracking_radius`` of the frame width. Tracking is not learned, so no gradient
    flows through it. (A missing reference is refused earlier, by the trunk that sees it too.) The same
    call on the frames' full-resolution crops tracks where the motion is visible
    (``megen.animation.animate``), in the same units."""
    radius = tracking_radius(int(frame.shape[-1]))   # a Python int also when traced for export
    with torch.no_grad():
        return lucas_kanade(to_gray(frame), to_gray(reference), anchors, radius_px=radius)


def _check_anchors(keypoints, k: int, mode: str) -> None:
    if keypoints is None or keypoints.shape[1] != k:
        raise ValueError(f"{mode} mode needs (B, {k}, 2) prior key points, got "
                         f"{None if keypoints is None else tuple(keypoints.shape)}")


class HeatmapTrunk(nn.Module):
    """Frame (+ reference difference) (+ prior) -> K softmax heatmaps at ``scale_factor`` and the features.

    With ``reference_input`` the network also sees ``frame - reference`` (the clip's onset frame):
    the temporal difference is where micro-motion is visible at all, a few pixels at most.
    """

    def __init__(self, num_kp: int, num_channels: int = 3, block_expansion: int = 32, max_features: int = 256,
                 num_blocks: int = 4, temperature: float = 0.1, scale_factor: float = 0.25,
                 prior_input: str = "concat", prior_maps: int = 1, reference_input: bool = False,
                 heatmaps: bool = True):
        super().__init__()
        self.down = AntiAliasInterpolation2d(num_channels, scale_factor)
        self.prior = PriorInput(prior_input, prior_maps)
        self.reference_input = reference_input
        in_channels = num_channels * (2 if reference_input else 1) + self.prior.extra_channels
        self.hourglass = Hourglass(in_channels, block_expansion, num_blocks, max_features)
        # without heatmaps (anchored key points) the trunk only gives features: no parameters
        # that no loss reaches, which distributed training would refuse
        self.head = nn.Conv2d(self.hourglass.out_channels, num_kp, kernel_size=7, padding=3) if heatmaps else None
        self.temperature = temperature
        self.num_kp = num_kp

    def forward(self, image: torch.Tensor, prior: torch.Tensor | None = None, reference: torch.Tensor | None = None):
        x = self.down(image)
        if self.reference_input:
            if reference is None:
                raise ValueError("this key-point mode tracks the onset: it needs the clip's reference (onset) frame")
            # amplified: micro-motion changes a pixel by a few gray levels
            x = torch.cat([x, 10.0 * (x - self.down(reference))], dim=1)
        x = self.prior(x, prior)
        features = self.hourglass(x)
        if self.head is None:
            return None, features
        logits = self.head(features)
        b, k, h, w = logits.shape
        # in float32 under bf16 autocast too: the key points are the heatmaps' means
        heatmap = F.softmax(at_least_fp32(logits).flatten(2) / self.temperature, dim=2).view(b, k, h, w)
        return heatmap, features


class AnchorOffsetHead(nn.Module):
    """Offsets and local affine corrections of key points anchored at given positions.

    Features (B, F, h, w) are sampled on a ``patch`` x ``patch`` neighbourhood (feature pixels)
    around each anchor (B, K, 2); one linear map shared by all key points turns the patch into an
    offset (B, K, 2) (at most ``max_offset`` in [-1, 1] units) and a Jacobian (B, K, 2, 2). It
    starts at zero offset and identity Jacobian, i.e. at the anchors themselves.
    """

    def __init__(self, features: int, patch: int = 5, max_offset: float = 0.2):
        super().__init__()
        self.patch, self.max_offset = patch, max_offset
        self.linear = nn.Linear(features * patch * patch, 6)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, features: torch.Tensor, anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, f, h, w = features.shape
        k = anchors.shape[1]
        r = torch.arange(self.patch, dtype=anchors.dtype, device=anchors.device) - (self.patch - 1) / 2
        step = torch.stack(torch.meshgrid(r * 2 / w, r * 2 / h, indexing="xy"), dim=-1).reshape(-1, 2)  # (P, 2)
        where = anchors[:, :, None, :] + step                                          # (B, K, P, 2)
        patch = F.grid_sample(features, where, mode="bilinear", padding_mode="border", align_corners=False)
        out = at_least_fp32(self.linear(patch.permute(0, 2, 1, 3).reshape(b, k, -1)))   # (B, K, 6)
        offset = self.max_offset * torch.tanh(out[..., :2] / self.max_offset)
        eye = torch.eye(2, dtype=out.dtype, device=out.device)
        return offset, eye + out[..., 2:].reshape(b, k, 2, 2)


class KeypointDetector(nn.Module):
    """FOMM key points with local Jacobians.

    Modes (``KeypointMode``): ``learned`` key point = heatmap mean, Jacobian weighted by the
    heatmap; ``anchored`` the onset prior key points plus a learned offset and Jacobian read from
    the features around them; ``landmarks`` the same after tracking the onset points onto the
    frame (the network also sees the frame's difference from the onset); ``reference`` the prior
    key points unchanged, heatmap-weighted Jacobians.
    """

    def __init__(self, num_kp: int = 10, mode: KeypointMode = KeypointMode.LEARNED, estimate_jacobian: bool = True,
                 **trunk):
        super().__init__()
        mode = KeypointMode.parse(mode, "prior.keypoint_mode")
        self.mode, self.num_kp = mode, num_kp
        with_offsets = mode in OFFSET_MODES
        self.trunk = HeatmapTrunk(num_kp, reference_input=mode == KeypointMode.LANDMARKS, heatmaps=not with_offsets, **trunk)
        channels = self.trunk.hourglass.out_channels
        self.anchor_head = AnchorOffsetHead(channels) if with_offsets else None
        self.jacobian = None
        if estimate_jacobian and self.anchor_head is None:
            self.jacobian = nn.Conv2d(channels, 4 * num_kp, kernel_size=7, padding=3)
            nn.init.zeros_(self.jacobian.weight)
            self.jacobian.bias.data.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0]).repeat(num_kp))
        self.estimate_jacobian = estimate_jacobian

    def forward(self, image, prior=None, keypoints=None, reference=None, tracked=None) -> dict:
        """``tracked`` (B, K, 2): the anchors' displacement measured elsewhere (at the driving clip's own
        resolution), used in ``landmarks`` mode instead of tracking on ``image``."""
        heatmap, features = self.trunk(image, prior, reference)
        b, k = image.shape[0], self.num_kp
        dtype = motion_dtype(features.dtype)       # float32 under bf16 autocast: coordinates need its mantissa
        eye = torch.eye(2, device=image.device, dtype=dtype).expand(b, k, 2, 2)
        if self.mode in ANCHORED_MODES:
            _check_anchors(keypoints, k, self.mode)
        if self.anchor_head is not None:
            anchors = keypoints.to(dtype)
            if self.mode == KeypointMode.LANDMARKS:
                anchors = anchors + (track_anchors(image, reference, anchors) if tracked is None else tracked.to(dtype))
            offset, jacobian = self.anchor_head(features, anchors)
            return {"value": anchors + offset, "jacobian": jacobian if self.estimate_jacobian else eye}
        h, w = heatmap.shape[2:]
        value = keypoints.to(heatmap.dtype) if self.mode == KeypointMode.REFERENCE else heatmap_mean(heatmap)
        out = {"value": value, "heatmap": heatmap, "jacobian": eye}
        if self.jacobian is not None:
            jac = self.jacobian(features).view(b, k, 4, h, w)
            out["jacobian"] = (jac * heatmap[:, :, None]).sum(dim=(3, 4)).view(b, k, 2, 2)
        return out


@full_precision
def region_affine(heatmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Heatmaps (B, K, h, w) -> region centres (B, K, 2), covariances (B, K, 2, 2) and shapes
    U diag(sqrt(s)) (B, K, 2, 2) from the covariance's SVD, column signs fixed so that an axis never
    flips between frames."""
    mean = heatmap_mean(heatmap)
    covar = heatmap_covariance(heatmap, mean)
    u, s, _ = torch.linalg.svd(covar)
    sign = torch.sign(u[..., 0:1, :]).masked_fill(u[..., 0:1, :] == 0, 1.0)
    return mean, covar, (u * sign) * s.clamp_min(1e-8).sqrt()[..., None, :]


class RegionPredictor(nn.Module):
    """MRAA regions: centre = heatmap mean, affine = U diag(sqrt(s)) from the covariance's SVD.

    In the anchored modes the centre is the prior key point (plus a learned offset, as for
    key points). The region's shape comes from its heatmap: the frame's own, or in ``landmarks``
    mode with ``region_shape="onset"`` the onset frame's (the ``reference`` input), corrected per
    frame by the learned head. Shapes taken from each frame's heatmaps differ between two frames of
    a clip by more than a micro-expression moves, so their relative affine is noise that swamps the
    motion; the onset's shape is the same for every frame of the clip and cancels in it.
    """

    def __init__(self, num_kp: int = 10, mode: KeypointMode = KeypointMode.LEARNED,
                 region_shape: RegionShape = RegionShape.FRAME, **trunk):
        super().__init__()
        mode = KeypointMode.parse(mode, "prior.keypoint_mode")
        region_shape = RegionShape.parse(region_shape, "model.motion.region_shape")
        self.mode, self.num_kp, self.region_shape = mode, num_kp, region_shape
        self.trunk = HeatmapTrunk(num_kp, reference_input=mode == KeypointMode.LANDMARKS, **trunk)
        self.anchor_head = (AnchorOffsetHead(self.trunk.hourglass.out_channels)
                            if mode in OFFSET_MODES else None)

    def forward(self, image, prior=None, keypoints=None, reference=None, tracked=None) -> dict:
        """``tracked`` as for :class:`KeypointDetector`."""
        heatmap, features = self.trunk(image, prior, reference)
        mean, covar, affine = region_affine(heatmap)
        value = mean
        if self.mode in ANCHORED_MODES:
            _check_anchors(keypoints, self.num_kp, self.mode)
            value = keypoints.to(mean.dtype)
        if self.mode == KeypointMode.LANDMARKS:
            value = value + (track_anchors(image, reference, value) if tracked is None else tracked.to(value.dtype))
            if self.region_shape == RegionShape.ONSET:
                # the onset frame is often the image itself (the source of a training pair): one pass
                onset = heatmap if torch.equal(image, reference) else self.trunk(reference, prior, reference)[0]
                affine = region_affine(onset)[2]
        if self.anchor_head is not None:   # the corrected affine changes the region's shape too
            offset, correction = self.anchor_head(features, value)
            value, affine = value + offset, _matmul(correction, affine)
            covar = _matmul(affine, affine.transpose(-1, -2))
        return {"value": value, "jacobian": affine, "heatmap": heatmap, "covar": covar}


@full_precision
def _matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a @ b


class BackgroundMotionPredictor(nn.Module):
    """Global motion of the background from (source, driving): (B, 3, 3), identity at initialisation."""

    def __init__(self, mode: BackgroundMode = BackgroundMode.AFFINE, num_channels: int = 3, block_expansion: int = 32,
                 num_blocks: int = 4, max_features: int = 256):
        super().__init__()
        self.mode = mode = BackgroundMode.parse(mode, "model.background")
        layers, cin = [], 2 * num_channels
        for i in range(num_blocks):
            cout = min(max_features, block_expansion * 2 ** (i + 1))
            layers.append(DownBlock2d(cin, cout))
            cin = cout
        self.encoder = nn.Sequential(*layers)
        self.head = nn.Linear(cin, 6 if mode == BackgroundMode.AFFINE else 8)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, source, driving) -> torch.Tensor | None:
        if self.mode == BackgroundMode.NONE:
            return None
        feat = self.encoder(torch.cat([source, driving], dim=1)).mean(dim=(2, 3))
        params = at_least_fp32(self.head(feat))
        b = params.shape[0]
        eye = torch.eye(3, device=params.device, dtype=params.dtype).expand(b, 3, 3).clone()
        if self.mode == BackgroundMode.AFFINE:
            eye[:, :2, :] = eye[:, :2, :] + params.view(b, 2, 3)
        else:
            eye.view(b, 9)[:, :8] += params
        return eye
