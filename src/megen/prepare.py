"""``python -m megen.prepare dataset=<name>``: build the prepared-clip cache and say where it is."""
from __future__ import annotations

import time

import hydra
from omegaconf import DictConfig

from megen.data.preparation import prepare_dataset


def run(cfg: DictConfig) -> dict:
    start = time.perf_counter()
    folder, summary = prepare_dataset(cfg.dataset, cfg.paths.cache_dir, progress=cfg.get("progress", True))
    summary = {**summary, "folder": str(folder), "seconds": round(time.perf_counter() - start, 2)}
    print(f"prepared {summary['clips']} clips ({summary['built']} built, {summary['reused']} reused) "
          f"in {summary['seconds']} s -> {folder}")
    return summary


@hydra.main(version_base="1.3", config_path="../../conf", config_name="prepare")
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()
