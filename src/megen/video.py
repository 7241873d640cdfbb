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


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif")


def is_image(path: Path) -> bool:
    """A visible file with an image suffix (any case)."""
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def numeric_key(path: Path):
    """Sort key: the digit runs of a file name as numbers (img9 before img10)."""
    import re

    parts = re.split(r"(\d+)", Path(path).stem)
    return [int(p) if p.isdigit() else p.lower() for p in parts]


def frame_paths(folder) -> list[Path]:
    """Image files of a folder, sorted numerically; error names the folder when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"frame folder not found: {folder}")
    paths = sorted((p for p in folder.iterdir() if is_image(p)), key=numeric_key)
    if not paths:
        raise ValueError(f"no image frames ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return paths


class ImageReadError(OSError):
    """An image file could not be read or decoded (the message names it)."""


def read_image(path) -> np.ndarray:
    """An image file as (H, W) or (H, W, 3|4) RGB(A) array, any bit depth; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"cannot read image {path} (file missing)")
    data = np.fromfile(str(path), dtype=np.uint8)   # decoding from memory also copes with non-ASCII paths
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error as err:
        raise ImageReadError(f"cannot read image {path}: {err}") from err
    if image is None:
        raise ImageReadError(f"cannot read image {path} (empty, truncated or not an image)")
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return image


def read_video(path) -> tuple[list[np.ndarray], float]:
    """All frames (RGB uint8) and the frame rate of a video file; errors name the file."""
    import imageio.v2 as imageio

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    try:
        reader = imageio.get_reader(str(path), format="gif" if path.suffix.lower() == ".gif" else "ffmpeg")
        meta = reader.get_meta_data()
        frames = [np.asarray(f)[..., :3] for f in reader]
        reader.close()
    except Exception as err:  # noqa: BLE001  (imageio/ffmpeg raise many types for bad files)
        raise ValueError(f"cannot read video {path}: {err}") from err
    if not frames:
        raise ValueError(f"video {path} has no frames")
    fps = float(meta.get("fps") or (1000.0 / meta["duration"] if meta.get("duration") else 0) or 0)
    return frames, fps


def write_video(path, frames: np.ndarray, fps: float) -> Path:
    """(T, H, W, 3) uint8 -> H.264 MP4 (even sizes), written atomically."""
    import imageio.v2 as imageio

    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    writer = imageio.get_writer(str(tmp), format="ffmpeg", fps=float(fps), codec="libx264", quality=9,
                                macro_block_size=1, pixelformat="yuv420p", ffmpeg_log_level="error")
    try:
        for f in frames:
            writer.append_data(np.ascontiguousarray(f))
    finally:
        writer.close()
    tmp.replace(path)
    return path


def write_gif(path, frames: np.ndarray, fps: float) -> Path:
    """(T, H, W, 3) uint8 -> looping GIF. GIF delays are whole 10 ms steps: 100 fps is the fastest."""
    from PIL import Image

    path = Path(path)
    images = [Image.fromarray(f) for f in frames]
    duration = max(10, int(round(1000.0 / fps / 10.0)) * 10)
    with atomic_open(path, "wb") as fh:
        images[0].save(fh, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0)
    return path
