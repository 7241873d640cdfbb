"""Driving clips: a folder of frames, a video file, or a clip of a prepared dataset."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from megen.animation.errors import GenerationError
from megen.runtime.video import VIDEO_SUFFIXES, frame_paths, read_image, read_video


def load_driving(spec: str, cache_dir: str | None = None) -> tuple[list[np.ndarray], float | None, str, np.ndarray | None]:
    """Frames, frame rate, a name and (for prepared clips) the onset landmarks of a driving clip.

    ``spec``: a folder of frames, a video file, or ``<dataset>:<clip>`` from the prepared cache.
    """
    path = Path(spec)
    if path.is_dir():
        frames = [read_image(p) for p in frame_paths(path)]
        fps, name, landmarks = None, path.name, None
    elif path.suffix.lower() in VIDEO_SUFFIXES or path.is_file():
        frames, fps = read_video(path)
        name, landmarks = path.stem, None
    elif ":" in spec:
        frames, fps, landmarks = prepared_clip(spec, cache_dir)
        name = spec.split(":", 1)[1]
    else:
        raise GenerationError(f"driving {spec!r} is neither a frame folder, a video file nor <dataset>:<clip>")
    if len(frames) < 2:
        raise GenerationError(f"driving clip {spec} has {len(frames)} frame(s); at least 2 are needed")
    return frames, fps, name, landmarks


def prepared_clip(spec: str, cache_dir: str | None):
    from megen.data.cache import PreparedSet

    dataset, clip = spec.split(":", 1)
    root = Path(cache_dir or "./data/cache")
    for folder in sorted(root.glob(f"{dataset}-*")):
        if not (folder / "manifest.csv").is_file():
            continue
        prepared = PreparedSet.open(folder)
        for i, row in enumerate(prepared.rows):
            if row["clip"] == clip:
                arrays = prepared.load(i)
                return list(arrays["frames"]), float(row["fps"]), arrays["landmarks"]
    raise GenerationError(f"clip {clip!r} of dataset {dataset!r} not found in prepared caches under {root} "
                          f"(run `python -m megen.prepare dataset={dataset}` first)")
