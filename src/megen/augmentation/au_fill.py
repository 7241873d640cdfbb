"""Classes filled with micro-expressions made from action units, with no driving clip and no trained model
(``python -m megen.augment method=au basis=<file> fill=<count>``).

A recogniser starves where a class has few clips (fear and sadness in CASME II). For every emotion of the
driving data with fewer than ``fill`` clips, ``fill - count`` clips are made: the emotion's most frequent AU
set in the basis's data (``megen.expression.basis.AUBasis.emotion``), at an intensity each clip draws from a
range, over the basis's timing for those AUs at the class's own frame rate, carried into a target identity's
onset face by its landmarks and rendered by warping it (``megen.animation.flow_transfer.transfer``). The set is
written in the layout ``megen.augmentation.build`` writes (clips/, manifest.csv, meta.json; ``generated_from``
is ``au:<AUs>``, no subject's motion; ``target`` the identity whose face it shows), so the recogniser's
leave-one-subject-out folds drop a clip whose face is the held-out subject's, as for driven clips.

The basis should not be fitted on the clips a recogniser is evaluated on: its fields carry their motion.
"""
from __future__ import annotations

import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from megen.augmentation.build import (
    GENERATED_COLUMNS,
    AugmentResult,
    _manifest_sha1,
    _prepare_out,
    draw_gain,
    file_sha1,
    is_subject_choice,
    settings_key,
    subject_target_keys,
    value_range,
)
from megen.augmentation.leakage import check_rows, resolve_subjects, subject_keys
from megen.augmentation.targets import safe_name, subject_faces
from megen.data.cache import PreparedSet, clip_uid, is_valid_clip, write_clip, write_manifest, write_meta
from megen.runtime.progress import Progress

#: the intensities a filled clip draws from by default: the basis's (1) and a third either side
INTENSITY_RANGE = (0.67, 1.33)


def fill_counts(emotions, fill: int | None = None) -> dict[str, int]:
    """{emotion: clips to add} so that every emotion of ``emotions`` (one label per clip) has ``fill`` clips
    (None: as many as the largest class); classes already at or above it get none."""
    counts = Counter(str(e) for e in emotions)
    if not counts:
        return {}
    goal = max(counts.values()) if fill is None else int(fill)
    if goal < 1:
        raise ValueError(f"fill={fill}: must be a whole number >= 1 (clips per class)")
    return {e: goal - n for e, n in sorted(counts.items()) if n < goal}


def au_code(aus) -> str:
    """("AU4", "AU7") -> "4+7", as the sheets write a clip's action units."""
    return "+".join(str(a).upper().removeprefix("AU") for a in aus)


