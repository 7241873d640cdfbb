"""Turn a checkpoint into a training set: animate target identities with every driving clip and
write the result as a prepared set (the cache format ``megen.data.cache`` documents).

Output folder (``out``)::

    clips/<uid>.npz   frames (T, S, S) uint8 generated; landmarks (68, 2) and keypoints (18, 2) of the
                      target's onset face, pixels; face_found ()
    manifest.csv      MANIFEST_COLUMNS with the driving clip's emotion and action units, n_frames,
                      onset / apex / offset and fps (retimed where out_fps= or stretch= resample it), plus
                      GENERATED_COLUMNS: generated_from (dataset/subject/clip of the driving clip), target
                      (dataset/subject, or a photo's file name), checkpoint, the clip's gain and stretch
    meta.json         settings, their key, the hold-out subjects, counts

``dataset`` is ``generated`` (``name``), ``subject`` the target identity (a generated clip shows
that face), ``clip`` ``<dataset>-<subject>-<clip>`` of the driving clip. Clip files are written
atomically as they are made and reused by a re-run with the same settings (a crash resumes);
the manifest, written last, is what makes the folder a set.
"""
from __future__ import annotations

import hashlib
import json
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from megen.animation.animator import Animator
from megen.animation.sources import check_controls
from megen.augmentation.leakage import check_rows, check_targets, resolve_subjects, subject_keys
from megen.augmentation.predict import ClipWriter, Pair, PairsDataModule, prediction_trainer
from megen.augmentation.targets import Target, photo_targets, subject_faces, subject_target
from megen.data.cache import PreparedSet, clip_uid, is_valid_clip, write_manifest, write_meta
from megen.face.choices import Retarget
from megen.face.controls import GAIN_RANGE, MotionControls
from megen.ops.timing import resample_positions, retimed_index
from megen.runtime.progress import Progress

GENERATED_COLUMNS = ("generated_from", "target", "checkpoint", "gain", "stretch")
#: how much ``stretch=`` may lengthen (or shorten) a clip
STRETCH_RANGE = (0.25, 4.0)
_OWN_FILES = ("manifest.csv", "manifest.csv.sha1", "meta.json")


@dataclass
class AugmentResult:
    """What one augment run wrote."""

    folder: Path
    clips: int
    built: int
    reused: int
    drivers: int
    skipped_holdout: int
    targets: list[str]
    holdout: list[str]
    seconds: float = 0.0
    meta: dict = field(default_factory=dict)
    rank_zero: bool = True      # False on the other ranks of a distributed run (they wrote clips, not the set)

    def summary(self) -> str:
        return (f"generated set {self.folder}: {self.clips} clips ({self.built} made, {self.reused} reused) from "
                f"{self.drivers} driving clips x {len(self.targets)} candidate targets; {self.skipped_holdout} "
                f"driving clip(s) of held-out subjects skipped; {self.seconds:.1f} s")


def file_sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest_sha1(folder: Path) -> str:
    return hashlib.sha1((Path(folder) / "manifest.csv").read_bytes()).hexdigest()


def is_subject_choice(targets) -> bool:
    """``targets=`` names dataset subjects (``subjects``, or a list of them) rather than a folder of photos."""
    return isinstance(targets, (list, tuple)) or (isinstance(targets, str) and targets.strip().lower() == "subjects")


def subject_target_keys(targets, faces: dict, holdout: set[str]) -> list[str]:
    """``dataset/subject`` keys of ``targets``: ``subjects`` (every subject of ``faces`` outside ``holdout``) or a
    list of names (``resolve_subjects``; a held-out one is kept, for the caller to refuse with its own error)."""
    if isinstance(targets, str):
        return sorted(k for k in faces if k not in holdout)
    return sorted(resolve_subjects(targets, set(faces), "targets"))


def resolve_targets(animator: Animator, targets, sets: list[PreparedSet], holdout: set[str],
                    crop: bool = True, render: str = "native") -> list[Target]:
    """``subjects`` (every subject of the driving data outside ``holdout``), a list of subject
    names, or a folder of face photos; refuses held-out identities (LeakageError)."""
    faces = subject_faces(sets)
    if is_subject_choice(targets):
        keys = subject_target_keys(targets, faces, holdout)
    else:
        folder = Path(str(targets)).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"targets={targets}: no such folder; targets is `subjects`, a list of "
                                    f"dataset/subject names, or a folder of face photos")
        found = photo_targets(animator, folder, crop, render)
        check_targets(found, holdout)
        return found
    chosen = [subject_target(animator, k, *faces[k], render=render) for k in keys]
    check_targets(chosen, holdout)
    return chosen


