"""Prepare real-data clip records into the prepared-clip cache.

Per clip: read the ONSET frame, find 68 dlib landmarks on it (HOG detector, CNN detector as
fallback), derive ONE square crop box from that face, crop and resize every frame of the clip
with it to ``frame_size`` gray, and store the frames with the onset landmarks and paper18 key
points in crop pixels. When no face is found the clip is kept with ``face_found`` False: the
crop is the centred square of the frame, the key points are the reference implementation's
defaults and the landmarks a mean face. A clip whose images cannot be read is skipped and
reported with the file name, never dropped silently.
"""
from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import cv2
import numpy as np

from megen.data.cache import CacheError, clip_uid, read_clip, write_clip, write_manifest, write_meta
from megen.data.readers import READERS
from megen.data.records import ClipRecord, ReaderReport
from megen.face.crop import crop_and_resize, crop_box, transform_points
from megen.face.keypoints import default_keypoints, keypoint_set
from megen.face.landmarks import FaceNotFoundError, detect_landmarks, to_gray_uint8
from megen.runtime.progress import Progress
from megen.runtime.video import ImageReadError, read_image

REAL_DATASETS = tuple(READERS)     # one reader per real dataset: adding a reader adds the dataset
COLOR_MODES = ("gray",)
DETECTOR = "dlib frontal (HOG, upsample 1) then CNN (mmod) on the onset frame"


def read_gray(path: str | Path) -> np.ndarray:
    """(H, W) uint8 gray image from any file (gray, RGB, RGBA, 16-bit); names the file on failure."""
    image = read_image(path)
    try:
        return to_gray_uint8(image)
    except ValueError as err:
        raise ImageReadError(f"unsupported image {path}: {err}") from err


@functools.lru_cache(maxsize=8)
def mean_face(frame_size: int, margin: float = 0.35) -> np.ndarray:
    """(68, 2) mean landmarks of the embedded face photos, cropped with the same policy, in frame pixels."""
    from megen.synthetic.identities import base_face, embedded_photo_paths

    faces = [base_face(str(p), int(frame_size), margin).landmarks for p in embedded_photo_paths()]
    return np.mean(faces, axis=0)


