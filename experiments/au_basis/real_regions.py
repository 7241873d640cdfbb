"""How do the AU basis's fields compare with real micro-expressions, region by region? For reading, not tuning.

    python experiments/au_basis/real_regions.py --basis <aubasis fit's file> --pairs <pairs.csv> \
        --estimators deepflow,tvl1 --out experiments/au_basis/results/real_regions.json

Each driving clip of the pairs file is put in the canonical 256-px face of the expression metrics
(``megen.metrics.expression``), its flow from the onset measured by each estimator, the head's similarity taken
off (``megen.face.controls.head_motion``), and its regional expression read at its apex (the frame where it is
largest): the mean motion of each region (brows, eyes, nose, mouth halves) less the face's mean. Each AU field of
the basis is carried into the same face by the landmark correspondence and read the same way. Written per clip:
the cosine of its regional pattern with every AU's (and with the composed AU6 + AU12 of a smile and AU4 + AU7 of
a frown), the same within each group of regions for AU4 and AU12, each group's share of the motion, and the
vectors themselves (px, forward, image axes: y down). Only numbers are written.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from megen.evaluation.real_pairs import onset_landmarks, read_clip, read_pairs
from megen.expression.basis import load_basis
from megen.expression.fit import to_canonical
from megen.face.controls import head_motion, similarity_field
from megen.metrics.expression import (
    EXPRESSION_REGIONS,
    canonical_clip,
    motion_cosine,
    onset_flows,
    region_masks,
    regional_expression,
)
from megen.ops.flow import estimator
from megen.runtime.io import atomic_write_text

#: the AU sets read beside every single AU: a smile's (the development clips are all positive) and a frown's
COMPOSED = (("AU6", "AU12"), ("AU4", "AU7"))
#: the regions grouped for the shares: brows, eyes, nose, mouth
GROUPS = {"brows": ("brow_left", "brow_right"), "eyes": ("eye_left", "eye_right"), "nose": ("nose",),
          "mouth": ("mouth_left", "mouth_right")}


def shares(vectors: np.ndarray) -> dict[str, float]:
    """Each group's share of the squared regional motion (R, 2)."""
    energy = dict(zip(EXPRESSION_REGIONS, (np.asarray(vectors) ** 2).sum(-1)))
    total = max(sum(energy.values()), 1e-12)
    return {g: round(float(sum(energy[r] for r in names) / total), 3) for g, names in GROUPS.items()}


def group_cosines(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """The cosine of two regional motions (R, 2) within each group of ``GROUPS``."""
    index = {r: i for i, r in enumerate(EXPRESSION_REGIONS)}
    return {g: round(motion_cosine(a[[index[r] for r in names]], b[[index[r] for r in names]]), 3)
            for g, names in GROUPS.items()}


def basis_pattern(basis, aus, landmarks: np.ndarray, regions, face) -> np.ndarray:
    """The regional expression (R, 2) of ``aus`` at intensity 1, carried into the face of ``landmarks`` (the
    canonical 256 px): forward, as the clips' flows are measured (the basis holds backward fields)."""
    field = to_canonical(basis.field({a: 1.0 for a in aus}), basis.landmarks, landmarks, regions.shape[-1])
    return -regional_expression(field[None], regions, face)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--basis", required=True)
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--estimators", default="deepflow,tvl1")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    basis = load_basis(args.basis)
    drivers = sorted({pair.driving for pair in read_pairs(args.pairs)}, key=str)
    result = {"basis": {"aus": list(basis.aus), "provenance": basis.provenance}, "estimators": args.estimators,
              "clips": {}}
    sets = [(a,) for a in basis.aus] + [s for s in COMPOSED if all(a in basis.aus for a in s)]
    for path in drivers:
        frames = read_clip(Path(path))
        gray, lm = canonical_clip(frames, onset_landmarks(frames[0], str(path)))
        regions, face = region_masks(lm)
        patterns = {"+".join(s): basis_pattern(basis, s, lm, regions, face) for s in sets}
        clip = {}
        for name in args.estimators.split(","):
            flows = onset_flows(gray, estimator(name))
            expression = regional_expression(flows - similarity_field(head_motion(flows, lm), flows.shape[1:3]),
                                             regions, face)
            apex = int(np.argmax(np.linalg.norm(expression, axis=(1, 2))))
            at_apex = expression[apex]
            cosines = sorted(((k, round(motion_cosine(at_apex, p), 3)) for k, p in patterns.items()), key=lambda kv: -kv[1])
            clip[name] = {"apex_frame": apex, "frames": len(frames), "cosine": dict(cosines),
                          "group_cosine": {k: group_cosines(at_apex, patterns[k]) for k in ("AU4", "AU12")
                                           if k in patterns},
                          "shares": shares(at_apex), "regions_px": np.round(at_apex, 3).tolist()}
        clip["basis"] = {k: {"shares": shares(p), "regions_px": np.round(p, 3).tolist()} for k, p in patterns.items()
                         if k in ("AU4", "AU12") or "+" in k}
        result["clips"][Path(path).name] = clip
        best = {n: next(iter(clip[n]["cosine"].items())) for n in args.estimators.split(",")}
        print(Path(path).name, {n: clip[n]["cosine"].get("AU12") for n in best}, "best:", best)
    result["regions"] = list(EXPRESSION_REGIONS)
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
