"""Loss terms, each a pure function returning a scalar tensor."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from megen.models.motion import full_precision


def perceptual_pyramid(vgg, pyramid_real: dict, pyramid_fake: dict, weights) -> torch.Tensor:
    """Sum over scales and VGG layers of weight_i * mean |phi_i(real) - phi_i(fake)|."""
    total = 0.0
    for s in pyramid_real:
        real = vgg(pyramid_real[s])
        fake = vgg(pyramid_fake[s])
        for w, a, b in zip(weights, real, fake):
            total = total + w * (a.detach() - b).abs().mean()
    return total


def lsgan_generator(disc_fake: dict) -> torch.Tensor:
    return sum(((1 - scores) ** 2).mean() for _, scores in disc_fake.values())


def lsgan_discriminator(disc_real: dict, disc_fake: dict) -> torch.Tensor:
    return sum(((1 - disc_real[s][1]) ** 2).mean() + (disc_fake[s][1] ** 2).mean() for s in disc_real)


def feature_matching(disc_real: dict, disc_fake: dict, weights) -> torch.Tensor:
    total = 0.0
    for s in disc_real:
        for w, a, b in zip(weights, disc_real[s][0], disc_fake[s][0]):
            total = total + w * (a.detach() - b).abs().mean()
    return total


def equivariance_value(kp: torch.Tensor, kp_transformed: torch.Tensor, transform) -> torch.Tensor:
    """|kp(X) - T(kp(T(X)))|: key points move with the frame (FOMM value / MRAA shift)."""
    return (kp - transform.warp_coordinates(kp_transformed)).abs().mean()


@full_precision
def equivariance_jacobian(jac: torch.Tensor, jac_transformed: torch.Tensor, kp_transformed: torch.Tensor,
                          transform) -> torch.Tensor:
    """|I - J(X)^-1 dT J(T(X))| (FOMM Jacobian / MRAA affine equivariance)."""
    moved = transform.jacobian(kp_transformed) @ jac_transformed
    eye = torch.eye(2, dtype=jac.dtype, device=jac.device)
    return (eye - torch.inverse(jac) @ moved).abs().mean()


def _normalised_target(true_flow_px: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, H, W, 2) backward flow in frame pixels -> (B, h, w, 2) displacement in [-1, 1] units."""
    h, w = size
    H, W = true_flow_px.shape[1:3]
    flow = F.interpolate(true_flow_px.permute(0, 3, 1, 2), size=(h, w), mode="bilinear", align_corners=False)
    return flow.permute(0, 2, 3, 1) * torch.tensor([2.0 / W, 2.0 / H], dtype=flow.dtype, device=flow.device)


def deformation_error(deformation: torch.Tensor, true_displacement: torch.Tensor, normalise: bool = False,
                      floor_px: float = 0.05) -> torch.Tensor:
    """L1 between a (B, h, w, 2) deformation and grid + (B, h, w, 2) true displacement ([-1, 1] units).

    ``normalise`` divides by the L1 of the true displacement itself (floored at ``floor_px``
    pixels of the (h, w) grid per component): predicting no motion then costs 1 however small the
    motion, instead of a vanishing amount that lets micro-motion collapse to zero flow.
    """
    from megen.models.motion import coordinate_grid

    h, w = deformation.shape[1:3]
    grid = coordinate_grid(h, w, dtype=deformation.dtype, device=deformation.device)
    error = (deformation - grid - true_displacement).abs()
    if not normalise:
        return error.mean()
    floor = floor_px * 2.0 / max(h, w)
    return error.sum() / (true_displacement.abs().sum() + floor * true_displacement.numel())


def flow_supervision(deformation: torch.Tensor, true_flow_px: torch.Tensor, normalise: bool = False) -> torch.Tensor:
    """L1 between the predicted deformation and the true backward flow, both in [-1, 1] units.

    deformation (B, h, w, 2) at the dense-motion resolution; true_flow_px (B, H, W, 2) in frame
    pixels, resized to (h, w) and converted to normalised displacement. ``normalise``: see
    :func:`deformation_error`.
    """
    return deformation_error(deformation, _normalised_target(true_flow_px, deformation.shape[1:3]), normalise)


def equivariance_flow(deformation: torch.Tensor, transform) -> torch.Tensor:
    """Normalised L1 between the deformation predicted for the pair (X -> T(X)) and T's own, exact one.

    A pixel z of T(X) shows X at T(z), so the true deformation is T(z) itself: a flow target
    known exactly on any dataset, real or synthetic.
    """
    from megen.models.motion import coordinate_grid

    b, h, w, _ = deformation.shape
    grid = coordinate_grid(h, w, dtype=deformation.dtype, device=deformation.device)
    target = transform.warp_coordinates(grid.reshape(1, -1, 2).expand(b, -1, -1)).view(b, h, w, 2)
    return deformation_error(deformation, (target - grid).detach(), normalise=True)


def keypoint_flow(kp_source: torch.Tensor, kp_driving: torch.Tensor, true_flow_px: torch.Tensor,
                  floor_px: float = 0.05) -> torch.Tensor:
    """Key points follow the true motion: |kp_s - (kp_d + flow(kp_d))|, normalised by |flow(kp_d)|.

    kp (B, K, 2) in [-1, 1]; true_flow_px (B, H, W, 2) backward flow in frame pixels (driving pixel
    z shows the source at z + flow(z)). A direct signal to the key-point network that does not
    pass through the dense-motion masks, so it survives a collapse of the masks to the background.
    """
    b, h, w, _ = true_flow_px.shape
    scale = torch.tensor([2.0 / w, 2.0 / h], dtype=kp_driving.dtype, device=kp_driving.device)
    where = kp_driving.detach()[:, :, None, :]
    flow = F.grid_sample(true_flow_px.permute(0, 3, 1, 2), where, mode="bilinear", align_corners=False,
                         padding_mode="border")[..., 0].permute(0, 2, 1) * scale  # (B, K, 2)
    error = (kp_source - kp_driving - flow).abs()
    return error.sum() / (flow.abs().sum() + floor_px * float(scale[0]) * flow.numel())


def warp_loss(target_features: list, warped_features: list) -> torch.Tensor:
    """TPSMM's warp loss: sum over scales of mean |features(driving) - warp(features(source))|.

    Both lists coarse to fine, (B, F_s, H_s, W_s) each, occluded alike; only the deformation carries
    gradient (see ``MultiScaleOcclusionGenerator``), so it is a feature-space motion loss.
    """
    return sum((t - w).abs().mean() for t, w in zip(target_features, warped_features))


@full_precision
def background_cycle(source_to_driving: torch.Tensor, driving_to_source: torch.Tensor) -> torch.Tensor:
    """TPSMM's background loss: mean |I - B(s, d) B(d, s)| of (B, 3, 3) background transforms.

    The background motion predicted one way must undo the one predicted the other way.
    """
    eye = torch.eye(3, dtype=source_to_driving.dtype, device=source_to_driving.device)
    return (eye - source_to_driving @ driving_to_source).abs().mean()
