"""Score generation on real pairs without ground truth: a real driving clip, a real target face.

A pairs file is a CSV with the columns ``driving`` (a clip: video, GIF or frame folder), ``target``
(an image) and optionally ``compare`` (published outputs for the pair as ``label=path;...``), paths
relative to the CSV. Every pair is scored for each system beside the static copy of the target and
the training-free flow transfer (``megen.animation.flow_transfer``):

* ``cosine`` / ``amplitude``: expression motion against the driver's (``megen.metrics.expression``), measured
  by each of several optical-flow estimators (``estimators``, default ``DEFAULT_ESTIMATORS``): per estimator
  as ``cosine/<name>`` and ``amplitude/<name>``, their mean as ``cosine`` / ``amplitude`` and their spread
  (largest minus smallest) as ``cosine_spread`` / ``amplitude_spread``. No single estimator's bias can
  flatter a method, least of all the estimator the method itself uses;
* ``identity``: dlib face-descriptor distance of generated frames to the target (same person < 0.6);
* ``sharpness``: variance of the Laplacian inside the face, generated onset over the target, both at
  the canonical 256 px;
* ``head_px``: the largest whole-face displacement (the face's mean flow, px of the canonical face; mean over
  the estimators): how far the head drifts, beside the driver's own (``driver_head_px``);

and the driver's own expression amplitude in px of the canonical face, so faint clips show: its mean over the
estimators (``driver_amplitude_px``), each one's (``driver_amplitude_px_by``) and the lowest cosine between two
estimators' readings of it (``driver_agreement``). Where the estimators read the driver itself differently (a
blurred or faint clip), a pair's ratio under any one of them is as uncertain as that spread.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from megen.config.choices import Render
from megen.config.schema import DEFAULT_REAL_ESTIMATORS
from megen.evaluation.motion_cache import MotionCache
from megen.face.landmarks import FaceNotFoundError, detect_landmarks, to_gray_uint8
from megen.metrics.expression import (
    CANONICAL_SIZE,
    canonical_clip,
    drift,
    region_masks,
    rms,
    sharpness,
    transfer_scores,
)
from megen.runtime.io import atomic_write_text
from megen.runtime.video import contact_sheet, read_image, read_video, write_png

STATIC, FLOW = "static", "flow_transfer"
SCORES = ("cosine", "amplitude", "identity", "sharpness", "head_px")
#: the estimators real pairs are scored with: the two least biased at sub-pixel scale, and Farnebäck (the
#: classical guide's own) for continuity with earlier tables
DEFAULT_ESTIMATORS = DEFAULT_REAL_ESTIMATORS
IDENTITY_FRAMES = 6   # generated frames, evenly spaced, whose identity is measured (dlib is slow)


class RealPairError(ValueError):
    """A pairs file or one of its clips cannot be scored; the message names the file."""


@dataclass
class RealPair:
    """One row of a pairs file, its paths resolved."""

    driving: Path
    target: Path
    compare: dict[str, Path] = field(default_factory=dict)
    listed: tuple[str, str] = ("", "")     # driving and target as the pairs file names them (relative to it)

    @property
    def name(self) -> str:
        return f"{_stem(self.driving)}-{_stem(self.target)}"


def _stem(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


def read_pairs(path) -> list[RealPair]:
    """Parse a pairs CSV; every missing file and malformed row is listed in one error."""
    path = Path(path)
    if not path.is_file():
        raise RealPairError(f"real.pairs={path}: no such file")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"driving", "target"} <= set(rows[0]):
        raise RealPairError(f"{path}: expected a CSV with the columns driving,target[,compare] and at least one row")
    pairs, problems = [], []
    for i, row in enumerate(rows, start=2):
        compare = {}
        for item in filter(None, (x.strip() for x in (row.get("compare") or "").split(";"))):
            label, sep, rel = item.partition("=")
            if not sep or not label.strip() or not rel.strip():
                problems.append(f"{path}:{i}: compare entry {item!r} is not label=path")
                continue
            compare[label.strip()] = path.parent / rel.strip()
        pair = RealPair(path.parent / row["driving"].strip(), path.parent / row["target"].strip(), compare,
                        (row["driving"].strip(), row["target"].strip()))
        for p in (pair.driving, pair.target, *compare.values()):
            if not p.exists():
                problems.append(f"{path}:{i}: {p} (no such file)")
        pairs.append(pair)
    if problems:
        raise RealPairError("; ".join(problems))
    return pairs


def read_clip(path: Path) -> list[np.ndarray]:
    """Frames of a video, GIF or frame folder (RGB or gray uint8)."""
    from megen.runtime.video import frame_paths

    frames = [read_image(p) for p in frame_paths(path)] if path.is_dir() else read_video(path)[0]
    if len(frames) < 2:
        raise RealPairError(f"{path}: {len(frames)} frame(s); a clip needs at least 2")
    return frames


def onset_landmarks(image: np.ndarray, source: str) -> np.ndarray:
    try:
        return detect_landmarks(to_gray_uint8(image), fallback=True, source=source)
    except FaceNotFoundError as err:
        raise RealPairError(str(err)) from None


def identity_distance(generated, target: np.ndarray, frames: int = IDENTITY_FRAMES) -> float:
    """Mean dlib descriptor distance of ``frames`` evenly spaced generated frames to the target
    (nan when no face is found in any of them)."""
    import torch

    from megen.metrics.landmarks import frame_descriptor

    def desc(image):
        arr = np.asarray(image)
        t = torch.from_numpy(arr.astype(np.float32) / 255.0)
        return frame_descriptor(t[None] if t.ndim == 2 else t.permute(2, 0, 1))

    ref = desc(target)
    out = []
    for k in np.unique(np.linspace(0, len(generated) - 1, frames).round().astype(int)):
        try:
            out.append(float(np.linalg.norm(desc(generated[k]) - ref)))
        except FaceNotFoundError:
            continue
    return float(np.mean(out)) if out else float("nan")


@dataclass
class DriverMotion:
    """The driving clip's expression motion under each estimator, computed once per pair."""

    frames: list[np.ndarray]
    landmarks: np.ndarray
    motions: dict[str, np.ndarray]     # estimator name -> (T, R, 2) px of the canonical face
    heads: dict[str, np.ndarray] = field(default_factory=dict)    # estimator name -> (T, 2): the face's mean flow

    @property
    def motion(self) -> np.ndarray:
        """(T, R, 2): the mean over the estimators (the driver's amplitude is reported from it)."""
        return np.mean(list(self.motions.values()), axis=0)

    @property
    def amplitudes(self) -> dict[str, float]:
        """The driver's expression amplitude (RMS px) under each estimator: where they differ widely, the
        estimators read this clip differently, and a ratio under any one of them says less."""
        return {name: rms(m) for name, m in self.motions.items()}

    @property
    def agreement(self) -> float:
        """The lowest cosine between two estimators' readings of the driver's expression (1 with one estimator)."""
        names = list(self.motions)
        return min((transfer_scores(self.motions[a], self.motions[b])["cosine"]
                    for i, a in enumerate(names) for b in names[i + 1:]), default=1.0)

    @property
    def head_px(self) -> float:
        """The driver's largest whole-face displacement (px), mean over the estimators."""
        return float(np.mean([drift(h) for h in self.heads.values()])) if self.heads else float("nan")

    @classmethod
    def of(cls, path: Path, estimators=DEFAULT_ESTIMATORS, cache: MotionCache | None = None) -> "DriverMotion":
        frames = read_clip(path)
        lm = onset_landmarks(frames[0], f"{path} (first frame)")
        cache = cache or MotionCache()
        measured = {name: cache.measure(frames, lm, name) for name in estimators}
        return cls(frames, lm, {n: m[0] for n, m in measured.items()}, {n: m[1] for n, m in measured.items()})


