"""Frames, contact sheets and difference images.

Tensors are handled by duck typing, not by importing torch: the commands read and check their
input files before the slow import of torch.
"""
from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import cv2
import numpy as np

from megen.runtime.io import atomic_open


def _is_tensor(x) -> bool:
    return hasattr(x, "detach") and hasattr(x, "cpu")


def to_uint8(images, gray_as_rgb: bool = True) -> np.ndarray:
    """(N, C, H, W) or (N, H, W) tensors/arrays in [0, 1] -> (N, H, W, 3) uint8; ``gray_as_rgb=False``: a
    one-channel clip stays one, (N, H, W)."""
    x = images.detach().float().cpu().numpy() if _is_tensor(images) else np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[:, None]
    # one new array, scaled and rounded in place (a clip's frames: three passes fewer over its floats), and the
    # channels moved last on the bytes
    x = np.clip(x, 0.0, 1.0)
    np.multiply(x, 255.0, out=x)
    np.rint(x, out=x)
    x = x.astype(np.uint8)
    if x.shape[1] == 1 and not gray_as_rgb:
        return x[:, 0]
    x = x.transpose(0, 2, 3, 1)
    return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x


def difference(a, b, amplify: float = 10.0):
    """|a - b| * amplify, clipped to [0, 1] (micro-motion is invisible otherwise)."""
    return ((a - b).abs() * amplify).clamp(0.0, 1.0) if _is_tensor(a) else np.clip(np.abs(a - b) * amplify, 0, 1)


_FONT, _SCALE, _THICK = cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1
_LINE_H = 14   # pixels per text line at _SCALE


def _text_width(text: str) -> int:
    return cv2.getTextSize(text, _FONT, _SCALE, _THICK)[0][0]


def _wrap(text: str, width: int) -> list[str]:
    """Split ``text`` into lines of at most ``width`` pixels, at '_', '-' or spaces where possible."""
    lines = []
    for para in str(text).split("\n"):
        line = ""
        for piece in re.findall(r"[^_\- ]+[_\- ]?|[_\- ]", para):
            if line and _text_width(line + piece) > width:
                lines.append(line)
                line = ""
            line += piece
        lines.append(line)
    return lines


def _put_lines(sheet: np.ndarray, lines: list[str], x: int, y: int) -> None:
    for k, line in enumerate(lines):
        cv2.putText(sheet, line, (x, y + (k + 1) * _LINE_H - 4), _FONT, _SCALE, (0, 0, 0), _THICK, cv2.LINE_AA)