def choose_targets(driver_key: str, uid: str, targets: list[Target], per_clip: int, seed: int) -> list[Target]:
    """``per_clip`` distinct targets for one driving clip, never the driving subject's own face;
    a stable draw from (seed, clip), independent of the order clips are visited in."""
    pool = [t for t in targets if t.identity != driver_key]
    if len(pool) < per_clip:
        raise ValueError(f"per_clip={per_clip} but only {len(pool)} target identities are allowed for driving clip "
                         f"{uid} (its own subject and held-out subjects are never targets); lower per_clip or add targets")
    rng = np.random.default_rng([int(seed), zlib.crc32(uid.encode())])
    return [pool[i] for i in sorted(rng.choice(len(pool), size=per_clip, replace=False))]


def value_range(value, name: str, bounds: tuple[float, float]) -> tuple[float, float]:
    """``gain=`` or ``stretch=``: a number v -> (v, v); a range [low, high] -> (low, high), within ``bounds``."""
    values = [float(g) for g in (value if isinstance(value, (list, tuple)) else [value, value])]
    if len(values) != 2 or not bounds[0] <= values[0] <= values[1] <= bounds[1]:
        raise ValueError(f"{name}={value}: expected a number or a range [low, high] with "
                         f"{bounds[0]:g} <= low <= high <= {bounds[1]:g}")
    return values[0], values[1]


def gain_range(gain) -> tuple[float, float]:
    """``gain=``: a number g -> (g, g); a range [low, high] -> (low, high), within ``GAIN_RANGE``."""
    return value_range(gain, "gain", GAIN_RANGE)


def draw_gain(gains: tuple[float, float], seed: int, uid: str, what: str = "") -> float:
    """One clip's gain (or another control's value, ``what`` naming it): uniform in ``gains``, the same for a clip
    in every run (seeded by ``seed`` and its uid; each control draws apart)."""
    if gains[0] == gains[1]:
        return gains[0]
    digest = int(hashlib.sha1(f"{seed}/{uid}{'/' + what if what else ''}".encode()).hexdigest()[:12], 16)
    return float(np.random.default_rng(digest).uniform(*gains))


def stretched_duration_ms(row: dict, stretch: float) -> float | None:
    """A driving clip's duration (ms) lengthened ``stretch`` times (None: 1, its own)."""
    return None if stretch == 1.0 else stretch * 1000.0 * int(row["n_frames"]) / float(row["fps"])


def retimed_row(row: dict, out_fps: float | None, duration_ms: float | None) -> dict:
    """A driving clip's manifest timing (n_frames, onset, apex, offset, fps) after resampling to ``out_fps``
    and ``duration_ms`` (None: its own rate, its own duration; ``megen.ops.timing``)."""
    fps, n = float(row["fps"]), int(row["n_frames"])
    if out_fps is None and duration_ms is None:
        return {k: row[k] for k in ("n_frames", "onset", "apex", "offset", "fps")}
    timed = {k: retimed_index(int(row[k]), n, fps, out_fps, duration_ms) for k in ("onset", "apex", "offset")}
    return {"n_frames": len(resample_positions(n, fps, out_fps, duration_ms)), **timed, "fps": out_fps or fps}


def settings_key(settings: dict) -> str:
    return hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _prepare_out(out: Path, key: str, overwrite: bool) -> None:
    """Refuse to mix two settings' clips in one folder; ``overwrite`` clears what augment wrote there."""
    meta = out / "meta.json"
    if not meta.is_file():
        if out.is_dir() and any(out.iterdir()) and not (out / "clips").is_dir():
            raise FileExistsError(f"out={out} exists and is no generated set; choose an empty or new folder")
        return
    try:
        old = json.loads(meta.read_text()).get("key")
    except (OSError, ValueError) as err:
        raise FileExistsError(f"out={out}: unreadable {meta} ({err}); pass overwrite=true to replace the set") from err
    if old == key:
        return
    if not overwrite:
        raise FileExistsError(f"out={out} holds a generated set made with other settings (key {old}, now {key}); "
                              f"choose another out= or pass overwrite=true to replace it")
    for name in _OWN_FILES:
        (out / name).unlink(missing_ok=True)
    for sub in ("clips", "features", "priors"):
        for f in (out / sub).glob("*.npz") if (out / sub).is_dir() else ():
            f.unlink()


