"""Frames, contact sheets and difference images."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from megen.io import atomic_open


def to_uint8(images) -> np.ndarray:
    """(N, C, H, W) or (N, H, W) tensors/arrays in [0, 1] -> (N, H, W, 3) uint8."""
    x = images.detach().float().cpu().numpy() if torch.is_tensor(images) else np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[:, None]
    x = np.clip(x, 0.0, 1.0).transpose(0, 2, 3, 1)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return np.rint(x * 255.0).astype(np.uint8)


def difference(a, b, amplify: float = 10.0):
    """|a - b| * amplify, clipped to [0, 1] (micro-motion is invisible otherwise)."""
    return ((a - b).abs() * amplify).clamp(0.0, 1.0) if torch.is_tensor(a) else np.clip(np.abs(a - b) * amplify, 0, 1)


def contact_sheet(rows: list, pad: int = 2) -> np.ndarray:
    """Grid of image rows -> (H, W, 3) uint8; each row is (N, C, H, W) in [0, 1]."""
    rows = [to_uint8(r) for r in rows]
    n = max(len(r) for r in rows)
    h, w = rows[0].shape[1:3]
    sheet = np.full((len(rows) * (h + pad) + pad, n * (w + pad) + pad, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            sheet[y:y + h, x:x + w] = img
    return sheet


def write_png(path, image: np.ndarray) -> Path:
    """Write an (H, W, 3) RGB uint8 image losslessly and atomically."""
    path = Path(path)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"cannot encode PNG for {path}")
    with atomic_open(path, "wb") as fh:
        fh.write(buf.tobytes())
    return path
