"""Prepare a dataset into the prepared-clip cache (the only place that crops and detects faces)."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from megen.data.cache import CacheError, PreparedSet, clip_uid, is_valid_clip, write_clip, write_manifest, write_meta
from megen.data.prepare_real import REAL_DATASETS, prepare_real_dataset
from megen.face.keypoints import keypoint_set
from megen.runtime.progress import Progress
from megen.synthetic.generator import SyntheticSpec, make_identities, program_for, render, subject_name

FLOW_TOLERANCE_PX = 1e-3    # largest error of a stored ground-truth flow


def _progress(enabled: bool) -> Progress:
    return Progress(enabled)     # a bar in a terminal, log lines when piped


def compact_flow(flow: np.ndarray, tolerance: float = FLOW_TOLERANCE_PX) -> np.ndarray:
    """(T, S, S, 2) float32 -> float16 when that stays within ``tolerance`` pixels everywhere, else float32.

    float16 rounds within 1e-3 px only below 4 px of motion: enough for 64-px frames (about 1 px
    at most), not always for larger frames or head jitter. Readers cast to float32 either way.
    """
    flow = np.asarray(flow, dtype=np.float32)
    half = flow.astype(np.float16)
    return half if np.abs(half.astype(np.float32) - flow).max(initial=0.0) < tolerance else flow


def prepare_synthetic(spec: SyntheticSpec, cache_dir: str | Path, progress: bool = True) -> tuple[Path, dict]:
    """Render the synthetic set into ``<cache_dir>/synthetic-<key>``, reusing valid clip files.

    Synthetic clips store their true onset landmarks (no detection needed) plus per-frame
    ground truth (``gt_landmarks``, ``gt_shifts``) from which any frame-to-frame flow is rebuilt,
    and ``gt_flow``, the flow of every frame to the onset, which loaders read instead of rebuilding;
    with ``spec.guides`` also ``guide_flow``, that flow as measured from the fine frames (the
    flow-guided model's input, as generation measures it on a real driver), or with ``spec.exact_guides``
    the true flow itself (what a perfect estimator would measure: the guide's ceiling).
    Returns the folder and a summary ``{clips, built, reused}``.
    """
    folder = Path(cache_dir) / f"synthetic-{spec.key()}"
    rows, built, reused = [], 0, 0
    identities = estimator = None
    measured = spec.guides and not spec.exact_guides     # exact guides are the true flow, which every clip has
    total = spec.n_subjects * spec.clips_per_subject
    with _progress(progress) as bar:
        task = bar.add_task("synthetic clips", total=total, unit="clips")
        for i in range(spec.n_subjects):
            for j in range(spec.clips_per_subject):
                subject = subject_name(i)
                name = f"{subject}_{j + 1:02d}"
                uid = clip_uid("synthetic", subject, name)
                path = folder / "clips" / f"{uid}.npz"
                if is_valid_clip(path):
                    reused += 1
                    if identities is None:
                        identities = make_identities(spec)
                    program = program_for(spec, identities[i], i, j)
                else:
                    identities = identities if identities is not None else make_identities(spec)
                    if measured and estimator is None:
                        estimator = spec.guide_flow_estimator()
                    clip = render(identities[i], program_for(spec, identities[i], i, j), subject, name, spec.seed,
                                  guides=measured, estimator=estimator)
                    program = clip.program
                    onset_lm = clip.landmarks[clip.onset].astype("float64")
                    arrays = {
                        "frames": clip.frames,
                        "landmarks": onset_lm,
                        "keypoints": keypoint_set("paper18", onset_lm),
                        "face_found": True,
                        "gt_landmarks": clip.landmarks,
                        "gt_shifts": clip.shifts,
                        "gt_flow": compact_flow(clip.flows),
                    }
                    if clip.guides is not None:
                        arrays["guide_flow"] = compact_flow(clip.guides)
                    elif spec.guides:
                        arrays["guide_flow"] = arrays["gt_flow"]
                    write_clip(path, arrays)
                    built += 1
                rows.append({
                    "dataset": spec.dataset_name, "subject": subject, "clip": name, "n_frames": program.n_frames,
                    "onset": program.onset, "apex": program.apex, "offset": program.offset,
                    "emotion": program.emotion, "action_units": program.action_units, "face_found": True,
                    "fps": program.fps, "file": f"{uid}.npz",
                })
                bar.advance(task)
    write_meta(folder, {"dataset": spec.dataset_name, "spec": asdict(spec)})
    write_manifest(folder, rows)
    return folder, {"clips": len(rows), "built": built, "reused": reused}


def prepare_dataset(
    dataset_cfg, cache_dir: str | Path, progress: bool = True, data_dir: str | Path | None = None
) -> tuple[Path, dict]:
    """Dispatch on ``dataset_cfg.name``; returns (prepared folder, summary).

    casme2 / samm / smic are read from ``dataset_cfg.root``, else ``<data_dir>/<name>`` (see
    ``megen.data.prepare_real.dataset_root`` for the default without ``data_dir``), and
    prepared into ``<cache_dir>/<name>-<hash of root, frame_size, margin, color>``. ``generated``
    is a ``megen.augment`` output, used where it lies (``dataset.path``).
    """
    name = dataset_cfg["name"]
    if name not in PREPARERS:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(PREPARED_DATASETS)}")
    return PREPARERS[name](name, dataset_cfg, cache_dir, progress, data_dir)


def open_generated(dataset_cfg) -> tuple[Path, dict]:
    """A set written by ``python -m megen.augment``: already in the cache format, so only checked.

    ``dataset.path`` (or ``root``, as a mix's ``roots`` entry sets it) names the folder;
    ``frame_size`` must be given and match its clips: a model's prior map size follows it before
    any clip is read, so an unset one would silently build the wrong maps.
    """
    path = dataset_cfg.get("path") or dataset_cfg.get("root")
    if not path:
        raise ValueError("dataset=generated needs dataset.path=<folder written by `python -m megen.augment out=...`>")
    folder = Path(str(path)).expanduser()
    if not (folder / "manifest.csv").is_file():
        raise FileNotFoundError(f"dataset.path={folder} holds no manifest.csv; expected the out= folder of "
                                f"`python -m megen.augment` (clips/*.npz, manifest.csv, meta.json)")
    prepared = PreparedSet.open(folder)
    if not len(prepared):
        raise CacheError(f"generated set {folder} has no clips in its manifest")
    size = int(prepared.load(0)["frames"].shape[-1])
    wanted = dataset_cfg.get("frame_size")
    if wanted is None:
        raise ValueError(f"dataset=generated needs dataset.frame_size: {folder} holds {size}-px frames, "
                         f"so pass dataset.frame_size={size}")
    if int(wanted) != size:
        raise ValueError(f"generated set {folder} holds {size}-px frames but dataset.frame_size={wanted}; "
                         f"set dataset.frame_size={size}")
    return folder, {"clips": len(prepared), "built": 0, "reused": len(prepared)}


def source_configs(dataset_cfg) -> list[dict]:
    """The dataset config of each source: itself, or for ``mix`` one per listed source.

    A mix source starts from ``conf/dataset/<source>.yaml`` and takes the mix's frame size,
    crop margin, colour and workers (every source must be prepared alike), its entry in
    ``roots`` and its entry in ``overrides``.
    """
    from omegaconf import OmegaConf

    from megen.runtime.paths import conf_dir

    cfg = OmegaConf.to_container(dataset_cfg, resolve=True) if not isinstance(dataset_cfg, dict) else dict(dataset_cfg)
    if cfg["name"] != "mix":
        return [cfg]
    sources = list(cfg.get("sources") or [])
    if not sources:
        raise ValueError("dataset=mix needs dataset.sources=[...] (e.g. [casme2,samm,smic])")
    out = []
    for entry in sources:
        # <set>:<style> (synthetic:samm) is that set in a dataset's style (megen.synthetic.styles)
        source, _, style = str(entry).partition(":")
        path = conf_dir() / "dataset" / f"{source}.yaml"
        if source == "mix" or not path.is_file():
            valid = sorted(p.stem for p in (conf_dir() / "dataset").glob("*.yaml") if p.stem != "mix")
            raise ValueError(f"unknown mix source {source!r}; valid: {', '.join(valid)}")
        sub = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
        for key in ("frame_size", "margin", "color", "workers"):
            if cfg.get(key) is not None:
                sub[key] = cfg[key]
        if (cfg.get("roots") or {}).get(source):
            sub["root"] = cfg["roots"][source]
        if style:
            sub["style"] = style
        sub.update((cfg.get("overrides") or {}).get(entry, {}))
        out.append(sub)
    return out


def prepare_sources(dataset_cfg, cache_dir, progress: bool = True, data_dir=None) -> list[tuple[Path, dict]]:
    """Prepare every source of a dataset config (one, or each of a mix)."""
    return [prepare_dataset(sub, cache_dir, progress=progress, data_dir=data_dir) for sub in source_configs(dataset_cfg)]


def _prepare_synthetic(name, dataset_cfg, cache_dir, progress, data_dir):
    return prepare_synthetic(SyntheticSpec.from_config(dataset_cfg), cache_dir, progress)


def _prepare_real(name, dataset_cfg, cache_dir, progress, data_dir):
    return prepare_real_dataset(name, dataset_cfg, cache_dir, progress=progress, data_dir=data_dir)


def _open_generated(name, dataset_cfg, cache_dir, progress, data_dir):
    return open_generated(dataset_cfg)


#: every dataset name ``prepare_dataset`` takes, and what prepares it: ``(name, dataset_cfg, cache_dir, progress,
#: data_dir) -> (prepared folder, summary)``; the real datasets are those with a reader (``megen.data.readers``)
PREPARERS = {"synthetic": _prepare_synthetic, **{name: _prepare_real for name in REAL_DATASETS},
             "generated": _open_generated}
PREPARED_DATASETS = tuple(PREPARERS)