def contact_sheet(rows: list, pad: int = 2, row_labels: list[str] | None = None,
                  column_labels: list[str] | None = None, title: str | None = None) -> np.ndarray:
    """Grid of image rows -> (H, W, 3) uint8; each row is (N, C, H, W) in [0, 1].

    ``row_labels`` (one per row) go in a margin on the left; ``column_labels`` above the
    columns, each spanning an equal group of them (so 4 labels over 12 columns label groups of 3);
    ``title`` on top. Long labels wrap at '_', '-' and spaces.
    """
    rows = [to_uint8(r) for r in rows]
    n = max(len(r) for r in rows)
    h, w = rows[0].shape[1:3]
    if row_labels is not None and len(row_labels) != len(rows):
        raise ValueError(f"{len(row_labels)} row labels for {len(rows)} rows")
    if column_labels is not None and (not column_labels or n % len(column_labels)):
        raise ValueError(f"{len(column_labels or [])} column labels do not divide {n} columns into equal groups")
    span = n // len(column_labels) if column_labels else 1
    left = max((_text_width(line) for label in row_labels or [] for line in str(label).split("\n")), default=-8) + 8
    top_lines = _wrap(title, n * (w + pad)) if title else []
    header = [_wrap(label, span * (w + pad) - 4) for label in column_labels or []]
    top = (len(top_lines) + max((len(x) for x in header), default=0)) * _LINE_H + (4 if top_lines or header else 0)
    sheet = np.full((top + len(rows) * (h + pad) + pad, left + n * (w + pad) + pad, 3), 255, np.uint8)
    _put_lines(sheet, top_lines, left + pad, 0)
    for g, lines in enumerate(header):
        _put_lines(sheet, lines, left + pad + g * span * (w + pad), len(top_lines) * _LINE_H)
    for i, row in enumerate(rows):
        y = top + pad + i * (h + pad)
        if row_labels is not None:
            lines = str(row_labels[i]).split("\n")
            _put_lines(sheet, lines, 4, y + max(0, (h - len(lines) * _LINE_H) // 2))
        for j, img in enumerate(row):
            x = left + pad + j * (w + pad)
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


def is_video_source(path) -> bool:
    """True where ``path`` names a video file or a folder of frames, not a single image."""
    path = Path(str(path))
    return path.is_dir() or path.suffix.lower() in VIDEO_SUFFIXES


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


#: EXIF orientation (tag 0x0112) -> how to turn the stored pixels upright, as numpy does it
_UPRIGHT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: np.swapaxes(a, 0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(np.swapaxes(a, 0, 1), 2),
    8: lambda a: np.rot90(a, 1),
}


def exif_orientation(path) -> int:
    """The EXIF orientation of an image file (1 = stored upright; also when it has no EXIF)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return int(im.getexif().get(0x0112, 1) or 1)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return 1


def read_image(path) -> np.ndarray:
    """An image file as (H, W) or (H, W, 3|4) RGB(A) array, any bit depth (CMYK converted to RGB), turned
    upright by its EXIF orientation as photo viewers show it; errors name the file."""
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
    # IMREAD_UNCHANGED (kept for alpha and 16 bits) ignores the EXIF orientation that cameras write
    upright = _UPRIGHT.get(exif_orientation(path))
    return np.ascontiguousarray(upright(image)) if upright else image


class VideoReadError(ValueError):
    """A video file could not be decoded (the message names it and says why, in one line)."""


#: ffmpeg's start-up banner: version, build configuration and library versions
_FFMPEG_BANNER = re.compile(r"^(ffmpeg version|built with|configuration:|lib\w+\s+\d|=== stderr ===)")


def _video_problem(err: Exception) -> str:
    """What went wrong, in one short line, from an imageio/ffmpeg error (which embeds ffmpeg's
    whole stderr, banner included: some 17 lines, one of them 2,500 characters)."""
    seen = []
    for raw in str(err).splitlines():
        line = re.sub(r"^\[[^\]]*\]\s*", "", raw.strip())          # "[in#0 @ 0x55..] moov atom not found"
        line = re.sub(r"^Error opening input( files?)?:\s*", "", line)
        if (not line or _FFMPEG_BANNER.match(line) or line.startswith("Error opening input file")
                or "misdetection possible" in line or line.startswith("Could not load meta")):
            continue
        if line.lower() not in (s.lower() for s in seen):
            seen.append(line)
    lines = str(err).strip().splitlines()
    text = "; ".join(seen) or (lines[0] if lines else type(err).__name__)
    return text if len(text) <= 200 else text[:197] + "..."


def read_video(path) -> tuple[list[np.ndarray], float]:
    """All frames (RGB uint8) and the frame rate of a video file; errors name the file in one line."""
    import imageio.v2 as imageio

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    if path.stat().st_size == 0:
        raise VideoReadError(f"cannot read video {path}: the file is empty")
    ffmpeg_log = logging.getLogger("imageio_ffmpeg")
    level = ffmpeg_log.level
    try:
        # imageio warns and logs on truncated streams; the one-line error below says it instead
        ffmpeg_log.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = imageio.get_reader(str(path), format="gif" if path.suffix.lower() == ".gif" else "ffmpeg")
            try:
                meta = reader.get_meta_data()
                frames = [np.asarray(f)[..., :3] for f in reader]
            finally:
                reader.close()
    except Exception as err:  # noqa: BLE001  (imageio/ffmpeg raise many types for bad files)
        raise VideoReadError(f"cannot read video {path} (corrupt, truncated or not a video): {_video_problem(err)}") from None
    finally:
        ffmpeg_log.setLevel(level)
    if not frames:
        raise VideoReadError(f"cannot read video {path}: it has no frames")
    fps = float(meta.get("fps") or (1000.0 / meta["duration"] if meta.get("duration") else 0) or 0)
    return frames, fps


class VideoWriteError(OSError):
    """A video could not be encoded (one line naming the file; the encoder's own output is in a log)."""


#: H.264 in yuv420p stores colour per 2x2 block: both sides must be even
H264_MULTIPLE = 2


def codec_padding(height: int, width: int, multiple: int = H264_MULTIPLE) -> tuple[int, int]:
    """Pixels to add at the bottom and the right so that both sides are multiples of ``multiple``."""
    return (-height) % multiple, (-width) % multiple


def pad_for_codec(frames: np.ndarray, multiple: int = H264_MULTIPLE) -> np.ndarray:
    """(T, H, W, 3) uint8 frames with their last row / column repeated up to even sides (no pixel moves
    and none is lost; cropping would drop a row of the face)."""
    bottom, right = codec_padding(frames.shape[1], frames.shape[2], multiple)
    if not (bottom or right):
        return frames
    return np.pad(frames, ((0, 0), (0, bottom), (0, right), (0, 0)), mode="edge")


def write_video(path, frames: np.ndarray, fps: float, log: Path | None = None) -> Path:
    """(T, H, W, 3) uint8 -> H.264 MP4, written atomically; odd sides are padded by one repeated pixel
    (``pad_for_codec``). ffmpeg's own output goes to ``log`` (default ``<path>.ffmpeg.log`` beside the
    video, removed when the encoder has nothing to say); a failure is one ``VideoWriteError`` line."""
    import subprocess

    import imageio_ffmpeg

    path = Path(path)
    frames = pad_for_codec(np.asarray(frames))
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise ValueError(f"{path}: expected (T, H, W, 3) uint8 frames, got {frames.dtype} {frames.shape}")
    _, h, w, _ = frames.shape
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    log = Path(log) if log is not None else path.with_name(f"{path.name}.ffmpeg.log")
    # crf 5: near-lossless (a micro-expression is a pixel of motion; a coarser crf smears it away)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{float(fps):g}", "-i", "-", "-an", "-c:v", "libx264",
           "-crf", "5", "-pix_fmt", "yuv420p", "-f", "mp4", str(tmp)]
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        try:
            for f in frames:
                proc.stdin.write(np.ascontiguousarray(f).tobytes())
        except BrokenPipeError:
            pass            # ffmpeg stopped early: its exit status and log say why
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
            code = proc.wait()
    if code != 0:
        tmp.unlink(missing_ok=True)
        said = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        reason = re.sub(r"^\[[^\]]*\]\s*", "", said[-1].strip()) if said else f"exit status {code}"
        raise VideoWriteError(f"cannot write video {path} ({w}x{h}, {len(frames)} frames): {reason[:200]}; "
                              f"ffmpeg's output: {log}")
    if not log.read_text(errors="replace").strip():
        log.unlink()
    tmp.replace(path)
    return path


def gif_delays(n_frames: int, fps: float) -> list[int]:
    """Per-frame GIF delays (ms) whose sum matches ``n_frames / fps`` to the nearest 10 ms.

    GIF delays are whole 10 ms steps, so one fixed delay would drift from the MP4's duration
    (30 fps: 33.3 ms per frame); each frame instead ends at its true time rounded to 10 ms.
    """
    ends = [int(round(1000.0 * (i + 1) / fps / 10.0)) * 10 for i in range(n_frames)]
    return [max(10, end - start) for start, end in zip([0, *ends[:-1]], ends)]


def write_gif(path, frames: np.ndarray, fps: float) -> Path:
    """(T, H, W, 3) uint8 -> looping GIF lasting T / fps seconds, like the MP4 at the same ``fps``.

    Keep ``fps`` at 50 or below: viewers show delays under 20 ms as 100 ms.
    """
    from PIL import Image

    path = Path(path)
    images = [Image.fromarray(f) for f in frames]
    with atomic_open(path, "wb") as fh:
        images[0].save(fh, format="GIF", save_all=True, append_images=images[1:],
                       duration=gif_delays(len(images), fps), loop=0)
    return path
