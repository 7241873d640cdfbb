"""What generation writes for one (target, driving) pair: frames, MP4, GIF and a contact sheet."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import torch

from megen.io import atomic_write_text
from megen.video import contact_sheet, difference, to_uint8, write_gif, write_png, write_video


def write_outputs(out_dir: Path, name: str, target: torch.Tensor, driving: torch.Tensor, generated: torch.Tensor,
                  fps: float, amplify: float = 10.0, max_columns: int = 12, playback_fps: float | None = None,
                  fps_source: str = "", out_size: int | None = None) -> Path:
    """Frames (PNG), MP4, GIF, a contact sheet and ``timing.json`` for one pair, into ``out_dir/name``.

    ``fps`` is the rate the driving clip was captured at (CASME II 200, SMIC-HS 100); the MP4 and
    the GIF play at ``playback_fps`` (default ``fps``), both lasting frames / playback_fps, so a
    micro-expression of 1/5 s can be seen. ``timing.json`` records both rates and durations.
    The frames are gray at the model's frame size; ``out_size`` upscales the MP4 and GIF only.

    Written under a hidden partial name and renamed at the end, so an interrupted run never
    leaves a folder that looks complete.
    """
    final = out_dir / name
    partial = out_dir / f".{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "frames").mkdir(parents=True)
    frames = to_uint8(generated)
    for i, f in enumerate(frames):
        write_png(partial / "frames" / f"{i:05d}.png", f)
    playback_fps = float(playback_fps or fps)
    size = int(frames.shape[1])
    video = frames
    if out_size and int(out_size) != size:
        video = np.stack([cv2.resize(f, (int(out_size), int(out_size)), interpolation=cv2.INTER_CUBIC) for f in frames])
    write_video(partial / f"{name}.mp4", video, playback_fps)
    write_gif(partial / f"{name}.gif", video, playback_fps)
    timing = {"frame_size": size, "video_size": int(video.shape[1]), "color": "gray",
              "frames": len(frames), "capture_fps": float(fps), "capture_fps_source": fps_source,
              "capture_duration_s": round(len(frames) / fps, 4), "playback_fps": playback_fps,
              "playback_duration_s": round(len(frames) / playback_fps, 4),
              "slow_motion": round(fps / playback_fps, 4)}
    atomic_write_text(partial / "timing.json", json.dumps(timing, indent=2))
    idx = np.unique(np.linspace(0, len(generated) - 1, min(max_columns, len(generated))).round().astype(int))
    t = target[:1].expand(len(idx), -1, -1, -1)
    sheet = contact_sheet([
        torch.cat([target[:1], driving[idx]]),
        torch.cat([target[:1], generated[idx]]),
        torch.cat([torch.zeros_like(target[:1]), difference(driving[idx], driving[:1].expand(len(idx), -1, -1, -1), amplify)]),
        torch.cat([torch.zeros_like(target[:1]), difference(generated[idx], t, amplify)]),
    ], title=f"{name}: gray {size}x{size} px, the model's frame size. Rows: target | driving; target | generated; "
             f"|driving - onset| x{amplify:g}; |generated - target| x{amplify:g}")
    write_png(partial / "sheet.png", sheet)
    if final.exists():
        shutil.rmtree(final)
    partial.rename(final)
    return final
