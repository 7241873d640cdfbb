"""``python -m megen.train_flow``: train the learned micro-motion estimator (``megen.models.microflow``) on
synthetic face pairs with exact sub-pixel flow; ``python -m megen.train flow.estimator=learned
flow.checkpoint=<run>/checkpoints/last.ckpt`` then guides the flow-guided model with it."""
from __future__ import annotations

import json

import hydra
from omegaconf import DictConfig

from megen.config.check import ConfigError, validate_train_flow
from megen.config.compose import instantiate
from megen.config.schema import register
from megen.runtime.cli import user_errors
from megen.runtime.io import atomic_write_text

register()


def train_flow(cfg: DictConfig) -> dict:
    """Train, validate at the end; returns ``{"run_dir", "checkpoint", "metrics"}`` (also ``metrics.json``)."""
    validate_train_flow(cfg)
    from pytorch_lightning.callbacks import ModelCheckpoint

    from megen.training.checkpointing import AtomicCheckpointIO
    from megen.training.log import begin_run

    run_dir = begin_run(cfg)
    checkpoint = ModelCheckpoint(dirpath=run_dir / "checkpoints", save_last=True, save_top_k=0,
                                 enable_version_counter=False)
    trainer = instantiate(cfg.trainer, logger=instantiate(cfg.logger), callbacks=[checkpoint],
                          default_root_dir=str(run_dir), plugins=[AtomicCheckpointIO()], enable_model_summary=False)
    trainer.fit(instantiate(cfg.system), datamodule=instantiate(cfg.pairs))
    result = {"run_dir": str(run_dir), "checkpoint": str(run_dir / "checkpoints" / "last.ckpt"),
              "metrics": {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("val/", "train/"))}}
    if trainer.is_global_zero:
        atomic_write_text(run_dir / "metrics.json", json.dumps(result, indent=2, sort_keys=True))
        print(f"estimator: {result['checkpoint']}  (val EPE {result['metrics'].get('val/epe', float('nan')):.4f} px, "
              f"{result['metrics'].get('val/epe_over_zero', float('nan')):.3f} of zero flow's)")
    return result


@hydra.main(version_base="1.3", config_path="../../conf", config_name="train_flow")
def main(cfg: DictConfig) -> None:
    with user_errors(ConfigError):
        train_flow(cfg)


if __name__ == "__main__":
    main()