def augment(animator: Animator, driving, out, targets="subjects", per_clip: int = 2, holdout=(), seed: int = 0,
            checkpoint: str = "", name: str = "generated", relative: bool = True, adapt_movement_scale: bool = False,
            batch_size: int = 1, crop: bool = True, exclude_clips=(), overwrite: bool = False,
            progress: bool = True, render: str = "native", trainer: dict | None = None,
            device: str = "cpu", head: str = "keep", gain=1.0, regions=None, out_fps: float | None = None,
            stretch=1.0, retarget: str = "similarity") -> AugmentResult:
    """Animate ``per_clip`` target identities with every driving clip; write a prepared set to ``out``.

    Args:
        animator: the trained model (``Animator.from_checkpoint``); ``checkpoint`` is recorded per clip.
        driving: prepared folders whose clips drive (their frame size must be the model's).
        targets: ``subjects`` (the driving data's subjects), a list of ``dataset/subject`` names, or a
            folder of face photos.
        holdout: subjects of the evaluation fold (``dataset/subject`` or bare names): their clips
            never drive and their faces are never targets; naming one as a target is refused
            (LeakageError), and so is a name that matches no subject.
        exclude_clips: driving clip ids left out.
        render: ``native`` (the target's crop at the model's frame size warped by the motion, the decoder
            filling only what the occlusion map hides) or ``decoder`` (the model's output); either way the
            set's frames are the model's size, gray.
        trainer, device: where the pairs are generated (``megen.augmentation.predict.prediction_trainer``):
            conf/trainer/* settings that spread them (``trainer=ddp``), else one device.
        head, gain, regions: the motion's controls (``megen.face.controls``; the flow-guided model): ``gain`` a
            number, or a range [low, high] from which each clip draws its own, uniformly and seeded by ``seed``
            and the clip (the manifest's ``gain`` column says which).
        out_fps, stretch: the timing (``megen.ops.timing``; the flow-guided model): every clip resampled to
            ``out_fps`` (None: its own rate) and lengthened by ``stretch``, a number or a range [low, high] each
            clip draws from like the gain (the manifest's ``stretch`` column; its n_frames, onset, apex, offset
            and fps are the generated clip's).
        retarget: how the motion is carried into each target's face (``megen.face.correspondence``).
    """
    start = time.perf_counter()
    if int(per_clip) < 1:
        raise ValueError(f"per_clip must be >= 1, got {per_clip}")
    out = Path(out).expanduser()
    folders = [Path(f) for f in ([driving] if isinstance(driving, (str, Path)) else driving)]
    sets = [PreparedSet.open(f) for f in folders]
    rows = [(s, i) for s in sets for i in range(len(s))]
    if not rows:
        raise ValueError(f"no driving clips in {[str(f) for f in folders]}")
    for s in sets:
        if len(s):
            size = int(s.load(0)["frames"].shape[-1])
            if size < animator.frame_size:
                raise ValueError(f"{checkpoint or 'the model'} animates {animator.frame_size}-px frames but driving "
                                 f"set {s.folder} holds {size}-px ones; set dataset.frame_size={animator.frame_size} "
                                 f"or larger")
    held = resolve_subjects(holdout, subject_keys(s.rows[i] for s, i in rows), "holdout")
    chosen_targets = resolve_targets(animator, targets, sets, held, crop, render)
    if not chosen_targets:
        raise ValueError(f"targets={targets}: no target identity left outside holdout")
    exclude = {str(c) for c in exclude_clips or ()}
    drivers = [(s, i) for s, i in rows if f"{s.rows[i]['dataset']}/{s.rows[i]['subject']}" not in held
               and s.rows[i]["clip"] not in exclude]
    skipped = sum(1 for s, i in rows if f"{s.rows[i]['dataset']}/{s.rows[i]['subject']}" in held)
    if not drivers:
        raise ValueError("no driving clip left after leaving out held-out subjects and exclude_clips")

    settings = {"checkpoint_sha1": file_sha1(Path(checkpoint)) if checkpoint and Path(checkpoint).is_file() else "",
                "driving": [_manifest_sha1(s.folder) for s in sets], "targets": [t.name for t in chosen_targets],
                "per_clip": int(per_clip), "seed": int(seed), "holdout": sorted(held), "name": name,
                "relative": bool(relative), "adapt_movement_scale": bool(adapt_movement_scale),
                "exclude_clips": sorted(exclude), "crop": bool(crop), "render": render}
    gains, stretches = gain_range(gain), value_range(stretch, "stretch", STRETCH_RANGE)
    out_fps = None if out_fps is None else float(out_fps)
    controls = {"head": head, "gain": list(gains), "regions": None if regions is None else list(regions)}
    # a bad value, or controls for a model that does not measure flow, fail here, before any clip
    # (a stretch stands for the duration it asks for: a retiming, which only measured flow can do)
    check_controls(animator.model, MotionControls(head, gains[1] if gains[1] != 1.0 else gains[0],
                                                  None if regions is None else tuple(regions), out_fps,
                                                  None if stretches == (1.0, 1.0) else 1000.0 * stretches[1],
                                                  retarget))
    if retarget != Retarget.SIMILARITY:
        controls["retarget"] = retarget
    if controls != {"head": "keep", "gain": [1.0, 1.0], "regions": None}:
        settings["controls"] = controls     # absent at the defaults: sets made before the controls keep their key
    if out_fps is not None or stretches != (1.0, 1.0):
        settings["timing"] = {"out_fps": out_fps, "stretch": list(stretches)}
    key = settings_key(settings)
    _prepare_out(out, key, overwrite)
    # the key goes down before any clip, so a re-run after a crash knows whose clips these are
    write_meta(out, {"dataset": name, "generated_by": "megen.augment", "key": key, "settings": settings,
                     "complete": False})

    manifest, pending, reused = [], [], 0
    set_index = {id(s): k for k, s in enumerate(sets)}
    target_index = {id(t): k for k, t in enumerate(chosen_targets)}
    for prepared, index in drivers:
        row = prepared.rows[index]
        driver_key = f"{row['dataset']}/{row['subject']}"
        clip_id = f"{row['dataset']}-{row['subject']}-{row['clip']}"
        for target in choose_targets(driver_key, clip_uid(row["dataset"], row["subject"], row["clip"]),
                                     chosen_targets, int(per_clip), seed):
            uid = clip_uid(name, target.subject, clip_id)
            path = out / "clips" / f"{uid}.npz"
            clip_gain, clip_stretch = draw_gain(gains, seed, uid), draw_gain(stretches, seed, uid, "stretch")
            duration_ms = stretched_duration_ms(row, clip_stretch)
            timing = retimed_row(row, out_fps, duration_ms)
            if is_valid_clip(path):
                reused += 1
            else:
                pending.append(Pair(set_index[id(prepared)], index, target_index[id(target)], str(path),
                                    int(row["onset"]) if relative else 0, clip_gain, float(row["fps"]), out_fps,
                                    duration_ms))
            manifest.append({
                "dataset": name, "subject": target.subject, "clip": clip_id, **timing, "emotion": row["emotion"],
                "action_units": row["action_units"], "face_found": bool(target.face.face_found),
                "file": f"{uid}.npz", "generated_from": f"{row['dataset']}/{row['subject']}/{row['clip']}",
                "target": target.name, "checkpoint": str(checkpoint), "gain": round(clip_gain, 4),
                "stretch": round(clip_stretch, 4),
            })
    trainer = prediction_trainer(trainer, device)
    with Progress(progress and trainer.is_global_zero) as bar:
        task = bar.add_task(f"generating into {out.name}", total=len(manifest), unit="clips")
        bar.advance(task, reused)
        if pending:
            writer = ClipWriter(animator, sets, chosen_targets, relative=relative,
                                adapt_movement_scale=adapt_movement_scale, batch_size=batch_size, render=render,
                                on_clip=lambda: bar.advance(task), head=head,
                                regions=None if regions is None else tuple(regions), retarget=retarget)
            trainer.predict(writer, datamodule=PairsDataModule(pending), return_predictions=False)
    trainer.strategy.barrier()
    if not trainer.is_global_zero:      # rank zero checks every rank's clips and writes the set's files
        return AugmentResult(out, len(manifest), 0, reused, len(drivers), skipped,
                             [t.name for t in chosen_targets], sorted(held), time.perf_counter() - start,
                             rank_zero=False)
    unwritten = [row["file"] for row in manifest if not is_valid_clip(out / "clips" / row["file"])]
    if unwritten:
        raise RuntimeError(f"{len(unwritten)} generated clip(s) missing after generation, e.g. {unwritten[0]}; "
                           f"re-run the same command to resume")
    built = len(pending)
    check_rows(manifest, held)
    meta = {"dataset": name, "generated_by": "megen.augment", "key": key, "settings": settings, "complete": True,
            "checkpoint": str(checkpoint), "family": animator.family, "prior": animator.prior.as_dict(),
            "frame_size": animator.frame_size,
            "driving_folders": [str(s.folder) for s in sets], "clips": len(manifest),
            "skipped_holdout_drivers": skipped}
    write_meta(out, meta)
    write_manifest(out, manifest, GENERATED_COLUMNS)
    return AugmentResult(out, len(manifest), built, reused, len(drivers), skipped, [t.name for t in chosen_targets],
                         sorted(held), time.perf_counter() - start, meta)
