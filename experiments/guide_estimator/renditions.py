"""How do real clips' GIF renditions reach their 32 gray levels: by rounding each pixel, or by error diffusion?
And how much does the light on the face change between frames, once the face's motion is undone?

Two statistics of consecutive distinct frames, on the clips given and on still synthetic faces (seed 1000 on,
no motion) under each way of reaching the levels at several noise levels:

* ``opposite``: the share of changed pixels whose left or right neighbour changed the other way. Error
  diffusion carries each pixel's rounding error to its right, so a small change reshuffles the pattern in
  runs of +1 / -1 level neighbours; rounding changes pixels one by one.
* ``change``: the median over 16-px blocks of the share of pixels that changed.
* ``texture``: one frame's robust sd (gray levels) of itself minus its 3x3 mean over its flattest fifth, a
  measure of sensor noise in a single frame, which the diffusion pattern raises too.

A real clip's frames also hold the face's motion, which adds changes of its own, so the noise level is
bounded, not fitted.

* ``shading``: the sd over the face (eroded by 7 px) of the ratio of the frame, warped back onto the onset by
  DeepFlow's flow, to the onset, both blurred over 8 px and the ratio taken relative to its median: how much the
  light changes over the face beyond a uniform gain (median and largest over a dozen frames of the clip; on
  synthetic pairs at 256 px with the renditions' nuisances, without and with ``Nuisance.shading``).

Usage::

    python experiments/guide_estimator/renditions.py --clips <a.gif> <b.gif> ... --out results/renditions.json
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

NOISES = (0.0, 0.2, 0.5, 1.0, 1.5, 2.8)


def opposite_share(a: np.ndarray, b: np.ndarray) -> float:
    """(H, W) uint8 pair -> share of changed pixels with a horizontal neighbour changed the opposite way."""
    d = np.sign(b.astype(np.int16) - a.astype(np.int16))
    flipped = d[:, :-1] * d[:, 1:] < 0
    beside = np.zeros(d.shape, bool)
    beside[:, :-1] |= flipped
    beside[:, 1:] |= flipped
    return float(beside.sum() / max(int((d != 0).sum()), 1))


def block_change(a: np.ndarray, b: np.ndarray, block: int = 16) -> float:
    """(H, W) pair -> median over ``block``-px blocks of the share of pixels that changed."""
    h, w = (a.shape[0] // block) * block, (a.shape[1] // block) * block
    changed = (a[:h, :w] != b[:h, :w]).reshape(h // block, block, w // block, block).mean((1, 3))
    return float(np.median(changed))


def texture_sd(frame: np.ndarray) -> float:
    """(H, W) -> robust sd of the frame minus its 3x3 mean over the flattest fifth (by its smoothed Laplacian),
    scaled to a pixel's own sd for white noise."""
    import cv2

    x = frame.astype(np.float64)
    residual = x - cv2.blur(x, (3, 3))
    busy = cv2.blur(np.abs(cv2.Laplacian(cv2.GaussianBlur(x, (0, 0), 2), cv2.CV_64F)), (9, 9))
    r = residual[busy <= np.quantile(busy, 0.2)]
    return float(1.4826 * np.median(np.abs(r - np.median(r))) * 3 / np.sqrt(8))


def clip_statistics(path: str) -> dict:
    from PIL import Image, ImageSequence

    frames = [np.asarray(f.convert("L")) for f in ImageSequence.Iterator(Image.open(path))]
    distinct = [frames[0]] + [b for a, b in zip(frames, frames[1:]) if (a != b).any()]
    pairs = list(zip(distinct, distinct[1:]))
    return {"frames": len(frames), "distinct": len(distinct), "levels": int(len(np.unique(np.stack(frames)))),
            "opposite": float(np.mean([opposite_share(a, b) for a, b in pairs])),
            "change": float(np.median([block_change(a, b) for a, b in pairs])),
            "texture": float(np.median([texture_sd(f) for f in distinct]))}


