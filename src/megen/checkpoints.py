"""Checkpoint files: atomic writes, safe loading, finding the newest ``last.ckpt``."""
from __future__ import annotations

import os
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from megen.io import atomic_open


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write checkpoints to a temporary file and rename: a crash never leaves a half-written one."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        with atomic_open(path, "wb") as fh:
            torch.save(checkpoint, fh)

    def load_checkpoint(self, path, map_location=None, weights_only=None):
        return load_checkpoint(path, map_location or "cpu")


def load_checkpoint(path, map_location="cpu", allow_unsafe: bool = False) -> dict:
    """Load a checkpoint with ``weights_only=True``; arbitrary unpickling only when ``allow_unsafe``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises several types for unsafe or corrupt files)
        if allow_unsafe or os.environ.get("MEGEN_ALLOW_UNSAFE_CHECKPOINTS") == "1":
            return torch.load(path, map_location=map_location, weights_only=False)
        raise RuntimeError(
            f"cannot load checkpoint {path} safely ({type(err).__name__}: {str(err).splitlines()[0][:200]}). "
            f"If you trust the file, set MEGEN_ALLOW_UNSAFE_CHECKPOINTS=1."
        ) from err


def find_last(output_root: str | os.PathLike) -> Path:
    """The most recently written ``checkpoints/last.ckpt`` under ``output_root``."""
    found = sorted(Path(output_root).glob("**/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"ckpt_path=last: no checkpoints/last.ckpt under {output_root}")
    return found[-1]


def resolve_ckpt_path(ckpt_path, output_root) -> str | None:
    if ckpt_path in (None, "", "null"):
        return None
    if str(ckpt_path) == "last":
        return str(find_last(output_root))
    if not Path(ckpt_path).is_file():
        raise FileNotFoundError(f"checkpoint not found: {ckpt_path}")
    return str(ckpt_path)


class PeriodicLastCheckpoint(pl.Callback):
    """Write ``<dirpath>/last.ckpt`` every ``every_n_batches`` training batches (off when None).

    The epoch-end checkpoints wait for validation metrics; on long epochs this bounds what a
    crash or a killed job can lose. Writes go through the atomic checkpoint IO.
    """

    def __init__(self, dirpath, every_n_batches: int | None = None):
        self.dirpath = Path(dirpath)
        self.every = int(every_n_batches) if every_n_batches else 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.every and (batch_idx + 1) % self.every == 0 and not trainer.sanity_checking:
            trainer.save_checkpoint(self.dirpath / "last.ckpt")
