"""Checkpoint files: safe loading and finding the newest ``last.ckpt`` (no Lightning import, so
generation and evaluation start fast; the training side is ``megen.checkpointing``)."""
from __future__ import annotations

import os
from pathlib import Path

import torch


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
