"""Checkpoints while training: atomic writes through Lightning, and a periodic ``last.ckpt``."""
from __future__ import annotations

from pathlib import Path

import torch
from pytorch_lightning.callbacks import Checkpoint
from pytorch_lightning.plugins.io import TorchCheckpointIO

from megen.runtime.checkpoints import load_checkpoint
from megen.runtime.io import atomic_open


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write checkpoints to a temporary file and rename: a crash never leaves a half-written one."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        with atomic_open(path, "wb") as fh:
            torch.save(checkpoint, fh)

    def load_checkpoint(self, path, map_location=None, weights_only=None):
        return load_checkpoint(path, map_location or "cpu")


class PeriodicLastCheckpoint(Checkpoint):
    """Keep ``<dirpath>/last.ckpt`` the newest state: at the end of every training epoch, and every
    ``every_n_batches`` training batches too (off when None).

    Lightning's ``save_last`` only rewrites ``last.ckpt`` when a best checkpoint is saved, so after
    an epoch that does not improve the monitored metric it would still hold the previous best and
    ``ckpt_path=last`` would silently retrain the epochs since. The batch interval bounds what a
    crash or a killed job can lose on long epochs. Writes go through the atomic checkpoint IO, and
    hold the whole state (optimisers, schedulers, loops: ``weights_only=False``) for resuming.

    A ``Checkpoint``, so Lightning runs its epoch-end hook after every other callback's and after
    ``ModelCheckpoint``'s validation-end save: the file holds the epoch's whole state, its validation,
    the best model so far and the callbacks' records of the epoch (``EpochHistory``) included.
    """

    def __init__(self, dirpath, every_n_batches: int | None = None):
        self.dirpath = Path(dirpath)
        self.every = int(every_n_batches) if every_n_batches else 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.every and (batch_idx + 1) % self.every == 0 and not trainer.sanity_checking:
            trainer.save_checkpoint(self.dirpath / "last.ckpt", weights_only=False)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.state.fn == "fit" and not trainer.sanity_checking:
            trainer.save_checkpoint(self.dirpath / "last.ckpt", weights_only=False)
