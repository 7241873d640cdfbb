"""Driving clips: a folder of frames, a video file, or a clip of a prepared dataset."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from megen.animation.errors import GenerationError
from megen.runtime.video import VIDEO_SUFFIXES, frame_paths, read_image, read_video


@dataclass
class DrivingClip:
    """A decoded driving clip: ``frames`` (T of (H, W[, C]) uint8), its frame rate when recorded, a name;
    for a clip of the prepared cache also its arrays (``PreparedSet.load``: cropped frames, onset
    landmarks, stored guides) and ``landmarks``, the onset's."""

    frames: list[np.ndarray]
    fps: float | None
    name: str
    landmarks: np.ndarray | None = None
    prepared: dict | None = None
    labels: dict | None = None      # a prepared clip's manifest row (onset, apex, offset, emotion, action_units)


def load_driving(spec: str, cache_dir: str | None = None) -> DrivingClip:
    """A driving clip from ``spec``: a folder of frames, a video file, or ``<dataset>:<clip>`` from the
    prepared cache."""
    path = Path(spec)
    if path.is_dir():
        clip = DrivingClip([read_image(p) for p in frame_paths(path)], None, path.name)
    elif path.suffix.lower() in VIDEO_SUFFIXES or path.is_file():
        clip = DrivingClip(*read_video(path), path.stem)
    elif ":" in spec:
        arrays, fps, row = prepared_clip(spec, cache_dir)
        clip = DrivingClip(list(arrays["frames"]), fps, spec.rsplit(":", 1)[1], arrays["landmarks"], arrays, row)
    else:
        raise GenerationError(f"driving {spec!r} is neither a frame folder, a video file nor <dataset>:<clip>")
    if len(clip.frames) < 2:
        raise GenerationError(f"driving clip {spec} has {len(clip.frames)} frame(s); at least 2 are needed")
    return clip


def prepared_clip(spec: str, cache_dir: str | None) -> tuple[dict, float, dict]:
    """The arrays, frame rate and manifest row of ``<dataset>:<clip>`` in the prepared caches under ``cache_dir``
    (or of ``<prepared folder>:<clip>``, one prepared set named by its folder)."""
    from megen.data.cache import PreparedSet

    dataset, clip = spec.rsplit(":", 1)
    root = Path(cache_dir or "./data/cache")
    named = Path(dataset)
    for folder in [named] if (named / "manifest.csv").is_file() else sorted(root.glob(f"{dataset}-*")):
        if not (folder / "manifest.csv").is_file():
            continue
        prepared = PreparedSet.open(folder)
        for i, row in enumerate(prepared.rows):
            if row["clip"] == clip:
                return prepared.load(i), float(row["fps"]), dict(row)
    raise GenerationError(f"clip {clip!r} of dataset {dataset!r} not found in prepared caches under {root} "
                          f"(run `python -m megen.prepare dataset={dataset}` first)")


#: px at which each driving frame's crop is searched for a face (dlib's HOG detector misses faces under ~80 px)
FACE_CHECK_SIZE = 256


def frames_without_face(crops: np.ndarray, samples: int = 16) -> list[int]:
    """Indices of the frames whose face crop (T, N, N) uint8 gray, cropped by the onset's box, shows no face:
    the face has left the box (turned away, left the frame, occluded). Searched at ``FACE_CHECK_SIZE`` px
    in about ``samples`` evenly spaced frames, and in every frame between a faceless sample and its
    neighbours (a detection costs tens of ms; a face that leaves stays gone for more than a frame)."""
    import cv2

    from megen.face.landmarks import detect_faces

    crops = np.asarray(crops)
    found: dict[int, bool] = {}

    def has_face(k: int) -> bool:
        if k not in found:
            crop = crops[k]
            if crop.shape[0] != FACE_CHECK_SIZE:
                crop = cv2.resize(crop, (FACE_CHECK_SIZE, FACE_CHECK_SIZE), interpolation=cv2.INTER_CUBIC)
            found[k] = bool(detect_faces(np.ascontiguousarray(crop), upsample=0))
        return found[k]

    n = len(crops)
    probes = sorted({int(round(x)) for x in np.linspace(0, n - 1, min(n, samples))})
    for i, k in enumerate(probes):
        if not has_face(k):
            lo = probes[i - 1] if i else 0
            hi = probes[i + 1] if i + 1 < len(probes) else n - 1
            for j in range(lo, hi + 1):
                has_face(j)
    return sorted(k for k, ok in found.items() if not ok)


def frame_ranges(indices: list[int]) -> str:
    """``[3, 4, 5, 9]`` -> ``"3-5, 9"``."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


def faceless_warning(name: str, crops: np.ndarray) -> str | None:
    """One line naming the frames of driving clip ``name`` without a face in the onset's crop, or None."""
    missing = frames_without_face(crops)
    if not missing:
        return None
    return (f"driving clip {name}: no face in frame(s) {frame_ranges(missing)} of {len(crops)} (counted from 0): "
            f"the face leaves the onset's crop, so the motion there is not a face's; trim the clip to the frames "
            f"that show it")
