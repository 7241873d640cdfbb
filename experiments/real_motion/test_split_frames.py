"""Where does a checkpoint lose to zero flow on the synthetic test split? Its flow error frame by frame.

    python experiments/real_motion/test_split_frames.py --ckpt <checkpoint> [--data <prepared folder>]

Training's end-of-run test scores onset -> apex pairs only; ``megen.evaluate`` averages every frame of each
test clip. This reads the model's dense flow from frame 0 to every frame k of the test split's clips (the same
subject-wise split as training), against the true flow, and prints the ratio of its end-point error to zero
flow's: over every frame, at the apex frames, by the size of the true motion, and by the size of its rigid
(mean) part, the head's drift. Synthetic data only; prints numbers.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from megen.animation import Animator, FaceInput
from megen.config.compose import compose_train
from megen.data.cache import PreparedSet
from megen.data.ground_truth import true_flow
from megen.data.preparation import prepare_sources
from megen.data.priors import clip_keypoints
from megen.data.splits import select_splits
from megen.models.motion import deformation_to_frame_flow


def frame_errors(gen: Animator, prepared: PreparedSet, indices) -> np.ndarray:
    """(N, 4): per frame, the true motion's mean magnitude (zero flow's EPE), the model's EPE, the magnitude of
    the true motion's mean vector (its rigid part) and 1 at the clip's apex frame."""
    rows = []
    with torch.inference_mode():
        for i in indices:
            arrays = prepared.load(i)
            face = FaceInput.build(arrays["frames"], clip_keypoints(arrays, gen.prior.keypoints), gen.prior,
                                   arrays["landmarks"])
            frames, n = face.frames, len(face.frames)
            out = gen.model(frames[:1].expand(n, -1, -1, -1), frames, face.prior.expand(n, -1, -1, -1),
                            face.keypoints.expand(n, -1, -1))
            flow = deformation_to_frame_flow(out["deformation"], tuple(frames.shape[2:])).numpy()
            apex = int(prepared.rows[i]["apex"])
            for k in range(n):
                true = true_flow(arrays, 0, k)
                rows.append((np.linalg.norm(true, axis=-1).mean(), np.linalg.norm(flow[k] - true, axis=-1).mean(),
                             np.linalg.norm(true.reshape(-1, 2).mean(0)), float(k == apex)))
    return np.asarray(rows)


def ratio(rows: np.ndarray, mask) -> str:
    return f"{rows[mask, 1].mean() / max(rows[mask, 0].mean(), 1e-9):.2f} (n={int(mask.sum())})" if mask.any() else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--data", help="a prepared folder (default: the default synthetic set, prepared if need be)")
    args = parser.parse_args()
    gen = Animator.from_checkpoint(args.ckpt)
    cfg = compose_train()
    folder = args.data or prepare_sources(cfg.dataset, cfg.paths.cache_dir, progress=False)[0][0]
    prepared = PreparedSet.open(folder)
    splits, _ = select_splits(prepared.rows, dict(cfg.dataset.split), list(cfg.dataset.exclude))
    rows = frame_errors(gen, prepared, splits["test"])
    zero, error, rigid, apex = rows.T
    print(f"{len(rows)} frames of {len(splits['test'])} test clips; EPE / zero flow's:")
    print(f"  every frame {ratio(rows, zero >= 0)}   apex frames {ratio(rows, apex == 1)} "
          f"(EPE {error[apex == 1].mean():.3f}, zero {zero[apex == 1].mean():.3f})")
    for lo, hi in ((0, 0.1), (0.1, 0.2), (0.2, 0.4), (0.4, 0.8), (0.8, np.inf)):
        print(f"  true motion {lo}-{hi} px: {ratio(rows, (zero >= lo) & (zero < hi))}")
    for lo, hi in ((0, 0.2), (0.2, 0.4), (0.4, np.inf)):
        print(f"  rigid part {lo}-{hi} px: {ratio(rows, (rigid >= lo) & (rigid < hi))}")


if __name__ == "__main__":
    main()