def centre_box(shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The largest centred square of an (H, W) image."""
    h, w = int(shape[0]), int(shape[1])
    side = min(h, w)
    x0, y0 = (w - side) // 2, (h - side) // 2
    return x0, y0, x0 + side, y0 + side


def prepare_clip(record: ClipRecord, frame_size: int = 256, margin: float = 0.35) -> dict[str, np.ndarray]:
    """Arrays of one prepared clip (frames (T,S,S) uint8, landmarks (68,2), keypoints (18,2), face_found).

    Raises ImageReadError (names the file) when a frame cannot be read, ValueError when frame
    sizes differ inside the clip.
    """
    onset_path = record.frame_paths[record.onset]
    onset = read_gray(onset_path)
    try:
        found_lm = detect_landmarks(onset, upsample=1, fallback=True, source=onset_path)
    except FaceNotFoundError:
        found_lm = None
    if found_lm is not None:
        box = crop_box(found_lm, onset.shape, margin=margin)
        landmarks = transform_points(found_lm, box, frame_size)
        keypoints = keypoint_set("paper18", landmarks)
    else:
        box = centre_box(onset.shape)
        landmarks = mean_face(frame_size, margin).copy()
        keypoints = default_keypoints(frame_size)
    frames = np.empty((record.n_frames, frame_size, frame_size), dtype=np.uint8)
    for k, path in enumerate(record.frame_paths):
        gray = onset if k == record.onset else read_gray(path)
        if gray.shape != onset.shape:
            raise ValueError(f"frame {path} is {gray.shape[1]}x{gray.shape[0]} but the onset frame "
                             f"{onset_path} is {onset.shape[1]}x{onset.shape[0]}")
        frames[k] = crop_and_resize(gray, box, frame_size)
    return {
        "frames": frames,
        "landmarks": np.asarray(landmarks, dtype=np.float64),
        "keypoints": np.asarray(keypoints, dtype=np.float64),
        "face_found": np.bool_(found_lm is not None),
        "crop_box": np.asarray(box, dtype=np.int64),
        "frame_numbers": np.asarray(record.frame_numbers, dtype=np.int64),
    }


def _build(task: tuple[ClipRecord, str, int, float]) -> dict:
    """Worker: prepare and write one clip; returns its outcome (errors reading user data are outcomes)."""
    record, path, frame_size, margin = task
    try:
        arrays = prepare_clip(record, frame_size, margin)
    except (OSError, ValueError, cv2.error) as err:
        return {"status": "skipped", "reason": f"{type(err).__name__}: {err}"}
    write_clip(Path(path), arrays)
    return {"status": "built", "face_found": bool(arrays["face_found"])}


def _reusable(path: Path, n_frames: int, frame_size: int) -> bool | None:
    """face_found of a valid stored clip with the expected shape, None when it must be (re)built."""
    if not path.is_file():
        return None
    try:
        arrays = read_clip(path)
    except CacheError:
        return None
    if arrays["frames"].shape != (n_frames, frame_size, frame_size):
        return None
    return bool(arrays["face_found"])


def _pool(workers: int) -> ProcessPoolExecutor:
    # fork on Linux (works from scripts and notebooks without a __main__ guard; the workers use
    # only cv2 and dlib), spawn elsewhere
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))


def prepare_records(
    records: list[ClipRecord],
    dataset: str,
    out_folder: str | Path,
    frame_size: int = 256,
    margin: float = 0.35,
    color: str = "gray",
    workers: int = 1,
    progress: bool = True,
    meta: dict | None = None,
) -> dict:
    """Prepare ``records`` into ``out_folder`` (clips/<uid>.npz, manifest.csv, meta.json).

    Valid clip files of the right shape are reused; missing or corrupt ones are (re)built,
    in a process pool when ``workers`` > 1. Returns a summary: clips (manifest rows), built,
    reused, face_not_found, skipped [(clip key, reason)], folder.
    """
    if color not in COLOR_MODES:
        raise ValueError(f"unsupported color mode {color!r}; valid: {', '.join(COLOR_MODES)} "
                         "(the cache stores (T, S, S) uint8 gray frames)")
    folder = Path(out_folder)
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    plan, seen = [], set()
    for rec in records:
        uid = clip_uid(dataset, rec.subject, rec.clip)
        if uid in seen:
            raise ValueError(f"two records map to the same clip file {uid}: {rec.key}")
        seen.add(uid)
        plan.append((rec, folder / "clips" / f"{uid}.npz"))

    outcomes: dict[int, dict] = {}
    todo = []
    for i, (rec, path) in enumerate(plan):
        found = _reusable(path, rec.n_frames, frame_size)
        if found is None:
            todo.append(i)
        else:
            outcomes[i] = {"status": "reused", "face_found": found}

    with Progress(progress) as bar:
        task = bar.add_task(f"{dataset} clips", total=len(plan), completed=len(plan) - len(todo), unit="clips")
        jobs = {i: (plan[i][0], str(plan[i][1]), int(frame_size), float(margin)) for i in todo}
        if workers > 1 and len(todo) > 1:
            with _pool(min(int(workers), len(todo))) as pool:
                futures = {pool.submit(_build, jobs[i]): i for i in todo}
                for fut in as_completed(futures):
                    outcomes[futures[fut]] = fut.result()
                    bar.advance(task)
        else:
            for i in todo:
                outcomes[i] = _build(jobs[i])
                bar.advance(task)

    rows, skipped = [], []
    for i, (rec, path) in enumerate(plan):
        out = outcomes[i]
        if out["status"] == "skipped":
            skipped.append((f"{rec.subject}/{rec.clip}", out["reason"]))
            continue
        rows.append({
            "dataset": dataset, "subject": rec.subject, "clip": rec.clip, "n_frames": rec.n_frames,
            "onset": rec.onset, "apex": rec.apex, "offset": rec.offset, "emotion": rec.emotion,
            "action_units": rec.action_units, "face_found": out["face_found"], "fps": rec.fps, "file": path.name,
        })
    summary = {
        "clips": len(rows),
        "built": sum(o["status"] == "built" for o in outcomes.values()),
        "reused": sum(o["status"] == "reused" for o in outcomes.values()),
        "face_not_found": sum(not r["face_found"] for r in rows),
        "skipped": skipped,
        "folder": str(folder),
    }
    write_meta(folder, {
        "dataset": dataset, "frame_size": int(frame_size), "margin": float(margin), "color": color,
        "detector": DETECTOR, "clips": len(rows), "face_not_found": summary["face_not_found"],
        "skipped": [list(s) for s in skipped], **(meta or {}),
    })
    write_manifest(folder, rows)
    return summary


def cache_key(root: str | Path, frame_size: int, margin: float, color: str, **extra) -> str:
    """Hash of everything that changes the prepared bytes of a real dataset."""
    blob = {"root": str(Path(root).expanduser().resolve()), "frame_size": int(frame_size),
            "margin": float(margin), "color": color, **{k: v for k, v in extra.items() if v is not None}}
    return hashlib.sha1(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _cfg_get(cfg, key, default=None):
    try:
        value = cfg.get(key, default)
    except AttributeError:
        value = getattr(cfg, key, default)
    return default if value is None else value


def dataset_root(name: str, dataset_cfg, cache_dir, data_dir=None) -> Path:
    """``dataset.root`` if set, else ``<data_dir>/<name>``.

    Without ``data_dir`` the first existing of ``<parent of cache_dir>/<name>`` (the default
    paths config keeps the cache inside the data dir), ``$MEGEN_DATA_DIR/<name>`` and
    ``./data/<name>`` is used (the first candidate when none exists, so the error names it).
    """
    root = _cfg_get(dataset_cfg, "root")
    if root:
        return Path(str(root)).expanduser()
    if data_dir is not None:
        return Path(data_dir).expanduser() / name
    candidates = [Path(cache_dir).expanduser().parent / name]
    if os.environ.get("MEGEN_DATA_DIR"):
        candidates.append(Path(os.environ["MEGEN_DATA_DIR"]).expanduser() / name)
    candidates.append(Path("data") / name)
    return next((c for c in candidates if c.is_dir()), candidates[0])


def prepare_real_dataset(name: str, dataset_cfg, cache_dir, progress: bool = True, data_dir=None) -> tuple[Path, dict]:
    """Read ``name`` with its reader and prepare it into ``<cache_dir>/<name>-<key>``."""
    from megen.data.readers import read_dataset

    if name not in REAL_DATASETS:
        raise ValueError(f"not a real dataset: {name!r}; valid: {', '.join(REAL_DATASETS)}")
    root = dataset_root(name, dataset_cfg, cache_dir, data_dir)
    sheet = _cfg_get(dataset_cfg, "sheet")
    options = {}
    if name == "casme2" and _cfg_get(dataset_cfg, "tree"):
        options["tree"] = str(_cfg_get(dataset_cfg, "tree"))
    if name == "smic" and _cfg_get(dataset_cfg, "variant"):
        options["variant"] = str(_cfg_get(dataset_cfg, "variant"))
    records, report = read_dataset(name, root, sheet=str(sheet) if sheet else None, **options)
    if not records:
        raise ValueError(f"no usable {name} clips under {root}\n{_head(report)}")
    frame_size = int(_cfg_get(dataset_cfg, "frame_size", 256))
    margin = float(_cfg_get(dataset_cfg, "margin", 0.35))
    color = str(_cfg_get(dataset_cfg, "color", "gray"))
    workers = int(_cfg_get(dataset_cfg, "workers", 1))
    key = cache_key(root, frame_size, margin, color, sheet=report.source.get("sheet"), tree=report.source.get("tree"))
    folder = Path(cache_dir) / f"{name}-{key}"
    summary = prepare_records(records, name, folder, frame_size=frame_size, margin=margin, color=color,
                              workers=workers, progress=progress,
                              meta={"root": str(root), "reader": report.as_dict()})
    summary["reader_skipped"] = list(report.skipped)
    summary["flagged"] = list(report.flagged)
    return folder, summary


def _head(report: ReaderReport, n: int = 20) -> str:
    lines = report.summary().splitlines()
    return "\n".join(lines[:n] + ([f"  ... {len(lines) - n} more"] if len(lines) > n else []))
