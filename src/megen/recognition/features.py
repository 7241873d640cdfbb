"""Flow features of every clip of a prepared folder, computed once and cached beside the clips.

Cache file: ``<prepared folder>/features/flow-<settings key>.npz`` with

    features      (N, 3, size, size) float32   u, v (pixels of the size map), optical strain
    apex          (N,) int                     apex frame index used
    apex_estimated (N,) bool                   True where the apex is the clip's middle frame
    apex_note     (N,) str                     why it was estimated ("" where annotated)
    files         (N,) str                     the manifest's clip files, in its order
    manifest_sha1 ()  str                      the manifest the features belong to

A re-prepared folder (another manifest) invalidates the file; it is rewritten atomically, so
LOSO runs in parallel never read a half-written one. A read-only folder is computed in memory.
"""
from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from megen.data.cache import CacheError, PreparedSet
from megen.recognition.flow import FlowSettings, onset_apex_features
from megen.runtime.io import atomic_open
from megen.runtime.progress import Progress

#: Datasets whose apex is never annotated (the readers put the middle frame in the manifest).
APEX_NOT_ANNOTATED = frozenset({"smic"})


@dataclass(frozen=True)
class FolderFeatures:
    """The features of one prepared folder, aligned with its manifest rows."""

    prepared: PreparedSet
    features: np.ndarray        # (N, 3, size, size) float32
    apex: np.ndarray            # (N,) int
    apex_estimated: np.ndarray  # (N,) bool
    apex_note: tuple[str, ...]


def reader_apex_flags(folder: Path) -> dict[str, str]:
    """``subject/clip`` -> the reader's note where it replaced a missing or impossible apex.

    Read from the ``reader.flagged`` list prepare writes into ``meta.json`` (real datasets only).
    This belongs with the cache readers in ``megen.data``; it lives here until they expose it.
    """
    path = Path(folder) / "meta.json"
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CacheError(f"unreadable {path}: {err}; re-run `python -m megen.prepare`") from err
    flags = {}
    for item in ((meta.get("reader") or {}).get("flagged") or []):
        key, reason = str(item[0]), str(item[1])
        # "apex not annotated (...): middle frame ..." and "apex N outside onset..offset ...: middle frame used";
        # "apex frame N not on disk: nearest frame used" keeps an annotated apex
        if reason.startswith("apex") and "middle frame" in reason:
            flags[key] = reason
    return flags


def choose_apex(row: dict, n_frames: int, reader_note: str = "") -> tuple[int, str]:
    """(apex index, note): the manifest's apex, or the middle of onset..offset; the note says why.

    The note is "" for an annotated apex and names the reason where the apex is the clip's middle
    frame: the dataset never annotates apexes (SMIC-HS; its reader wrote the middle frame), the
    reader replaced a missing or impossible apex by the middle frame (``reader_note``), or the
    manifest's apex is unusable here (not in onset+1..offset: it would show no motion).
    """
    onset = int(row["onset"])
    offset = min(int(row["offset"]), n_frames - 1)
    if not 0 <= onset < offset:
        raise CacheError(f"clip {row.get('file')}: onset {onset} / offset {row['offset']} leave no motion "
                         f"in {n_frames} frames")
    middle = (onset + offset + 1) // 2   # never the onset itself, even for 2-frame clips
    apex = int(row["apex"]) if str(row.get("apex", "")).strip() not in ("", "None") else -1
    if not onset < apex <= offset:
        return middle, f"manifest apex {apex} outside onset+1..offset {onset + 1}..{offset}: middle frame"
    # the readers already put the middle frame into the manifest for these two; keep it, flagged
    if str(row.get("dataset", "")).lower() in APEX_NOT_ANNOTATED:
        return apex, f"{row['dataset']} does not annotate apexes: middle frame"
    if reader_note:
        return apex, f"reader: {reader_note}"
    return apex, ""


