"""``python -m megen.generate``: drive a target face with a micro-expression clip.

    python -m megen.generate ckpt=<file> target=<image> driving=<frames folder | video | dataset:clip> out=<folder>
    python -m megen.generate ckpt=<file> protocol=megc2021 megc_root=<test kit> out=<folder>
"""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

from megen.animation import Animator, GenerationError, default_batch_size, generate_pair
from megen.animation.megc import run_protocol


def run(cfg: DictConfig) -> list[Path]:
    if not cfg.get("ckpt"):
        raise GenerationError("ckpt=<checkpoint file> is required")
    if not cfg.get("protocol") and (not cfg.get("target") or not cfg.get("driving")):
        raise GenerationError("target=<image> and driving=<frames folder | video | dataset:clip> are required "
                              "(or protocol=megc2021|megc2022 megc_root=<kit>)")
    device = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    animator = Animator.from_checkpoint(cfg.ckpt, device=device, family=cfg.get("family"))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    batch_size = default_batch_size(device) if cfg.batch_size == "auto" else int(cfg.batch_size)
    options = dict(relative=cfg.relative, adapt_movement_scale=cfg.adapt_movement_scale,
                   find_best_frame=cfg.find_best_frame, crop=cfg.crop, fps=cfg.fps, batch_size=batch_size,
                   cache_dir=cfg.paths.cache_dir)
    if cfg.get("protocol"):
        return run_protocol(animator, cfg.protocol, cfg.megc_root, out, **options)
    folder = generate_pair(animator, cfg.target, cfg.driving, out, **options)
    print(f"wrote {folder}")
    return [folder]


@hydra.main(version_base="1.3", config_path="../../conf", config_name="generate")
def main(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except (GenerationError, OSError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