def _face_sharpness(image: np.ndarray, landmarks: np.ndarray) -> float:
    gray, lm = canonical_clip([image], landmarks)
    return sharpness(gray[0], region_masks(lm)[1])


def score_clip(driver: DriverMotion, generated, target: np.ndarray, target_landmarks: np.ndarray,
               label: str = "generated", face_metrics: bool = True,
               cache: MotionCache | None = None) -> dict[str, float]:
    """Scores of one generated clip (T, H, W[, C]) uint8 of a pair (see the module docstring); its motion is
    measured through ``cache`` (``megen.evaluation.motion_cache``) when one is given."""
    if len(generated) != len(driver.frames):
        raise RealPairError(f"{label}: {len(generated)} frames for a driving clip of {len(driver.frames)}")
    lm = onset_landmarks(generated[0], f"{label} (first frame)")
    cache = cache or MotionCache()
    measured = {name: cache.measure(generated, lm, name) for name in driver.motions}
    scores = estimator_scores({name: transfer_scores(motion, measured[name][0]) for name, motion in driver.motions.items()})
    scores["head_px"] = float(np.mean([drift(m[1]) for m in measured.values()]))
    scores["sharpness"] = _face_sharpness(generated[0], lm) / max(_face_sharpness(target, target_landmarks), 1e-12)
    scores["identity"] = identity_distance(generated, target) if face_metrics else float("nan")
    return scores


