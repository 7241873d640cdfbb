"""Evaluate a checkpoint: reconstruction, cross-identity transfer and motion fidelity, each beside
the static baseline (a copy of the source / target)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from megen.animation import Animator, FaceInput, animate
from megen.animation.native import DRIVING_NATIVE, render_native
from megen.config.choices import Render
from megen.data.cache import PreparedSet
from megen.data.ground_truth import true_flow
from megen.data.priors import clip_keypoints
from megen.data.splits import select_splits
from megen.metrics import (
    PSNR,
    SSIM,
    AverageEuclideanDistance,
    AverageKeypointDistance,
    FlowEndPointError,
    L1Error,
    MotionTransferError,
    RegionalMotionFidelity,
)
from megen.metrics.regional import MIN_MOTION
from megen.models.motion import deformation_to_frame_flow
from megen.runtime.io import atomic_write_text
from megen.runtime.progress import Progress

#: metric key -> (what it measures, unit, lower is better); metrics.md prints one line per metric
METRIC_INFO = {
    "l1": ("mean absolute difference of generated and real frames", "gray level in [0, 1]", True),
    "psnr": ("peak signal-to-noise ratio of generated against real frames", "dB", False),
    "ssim": ("structural similarity of generated and real frames", "unitless, 1 = identical", False),
    "akd": ("mean distance of dlib's 68 landmarks, generated vs real frame", "pixels of the frame", True),
    "aed": ("distance of dlib's 128-d identity descriptors, generated vs real frame",
            "descriptor units (dlib: same person below about 0.6)", True),
    "rmte": ("onset-relative motion transfer error: |motion error| / |true motion|, each against its own "
             "onset frame", "ratio: 0 = perfect, 1 = no motion transferred", True),
    "mte": ("motion transfer error: |generated - real| / |real - source| over all frames",
            "ratio: 0 = perfect, 1 = a copy of the source", True),
    "epe": ("end-point error of the model's flow against the true synthetic displacement", "pixels", True),
    "corr": ("Pearson correlation of regional optical-flow curves (brow, eye, nose, mouth), generated vs "
             "driving", "-1 to 1", False),
    "ratio": ("amplitude of the generated regional motion over the driving one", "ratio, 1 = same amplitude", None),
}


def _frames(arr: np.ndarray) -> torch.Tensor:
    """(T, S, S) uint8 -> (T, 3, S, S) float in [0, 1]."""
    return torch.from_numpy(arr).float().div(255.0)[:, None].expand(-1, 3, -1, -1).contiguous()


class PairedScores:
    """The same metrics for the model and for the static baseline."""

    def __init__(self, face_metrics: bool):
        def make():
            m = {"l1": L1Error(), "psnr": PSNR(), "ssim": SSIM()}
            if face_metrics:
                m.update(akd=AverageKeypointDistance(), aed=AverageEuclideanDistance())
            return m

        self.model, self.static = make(), make()
        self.rmte, self.mte, self.rmte_static = MotionTransferError(True), MotionTransferError(False), MotionTransferError(True)
        self.epe, self.epe_zero = FlowEndPointError(), FlowEndPointError()
        self.face_metrics = face_metrics

    def update(self, generated, target, source, generated_onset, face_every: int = 1):
        for name, metric in self.model.items():
            if name in ("akd", "aed"):
                metric.update(generated[::face_every], target[::face_every])
                self.static[name].update(source.expand_as(target)[::face_every], target[::face_every])
            else:
                metric.update(generated, target)
                self.static[name].update(source.expand_as(target), target)
        self.rmte.update(generated, target, generated_onset, target[:1])
        self.rmte_static.update(source.expand_as(target), target, source, target[:1])
        self.mte.update(generated, target, source)

    def result(self) -> dict:
        out = {}
        for name in self.model:
            out[name] = {"model": float(self.model[name].compute()), "static": float(self.static[name].compute())}
        out["rmte"] = {"model": float(self.rmte.compute()), "static": float(self.rmte_static.compute())}
        out["mte"] = {"model": float(self.mte.compute()), "static": 1.0}
        if self.epe.update_called:
            out["epe"] = {"model": float(self.epe.compute()), "static": float(self.epe_zero.compute())}
        if self.face_metrics:
            out["akd"]["skipped"] = int(self.model["akd"].skipped)
        return out


@torch.inference_mode()
def reconstruction(gen: Animator, prepared: PreparedSet, indices, face_metrics=True, face_every=4,
                   batch_size=8, progress=None, render: str = "decoder") -> dict:
    """Source = onset frame, driving = every frame of the same clip (absolute motion).

    ``render="native"`` warps the source frame itself by the predicted motion (``render_native``; the
    frame size is the set's, so "native" is its own size here) instead of taking the decoder's output.
    The flow-guided family reads the guides the set stores (as training does) where it has them.
    """
    scores = PairedScores(face_metrics)
    task = progress.add_task("reconstruction", total=len(indices), unit="clips") if progress else None
    for i in indices:
        arrays = prepared.load(i)
        face = FaceInput.build(arrays["frames"], clip_keypoints(arrays, gen.prior.keypoints), gen.prior,
                               arrays["landmarks"])
        frames, source = face.frames, face.frames[:1]
        guides = None
        if "guide_flow" in arrays and int(prepared.rows[i]["onset"]) == 0:     # read by models that measure flow
            guides = torch.from_numpy(arrays["guide_flow"].astype(np.float32))
        elif gen.model.measures_flow and frames.shape[-1] < DRIVING_NATIVE[0]:
            raise ValueError(f"{prepared.folder} stores no guides for the flow-guided model and its "
                             f"{frames.shape[-1]}-px frames are too coarse to measure micro-motion on: prepare it "
                             f"with dataset.guides=true (synthetic) or dataset.frame_size={DRIVING_NATIVE[0]}")
        outs, flows = [], []
        for a in range(0, len(frames), batch_size):
            drv = frames[a:a + batch_size]
            n = len(drv)
            extra = {} if guides is None else {"guide": guides[a:a + n]}
            out = gen.model(source.expand(n, -1, -1, -1), drv, face.prior.expand(n, -1, -1, -1),
                            face.keypoints.expand(n, -1, -1), **extra)
            prediction = out["prediction"]
            if render == Render.NATIVE:
                prediction = render_native(source[:, :1], prediction, out.get("occlusion"),
                                           out["deformation"]).expand(-1, 3, -1, -1)
            outs.append(prediction)
            flows.append(deformation_to_frame_flow(out["deformation"], tuple(frames.shape[2:])))
        generated = torch.cat(outs)
        scores.update(generated, frames, source, generated[:1], face_every)
        if "gt_landmarks" in arrays:
            true = torch.from_numpy(np.stack([true_flow(arrays, 0, k) for k in range(len(frames))]))
            scores.epe.update(torch.cat(flows), true)
            scores.epe_zero.update(torch.zeros_like(true), true)
        if progress:
            progress.advance(task)
    return scores.result()


@torch.inference_mode()
def cross_identity(gen: Animator, spec, prepared: PreparedSet, indices, face_metrics=True, face_every=4,
                   batch_size=8, progress=None, max_pairs: int = 16, render: str = "decoder") -> tuple[dict, dict]:
    """Drive identity B with clip A of the synthetic set; the truth is A's program rendered on B.

    ``render`` as for ``animate``; "native" is the set's frame size here (the truth's), so both renders
    are scored against the same frames. The frames are also the inputs' full-resolution crops (where
    the flow-guided family measures the driver's flow).

    Returns (transfer scores, regional motion fidelity of model and static outputs).
    """
    from megen.face.keypoints import keypoint_set
    from megen.synthetic.generator import make_identities, program_for
    from megen.synthetic.generator import render as render_program

    identities = {ident.name: (k, ident) for k, ident in enumerate(make_identities(spec))}
    subjects = sorted({prepared.rows[i]["subject"] for i in indices})
    if len(subjects) < 2:   # one test subject: borrow target faces from the other identities of the set
        subjects = sorted(identities)
    scores = PairedScores(face_metrics)
    fidelity, fidelity_static = RegionalMotionFidelity(), RegionalMotionFidelity()
    pairs = [(i, s) for i in indices for s in subjects if s != prepared.rows[i]["subject"]][:max_pairs]
    task = progress.add_task("cross-identity", total=len(pairs), unit="pairs") if progress else None
    for i, target_subject in pairs:
        row = prepared.rows[i]
        si, ident_a = identities[row["subject"]]
        ti, ident_b = identities[target_subject]
        j = int(row["clip"].rsplit("_", 1)[1]) - 1
        program = program_for(spec, ident_a, si, j)
        truth = render_program(ident_b, program, target_subject, row["clip"], spec.seed)
        driving_arrays = prepared.load(i)

        onset = truth.landmarks[0].astype(np.float64)
        target = FaceInput.build(truth.frames[:1], keypoint_set(gen.prior.keypoints, onset), gen.prior, onset)
        driving = gen.prepared_input(driving_arrays)     # with the set's stored guides, where it has them
        for face, lm in ((target, onset), (driving, driving_arrays["landmarks"])):
            if face.native is None:
                face.native, face.native_landmarks = face.frames[:, :1].clone(), np.asarray(lm, np.float64)
        generated = animate(gen.model, target, driving, relative=True, batch_size=batch_size, render=render)
        generated = generated.expand(-1, 3, -1, -1) if generated.shape[1] == 1 else generated
        gt = _frames(truth.frames)
        scores.update(generated, gt, target.frames, generated[:1], face_every)
        fidelity.update(driving.frames, generated, driving_arrays["landmarks"], truth.landmarks[0])
        fidelity_static.update(driving.frames, target.frames.expand_as(generated), driving_arrays["landmarks"],
                               truth.landmarks[0])
        if progress:
            progress.advance(task)
    f, fs = fidelity.compute(), fidelity_static.compute()
    regional = {k: {"model": float(v), "static": float(fs[k])} for k, v in f.items()}
    return scores.result(), regional


def evaluate_checkpoint(ckpt, prepared_folder, split: dict, out_dir, exclude=(), face_metrics=True,
                        face_every: int = 4, batch_size: int = 8, max_clips: int | None = None,
                        max_pairs: int = 16, show_progress: bool = True, gen: Animator | None = None,
                        render: str = "decoder") -> dict:
    """Run every section available for the data and write ``metrics.json`` and ``metrics.md``.

    ``gen``: the checkpoint already loaded (the command loads it before preparing data). ``render``:
    ``decoder`` (the model's output) or ``native`` (the source warped by the predicted motion).
    """
    gen = gen or Animator.from_checkpoint(ckpt)
    prepared = PreparedSet.open(prepared_folder)
    if not len(prepared):
        raise ValueError(f"{prepared_folder} holds no clips")
    frame_size = int(prepared.load(0)["frames"].shape[-1])
    if frame_size != gen.frame_size:
        raise ValueError(f"{ckpt} was trained on {gen.frame_size}px frames but {prepared_folder} holds "
                         f"{frame_size}px ones; set dataset.frame_size={gen.frame_size}")
    splits, _ = select_splits(prepared.rows, split, exclude)   # the same subject-wise test split as training
    indices = splits["test"][:max_clips]
    if not indices:
        raise ValueError(f"the test split of {prepared_folder} is empty; check dataset.split")
    results: dict = {"checkpoint": str(ckpt), "data": str(prepared_folder), "test_clips": len(indices),
                     "render": render}
    with Progress(show_progress) as progress:
        results["reconstruction"] = reconstruction(gen, prepared, indices, face_metrics, face_every, batch_size,
                                                   progress, render)
        meta = json.loads((Path(prepared_folder) / "meta.json").read_text())
        if meta.get("dataset") == "synthetic":
            from megen.synthetic.generator import SyntheticSpec

            spec = SyntheticSpec.from_config(meta["spec"])
            results["cross_identity"], results["motion_fidelity"] = cross_identity(
                gen, spec, prepared, indices, face_metrics, face_every, batch_size, progress, max_pairs, render)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "metrics.json", json.dumps(results, indent=2, sort_keys=True))
    atomic_write_text(out_dir / "metrics.md", metrics_markdown(results))
    return results


def _cell(base: str, value: float) -> str:
    # corr is exactly 0 only when no scored region of the generated clips moved more than
    # MIN_MOTION px (the metric's rule); nan when no driving region moved at all
    if base == "corr" and value == 0.0:
        return "n/a (motion below threshold)"
    if isinstance(value, float) and math.isnan(value):
        return "n/a (no driving motion)" if base in ("corr", "ratio") else "n/a"
    return f"{value:.4f}"


def metrics_markdown(results: dict) -> str:
    """One table per section (metric | model | static baseline), then one line per metric saying
    what it measures and its unit."""
    lines = [f"# Evaluation of `{Path(results['checkpoint']).name}`", "",
             f"{results['test_clips']} test clips from `{results['data']}`, render={results.get('render', 'decoder')}.", ""]
    titles = {"reconstruction": "Reconstruction (source = onset frame, driving = the same clip)",
              "cross_identity": "Cross-identity transfer (synthetic ground truth)",
              "motion_fidelity": "Regional motion fidelity (driving vs generated optical flow)"}
    seen: list[str] = []
    for section, title in titles.items():
        if section not in results:
            continue
        lines += [f"## {title}", "", "| metric | model | static baseline |", "|---|---|---|"]
        for key, v in results[section].items():
            base = key.split("/")[0]
            if base in METRIC_INFO and base not in seen:
                seen.append(base)
            better = METRIC_INFO[base][2] if base in METRIC_INFO else None
            arrow = {True: " (lower is better)", False: " (higher is better)", None: ""}[better]
            lines.append(f"| {key}{arrow} | {_cell(base, v['model'])} | {_cell(base, v['static'])} |")
        lines.append("")
    if seen:
        lines += ["## What the metrics measure", ""]
        lines += [f"- `{base}`: {METRIC_INFO[base][0]} ({METRIC_INFO[base][1]})." for base in seen]
        if "corr" in seen:
            lines.append(f"- `n/a (motion below threshold)`: no generated region moved more than {MIN_MOTION} px "
                         f"in any scored clip, so there is no timing to correlate (the static baseline always).")
        lines.append("")
    return "\n".join(lines)
