"""Do the motion controls do what they say on real pairs? (``megen.face.controls``: head, gain, regions)

    python experiments/controls/study.py --pairs <pairs.csv> --system transfer|<checkpoint> \
        --estimators deepflow,dis --out experiments/controls/runs/<label>.json keep/1/all remove/1/all ...

Each configuration is ``head/gain/regions[/retarget]`` (``regions``: ``all`` or names joined by ``+``;
``retarget``: ``similarity``, the default, or ``landmarks``). Every pair is
generated under it (the training-free flow transfer, or a checkpoint rendering natively) and scored against
the driver with each estimator, which the system itself does not use (the transfer and the default guide
measure with Farnebäck):

* the real-pair scores of ``megen.evaluation.real_pairs``: expression cosine and amplitude (the face's mean
  translation removed) and the head drift (the largest displacement of the face's mean flow, px of the
  canonical face), beside the driver's;
* the same cosine and amplitude with the face's whole similarity removed from both clips
  (``megen.face.controls.head_motion``), since the mean translation leaves a head's rotation and scale in
  the "expression" and would count their removal against ``head=remove``;
* the head drift split in two: the drift of the similarity fitted to the face's flow (``head_rigid_px``, what
  ``head=remove`` takes away) and, for the driver, the drift of the rest, the expression's own translation of
  the face's mean (``driver_expression_drift_px``: what a perfect ``head=remove`` leaves);
* each region's expression RMS, of both kinds (for ``regions=``, against the same head and gain over the
  whole face);
* the non-rigid cosine and amplitude without the eye regions (``*_nonrigid_without_eyes``): a lid that slides over
  the eye is an occlusion, which each estimator reads at its own size.

``--guide`` names the transfer's estimator (default Farnebäck, its own; ``learned``: the packaged micro-motion
estimator, or ``--checkpoint``'s), to compare guides without a model. ``--prealign S`` makes the guide measure
only what is left once the onset is warped by DIS's flow smoothed over S px (the head and the face's broad
motion), and adds the two: does a guide lose to DIS because of the motion it was not trained on?

Only numbers are written (JSON), never frames of the clips.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from megen.evaluation.real_pairs import model_system, onset_landmarks, read_clip, read_pairs, uint8_clip
from megen.face.controls import MotionControls, head_motion, similarity_field
from megen.face.correspondence import pixel_grid
from megen.metrics.expression import (
    EXPRESSION_REGIONS,
    NOT_EYES,
    canonical_clip,
    drift,
    onset_flows,
    region_masks,
    regional_expression,
    rms,
    transfer_scores,
)
from megen.models.microflow import flow_estimator
from megen.ops.flow import estimator, pair_flows
from megen.runtime.io import atomic_write_text
from megen.runtime.video import read_image


def measured(frames, landmarks, name: str) -> dict:
    """A clip's motion under one estimator: expression with the face's mean removed (T, R, 2), its head curve
    (T, 2), and expression with the face's similarity removed (T, R, 2); canonical 256-px face."""
    gray, lm = canonical_clip(frames, landmarks)
    regions, face = region_masks(lm)
    flows = onset_flows(gray, estimator(name))
    rigid = similarity_field(head_motion(flows, lm), flows.shape[1:3])
    # the face's mean flow splits into the fitted similarity's part and the expression's own translation
    # (a brow raise moves the face's mean too): with the head removed perfectly, the latter is what stays
    return {"expression": regional_expression(flows, regions, face), "head": flows[:, face].mean(axis=1),
            "nonrigid": regional_expression(flows - rigid, regions, face),
            "head_rigid": rigid[:, face].mean(axis=1), "head_nonrigid": (flows - rigid)[:, face].mean(axis=1)}


def parse(config: str) -> MotionControls:
    head, gain, regions, *retarget = config.split("/")
    return MotionControls(head, float(gain), None if regions == "all" else tuple(regions.split("+")),
                          retarget=retarget[0] if retarget else "similarity")


