"""The prepared-clip cache: one ``.npz`` per clip, a ``manifest.csv``, cached prior maps.

Layout of one prepared set (``<cache_dir>/<dataset>-<key>/``)::

    clips/<uid>.npz        frames (T, S, S) uint8 gray; landmarks (68, 2) onset landmarks, pixels;
                           keypoints (18, 2) onset paper18 prior key points, pixels; face_found ();
                           synthetic only: gt_landmarks (T, 68, 2), gt_shifts (T, 2) ground truth
                           in pixels; gt_flow (T, S, S, 2) float16 (float32 where float16 would
                           be off by 1e-3 px or more), the backward flow of every frame k to the
                           onset frame 0: pixel p of frame k shows what the onset shows at
                           p + gt_flow[k](p), i.e. motion_between(lm[0], lm[k], sh[0], sh[k], lm[0], S);
                           optional guide_flow (T, S, S, 2), the same flow as optical flow measures it
                           on the finely rendered frames (the flow-guided model's training input)
    manifest.csv           one row per clip (MANIFEST_COLUMNS), with manifest.csv.sha1 beside it
    meta.json              what the key was computed from
    priors/<prior>.npz     prior maps (N, C, s, s) float16 for the manifest's clips, in its order

Every file is written atomically; readers validate and name the file when it is bad.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from megen.runtime.io import atomic_open, atomic_write_text

MANIFEST_COLUMNS = (
    "dataset", "subject", "clip", "n_frames", "onset", "apex", "offset", "emotion", "action_units",
    "face_found", "fps", "file",
)
REQUIRED_ARRAYS = ("frames", "landmarks", "keypoints", "face_found")


class CacheError(RuntimeError):
    """A cache file is missing, truncated or inconsistent (the message names it)."""


def clip_uid(dataset: str, subject: str, clip: str) -> str:
    """A file-system-safe, unique name for a clip."""
    raw = f"{dataset}__{subject}__{clip}"
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", raw)
    if safe != raw:   # keep distinct clips distinct after sanitising
        safe += "-" + hashlib.sha1(raw.encode()).hexdigest()[:6]
    return safe


def write_clip(path: Path, arrays: dict[str, np.ndarray]) -> None:
    missing = [k for k in REQUIRED_ARRAYS if k not in arrays]
    if missing:
        raise ValueError(f"clip {path.name} lacks arrays {missing}")
    with atomic_open(path, "wb") as fh:
        np.savez(fh, **arrays)


def read_clip(path: Path) -> dict[str, np.ndarray]:
    """Load and validate one prepared clip; CacheError names the file on any problem."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError as err:
        raise CacheError(f"prepared clip missing: {path} (run `python -m megen.prepare`)") from err
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as err:
        raise CacheError(f"corrupt prepared clip {path}: {err}; re-run `python -m megen.prepare`") from err
    missing = [k for k in REQUIRED_ARRAYS if k not in arrays]
    frames = arrays.get("frames")
    if missing or frames is None or frames.ndim != 3 or frames.dtype != np.uint8 or len(frames) < 2:
        raise CacheError(f"invalid prepared clip {path}: missing {missing} or bad frames; re-run prepare")
    if arrays["landmarks"].shape != (68, 2):
        raise CacheError(f"invalid prepared clip {path}: landmarks shape {arrays['landmarks'].shape}")
    for name in ("gt_flow", "guide_flow"):
        if name in arrays and arrays[name].shape != frames.shape + (2,):
            raise CacheError(f"invalid prepared clip {path}: {name} shape {arrays[name].shape} "
                             f"for frames {frames.shape}; re-run prepare")
    return arrays


def is_valid_clip(path: Path) -> bool:
    try:
        read_clip(path)
        return True
    except CacheError:
        return False


def write_manifest(folder: Path, rows: list[dict], extra_columns=()) -> None:
    """Write ``manifest.csv`` (MANIFEST_COLUMNS, then ``extra_columns``, e.g. a generated set's provenance)."""
    buf = io.StringIO()
    columns = list(MANIFEST_COLUMNS) + [c for c in extra_columns if c not in MANIFEST_COLUMNS]
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    text = buf.getvalue()
    with atomic_open(folder / "manifest.csv", "wb") as fh:
        fh.write(text.encode("utf-8"))
    # a sidecar checksum: a truncated or edited manifest would otherwise parse as fewer clips
    atomic_write_text(folder / "manifest.csv.sha1", hashlib.sha1(text.encode()).hexdigest() + "\n")


def read_manifest(folder: Path) -> list[dict]:
    path = Path(folder) / "manifest.csv"
    if not path.is_file():
        raise CacheError(f"no manifest at {path}; run `python -m megen.prepare dataset=...` first")
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    digest = path.with_name("manifest.csv.sha1")
    if digest.is_file() and digest.read_text().strip() != hashlib.sha1(raw).hexdigest():
        raise CacheError(f"manifest {path} does not match its checksum (truncated or edited); "
                         f"re-run `python -m megen.prepare` to rebuild it")
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or set(MANIFEST_COLUMNS) - set(reader.fieldnames):
            raise CacheError(f"manifest {path} lacks columns {sorted(set(MANIFEST_COLUMNS) - set(reader.fieldnames or []))}")
        rows = list(reader)
    for row in rows:
        for key in ("n_frames", "onset", "apex", "offset"):
            row[key] = int(row[key])
        row["fps"] = float(row["fps"])
        row["face_found"] = str(row["face_found"]).lower() == "true"
    return rows


@dataclass(frozen=True)
class PreparedSet:
    """A prepared cache folder and its manifest rows."""

    folder: Path
    rows: tuple[dict, ...]

    @classmethod
    def open(cls, folder) -> "PreparedSet":
        folder = Path(folder)
        return cls(folder, tuple(read_manifest(folder)))

    def clip_path(self, row: dict) -> Path:
        return self.folder / "clips" / row["file"]

    def load(self, index: int) -> dict[str, np.ndarray]:
        return read_clip(self.clip_path(self.rows[index]))

    def __len__(self) -> int:
        return len(self.rows)


def write_meta(folder: Path, meta: dict) -> None:
    atomic_write_text(folder / "meta.json", json.dumps(meta, indent=2, sort_keys=True, default=str))
