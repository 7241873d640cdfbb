"""A spotting dataset: many long videos, each with driving clips inserted at random, seeded times, and one
annotation file over all of them (``python -m megen.spotset``).

Per video (in name order) a generator seeded by (seed, the video's index) draws which clips go in
(without repeats within a video), each one's gain (uniform in the range) and their times (``random_starts``:
spread uniformly over the room left once the windows, the spacing and the margins are placed). The same seed,
videos and clips give the same dataset.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from megen.runtime.io import atomic_write_text
from megen.runtime.video import VIDEO_SUFFIXES, frame_paths
from megen.spotting.annotations import LAYOUTS, write_annotations
from megen.spotting.insertion import InsertionError, random_starts
from megen.spotting.video_target import insert_into_video, plan_insertion, read_target_video, write_spotting_video


@dataclass(frozen=True)
class SpotsetSettings:
    """``per_video`` insertions in each video, gains uniform in ``gain`` (lo, hi), at least ``spacing_s`` apart
    and ``margin_s`` from the ends; ``duration_ms`` stretches every clip (None: its own); ``seed``."""

    per_video: int = 3
    gain: tuple[float, float] = (1.0, 1.0)
    spacing_s: float = 2.0
    margin_s: float = 1.0
    duration_ms: float | None = None
    seed: int = 0


def target_videos(spec) -> list[Path]:
    """The long videos of ``targets=``: a list of files / frame folders, or one folder holding video files or
    frame folders (a folder of images is itself one video)."""
    items = [Path(str(s)) for s in (spec if isinstance(spec, (list, tuple)) else [spec])]
    out = []
    for item in items:
        if item.is_dir() and not frame_paths_or_none(item):
            out += sorted(p for p in item.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES or
                          (p.is_dir() and frame_paths_or_none(p)))
        else:
            out.append(item)
    missing = [str(p) for p in out if not p.exists()]
    if missing or not out:
        raise FileNotFoundError(f"targets=: {', '.join(missing) or 'no videos or frame folders found'}")
    return out


def frame_paths_or_none(folder: Path):
    try:
        return frame_paths(folder)
    except (OSError, ValueError):
        return None


def build_spotset(videos: list[Path], clips: list[str], out_dir, settings: SpotsetSettings, cache_dir=None,
                  target_fps: float | None = None, measure=None, retarget: str = "similarity",
                  progress=print) -> Path:
    """Insert ``settings.per_video`` of ``clips`` into each of ``videos`` and write ``out_dir/<video>/`` for each
    (``write_spotting_video``), the annotations of all in ``out_dir/annotations_<layout>.csv`` and
    ``out_dir/spotset.json``."""
    if settings.per_video > len(clips):
        raise InsertionError(f"per_video={settings.per_video} but only {len(clips)} driving clip(s)")
    out_dir = Path(out_dir)
    plans: dict[tuple[str, float], object] = {}
    intervals, records = [], []
    for index, path in enumerate(videos):
        rng = np.random.default_rng([settings.seed, index])
        chosen = [clips[i] for i in rng.choice(len(clips), settings.per_video, replace=False)]
        gains = rng.uniform(settings.gain[0], settings.gain[1], settings.per_video)
        video, fps = read_target_video(path, target_fps)
        batch = []
        for clip, gain in zip(chosen, gains):
            key = (clip, round(float(gain), 6), fps)
            if key not in plans:
                plans[key] = plan_insertion(clip, fps, cache_dir, measure=measure, gain=float(gain),
                                            duration_ms=settings.duration_ms)
            batch.append(plans[key])
        starts = random_starts(len(video), [len(p.flows) for p in batch], rng, int(round(settings.spacing_s * fps)),
                               int(round(settings.margin_s * fps)))
        name = path.stem if path.is_file() else path.name
        frames, found = insert_into_video(video, fps, batch, starts, retarget, name)
        record = {"target": str(path), "fps": fps, "n_frames": len(frames), "frames_numbered_from": 1,
                  "insertions": [{"driving": c, "gain": float(g), "start": s} for c, g, s in zip(chosen, gains, starts)]}
        write_spotting_video(out_dir, name, frames, fps, found, record)
        intervals += found
        records.append(record)
        if progress:
            progress(f"{name}: {len(found)} insertions at frames {', '.join(str(i.onset) for i in found)}")
    for layout in LAYOUTS:
        write_annotations(out_dir / f"annotations_{layout}.csv", intervals, layout)
    summary = {"settings": {**settings.__dict__, "gain": list(settings.gain)}, "clips": clips, "videos": records}
    atomic_write_text(out_dir / "spotset.json", json.dumps(summary, indent=2))
    return out_dir


__all__ = ["SpotsetSettings", "build_spotset", "target_videos"]
