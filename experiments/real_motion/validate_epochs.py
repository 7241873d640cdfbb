"""Every kept epoch of a run scored on another synthetic split, beside its real-pair scores: would validating on
that split select the checkpoint that moves real faces best?

    python experiments/real_motion/validate_epochs.py --ckpt <run>/checkpoints/best-epoch*.ckpt \
        --real experiments/real_motion/results/paper_real_per_epoch_seed<k>.json \
        --out experiments/real_motion/results/<name>.json -- <megen.evaluate overrides naming the split>

Each checkpoint is scored by ``python -m megen.evaluate`` (one process each, synthetic test split of the set the
overrides name, ``render=native``, no face metrics); ``--real`` takes a ``magnify_study.py`` result over the same
checkpoints (matched by path) and adds each one's mean real-pair cosine and amplitude per scorer. Only numbers are
written.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from magnify_study import label, pair_means

from megen.runtime.io import atomic_write_text


def synthetic_scores(ckpt: Path, overrides: list[str]) -> dict:
    """rMTE and EPE (with their static baselines) of ``ckpt`` on the test split the overrides name."""
    with tempfile.TemporaryDirectory() as run_dir:
        cmd = [sys.executable, "-m", "megen.evaluate", f"ckpt={ckpt}", "face_metrics=false", "progress=false",
               f"run_dir={run_dir}", *overrides]
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode:
            raise SystemExit(f"error: megen.evaluate failed on {ckpt}:\n{done.stderr[-2000:]}")
        metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    rec = metrics["reconstruction"]
    return {key: {"model": rec[key]["model"], "static": rec[key]["static"]} for key in ("rmte", "epe")} | {
        "test_clips": metrics["test_clips"], "data": metrics["data"]}


def real_scores(result: dict) -> dict[str, dict]:
    """checkpoint path -> {"<key>/<estimator>": mean over the pairs} from a magnify_study.py result (factor 1)."""
    out = {}
    for i, ckpt in enumerate(result["settings"]["ckpts"]):
        means = pair_means(result["pairs"], label(i, 1.0), result["settings"]["estimators"])
        out[str(Path(ckpt).resolve())] = {f"{key}/{est}": value for est, by_key in means.items()
                                          for key, value in by_key.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", nargs="+", type=Path, required=True)
    parser.add_argument("--real", nargs="*", type=Path, default=[], help="magnify_study.py results over the same ckpts")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("overrides", nargs="*", help="megen.evaluate overrides (after --)")
    args = parser.parse_args()
    real: dict[str, dict] = {}
    for path in args.real:
        real |= real_scores(json.loads(path.read_text()))
    rows = []
    for ckpt in args.ckpt:
        row = {"ckpt": str(ckpt), "synthetic": synthetic_scores(ckpt, args.overrides)}
        if str(ckpt.resolve()) in real:
            row["real"] = real[str(ckpt.resolve())]
        rows.append(row)
        print(json.dumps(row), flush=True)
    atomic_write_text(args.out, json.dumps({"overrides": args.overrides, "checkpoints": rows}, indent=1))


if __name__ == "__main__":
    main()