def estimator_scores(by_estimator: dict[str, dict[str, float]]) -> dict[str, float]:
    """``{name: {cosine, amplitude}}`` -> the mean ``cosine`` / ``amplitude``, their spread (max - min) across
    estimators, and each estimator's as ``cosine/<name>`` / ``amplitude/<name>``."""
    out = {}
    for key in ("cosine", "amplitude"):
        values = [s[key] for s in by_estimator.values()]
        out[key] = float(np.mean(values))
        out[f"{key}_spread"] = float(np.max(values) - np.min(values))
    for name, s in by_estimator.items():
        out[f"cosine/{name}"], out[f"amplitude/{name}"] = s["cosine"], s["amplitude"]
    return out


def static_clip(target: np.ndarray, n: int) -> np.ndarray:
    return np.stack([np.asarray(target)] * n)


def uint8_clip(frames) -> np.ndarray:
    """Tensors (T, C, H, W) in [0, 1] or arrays (T, H, W[, C]) -> (T, H, W[, C]) uint8."""
    if hasattr(frames, "detach"):
        from megen.runtime.video import to_uint8

        out = to_uint8(frames)
        return out[..., 0] if frames.shape[1] == 1 or bool((out[..., 0] == out[..., 1]).all()) else out
    return np.asarray(frames)


#: a generated system: (driving frames, driving onset landmarks, target path) -> (T, H, W[, C]) uint8 frames
System = Callable[[list, np.ndarray, Path], np.ndarray]


def flow_transfer_system(frames, landmarks, target_path: Path) -> np.ndarray:
    from megen.animation.flow_transfer import flow_transfer

    target = read_image(target_path)
    return flow_transfer(target, onset_landmarks(target, str(target_path)), frames, landmarks)


def model_system(animator, batch_size: int = 8, render: str = "native", **animate_options) -> System:
    """A trained model (``megen.animation.Animator``) as a System: the pair cropped and animated as
    ``python -m megen.generate`` does it, relative motion from the first frame, rendered ``render``."""
    from megen.animation import animate
    from megen.animation.pair import native_bounds

    def run(frames, landmarks, target_path: Path) -> np.ndarray:
        image = read_image(target_path)
        target = animator.face_input([image], source=str(target_path), landmarks=onset_landmarks(image, str(target_path)),
                                     native=native_bounds(None) if render == Render.NATIVE else None)
        driving = animator.face_input(frames, source="driving clip", landmarks=landmarks,
                                      native=animator.driving_native(render, animate_options.get("magnify", 1.0)))
        return uint8_clip(animate(animator.model, target, driving, batch_size=batch_size, engine=animator.engine,
                                  render=render, **animate_options))

    return run