def manifest_digest(folder: Path) -> str:
    path = Path(folder) / "manifest.csv"
    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()
    except OSError as err:
        raise CacheError(f"cannot read {path}: {err}; run `python -m megen.prepare` first") from err


def cache_path(folder: Path, settings: FlowSettings, apex_shift: int = 0) -> Path:
    shift = f"-apex{int(apex_shift):+d}" if apex_shift else ""
    return Path(folder) / "features" / f"flow-{settings.key()}{shift}.npz"


def shifted_apex(apex: int, shift: int, onset: int, offset: int) -> int:
    """``apex + shift`` kept inside onset+1..offset (temporal jitter never reaches the onset)."""
    return int(min(max(apex + int(shift), onset + 1), max(offset, onset + 1)))


def _read_cached(path: Path, digest: str, n: int, size: int) -> dict | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
        warnings.warn(f"unreadable feature cache {path} ({err}); recomputing it", stacklevel=3)
        return None
    if str(data.get("manifest_sha1", "")) != digest:
        return None    # the folder was re-prepared since
    if data.get("features") is None or data["features"].shape != (n, 3, size, size):
        warnings.warn(f"feature cache {path} has the wrong shape; recomputing it", stacklevel=3)
        return None
    return data


def compute_features(prepared: PreparedSet, settings: FlowSettings, progress: bool = False,
                     apex_shift: int = 0) -> dict:
    """Features of every manifest row of ``prepared`` (see the module docstring for the arrays).

    ``apex_shift`` moves each clip's apex by that many frames (see ``shifted_apex``): the
    temporal-jitter copies a recogniser may train on.
    """
    flags = reader_apex_flags(prepared.folder)
    n = len(prepared)
    feats = np.zeros((n, 3, settings.size, settings.size), np.float32)
    apex, notes = np.zeros(n, np.int64), []
    with Progress(progress) as bar:
        task = bar.add_task(f"flow features {prepared.folder.name}", total=n, unit="clips")
        for i, row in enumerate(prepared.rows):
            frames = prepared.load(i)["frames"]          # (T, S, S) uint8
            apex[i], note = choose_apex(row, len(frames), flags.get(f"{row['subject']}/{row['clip']}", ""))
            if apex_shift:
                apex[i] = shifted_apex(apex[i], apex_shift, int(row["onset"]), min(int(row["offset"]), len(frames) - 1))
            notes.append(note)
            feats[i] = onset_apex_features(frames[int(row["onset"])], frames[apex[i]], settings)
            bar.advance(task)
    return {"features": feats, "apex": apex, "apex_estimated": np.array([bool(x) for x in notes], bool),
            "apex_note": np.array(notes, dtype=str), "files": np.array([r["file"] for r in prepared.rows], dtype=str)}


def folder_features(folder, settings: FlowSettings = FlowSettings(), progress: bool = False,
                    write_cache: bool = True, apex_shift: int = 0) -> FolderFeatures:
    """The flow features of a prepared folder, from its cache file or computed (and cached);
    ``apex_shift``: with every apex moved by that many frames (its own cache file)."""
    prepared = PreparedSet.open(folder)
    if not len(prepared):
        raise CacheError(f"prepared folder {prepared.folder} has no clips in its manifest")
    digest = manifest_digest(prepared.folder)
    path = cache_path(prepared.folder, settings, apex_shift)
    data = _read_cached(path, digest, len(prepared), settings.size)
    if data is None or list(data["files"]) != [r["file"] for r in prepared.rows]:
        data = compute_features(prepared, settings, progress, apex_shift)
        if write_cache:
            try:
                with atomic_open(path, "wb") as fh:
                    np.savez(fh, manifest_sha1=np.array(digest), **data)
            except OSError as err:   # a read-only prepared folder still works, only slower next time
                warnings.warn(f"could not cache flow features at {path}: {err}", stacklevel=2)
    return FolderFeatures(prepared, data["features"].astype(np.float32), data["apex"].astype(np.int64),
                          data["apex_estimated"].astype(bool), tuple(str(x) for x in data["apex_note"]))
