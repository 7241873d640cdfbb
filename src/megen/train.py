"""``python -m megen.train``: train a motion-transfer model (defaults: the flow-guided model with the facial prior,
synthetic data, CPU).

What is built comes from conf/: ``data`` (the data module), ``system`` (the LightningModule),
``trainer``, ``logger`` and ``callbacks``, each instantiated from its ``_target_``.
"""
from __future__ import annotations

import json
from pathlib import Path

import hydra
from omegaconf import DictConfig

from megen.config.check import ConfigError, validate_train
from megen.config.compose import instantiate
from megen.config.schema import register
from megen.runtime.checkpoints import resolve_ckpt_path
from megen.runtime.cli import user_errors
from megen.runtime.io import atomic_write_text

register()     # conf/train.yaml's options and its --help resolver, before Hydra composes


def build_trainer(cfg: DictConfig, run_dir: Path):
    """The ``pl.Trainer`` of ``cfg.trainer`` with its logger and callbacks, writing under ``run_dir``."""
    from megen.training.checkpointing import AtomicCheckpointIO
    from megen.training.log import console_callbacks

    overrides = {}
    if cfg.trainer.get("sync_batchnorm") and cfg.trainer.get("accelerator") == "cpu":
        print("sync_batchnorm needs GPUs; running DDP on CPU with per-process BatchNorm statistics")
        overrides["sync_batchnorm"] = False
    # a terminal gets the rich bar; a pipe or a log file one line per epoch (megen.training.log)
    callbacks, bar = console_callbacks([instantiate(c) for c in cfg.callbacks.values() if c is not None])
    if not bar:
        overrides["enable_progress_bar"] = False
    return instantiate(cfg.trainer, logger=instantiate(cfg.logger), callbacks=callbacks, default_root_dir=str(run_dir),
                       plugins=[AtomicCheckpointIO()], **overrides)


def train(cfg: DictConfig) -> dict:
    """Train, validate every epoch, keep `last` and the best-rMTE checkpoint, then score the test
    split with the best checkpoint (model selection on validation); returns the final metrics.

    The config is validated first: a bad value raises ConfigError before anything is written.
    """
    validate_train(cfg)
    # here, not at the top: a bad config is reported before Lightning loads
    from megen.training.convergence import find_history
    from megen.training.log import begin_run

    run_dir = begin_run(cfg)
    datamodule = instantiate(cfg.data)
    system = instantiate(cfg.system)
    trainer = build_trainer(cfg, run_dir)
    ckpt = resolve_ckpt_path(cfg.ckpt_path, Path(cfg.paths.output_root))
    if ckpt:
        print(f"resuming from {ckpt}")
    trainer.fit(system, datamodule=datamodule, ckpt_path=ckpt)
    history = find_history(trainer)
    # now: testing the best checkpoint below restores the callbacks' state as it was at that epoch
    verdict = history.verdict() if history is not None else None
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    best = getattr(trainer.checkpoint_callback, "best_model_path", "")
    if cfg.get("evaluate_at_end", True) and datamodule.splits.get("test"):
        tested = trainer.test(system, datamodule=datamodule, ckpt_path="best" if best else None, verbose=False)
        metrics.update({k: float(v) for k, v in (tested[0] if tested else {}).items() if k.startswith("test/")})
    result = {"run_dir": str(run_dir), "global_step": int(trainer.global_step), "metrics": metrics,
              "best_checkpoint": best}
    if verdict is not None:
        result["convergence"] = verdict
    if trainer.is_global_zero:
        atomic_write_text(run_dir / "metrics.json", json.dumps(result, indent=2, sort_keys=True))
        pairs = (cfg.get("real") or {}).get("pairs")
        if pairs:
            score_real_pairs(best or str(run_dir / "checkpoints" / "last.ckpt"), pairs, run_dir,
                             cfg.real.get("render", "native"), list(cfg.real.estimators),
                             cfg.real.get("motion_cache"))
        print(f"run folder: {run_dir}")
    return result


def score_real_pairs(ckpt: str, pairs: str, run_dir: Path, render: str = "native", estimators=None,
                     motion_cache=None) -> dict:
    """Score a checkpoint on real pairs (``megen.evaluation.real_pairs``) into ``run_dir/real_pairs.json``:
    numbers only (no sheets: the real clips' frames stay out of run folders that studies commit)."""
    from megen.animation import Animator
    from megen.evaluation.real_pairs import model_system, print_table, read_pairs, score_pairs

    system = model_system(Animator.from_checkpoint(ckpt), render=render)
    results = score_pairs(read_pairs(pairs), {f"megen ({render})": system}, run_dir, sheets=False,
                          motion_cache=motion_cache, **({"estimators": estimators} if estimators else {}))
    print_table(results)
    return results


@hydra.main(version_base="1.3", config_path="../../conf", config_name="train")
def main(cfg: DictConfig) -> None:
    with user_errors(ConfigError):     # train() validates first, before anything is written
        train(cfg)


if __name__ == "__main__":
    main()