def shading_sd(onset: np.ndarray, frame: np.ndarray, face: np.ndarray) -> float:
    """(H, W) uint8 onset and frame, (H, W) bool face -> sd of the smooth relative brightness change over the
    face once the frame is warped back onto the onset by DeepFlow's flow."""
    import cv2

    from megen.face.flow import warp_backward
    from megen.ops.flow import estimator

    flow = estimator("deepflow")(onset, frame)
    back = cv2.GaussianBlur(warp_backward(frame.astype(np.float32), flow), (0, 0), 8)
    ratio = (back / np.maximum(cv2.GaussianBlur(onset.astype(np.float32), (0, 0), 8), 1.0))[
        cv2.erode(face.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)]
    return float(np.std(ratio / np.median(ratio)))


def clip_shading(path: str) -> dict:
    from megen.evaluation.real_pairs import onset_landmarks, read_clip
    from megen.metrics.expression import canonical_clip, region_masks

    frames = read_clip(Path(path))
    gray, landmarks = canonical_clip(frames, onset_landmarks(frames[0], path))
    face = region_masks(landmarks)[1]
    sds = [shading_sd(gray[0], gray[k], face) for k in range(1, len(gray), max(1, len(gray) // 12))]
    return {"shading_median": float(np.median(sds)), "shading_max": float(np.max(sds))}


def synthetic_shading(levels=(0.0, 0.01), pairs: int = 12) -> dict:
    from megen.metrics.expression import region_masks
    from megen.synthetic.flow_pairs import PairSpec, flow_pair
    from megen.synthetic.generator import SyntheticSpec, make_identities
    from megen.synthetic.nuisance import Nuisance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        faces = make_identities(SyntheticSpec(seed=1000, frame_size=256, n_subjects=4, render_scale=2))
    out = {}
    for level in levels:
        nuisance = Nuisance(noise=0.5, levels=32, dither=True, flicker=0.001, head_px=1.5, shading=level)
        spec = PairSpec(motion_px=(0.5, 3.0), still=0.0, nuisance=nuisance, vary_nuisance=False)
        rng, sds = np.random.default_rng(0), []
        for i in range(pairs):
            face = faces[i % len(faces)]
            frame, onset, _ = flow_pair(face, rng, spec)
            sds.append(shading_sd(onset, frame, region_masks(face.landmarks, onset.shape[0])[1]))
        out[f"shading {level:g}"] = {"shading_median": float(np.median(sds)), "shading_max": float(np.max(sds))}
    return out


def synthetic_statistics(identities: int = 3) -> dict:
    from megen.synthetic.generator import SyntheticSpec, make_identities
    from megen.synthetic.nuisance import Nuisance, photometric

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # the identity generator's thin-plate solves on near-collinear points
        faces = make_identities(SyntheticSpec(seed=1000, frame_size=256, n_subjects=identities))
    rng = np.random.default_rng(0)
    out = {}
    for dither in (False, True):
        for noise in NOISES:
            nuisance = Nuisance(noise=noise, levels=32, dither=dither, flicker=0.001)
            pairs = [(photometric(f.image * 255.0, nuisance, rng), photometric(f.image * 255.0, nuisance, rng))
                     for f in faces]
            out[f"{'diffused' if dither else 'rounded'}, noise {noise:g}"] = {
                "opposite": float(np.mean([opposite_share(a, b) for a, b in pairs])),
                "change": float(np.mean([block_change(a, b) for a, b in pairs])),
                "texture": float(np.mean([texture_sd(a) for a, _ in pairs]))}
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", nargs="*", default=[], help="GIF renditions of real clips")
    parser.add_argument("--out", help="a JSON file for the numbers (clip names and statistics only)")
    args = parser.parse_args(argv)
    result = {"clips": {Path(c).stem: {**clip_statistics(c), **clip_shading(c)} for c in args.clips},
              "synthetic": synthetic_statistics(), "synthetic_shading": synthetic_shading()}
    for name, s in {**result["clips"], **result["synthetic"], **result["synthetic_shading"]}.items():
        print(f"{name:28s} " + "  ".join(f"{k} {v:.4g}" for k, v in s.items() if k not in ("frames", "distinct")))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=out.parent, suffix=".tmp", delete=False) as f:
            json.dump(result, f, indent=1)
        os.replace(f.name, out)


if __name__ == "__main__":
    main()
