"""Where does the key-point model lose a real micro-expression's amplitude?

    python experiments/real_motion/keypoint_diagnosis.py --ckpt <a model=fomm checkpoint> --pairs <pairs.csv> \
        --estimators deepflow,dis --out experiments/real_motion/runs/keypoint_diagnosis.json

Three measurements on the real pairs, none of them training anything:

1. *At the key points.* For every generated frame, the dense motion network's deformation read at the
   transferred driving key points against those key points' own displacement (the tracked motion the
   model was given): RMS of each, their ratio and cosine, and the mean weight of the background mask.
   If the ratio is near 1, the sparse-to-dense step keeps the key points' motion where they are.
2. *Generation-time variants of the same checkpoint*, each scored with ``--estimators`` (none of them is
   used by the key-point model, which tracks with Lucas-Kanade): the magnification ``magnify=k`` with the
   driver measured by ``--magnify-estimator``; the Lucas-Kanade window at the driver's 256-px crop
   (``--radii``, fractions of the crop width; the model's own is 0.06); the dense-motion mask prior's
   background level (``--backgrounds``).
3. The baselines beside them: the static copy, the training-free flow transfer and the published outputs.

Only numbers are written (JSON), never frames of the clips.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import megen.models.motion_networks as motion_networks
from megen.animation import Animator
from megen.evaluation.real_pairs import DriverMotion, model_system, read_pairs, score_pairs
from megen.ops.flow import estimator as flow_estimator
from megen.runtime.io import atomic_write_text


def at_keypoints(animator: Animator, pairs) -> list[dict]:
    """Per pair: RMS of the transferred key points' displacement and of the deformation read there (px of the
    model's frame), their ratio and cosine, and the background mask's mean weight."""
    model = animator.model
    records = []
    inner = model.transfer

    def recording(source, features, motion_s, motion_d, driving=None, background_from=None):
        out = inner(source, features, motion_s, motion_d, driving, background_from)
        kp_d, kp_s = motion_d["value"], motion_s["value"]                         # (n, K, 2) [-1, 1]
        read = F.grid_sample(out["deformation"].permute(0, 3, 1, 2), kp_d[:, :, None, :],
                             align_corners=False)[..., 0].permute(0, 2, 1)       # where kp_d samples the target
        records.append((kp_d - kp_s, kp_d - read, out["mask"][:, 0].mean()))
        return out

    model.transfer = recording
    size = animator.frame_size / 2.0
    rows = []
    try:
        for pair in pairs:
            records.clear()
            driver = DriverMotion.of(pair.driving, ())      # its frames and onset landmarks; no flow is measured
            model_system(animator)(driver.frames, driver.landmarks, pair.target)
            given = torch.cat([r[0] for r in records]).detach() * size
            dense = torch.cat([r[1] for r in records]).detach() * size
            rms_given, rms_dense = given.pow(2).sum(-1).mean().sqrt(), dense.pow(2).sum(-1).mean().sqrt()
            rows.append({"pair": pair.name, "keypoints_rms_px": float(rms_given), "dense_at_keypoints_rms_px": float(rms_dense),
                         "ratio": float(rms_dense / rms_given),
                         "cosine": float(F.cosine_similarity(given.flatten(), dense.flatten(), dim=0)),
                         "background_mask": float(torch.stack([r[2] for r in records]).mean())})
    finally:
        model.transfer = inner
    return rows


@contextlib.contextmanager
def tracking_window(fraction: float):
    """Lucas-Kanade's window at the driver's full-resolution crop as ``fraction`` of its width; the model's own
    frame keeps its window."""
    own = motion_networks.tracking_radius
    motion_networks.tracking_radius = lambda width: max(2, round(fraction * int(width))) if int(width) > 128 else own(width)
    try:
        yield
    finally:
        motion_networks.tracking_radius = own


def variants(ckpt: str, plain: Animator, magnify: list[float], magnify_estimator: str, radii: list[float],
             backgrounds: list[float]):
    """label -> System, each a generation-time variant of the checkpoint ``ckpt``, loaded as ``plain``."""
    systems = {"checkpoint as trained": model_system(plain)}
    for k in magnify:
        systems[f"magnify={k:g} ({magnify_estimator})"] = model_system(plain, magnify=k,
                                                                       magnify_estimator=flow_estimator(magnify_estimator))
    for fraction in radii:
        def run(frames, landmarks, target, fraction=fraction):
            with tracking_window(fraction):
                return model_system(plain)(frames, landmarks, target)
        systems[f"tracking window {fraction:g} of the crop"] = run
    for level in backgrounds:
        animator = Animator.from_checkpoint(ckpt)
        animator.model.dense_motion.background_level = level
        systems[f"mask background {level:g}"] = model_system(animator)
    return systems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--estimators", default="deepflow,dis")
    parser.add_argument("--magnify", default="2,4", help="factors, comma-separated ('' for none)")
    parser.add_argument("--magnify-estimator", default="tvl1")
    parser.add_argument("--radii", default="0.03,0.015")
    parser.add_argument("--backgrounds", default="0.1,0.02")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    floats = lambda s: [float(x) for x in s.split(",") if x]   # noqa: E731
    pairs = read_pairs(args.pairs)
    start = time.time()
    animator = Animator.from_checkpoint(args.ckpt)
    keypoints = at_keypoints(animator, pairs)
    for row in keypoints:
        print(f"{row['pair']}: key points {row['keypoints_rms_px']:.3f} px, "
              f"dense motion there {row['dense_at_keypoints_rms_px']:.3f} px (ratio {row['ratio']:.2f}, "
              f"cosine {row['cosine']:.2f}), background mask {row['background_mask']:.3f}")
    systems = variants(args.ckpt, animator, floats(args.magnify), args.magnify_estimator, floats(args.radii),
                       floats(args.backgrounds))
    estimators = args.estimators.split(",")
    scored = score_pairs(pairs, systems, None, face_metrics=False, sheets=False, estimators=estimators)
    for label, s in scored["mean"].items():
        print(f"{label:36s} " + "  ".join(f"{e} {s[f'cosine/{e}']:.3f} / {s[f'amplitude/{e}']:.3f}" for e in estimators))
    result = {"checkpoint": Path(args.ckpt).name, "estimators": estimators, "at_keypoints": keypoints,
              "mean": scored["mean"], "seconds": round(time.time() - start)}
    atomic_write_text(Path(args.out), json.dumps(result, indent=2, default=lambda v: float(np.asarray(v))))


if __name__ == "__main__":
    main()
