"""``python -m megen.prepare dataset=<name>``: build the prepared-clip cache and say where it is."""
from __future__ import annotations

import time

import hydra
from omegaconf import DictConfig

from megen.config.check import validate_dataset_command
from megen.config.schema import register
from megen.data.preparation import prepare_dataset, source_configs
from megen.runtime.cli import user_errors

register()     # conf/prepare.yaml's options and its --help resolver, before Hydra composes


def describe(folder, summary: dict, seconds: float) -> str:
    """The summary lines a researcher needs: counts, faces not found, skipped and flagged clips."""
    lines = [f"prepared {summary['clips']} clips ({summary['built']} built, {summary['reused']} reused) "
             f"in {seconds:.2f} s -> {folder}"]
    if summary.get("face_not_found"):
        lines.append(f"  no face found on the onset frame of {summary['face_not_found']} clip(s): "
                     f"default key points used (face_found=false in manifest.csv)")
    for title, key in (("skipped", "reader_skipped"), ("skipped while preparing", "skipped"), ("flagged", "flagged")):
        items = summary.get(key) or []
        if items:
            lines.append(f"  {title}: {len(items)}")
            lines += [f"    {clip}: {reason}" for clip, reason in list(items)[:50]]
    return "\n".join(lines)


def run(cfg: DictConfig) -> list[dict]:
    """Prepare the dataset (each source of a mix) and print a summary per source."""
    validate_dataset_command(cfg)
    results = []
    for sub in source_configs(cfg.dataset):
        start = time.perf_counter()
        folder, summary = prepare_dataset(sub, cfg.paths.cache_dir, progress=cfg.get("progress", True),
                                          data_dir=cfg.paths.data_dir)
        print(describe(folder, summary, time.perf_counter() - start))
        results.append({**summary, "folder": str(folder)})
    return results


@hydra.main(version_base="1.3", config_path="../../conf", config_name="prepare")
def main(cfg: DictConfig) -> None:
    with user_errors(OSError, ValueError):
        run(cfg)


if __name__ == "__main__":
    main()
