"""``python -m megen.evaluate ckpt=<file> [dataset=...]``: metrics beside the static baseline."""
from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from megen.data.preparation import prepare_sources
from megen.evaluation import evaluate_checkpoint


def run(cfg: DictConfig) -> dict:
    if not cfg.get("ckpt"):
        raise ValueError("ckpt=<checkpoint file> is required")
    print(f"run folder: {cfg.run_dir}")
    sources = prepare_sources(cfg.dataset, cfg.paths.cache_dir, progress=cfg.progress, data_dir=cfg.paths.data_dir)
    if len(sources) != 1:
        raise ValueError("evaluate one dataset at a time (dataset=mix is for training)")
    folder = sources[0][0]
    results = evaluate_checkpoint(
        cfg.ckpt, folder, OmegaConf.to_container(cfg.dataset.split, resolve=True), cfg.run_dir,
        exclude=list(cfg.dataset.get("exclude", []) or []), face_metrics=cfg.face_metrics, face_every=cfg.face_every,
        batch_size=cfg.batch_size, max_clips=cfg.max_clips, max_pairs=cfg.max_pairs, show_progress=cfg.progress,
    )
    print((f"{cfg.run_dir}/metrics.md"))
    return results


@hydra.main(version_base="1.3", config_path="../../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