def score_pairs(pairs: list[RealPair], systems: dict[str, System], out_dir=None, face_metrics: bool = True,
                sheets: bool = True, progress: Callable[[str], None] | None = None,
                estimators=DEFAULT_ESTIMATORS, motion_cache=None) -> dict:
    """Score every pair for the static copy, the flow transfer, ``systems`` (label -> System) and the
    pair's published outputs, with each of ``estimators`` (names of ``megen.ops.flow.ESTIMATORS``).
    ``motion_cache``: a folder where measured motions are kept by content (``MotionCache``), so the
    driving clips, static copies and published outputs of a study are measured once.
    Returns ``{"estimators", "pairs": [{"pair", "driver_amplitude_px", "systems": {label: scores}}],
    "mean": {label: scores}}`` (means over the pairs a system was scored on) and, with ``out_dir``, writes
    ``real_pairs.json``, ``real_pairs.md`` and a sheet per pair there."""
    out_dir = Path(out_dir) if out_dir else None
    rows = []
    cache = MotionCache(motion_cache)
    for pair in pairs:
        if progress:
            progress(f"real pair {pair.name}")
        driver = DriverMotion.of(pair.driving, estimators, cache)
        target = read_image(pair.target)
        target_lm = onset_landmarks(target, str(pair.target))
        clips = {STATIC: static_clip(target, len(driver.frames)), FLOW: flow_transfer_system(driver.frames,
                                                                                           driver.landmarks, pair.target)}
        for label, system in systems.items():
            clips[label] = uint8_clip(system(driver.frames, driver.landmarks, pair.target))
        for label, path in pair.compare.items():
            clips[label] = np.stack(read_clip(path))
        scored = {label: score_clip(driver, clip, target, target_lm, f"{pair.name}: {label}", face_metrics, cache)
                  for label, clip in clips.items()}
        # the paths as the pairs file gives them: results name the clips, not where a user keeps them
        rows.append({"pair": pair.name, "driving": pair.listed[0] or str(pair.driving),
                     "target": pair.listed[1] or str(pair.target),
                     "driver_amplitude_px": rms(driver.motion), "driver_amplitude_px_by": driver.amplitudes,
                     "driver_agreement": driver.agreement, "driver_head_px": driver.head_px, "systems": scored})
        if out_dir is not None and sheets:
            write_png(out_dir / "real_pairs" / f"{pair.name}.png", pair_sheet(pair.name, driver.frames, clips))
    results = {"estimators": list(estimators), "pairs": rows, "mean": mean_scores(rows)}
    published = [r for r, pair in zip(rows, pairs) if pair.compare]
    if published and len(published) < len(rows):     # published outputs cover some pairs: compare like with like
        results["mean_published"] = mean_scores(published)
    if out_dir is not None:
        atomic_write_text(out_dir / "real_pairs.json", json.dumps(results, indent=2))
        atomic_write_text(out_dir / "real_pairs.md", real_pairs_markdown(results))
    return results


def mean_scores(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per system, each score's mean over the pairs it was scored on (nan-aware), and the pair count."""
    labels = list(dict.fromkeys(label for r in rows for label in r["systems"]))
    out = {}
    for label in labels:
        got = [r["systems"][label] for r in rows if label in r["systems"]]
        keys = [k for k in got[0] if k != "pairs"]
        out[label] = {k: float(np.nanmean([g[k] for g in got])) if any(np.isfinite(g[k]) for g in got) else float("nan")
                      for k in keys}
        out[label]["pairs"] = len(got)
    return out


def _fmt(v: float, digits: int = 2) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.{digits}f}"


def _pm(s: dict, key: str) -> str:
    spread = s.get(f"{key}_spread")
    return _fmt(s[key]) + (f" ± {spread / 2:.2f}" if spread is not None and np.isfinite(spread) and spread > 0 else "")


