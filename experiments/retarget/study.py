"""Where does the driver's motion land on a face of other proportions? ``retarget=similarity`` against
``retarget=landmarks`` on the synthetic set's cross-identity ground truth (``megen.face.correspondence``).

    python experiments/retarget/study.py --variation 1 2 --subjects 8 --clips 2 --out experiments/retarget/runs/synthetic.json

For each variation of the identities (``dataset.variation``: 1 is the training set's; 2 doubles the shape
morph's range of eye spacing, mouth and jaw width, brow height and nose length) a 256-px synthetic set is
rendered without nuisances. Every clip of subject A drives the next subject B; the truth is A's expression
program rendered on B, with its exact flow. Each correspondence is scored twice:

* ``flow EPE``: A's *true* flow carried into B's face, against B's true flow, over B's face (the
  correspondence alone, no estimator), beside zero flow's;
* ``rMTE``: the training-free flow transfer (A's flow measured by Farnebäck, as generation does) rendered on B's
  onset frame, against B's true frames (1 = the static copy).

Mean ± sd over pairs; the pairs are the same for both correspondences.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from megen.animation.flow_transfer import flow_transfer
from megen.face.choices import Retarget
from megen.face.controls import MotionControls
from megen.face.flow import DriverFlow, target_fields
from megen.metrics.motion_transfer import clip_rmte
from megen.runtime.io import atomic_write_text
from megen.synthetic.generator import SyntheticSpec, make_identities, program_for, render


def face_mask(landmarks: np.ndarray, size: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(landmarks).astype(np.int32)), 1)
    return mask.astype(bool)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variation", type=float, nargs="+", default=[1.0, 2.0])
    ap.add_argument("--subjects", type=int, default=8)
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--render-scale", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    results: dict = {"args": vars(args), "variations": {}}
    for variation in args.variation:
        spec = SyntheticSpec(seed=args.seed, frame_size=256, n_subjects=args.subjects, clips_per_subject=args.clips,
                             variation=variation, render_scale=args.render_scale)
        identities = make_identities(spec)
        rows, start = [], time.time()
        for a, ident_a in enumerate(identities):
            b = (a + 1) % len(identities)
            ident_b = identities[b]
            for j in range(args.clips):
                program = program_for(spec, ident_a, a, j)
                driver = render(ident_a, program, ident_a.name, f"{ident_a.name}_{j + 1:02d}", spec.seed)
                truth = render(ident_b, program, ident_b.name, f"{ident_a.name}_{j + 1:02d}", spec.seed)
                lm_a, lm_b = driver.landmarks[0].astype(np.float64), truth.landmarks[0].astype(np.float64)
                mask = face_mask(lm_b, 256)
                true_b = truth.flows[:, mask]
                row = {"driver": ident_a.name, "target": ident_b.name, "clip": j,
                       "zero_epe": float(np.linalg.norm(true_b, axis=-1).mean())}
                for retarget in Retarget:
                    carried = target_fields(DriverFlow(driver.flows, np.eye(2, 3), lm_a), lm_b, (256, 256), retarget)
                    row[f"epe_{retarget}"] = float(np.linalg.norm(carried[:, mask] - true_b, axis=-1).mean())
                    generated = flow_transfer(truth.frames[0], lm_b, list(driver.frames), lm_a,
                                              controls=MotionControls(retarget=retarget))
                    row[f"rmte_{retarget}"] = clip_rmte(generated, truth.frames)
                rows.append(row)
                print(variation, ident_a.name, "->", ident_b.name, j,
                      {k: round(v, 4) for k, v in row.items() if isinstance(v, float)}, flush=True)
        summary = {}
        for key in ["zero_epe"] + [f"{m}_{r}" for m in ("epe", "rmte") for r in Retarget]:
            values = np.array([r[key] for r in rows])
            summary[key] = [float(values.mean()), float(values.std())]
        for m in ("epe", "rmte"):
            ratio = np.array([r[f"{m}_landmarks"] / r[f"{m}_similarity"] for r in rows])
            summary[f"{m}_landmarks_over_similarity"] = [float(ratio.mean()), float(ratio.std())]
        results["variations"][str(variation)] = {"pairs": rows, "summary": summary,
                                                 "seconds": round(time.time() - start, 1)}
        print(variation, json.dumps(summary), flush=True)
        atomic_write_text(Path(args.out), json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
