"""Sample transforms that move pixels together with the key points and maps that describe them."""
from __future__ import annotations

import torch


def hflip_sample(sample: dict, flip_perm: torch.Tensor) -> dict:
    """Mirror a sample horizontally.

    Frames (C, H, W: source, driving and, when present, reference) and prior maps flip along W;
    normalised key points (K, 2) in [-1, 1] negate x and are re-ordered with ``flip_perm`` (so
    point k keeps its facial meaning);
    separate prior channels follow the same order; landmarks (68, 2) in pixels mirror and
    swap left/right; a backward flow (H, W, 2), true or measured (``guide``), flips and negates its x component.

    Not kornia.augmentation's horizontal flip: it mirrors key points but cannot re-order them by the
    landmarks' left/right permutation, nor turn a flow field's vectors.
    """
    out = dict(sample)
    for key in ("source", "driving", "reference"):
        if key in sample:
            out[key] = sample[key].flip(-1)
    prior = sample["prior"].flip(-1)
    out["prior"] = prior[flip_perm] if prior.shape[0] == len(flip_perm) and len(flip_perm) > 1 else prior
    kp = sample["keypoints"][flip_perm].clone()
    kp[:, 0] = -kp[:, 0]
    out["keypoints"] = kp
    if "landmarks" in sample:
        from megen.face.keypoints import FLIP_68

        width = sample["source"].shape[-1]
        lm = sample["landmarks"][torch.as_tensor(FLIP_68)].clone()
        lm[:, 0] = width - 1 - lm[:, 0]
        out["landmarks"] = lm
    for key in ("flow", "guide"):
        if key in sample:
            flow = sample[key].flip(-2).clone()
            flow[..., 0] = -flow[..., 0]
            out[key] = flow
    return out


def pixels_to_normalized(points: torch.Tensor, size: int) -> torch.Tensor:
    """Pixel (x, y) -> [-1, 1] coordinates of pixel centres (the align_corners=False convention)."""
    return (2.0 * points + 1.0) / size - 1.0


def normalized_to_pixels(points: torch.Tensor, size: int) -> torch.Tensor:
    return ((points + 1.0) * size - 1.0) / 2.0
