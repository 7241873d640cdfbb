"""What generation writes for one (target, driving) pair: frames, MP4, GIF and a contact sheet."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import torch

from megen.config.choices import Render
from megen.runtime.io import atomic_write_text
from megen.runtime.video import codec_padding, contact_sheet, difference, to_uint8, write_gif, write_png, write_video


def _rgb_uint8(frames) -> np.ndarray:
    """(T, C, H, W) tensors in [0, 1] or (T, H, W[, C]) uint8 arrays -> (T, H, W, 3) uint8."""
    if isinstance(frames, torch.Tensor):
        return to_uint8(frames)
    arr = np.asarray(frames)
    return np.repeat(arr[..., None], 3, axis=-1) if arr.ndim == 3 else np.ascontiguousarray(arr[..., :3])


def is_gray(frames: np.ndarray) -> bool:
    """Whether (T, H, W, 3) uint8 frames carry no colour."""
    return bool((frames[..., 0] == frames[..., 1]).all() and (frames[..., 1] == frames[..., 2]).all())


def _resized(frames: np.ndarray, size: int) -> np.ndarray:
    if frames.shape[1:3] == (size, size):
        return frames
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA if f.shape[0] > size else cv2.INTER_CUBIC)
                     for f in frames])


def write_outputs(out_dir: Path, name: str, target, driving, generated, fps: float, amplify: float = 10.0,
                  max_columns: int = 12, playback_fps: float | None = None, fps_source: str = "",
                  out_size: int | None = None, render: str = "decoder", color: str | None = None,
                  extra: dict | None = None) -> Path:
    """Frames (PNG), MP4, GIF, a contact sheet and ``timing.json`` for one pair, into ``out_dir/name``.

    ``target``, ``driving`` and ``generated``: (T, C, H, W) tensors in [0, 1] or (T, H, W[, C]) uint8
    arrays, each at its own size; the frames are written as generated (gray or colour, at their
    size), and ``out_size`` upscales the MP4 and GIF only. ``fps`` is the rate the driving clip was
    captured at (CASME II 200, SMIC-HS 100); the MP4 and the GIF play at ``playback_fps`` (default
    ``fps``), both lasting frames / playback_fps, so a micro-expression of 1/5 s can be seen.
    ``timing.json`` records both rates and durations, the size, ``color`` (``gray`` | ``rgb``; default: ``gray``
    where the channels agree) and ``render`` used (and ``extra``); ``mp4_padding_px`` (bottom, right) is what
    the MP4 repeats of the last row / column to reach the even sides H.264 needs (the frames and GIF are exact).

    Written under a hidden partial name and renamed at the end, so an interrupted run never
    leaves a folder that looks complete.
    """
    final = out_dir / name
    partial = out_dir / f".{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "frames").mkdir(parents=True)
    frames = _rgb_uint8(generated)
    gray = is_gray(frames) if color is None else color == "gray"
    for i, f in enumerate(frames):
        write_png(partial / "frames" / f"{i:05d}.png", f)
    playback_fps = float(playback_fps or fps)
    size = int(frames.shape[1])
    video = frames
    if out_size and int(out_size) != size:
        video = np.stack([cv2.resize(f, (int(out_size), int(out_size)), interpolation=cv2.INTER_CUBIC) for f in frames])
    # H.264 needs even sides: the MP4 repeats the last row / column where a side is odd; the PNG
    # frames and the GIF keep the exact size
    pad = codec_padding(*video.shape[1:3])
    # the encoder's log sits in the output folder, outside the partial one (removed on failure), and
    # joins the pair's folder when the encoder had something to say
    log = out_dir / f"{name}.ffmpeg.log"
    write_video(partial / f"{name}.mp4", video, playback_fps, log=log)
    if log.is_file():
        log.replace(partial / "ffmpeg.log")
    write_gif(partial / f"{name}.gif", video, playback_fps)
    timing = {"frame_size": size, "video_size": int(video.shape[1]), "mp4_padding_px": list(pad),
              "color": "gray" if gray else "rgb",
              "render": render, "frames": len(frames), "capture_fps": float(fps), "capture_fps_source": fps_source,
              "capture_duration_s": round(len(frames) / fps, 4), "playback_fps": playback_fps,
              "playback_duration_s": round(len(frames) / playback_fps, 4),
              "slow_motion": round(fps / playback_fps, 4), **(extra or {})}
    atomic_write_text(partial / "timing.json", json.dumps(timing, indent=2))
    idx = np.unique(np.linspace(0, len(frames) - 1, min(max_columns, len(frames))).round().astype(int))
    sheet_size = min(size, 256)
    as_rows = lambda x: torch.from_numpy(_resized(x, sheet_size).astype(np.float32) / 255.0).permute(0, 3, 1, 2)  # noqa: E731
    tgt, drv, gen = as_rows(_rgb_uint8(target)[:1]), as_rows(_rgb_uint8(driving)[idx]), as_rows(frames[idx])
    blank = torch.zeros_like(tgt)
    sheet = contact_sheet([
        torch.cat([tgt, drv]),
        torch.cat([tgt, gen]),
        torch.cat([blank, difference(drv, drv[:1].expand_as(drv), amplify)]),
        torch.cat([blank, difference(gen, tgt.expand_as(gen), amplify)]),
    ], title=f"{name}: {'gray' if gray else 'colour'} {size}x{size} px ({render} render). Rows: target | driving; "
             f"target | generated; |driving - onset| x{amplify:g}; |generated - target| x{amplify:g}")
    write_png(partial / "sheet.png", sheet)
    if final.exists():
        shutil.rmtree(final)
    partial.rename(final)
    return final


def print_summary(folder: Path) -> None:
    """Say what a generated pair's folder holds (size, colour, render, timing), from its timing.json."""
    timing = json.loads((folder / "timing.json").read_text())
    colour = "gray" if timing["color"] == "gray" else "colour"
    if timing["render"] == Render.DECODER:
        upscaled = timing["video_size"] != timing["frame_size"]
        size = f"{timing['frame_size']} px" + (f", video upscaled to {timing['video_size']} px" if upscaled
                                              else " (out_size= upscales the video)")
        print(f"wrote {folder}: gray frames at the model's frame size, {size} (render=decoder)")
    else:
        print(f"wrote {folder}: {colour} frames at {timing['frame_size']} px, the target's own size "
              f"(render={timing['render']})")
    bottom, right = timing.get("mp4_padding_px", (0, 0))
    if bottom or right:
        print(f"  the MP4 repeats its last {'row' if bottom else ''}{' and ' if bottom and right else ''}"
              f"{'column' if right else ''} (H.264 needs even sides); the PNG frames and the GIF keep the exact size")
    print(f"  {timing['frames']} frames captured at {timing['capture_fps']:g} fps "
          f"({timing['capture_duration_s']:g} s), played at {timing['playback_fps']:g} fps "
          f"({timing['playback_duration_s']:g} s, {timing['slow_motion']:g}x slow motion)")
    resampled = timing.get("resampled_from")
    if resampled:
        print(f"  retimed from the driver's {resampled['frames']} frames at {resampled['capture_fps']:g} fps "
              f"({resampled['duration_s']:g} s) by interpolating its optical flow")