def au_fill(basis_path, driving, out, fill: int | None = None, targets="subjects", holdout=(), seed: int = 0,
            intensity=INTENSITY_RANGE, name: str = "generated", overwrite: bool = False,
            progress: bool = True) -> AugmentResult:
    """Fill every emotion of the prepared ``driving`` folders up to ``fill`` clips with AU-made clips on the
    target identities; write the set to ``out``.

    Args:
        basis_path: an AU motion basis (``python -m megen.aubasis fit``).
        targets: ``subjects`` (the driving data's subjects outside ``holdout``) or a list of ``dataset/subject``.
        holdout: subjects whose faces are never targets (their clips still count toward the classes).
        intensity: a number, or a range [low, high] each clip draws from (seeded by ``seed`` and the clip).
    The made clips have the driving data's frame size, gray; their manifest rows give the AUs, the emotion,
    onset / apex / offset and fps, and the intensity in the ``gain`` column.
    """
    from megen.animation.flow_transfer import transfer
    from megen.expression.basis import load_basis
    from megen.expression.compose import au_motion

    start = time.perf_counter()
    basis = load_basis(basis_path)
    out = Path(out).expanduser()
    folders = [Path(f) for f in ([driving] if isinstance(driving, (str, Path)) else driving)]
    sets = [PreparedSet.open(f) for f in folders]
    rows = [r for s in sets for r in s.rows]
    if not rows:
        raise ValueError(f"no clips in {[str(f) for f in folders]}: nothing to count the classes of")
    held = resolve_subjects(holdout, subject_keys(rows), "holdout")
    faces = subject_faces(sets)
    if not is_subject_choice(targets):
        raise ValueError(f"targets={targets}: method=au takes subjects or a list of dataset/subject names (its "
                         f"targets are the data's own faces, whose landmarks are prepared)")
    keys = subject_target_keys(targets if isinstance(targets, str) else list(targets), faces, held)
    refused = sorted(set(keys) & held)
    if refused:
        raise ValueError(f"targets: {refused} are held out (holdout=); a held-out face is never a target")
    if not keys:
        raise ValueError(f"targets={targets}: no target identity left outside holdout")
    plan = fill_counts([r["emotion"] for r in rows], fill)
    for emotion in plan:
        basis.emotion(emotion)          # an emotion the basis has no AU set for is refused by name, before any clip
    low, high = value_range(intensity, "intensity", (0.0, 4.0))
    settings = {"method": "au", "basis_sha1": file_sha1(Path(basis_path)),
                "driving": [_manifest_sha1(f) for f in folders],
                "fill": fill, "plan": plan, "targets": keys, "holdout": sorted(held), "seed": int(seed),
                "intensity": [low, high], "name": name}
    key = settings_key(settings)
    _prepare_out(out, key, overwrite)
    write_meta(out, {"dataset": name, "generated_by": "megen.augment method=au", "key": key, "settings": settings,
                     "complete": False})

    fps_of = {e: float(np.median([float(r["fps"]) for r in rows if r["emotion"] == e])) for e in plan}
    manifest, built, reused = [], 0, 0
    with Progress(progress) as bar:
        task = bar.add_task(f"making AU clips into {out.name}", total=sum(plan.values()), unit="clips")
        for emotion, count in plan.items():
            aus = basis.emotion(emotion)
            for k in range(count):
                clip_id = f"au-{safe_name(emotion)}-{k:04d}"
                rng = np.random.default_rng([int(seed), zlib.crc32(clip_id.encode())])
                target_key = keys[int(rng.integers(len(keys)))]
                prepared, index = faces[target_key]
                target_row = prepared.rows[index]
                subject = safe_name(target_key.replace("/", "-"))
                uid = clip_uid(name, subject, clip_id)
                level = draw_gain((low, high), seed, uid, "intensity")
                motion = au_motion(basis, aus=list(aus), intensity=level, fps=fps_of[emotion])
                path = out / "clips" / f"{uid}.npz"
                if is_valid_clip(path):
                    reused += 1
                else:
                    clip = prepared.load(index)
                    onset = clip["frames"][int(target_row["onset"])]
                    frames = transfer(onset, np.asarray(clip["landmarks"], np.float64), motion.driver())
                    write_clip(path, {"frames": frames, "landmarks": clip["landmarks"], "keypoints": clip["keypoints"],
                                      "face_found": clip["face_found"]})
                    built += 1
                manifest.append({
                    "dataset": name, "subject": subject, "clip": clip_id,
                    "n_frames": len(motion.flows), "onset": 0, "apex": int(motion.apex),
                    "offset": len(motion.flows) - 1, "emotion": emotion, "action_units": au_code(aus),
                    "face_found": bool(target_row["face_found"]), "fps": motion.fps, "file": f"{uid}.npz",
                    "generated_from": f"au:{au_code(aus)}", "target": target_key, "checkpoint": str(basis_path),
                    "gain": round(level, 4), "stretch": 1.0,
                })
                bar.advance(task)
    check_rows(manifest, held)
    meta = {"dataset": name, "generated_by": "megen.augment method=au", "key": key, "settings": settings,
            "complete": True, "basis": str(basis_path), "basis_provenance": basis.provenance,
            "frame_size": int(sets[0].load(0)["frames"].shape[-1]), "driving_folders": [str(f) for f in folders],
            "clips": len(manifest), "added_per_class": plan}
    write_meta(out, meta)
    write_manifest(out, manifest, GENERATED_COLUMNS)
    return AugmentResult(out, len(manifest), built, reused, 0, 0, keys, sorted(held), time.perf_counter() - start,
                         meta)


__all__ = ["INTENSITY_RANGE", "au_code", "au_fill", "fill_counts"]
