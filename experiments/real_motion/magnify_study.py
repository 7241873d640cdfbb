"""Magnify, animate, de-magnify on real pairs: does a key-point checkpoint move real faces more faithfully when it
sees the driver's micro-motion magnified k times (``magnify=k``, ``megen.animation.magnify``)?

    python experiments/real_motion/magnify_study.py --pairs <pairs.csv> --ckpt <run>/checkpoints/last.ckpt [--ckpt ...] \
        --factors 1,2,4,8 --magnifier dis --estimators deepflow,tvl1,farneback --out <json>

Each checkpoint animates every pair at each factor, rendered natively, with the driver magnified by
``--magnifier`` (an estimator of ``megen.ops.flow`` or ``learned``), and every clip is scored against the driver
by each of ``--estimators`` (``megen.evaluation.real_pairs.score_pairs``: expression cosine and amplitude, beside
the static copy, the flow transfer and the published outputs the pairs file lists). A scorer that is also the
magnifier reads its own magnification: the script refuses that pairing.

Only numbers are written (JSON), never frames of the clips.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from megen.animation import Animator
from megen.config.compose import compose_train
from megen.evaluation.real_pairs import model_system, read_pairs, score_pairs
from megen.models.microflow import flow_estimator
from megen.runtime.io import atomic_write_text


def label(ckpt_index: int, factor: float) -> str:
    return f"ckpt{ckpt_index} magnify={factor:g}"


def pair_means(pairs: list[dict], system: str, estimators: list[str]) -> dict:
    """{estimator: {"cosine": mean, "amplitude": mean}} of ``system`` over the ``pairs`` that scored it (none: {})."""
    rows = [p["systems"][system] for p in pairs if system in p["systems"]]
    if not rows:
        return {}
    return {est: {key: float(np.mean([r[f"{key}/{est}"] for r in rows])) for key in ("cosine", "amplitude")}
            for est in estimators}


def summarise(result: dict, ckpts: list[str], factors: list[float], published=("seed_mix", "fomm")) -> dict:
    """Per factor: the mean and sd over checkpoints of each scorer's mean cosine and amplitude, over all pairs and
    over the pairs with published outputs; the baselines' means beside them."""
    estimators = result["estimators"]
    with_published = [p for p in result["pairs"] if any(k in p["systems"] for k in published)]

    def means(pairs, system):
        return pair_means(pairs, system, estimators)

    def spread(per_ckpt):
        out = {}
        for est in estimators:
            for key in ("cosine", "amplitude"):
                values = [m[est][key] for m in per_ckpt if est in m]
                if values:
                    out.setdefault(est, {})[key] = [float(np.mean(values)), float(np.std(values, ddof=1))
                                                    if len(values) > 1 else 0.0]
        return out

    table = {}
    for factor in factors:
        per_all = [means(result["pairs"], label(i, factor)) for i in range(len(ckpts))]
        per_pub = [means(with_published, label(i, factor)) for i in range(len(ckpts))]
        table[f"{factor:g}"] = {"all_pairs": spread(per_all), "published_pairs": spread(per_pub)}
    baselines = {}
    for name in ("static", "flow_transfer", *published):
        pairs = [p for p in result["pairs"] if name in p["systems"]]
        if pairs:
            baselines[name] = {"all_pairs": means(pairs, name), "published_pairs": means(
                [p for p in with_published if name in p["systems"]], name)}
    return {"factors": table, "baselines": baselines}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--ckpt", action="append", required=True, help="a key-point checkpoint (repeat for seeds)")
    parser.add_argument("--factors", default="1,2,4,8")
    parser.add_argument("--magnifier", default="dis", help="what measures the driver's motion before magnifying it")
    parser.add_argument("--estimators", default="deepflow,tvl1,farneback", help="the scorers")
    parser.add_argument("--cache", default=None, help="the real-pair motion cache folder (default: real.motion_cache's)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    factors = [float(f) for f in args.factors.split(",")]
    estimators = args.estimators.split(",")
    if args.magnifier in estimators:
        parser.error(f"--magnifier {args.magnifier} is also a scorer: it would read its own magnification")
    magnifier = flow_estimator(args.magnifier)
    systems = {}
    for i, ckpt in enumerate(args.ckpt):
        animator = Animator.from_checkpoint(ckpt)
        for factor in factors:
            systems[label(i, factor)] = model_system(animator, render="native", magnify=factor,
                                                         magnify_estimator=magnifier)
    start = time.time()
    cache = args.cache or compose_train().real.motion_cache
    result = score_pairs(read_pairs(args.pairs), systems, face_metrics=False, sheets=False,
                         progress=lambda m: print(m, flush=True), estimators=estimators, motion_cache=cache)
    summary = summarise(result, args.ckpt, factors)
    settings = {"ckpts": args.ckpt, "factors": factors, "magnifier": args.magnifier, "estimators": estimators,
                "seconds": round(time.time() - start)}
    # the pairs by name and score only: no paths of the clips, no frames
    pairs = [{"pair": p["pair"], "driver_amplitude_px": p["driver_amplitude_px"],
              "systems": {k: {f"{m}/{e}": v[f"{m}/{e}"] for e in estimators for m in ("cosine", "amplitude")}
                          for k, v in p["systems"].items()}} for p in result["pairs"]]
    atomic_write_text(Path(args.out), json.dumps({"settings": settings, "summary": summary, "pairs": pairs}, indent=1))
    for factor, row in summary["factors"].items():
        print(f"magnify={factor}", json.dumps(row))
    for name, row in summary["baselines"].items():
        print(name, json.dumps(row))


if __name__ == "__main__":
    main()
