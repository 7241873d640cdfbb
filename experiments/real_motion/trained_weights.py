"""The weights as trained, out of averaged checkpoints: each ``<run>/checkpoints/best-epoch*.ckpt`` of a run with
``callbacks.weight_average`` is written to ``<run>/trained/`` with its ``training_state_dict`` as the state_dict,
so that generation and ``magnify_study.py`` score the weights that were trained, not their average.

    python -m megen.train experiment=paper_real seed=0 callbacks.checkpoint.save_top_k=-1 run_dir=<run>
    python experiments/real_motion/trained_weights.py <run> [<run> ...]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from megen.runtime.checkpoints import load_checkpoint
from megen.runtime.io import atomic_open
from megen.training.averaging import TRAINING_KEY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    for run in parser.parse_args().runs:
        found = sorted((run / "checkpoints").glob("best-epoch*.ckpt"))
        if not found:
            raise SystemExit(f"error: {run}/checkpoints holds no best-epoch*.ckpt")
        for path in found:
            checkpoint = load_checkpoint(path)
            if TRAINING_KEY not in checkpoint:
                raise SystemExit(f"error: {path} has no {TRAINING_KEY} (trained without callbacks.weight_average)")
            checkpoint["state_dict"].update(checkpoint.pop(TRAINING_KEY))
            checkpoint.pop("weight_average", None)
            out = run / "trained" / path.name
            out.parent.mkdir(exist_ok=True)
            with atomic_open(out) as fh:
                torch.save(checkpoint, fh)
            print(out)


if __name__ == "__main__":
    main()
