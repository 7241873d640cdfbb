"""Prior key points and prior maps per (clip, prior setting), cached next to the prepared clips.

The setting is ``megen.face.PriorSetting``."""
from __future__ import annotations

import zipfile

import numpy as np

from megen.data.cache import PreparedSet
from megen.face.keypoints import keypoint_set
from megen.face.prior import PriorSetting
from megen.runtime.io import atomic_open


def clip_keypoints(arrays: dict, keypoints: str) -> np.ndarray:
    """(K, 2) prior key points of a prepared clip, pixels of its frame.

    paper18 uses the stored points, which hold the reference's default points when no face was
    found; other sets are computed from the onset landmarks.
    """
    if keypoints == "paper18":
        return np.asarray(arrays["keypoints"], dtype=np.float64)
    return keypoint_set(keypoints, arrays["landmarks"])


def all_keypoints(prepared: PreparedSet, keypoints: str) -> np.ndarray:
    """(N, K, 2) key points of every clip of a prepared set, reading only the small arrays."""
    out = []
    for row in prepared.rows:
        path = prepared.clip_path(row)
        with np.load(path, allow_pickle=False) as z:
            arrays = {"keypoints": z["keypoints"], "landmarks": z["landmarks"]}
        out.append(clip_keypoints(arrays, keypoints))
    return np.stack(out) if out else np.zeros((0, 0, 2))


def cached_prior_maps(prepared: PreparedSet, setting: PriorSetting, frame_size: int) -> np.ndarray:
    """(N, C, s, s) float16 prior maps for every clip, computed once per setting in one batch."""
    path = prepared.folder / "priors" / f"{setting.key()}.npz"
    uids = np.array([r["file"] for r in prepared.rows])
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                maps, stored = z["maps"], z["files"]
            if len(stored) == len(uids) and (stored == uids).all():
                return maps
        except (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError):
            pass   # rebuilt below
    points = all_keypoints(prepared, setting.keypoints)
    maps = setting.maps(points, frame_size).numpy().astype(np.float16)
    with atomic_open(path, "wb") as fh:
        np.savez(fh, maps=maps, files=uids)
    return maps