def real_pairs_markdown(results: dict) -> str:
    """Per pair and mean: a row per system (the static copy and the flow transfer first), cosine and amplitude
    as the mean over the estimators ± half their spread; then the means under each estimator alone."""
    names = results.get("estimators") or []
    head = ("| pair | system | expression-motion cosine | amplitude ratio | identity distance | sharpness | head drift, px |\n"
            "|---|---|---|---|---|---|---|\n")
    lines = ["# Real pairs (no ground truth)", "",
             "Expression motion: both clips aligned to a canonical 256-px face, per-region optical flow minus the "
             "face's mean; cosine and RMS ratio against the driver (1 and 1 = the driver's motion; a clip moving "
             "under 5 % of the driver's amplitude scores 0), each the mean over the flow estimators "
             f"({', '.join(names) or 'farneback'}) ± half their spread. Identity: dlib descriptor distance to the "
             "target (same person < 0.6). Sharpness: generated onset over the target. Head drift: the largest "
             "displacement of the face's mean flow (px of the canonical face), beside the driver's.", "",
             head.rstrip("\n")]
    means = [{"pair": "**mean**", "systems": results["mean"]}]
    if results.get("mean_published"):
        n = results["mean_published"][STATIC]["pairs"]
        means.insert(0, {"pair": f"**mean of the {n} pairs with published outputs**", "systems": results["mean_published"]})
    for row in [*results["pairs"], *means]:
        amp = f" (driver {row['driver_amplitude_px']:.2f} px" if "driver_amplitude_px" in row else ""
        by = row.get("driver_amplitude_px_by") or {}
        if amp and len(by) > 1:
            amp += (f", {min(by.values()):.2f}-{max(by.values()):.2f} across the estimators, which agree at cosine "
                    f"{row['driver_agreement']:.2f}")
        if amp:
            head_px = row.get("driver_head_px", np.nan)
            amp += f", head {head_px:.2f} px)" if np.isfinite(head_px) else ")"
        for label, s in row["systems"].items():
            n = f" ({s['pairs']} pairs)" if "pairs" in s else ""
            lines.append(f"| {row['pair']}{amp} | {label}{n} | {_pm(s, 'cosine')} | {_pm(s, 'amplitude')} | "
                         f"{_fmt(s['identity'], 3)} | {_fmt(s['sharpness'])} | {_fmt(s.get('head_px', float('nan')))} |")
    if len(names) > 1:
        cols = " | ".join(f"{n} cosine / amplitude" for n in names)
        lines += ["", "Means under each estimator alone:", "", f"| means | system | {cols} |",
                  "|---|---|" + "---|" * len(names)]
        for row in means:
            for label, s in row["systems"].items():
                cells = " | ".join(f"{_fmt(s.get(f'cosine/{n}', float('nan')))} / "
                                   f"{_fmt(s.get(f'amplitude/{n}', float('nan')))}" for n in names)
                lines.append(f"| {row['pair']} | {label} | {cells} |")
    return "\n".join(lines) + "\n"


def pair_sheet(name: str, driving: list, clips: dict[str, np.ndarray], columns: int = 8, amplify: float = 10.0,
               size: int = 128) -> np.ndarray:
    """Driver and each clip (resized to ``size``) at ``columns`` evenly spaced frames, each followed by a
    row of |frame - onset| x ``amplify``."""
    import cv2
    import torch

    def row(frames, idx):
        f = np.stack([cv2.resize(np.asarray(frames[k]), (size, size), interpolation=cv2.INTER_AREA) for k in idx])
        f = f[..., None].repeat(3, -1) if f.ndim == 3 else f[..., :3]
        return torch.from_numpy(f.astype(np.float32) / 255.0).permute(0, 3, 1, 2)

    idx = np.unique(np.linspace(0, len(driving) - 1, columns).round().astype(int))
    rows, labels = [], []
    for label, frames in {"driver": np.stack(driving), **clips}.items():
        r = row(frames, idx)
        rows += [r, ((r - r[:1]).abs() * amplify).clamp(0, 1)]
        labels += [label, f"|d| x{amplify:g}"]
    return contact_sheet(rows, row_labels=labels, title=f"{name}: frames and |frame - onset| x{amplify:g}")


def print_table(results: dict) -> None:
    print(real_pairs_markdown(results).split("\n", 4)[-1], end="")


__all__ = ["CANONICAL_SIZE", "DriverMotion", "RealPair", "RealPairError", "flow_transfer_system", "mean_scores", "model_system",
           "pair_sheet", "print_table", "read_clip", "read_pairs", "real_pairs_markdown", "score_clip", "score_pairs"]
