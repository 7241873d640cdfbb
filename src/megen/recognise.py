"""``python -m megen.recognise``: LOSO micro-expression recognition (UF1 / UAR beside the baselines)."""
from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from megen.config.check import validate_dataset_command
from megen.config.schema import RecogniseOptions, register
from megen.data.cache import CacheError
from megen.data.preparation import prepare_sources
from megen.recognition.flow import FlowSettings
from megen.recognition.loso import LosoResult, TrainSettings, run_loso
from megen.recognition.summary import format_summary, write_results
from megen.runtime.cli import user_errors
from megen.runtime.io import atomic_write_text

register()     # conf/recognise.yaml's options and its --help resolver, before Hydra composes


def run(cfg: DictConfig) -> LosoResult:
    """Prepare the dataset (each source of a mix), run LOSO, write the output folder, print the summary."""
    plain = lambda node: OmegaConf.to_container(node, resolve=True) if node is not None else None  # noqa: E731
    # every setting is checked before preparation, which can take minutes on real data
    validate_dataset_command(cfg, RecogniseOptions)
    features = FlowSettings.from_config(plain(cfg.features))
    train = TrainSettings.from_config(plain(cfg.train), trainer=plain(cfg.trainer))
    extra = [Path(str(p)).expanduser() for p in (cfg.get("extra") or [])]
    missing = [str(p) for p in extra if not (p / "manifest.csv").is_file()]
    if missing:
        raise FileNotFoundError(f"extra= names folder(s) without a prepared manifest.csv: {missing}")
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    progress = bool(cfg.get("progress", True))
    folders = [f for f, _ in prepare_sources(cfg.dataset, cfg.paths.cache_dir, progress=progress,
                                             data_dir=cfg.paths.data_dir)]
    result = run_loso(
        folders, extra=extra, classes=str(cfg.classes), features=features, train=train, seed=int(cfg.seed),
        exclude_emotions=list(cfg.get("exclude_emotions") or []), exclude_clips=list(cfg.get("exclude_clips") or []),
        random_draws=int(cfg.get("random_draws", 100)), progress=progress,
        apex_jitter=[int(k) for k in (cfg.get("apex_jitter") or [])],
    )
    write_results(result, run_dir, {"dataset": plain(cfg.dataset)})
    print(format_summary(result))
    print(f"results: {run_dir / 'results.json'}")
    return result


@hydra.main(version_base="1.3", config_path="../../conf", config_name="recognise")
def main(cfg: DictConfig) -> None:
    with user_errors(OSError, ValueError, CacheError):
        run(cfg)


if __name__ == "__main__":
    main()
