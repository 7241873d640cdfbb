"""Why a more accurate guide can render worse on the synthetic split: each guide alone, no model.

The default set's clips are warped by their own stored guides (the onset moved by the guide with the model's
bilinear warp) and scored as the model is, rMTE against the set's frames, beside the guide's end-point error
against the true flow. Three guides of the same frames: DIS (the default's), the learned estimator and the true
flow (`dataset.exact_guides=true`). Also:

* rMTE against the *clean* frames: the same clips re-rendered from the same geometry without the camera's
  nuisances (noise, palette, flicker), so a guide cannot gain by explaining the noise;
* the correlation of each guide's warp deviation from the true flow's warp with the part of the frames' change
  that the true flow's warp leaves unexplained (the residual): a guide that follows the frames' brightness
  rather than their geometry correlates with it;
* each score split by the true motion's size.

    python experiments/guide_estimator/warp_floor.py --out experiments/guide_estimator/results/warp_floor.json
    python experiments/guide_estimator/warp_floor.py --checkpoint <train_flow checkpoint>   # another learned one

About a minute per set to prepare on this 2-core CPU (once; they go to the data cache), seconds to score.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from megen.config.compose import compose_train
from megen.data.cache import clip_uid
from megen.data.preparation import prepare_synthetic
from megen.metrics.motion_transfer import MotionTransferError, end_point_error
from megen.models.flow_guided import flow_to_deformation
from megen.models.motion import warp
from megen.ops.choices import FlowEstimator
from megen.runtime.io import atomic_write_text
from megen.synthetic.clips import render_with_flow
from megen.synthetic.generator import SyntheticSpec, make_identities, program_for, subject_name
from megen.synthetic.nuisance import Nuisance

#: the default set's camera (conf/dataset/synthetic.yaml), as the guide_estimator study trains on it
NUISANCE = Nuisance(**compose_train().dataset.nuisance)
BINS_PX = (0.0, 0.05, 0.3, 1.0, 3.0, np.inf)     # true motion per pixel, of the 64-px frame


def spec_for(guide: str, checkpoint: str | None) -> SyntheticSpec:
    base = SyntheticSpec(seed=0, frame_size=64, n_subjects=16, clips_per_subject=4, apex_px=(1.0, 4.0),
                         apex_px_at=64, guides=True, nuisance=NUISANCE)
    if guide == "exact":
        return dataclasses.replace(base, guide_estimator=FlowEstimator.DIS, exact_guides=True)
    if guide == "learned":
        return dataclasses.replace(base, guide_estimator=FlowEstimator.LEARNED, guide_checkpoint=checkpoint)
    return dataclasses.replace(base, guide_estimator=FlowEstimator.parse(guide, "guide"))


def clean_frames(spec: SyntheticSpec) -> dict[str, np.ndarray]:
    """uid -> (T, S, S) uint8: every clip of ``spec`` rendered from its geometry without photometric nuisances."""
    out = {}
    for i, identity in enumerate(make_identities(spec)):
        for j in range(spec.clips_per_subject):
            program = dataclasses.replace(program_for(spec, identity, i, j), nuisance=Nuisance())
            frames, *_ = render_with_flow(identity, program, np.random.default_rng(0))
            subject = subject_name(i)
            out[clip_uid("synthetic", subject, f"{subject}_{j + 1:02d}")] = frames
    return out


def as_tensor(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames.astype(np.float32) / 255.0)[:, None]


def score(folder: Path, clean: dict[str, np.ndarray], exact: Path) -> dict:
    """Sums over every clip's frames after the onset -> the guide's scores (module docstring)."""
    rmte, rmte_clean = MotionTransferError(), MotionTransferError()
    bins = np.zeros((len(BINS_PX) - 1, 3))          # per bin: rMTE numerator, EPE sum, pixels
    motion = 0.0                                    # the rMTE denominator, for the bins' shares
    epe, deviation, residual = [], [], []
    for uid, clean_clip in clean.items():
        clip, truth = np.load(folder / "clips" / f"{uid}.npz"), np.load(exact / "clips" / f"{uid}.npz")
        frames, plain = as_tensor(clip["frames"]), as_tensor(clean_clip)
        guide = torch.from_numpy(clip["guide_flow"].astype(np.float32))
        true_flow = torch.from_numpy(truth["gt_flow"].astype(np.float32))
        onset = frames[:1].expand(len(frames), -1, -1, -1)
        moved, moved_true = warp(onset, flow_to_deformation(guide)), warp(onset, flow_to_deformation(true_flow))
        rmte.update(moved[1:], frames[1:], frames[:1], frames[:1])
        rmte_clean.update(moved[1:], plain[1:], frames[:1], plain[:1])
        change = (frames - frames[:1])[1:]
        err = ((moved - frames[:1])[1:] - change).abs()[:, 0].double().numpy()
        motion += change.abs().double().sum().item()
        size = true_flow[1:].norm(dim=-1).numpy()
        pixel_epe = end_point_error(guide[1:], true_flow[1:]).numpy()
        for b, (lo, hi) in enumerate(zip(BINS_PX[:-1], BINS_PX[1:])):
            m = (size >= lo) & (size < hi)
            bins[b] += (err[m].sum(), pixel_epe[m].sum(), m.sum())
        epe.append(pixel_epe.reshape(-1))
        deviation.append((moved - moved_true)[1:].reshape(-1).numpy())
        residual.append((change - (moved_true - frames[:1])[1:]).reshape(-1).numpy())
    deviation, residual = np.concatenate(deviation), np.concatenate(residual)
    return {
        "guide_epe_px": float(np.concatenate(epe).mean()),
        "warp_rmte": float(rmte.compute()),
        "warp_rmte_clean": float(rmte_clean.compute()),
        "deviation_gray_levels": float(np.abs(deviation).mean() * 255),
        # none for the true flow itself, whose deviation is zero everywhere
        "deviation_residual_correlation": (float(np.corrcoef(deviation, residual)[0, 1]) if deviation.any() else None),
        "by_true_motion_px": [{"from": lo, "to": (None if np.isinf(hi) else hi), "pixels": int(n),
                               "rmte_share": s / motion, "guide_epe_px": e / max(n, 1)}
                              for (lo, hi), (s, e, n) in zip(zip(BINS_PX[:-1], BINS_PX[1:]), bins)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--guides", nargs="+", default=["dis", "learned", "exact"])
    parser.add_argument("--checkpoint", default=None, help="the learned estimator (default: the packaged one)")
    parser.add_argument("--cache", default="data/cache")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    folders = {g: prepare_synthetic(spec_for(g, args.checkpoint), args.cache, progress=False)[0] for g in args.guides}
    exact = folders.get("exact") or prepare_synthetic(spec_for("exact", None), args.cache, progress=False)[0]
    clean = clean_frames(spec_for("exact", None))
    results = {"checkpoint": args.checkpoint or "packaged", "clips": len(clean),
               "guides": {g: score(f, clean, exact) for g, f in folders.items()}}
    for g, r in results["guides"].items():
        corr = r["deviation_residual_correlation"]
        print(f"{g:8s} guide EPE {r['guide_epe_px']:.4f} px  warp rMTE {r['warp_rmte']:.4f} "
              f"(clean frames {r['warp_rmte_clean']:.4f})  deviation {r['deviation_gray_levels']:.3f} gray levels, "
              f"correlation with the residual {'-' if corr is None else f'{corr:+.3f}'}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.out, json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