class Prealigned:
    """An estimator measuring the residual after the onset is warped by DIS's flow smoothed over ``sigma`` px
    (Gaussian sd): flow(p) = r(p) + base(p + r(p)), forward like every estimator of ``megen.ops.flow``."""

    def __init__(self, inner, sigma: float):
        self.inner, self.sigma, self.dis = inner, float(sigma), estimator("dis")

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.pairs([a], [b])[0]

    @staticmethod
    def _moved(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
        """image(p + flow(p)), bilinear (``megen.face.flow.warp_backward`` is bicubic), edges replicated."""
        xy = pixel_grid(*flow.shape[:2]) + flow
        return cv2.remap(image, xy[..., 0], xy[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def pairs(self, frames, onsets) -> np.ndarray:
        bases = [cv2.GaussianBlur(flow, (0, 0), self.sigma) for flow in pair_flows(frames, onsets, self.dis)]
        warped = [self._moved(b, base) for b, base in zip(onsets, bases)]
        rest = pair_flows(frames, warped, self.inner)
        return np.stack([r + self._moved(base, r) for r, base in zip(rest, bases)]).astype(np.float32)


def system_for(spec: str, controls: MotionControls, animator=None, guide: str = "farneback",
               prealign: float = 0.0, checkpoint: str | None = None):
    if spec == "transfer":
        guide_estimator = flow_estimator(guide, checkpoint)
        guide_estimator = Prealigned(guide_estimator, prealign) if prealign > 0 else guide_estimator
        from megen.animation.flow_transfer import flow_transfer

        def run(frames, landmarks, target_path):
            target = read_image(target_path)
            return flow_transfer(target, onset_landmarks(target, str(target_path)), frames, landmarks,
                                 estimator=guide_estimator, controls=controls)
        return run
    return model_system(animator, batch_size=1, render="native", controls=controls)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--system", required=True, help="transfer, or a checkpoint")
    ap.add_argument("--estimators", default="deepflow,dis")
    ap.add_argument("--guide", default="farneback", help="the transfer's estimator (megen.ops.flow, or learned)")
    ap.add_argument("--checkpoint", help="the learned guide's python -m megen.train_flow checkpoint (default: packaged)")
    ap.add_argument("--prealign", type=float, default=0.0,
                    help="px: the guide measures what is left after DIS's flow smoothed this much (0: off)")
    ap.add_argument("--out", required=True)
    ap.add_argument("configs", nargs="+")
    args = ap.parse_args()
    names = args.estimators.split(",")
    pairs = read_pairs(args.pairs)
    drivers = {}
    for p in pairs:
        if p.driving not in drivers:
            frames = read_clip(p.driving)
            lm = onset_landmarks(frames[0], str(p.driving))
            drivers[p.driving] = (frames, lm, {n: measured(frames, lm, n) for n in names})
    animator = None
    if args.system != "transfer":
        from megen.animation import Animator

        animator = Animator.from_checkpoint(args.system)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.is_file() else {}
    for config in args.configs:
        system, start, rows = system_for(args.system, parse(config), animator, args.guide, args.prealign,
                                          args.checkpoint), time.time(), {}
        for p in pairs:
            frames, lm, driver = drivers[p.driving]
            clip = uint8_clip(system(frames, lm, p.target))
            generated_lm = onset_landmarks(clip[0], f"{p.name}: generated")
            row = {}
            for n in names:
                g, d = measured(clip, generated_lm, n), driver[n]
                row[n] = {**transfer_scores(d["expression"], g["expression"]),
                          **{f"{k}_nonrigid": v for k, v in transfer_scores(d["nonrigid"], g["nonrigid"]).items()},
                          **{f"{k}_nonrigid_without_eyes": v for k, v in
                             transfer_scores(d["nonrigid"][:, NOT_EYES], g["nonrigid"][:, NOT_EYES]).items()},
                          "head_px": drift(g["head"]), "driver_head_px": drift(d["head"]),
                          "head_rigid_px": drift(g["head_rigid"]), "driver_head_rigid_px": drift(d["head_rigid"]),
                          "driver_expression_drift_px": drift(d["head_nonrigid"]),
                          "region_rms": {r: rms(g["expression"][:, i]) for i, r in enumerate(EXPRESSION_REGIONS)},
                          "region_rms_nonrigid": {r: rms(g["nonrigid"][:, i]) for i, r in enumerate(EXPRESSION_REGIONS)}}
            rows[p.name] = row
        results[config] = rows
        atomic_write_text(out, json.dumps(results, indent=1))
        # regions are compared with the same head and gain over the whole face
        base = results.get(config.rsplit("/", 1)[0] + "/all")
        print(summary(config, rows, base), f"({time.time() - start:.0f} s)", flush=True)


def summary(config: str, rows: dict, base: dict | None) -> str:
    cells = []
    for n in next(iter(rows.values())):
        mean = {k: float(np.mean([r[n][k] for r in rows.values()]))
                for k in ("cosine", "amplitude", "cosine_nonrigid", "amplitude_nonrigid", "cosine_nonrigid_without_eyes",
                          "amplitude_nonrigid_without_eyes", "head_px", "driver_head_px", "head_rigid_px",
                          "driver_expression_drift_px")}
        cell = (f"{n}: cos {mean['cosine']:.3f} amp {mean['amplitude']:.3f} | non-rigid cos {mean['cosine_nonrigid']:.3f}"
                f" amp {mean['amplitude_nonrigid']:.3f} (without the eyes: cos {mean['cosine_nonrigid_without_eyes']:.3f}"
                f" amp {mean['amplitude_nonrigid_without_eyes']:.3f}) | head {mean['head_px']:.2f} px (driver"
                f" {mean['driver_head_px']:.2f}"
                f", its expression's own {mean['driver_expression_drift_px']:.2f}) rigid {mean['head_rigid_px']:.2f} px")
        if base is not None and not config.endswith("/all"):
            key = "region_rms_nonrigid" if "region_rms_nonrigid" in base[next(iter(rows))][n] else "region_rms"
            share = {r: np.mean([rows[p][n][key][r] / max(base[p][n][key][r], 1e-9) for p in rows])
                     for r in EXPRESSION_REGIONS}
            cell += " | non-rigid region RMS / all regions': " + " ".join(f"{r} {v:.2f}" for r, v in share.items())
        cells.append(cell)
    return f"{config}: " + " || ".join(cells)


if __name__ == "__main__":
    main()
