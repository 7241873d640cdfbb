"""What a camera adds to a micro-expression clip that is not the face's motion: sensor noise, lossy
compression, illumination flicker and small rigid head motion.

The photometric nuisances act on rendered frames only, so the true flow stays exact; the head motion
is part of the true flow (``rigid_field``), as it is part of what an estimator must measure. Every
draw comes from the ``rng`` given, so a seeded generator gives the same frames.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Nuisance:
    """Per-frame nuisance levels (``dataset.nuisance.*``); zero switches each one off.

    ``noise``: sensor noise sd in gray levels (0-255); ``jpeg_quality``: JPEG quality of each frame
    (None: no JPEG); ``levels``: gray levels kept (a palette's compression: 32 in the published GIF
    renditions of real clips; None: all 256); ``dither``: reach those levels by Floyd-Steinberg error
    diffusion, as those renditions do, instead of rounding each pixel alone; ``flicker``: sd of the
    per-frame illumination gain (0.01 = 1 %), with an offset of the same relative sd; ``shading``: sd of a
    smooth gain field of the frame's own (0.01 = 1 %, varying over a sixteenth of the frame: light on a face
    that turns); ``head_px``: sd of the rigid head translation per frame, pixels of a 256-px face (a rotation
    of the same size at the face's edge comes with it).
    """

    noise: float = 0.0
    jpeg_quality: int | None = None
    flicker: float = 0.0
    head_px: float = 0.0
    levels: int | None = None
    dither: bool = False
    shading: float = 0.0

    def __post_init__(self):
        for name in ("noise", "flicker", "head_px", "shading"):
            if getattr(self, name) < 0:
                raise ValueError(f"nuisance.{name} must be >= 0, got {getattr(self, name)}")
        if self.jpeg_quality is not None and not 1 <= int(self.jpeg_quality) <= 100:
            raise ValueError(f"nuisance.jpeg_quality must be in 1-100 or null, got {self.jpeg_quality}")
        if self.levels is not None and not 2 <= int(self.levels) <= 256:
            raise ValueError(f"nuisance.levels must be in 2-256 or null, got {self.levels}")

    @property
    def photometric(self) -> bool:
        return (self.noise > 0 or self.flicker > 0 or self.shading > 0 or self.jpeg_quality is not None
                or self.levels is not None)


def draw_flicker(nuisance: Nuisance, rng: np.random.Generator) -> tuple[float, float]:
    """One frame's illumination (gain, offset in gray levels): ``flicker`` sd of the gain, and of the offset
    relative to mid-gray."""
    if nuisance.flicker <= 0:
        return 1.0, 0.0
    return float(rng.normal(1.0, nuisance.flicker)), float(rng.normal(0.0, nuisance.flicker * 128.0))


def photometric(frame: np.ndarray, nuisance: Nuisance, rng: np.random.Generator,
                flicker: tuple[float, float] | None = None) -> np.ndarray:
    """One rendered frame (H, W) float in [0, 255] -> (H, W) uint8 as the camera delivers it: illumination
    gain and offset (``flicker``, drawn unless given: the same frame rendered at two sizes shares it), a smooth
    gain field (``shading``), sensor noise, quantisation to 256 or ``levels`` gray levels (error-diffused with
    ``dither``), then JPEG at ``jpeg_quality``."""
    gain, offset = draw_flicker(nuisance, rng) if flicker is None else flicker
    x = np.asarray(frame, np.float64) * gain + offset
    if nuisance.shading > 0:
        x = x * (1.0 + shading_field(x.shape, nuisance.shading, rng))
    if nuisance.noise > 0:
        x = x + rng.normal(0.0, nuisance.noise, x.shape)
    if nuisance.levels is not None and nuisance.dither:
        out = diffuse(np.clip(np.rint(x), 0, 255).astype(np.uint8), int(nuisance.levels))
    else:
        if nuisance.levels is not None:
            step = 256.0 / int(nuisance.levels)
            x = (np.floor(np.clip(x, 0, 255.999) / step) + 0.5) * step
        out = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    if nuisance.jpeg_quality is not None:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(nuisance.jpeg_quality)])
        out = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    return out


def shading_field(shape: tuple[int, int], sd: float, rng: np.random.Generator) -> np.ndarray:
    """(H, W) smooth relative gain change of sd ``sd``: white noise blurred over a sixteenth of the frame's width
    (16 px of a 256-px face, the scale of a cheek's shading as the head turns), scaled to that sd."""
    field = cv2.GaussianBlur(rng.normal(size=shape), (0, 0), shape[1] / 16.0, borderType=cv2.BORDER_REFLECT101)
    return field * (sd / max(float(field.std()), 1e-12))


def diffuse(frame: np.ndarray, levels: int) -> np.ndarray:
    """(H, W) uint8 -> (H, W) uint8 of ``levels`` evenly spaced gray levels (the bins' centres), each pixel's
    rounding error carried to its unvisited neighbours (Floyd-Steinberg), as a GIF encoder's palette does: a
    smooth gradient becomes a fine pattern of the two nearest levels, and a sub-pixel motion reshuffles it."""
    from PIL import Image

    step = 256.0 / levels
    values = np.clip(np.rint((np.arange(levels) + 0.5) * step), 0, 255).astype(np.uint8)
    # 256 entries: the unused ones repeat the first level, so no pixel can map to a colour outside the levels
    table = np.concatenate([values, np.full(256 - levels, values[0], np.uint8)])
    palette = Image.new("P", (1, 1))
    palette.putpalette(np.repeat(table, 3).tolist())
    # through RGB: Pillow quantises an L image to a palette by taking its values as indices
    rgb = Image.fromarray(frame, "L").convert("RGB")
    indices = rgb.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)
    return table[np.asarray(indices)]


def rigid_field(size: int, centre, shift_px, angle_rad: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """Backward field (size, size, 2) float32 of a rigid head motion: frame pixel p shows the reference at
    ``centre + scale * R(angle) (p - centre) + shift_px`` (pixels of this frame)."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    c, s = np.cos(angle_rad) * scale, np.sin(angle_rad) * scale
    dx, dy = xs - centre[0], ys - centre[1]
    qx, qy = centre[0] + c * dx - s * dy + shift_px[0], centre[1] + s * dx + c * dy + shift_px[1]
    return np.stack([qx - xs, qy - ys], axis=-1).astype(np.float32)


def draw_head_motion(rng: np.random.Generator, size: int, centre, head_px: float) -> np.ndarray:
    """A rigid head motion of ``head_px`` sd (pixels of a 256-px face) on a ``size`` frame: translation and a
    rotation whose displacement at half the frame is of the same size; (size, size, 2) backward field."""
    px = head_px * size / 256.0
    angle = rng.normal(0.0, px / (size / 2.0))
    return rigid_field(size, centre, rng.normal(0.0, px, 2), angle)


__all__ = ["Nuisance", "draw_flicker", "draw_head_motion", "photometric", "rigid_field"]
