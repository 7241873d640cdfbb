"""``python -m megen.train``: train a motion-transfer model (defaults: facial-prior FOMM, synthetic data, CPU)."""
from __future__ import annotations

import json
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from megen.checkpoints import AtomicCheckpointIO, resolve_ckpt_path
from megen.data.datamodule import MicroExpressionDataModule
from megen.data.preparation import prepare_sources
from megen.io import atomic_write_text
from megen.system import MotionTransferSystem


def prior_setting(cfg: DictConfig) -> dict:
    """The prior config plus the map size the key-point detector needs (frame * its scale factor)."""
    prior = OmegaConf.to_container(cfg.prior, resolve=True)
    prior["map_size"] = int(round(cfg.dataset.frame_size * cfg.model.motion.scale_factor))
    return prior


def build_datamodule(cfg: DictConfig, progress: bool = True) -> MicroExpressionDataModule:
    folders = [f for f, _ in prepare_sources(cfg.dataset, cfg.paths.cache_dir, progress=progress,
                                             data_dir=cfg.paths.data_dir)]
    return MicroExpressionDataModule(
        folders, prior_setting(cfg), batch_size=cfg.data.batch_size, num_workers=cfg.data.num_workers,
        split=OmegaConf.to_container(cfg.dataset.split, resolve=True), repeats=cfg.data.repeats,
        flip_prob=cfg.data.flip_prob, pairs=cfg.data.pairs, exclude=list(cfg.dataset.get("exclude", []) or []),
        weights=cfg.dataset.get("weights"),
    )


def build_system(cfg: DictConfig) -> MotionTransferSystem:
    c = lambda node: OmegaConf.to_container(node, resolve=True)  # noqa: E731
    return MotionTransferSystem(model=c(cfg.model), prior=prior_setting(cfg), loss=c(cfg.loss), optim=c(cfg.optim),
                                frame_size=int(cfg.dataset.frame_size))


def train(cfg: DictConfig) -> dict:
    """Train, validate every epoch, keep `last` and the best-rMTE checkpoint; returns final metrics."""
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    pl.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(cfg)
    system = build_system(cfg)
    callbacks = [instantiate(c) for c in cfg.callbacks.values() if c is not None]
    trainer_cfg = OmegaConf.to_container(cfg.trainer, resolve=True)
    if trainer_cfg.get("sync_batchnorm") and trainer_cfg.get("accelerator") == "cpu":
        print("sync_batchnorm needs GPUs; running DDP on CPU with per-process BatchNorm statistics")
        trainer_cfg["sync_batchnorm"] = False
    trainer = pl.Trainer(**trainer_cfg, logger=instantiate(cfg.logger),
                         callbacks=callbacks, default_root_dir=str(run_dir), plugins=[AtomicCheckpointIO()])
    ckpt = resolve_ckpt_path(cfg.ckpt_path, Path(cfg.paths.output_root))
    if ckpt:
        print(f"resuming from {ckpt}")
    trainer.fit(system, datamodule=datamodule, ckpt_path=ckpt)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    best = getattr(trainer.checkpoint_callback, "best_model_path", "")
    if cfg.get("evaluate_at_end", True) and datamodule.splits.get("test"):
        # model selection on validation, score on test: the best-val-rMTE checkpoint, not whatever the
        # last epoch left (micro-motion runs swing by several hundredths of rMTE between epochs)
        tested = trainer.validate(system, dataloaders=datamodule.test_dataloader(), verbose=False,
                                  ckpt_path="best" if best else None)
        metrics.update({k.replace("val/", "test/"): float(v) for k, v in (tested[0] if tested else {}).items()})
    result = {"run_dir": str(run_dir), "global_step": int(trainer.global_step), "metrics": metrics,
              "best_checkpoint": best}
    if trainer.is_global_zero:
        atomic_write_text(run_dir / "metrics.json", json.dumps(result, indent=2, sort_keys=True))
        print(f"run folder: {run_dir}")
    return result


@hydra.main(version_base="1.3", config_path="../../conf", config_name="train")
def main(cfg: DictConfig) -> None:
    train(cfg)


if __name__ == "__main__":
    main()
