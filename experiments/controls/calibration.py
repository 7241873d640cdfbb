"""How do the real-pair scorers read a transfer whose truth is known?

The real-pair score (``study.py``: cosine and amplitude of the output's regional motion against the driver's, each
measured by a scorer the system does not use) has no ground truth on real clips. Here it has: on the synthetic set,
identity A's clip drives identity B, and the truth is A's expression program (head motion included) rendered on B.
The driver passes through the real renditions' nuisances (``--noise``, 32 levels error-diffused, 0.1 % flicker;
docs/data.md, "Nuisances"); the outputs are what a generator writes, without them. Scored, per pair:

* ``truth``: B rendered by the program, clean: what a perfect generator would write. Its cosine and amplitude are
  the scorer's own reading of a perfect transfer (1 / 1 for an unbiased scorer);
* ``truth_as_driver``: the same with the driver's nuisances, so both clips look alike to the scorer;
* ``transfer_<guide>``: the training-free flow transfer of A's frames onto B's onset, its guide each of
  ``--guides`` (``learned``: the packaged estimator, or ``--checkpoint``'s);
* ``static``: B's onset repeated.

Beside the scorers' readings, each output's rMTE against the clean truth (1 = the static copy) and its apex flow's
amplitude against the truth's (the driver's true flow carried to B is not needed: the truth is rendered).

    python experiments/controls/calibration.py --out experiments/controls/results/calibration.json
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from study import measured

from megen.animation.flow_transfer import flow_transfer
from megen.metrics.expression import transfer_scores
from megen.metrics.motion_transfer import clip_rmte
from megen.models.microflow import flow_estimator
from megen.runtime.io import atomic_write_text
from megen.synthetic.generator import SyntheticSpec, make_identities, program_for, render
from megen.synthetic.nuisance import Nuisance


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--noise", type=float, default=0.5, help="the driver's sensor noise sd, gray levels")
    ap.add_argument("--head-px", type=float, default=1.5, help="the head motion's sd by the clip's end, px at 256")
    ap.add_argument("--apex-px", type=float, nargs=2, default=[1.0, 4.0], help="apex range, px of a 256-px face")
    ap.add_argument("--scorers", default="deepflow,tvl1")
    ap.add_argument("--guides", default="dis,learned")
    ap.add_argument("--checkpoint", help="the learned guide's checkpoint (default: the packaged one)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    camera = Nuisance(noise=args.noise, levels=32, dither=True, flicker=0.001, head_px=args.head_px)
    clean = Nuisance(head_px=args.head_px)
    spec = SyntheticSpec(seed=args.seed, frame_size=256, n_subjects=args.subjects, clips_per_subject=args.clips,
                         apex_px=tuple(args.apex_px), apex_px_at=256, render_scale=2, nuisance=camera)
    identities = make_identities(spec)
    scorers, guides = args.scorers.split(","), args.guides.split(",")
    estimators = {g: flow_estimator(g, args.checkpoint if g == "learned" else None) for g in guides}
    rows, start = [], time.time()
    for a, ident_a in enumerate(identities):
        ident_b = identities[(a + 1) % len(identities)]
        for j in range(args.clips):
            program = program_for(spec, ident_a, a, j)
            name = f"{ident_a.name}_{j + 1:02d}"
            driver = render(ident_a, program, ident_a.name, name, spec.seed)
            truth = render(ident_b, replace(program, nuisance=clean), ident_b.name, name, spec.seed)
            rendition = render(ident_b, program, ident_b.name, name, spec.seed)
            lm_a, lm_b = driver.landmarks[0].astype(np.float64), truth.landmarks[0].astype(np.float64)
            onset_b = truth.frames[0]
            outputs = {"truth": truth.frames, "truth_as_driver": rendition.frames,
                       "static": np.repeat(onset_b[None], len(truth.frames), axis=0)}
            for g, est in estimators.items():
                outputs[f"transfer_{g}"] = flow_transfer(onset_b, lm_b, driver.frames, lm_a, estimator=est)
            apex = int(np.argmax(np.linalg.norm(truth.flows, axis=-1).mean((1, 2))))
            row = {"driver": ident_a.name, "target": ident_b.name, "clip": j, "frames": len(truth.frames),
                   "apex_true_px": float(np.linalg.norm(driver.flows[apex], axis=-1).max()), "systems": {}}
            drivers = {s: measured(driver.frames, lm_a, s) for s in scorers}
            for system, frames in outputs.items():
                cells = {"rmte": clip_rmte(frames, truth.frames)}
                for s in scorers:
                    got = measured(frames, lm_b, s)
                    cells[s] = transfer_scores(drivers[s]["expression"], got["expression"])
                    cells[f"{s}_nonrigid"] = transfer_scores(drivers[s]["nonrigid"], got["nonrigid"])
                row["systems"][system] = cells
            rows.append(row)
            print(f"{name} -> {ident_b.name}: " + " | ".join(
                f"{k} rMTE {v['rmte']:.3f} " + " ".join(f"{s} {v[s]['cosine']:.3f}/{v[s]['amplitude']:.2f}"
                                                        for s in scorers)
                for k, v in row["systems"].items()), f"({time.time() - start:.0f} s)", flush=True)
    summary = {}
    for system in rows[0]["systems"]:
        cells = [r["systems"][system] for r in rows]
        summary[system] = {"rmte": [float(np.mean([c["rmte"] for c in cells])), float(np.std([c["rmte"] for c in cells]))]}
        for s in scorers:
            for k in ("cosine", "amplitude"):
                v = [c[s][k] for c in cells]
                summary[system][f"{k}/{s}"] = [float(np.mean(v)), float(np.std(v))]
    for system, cells in summary.items():
        print(f"{system:18s} " + "  ".join(f"{k} {m:.3f} ± {sd:.3f}" for k, (m, sd) in cells.items()))
    out = Path(args.out)
    atomic_write_text(out, json.dumps({"args": vars(args), "summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
