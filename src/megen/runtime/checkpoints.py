"""Checkpoint files: safe loading and finding the newest ``last.ckpt`` (no Lightning import, so
generation and evaluation start fast; the training side is ``megen.training.checkpointing``)."""
from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path

import torch

MODEL_PREFIX = "model."   # the motion model's keys in a training checkpoint's (the LightningModule's) state_dict

# torch.save's legacy (pre-zip) format opens with this pickled magic number
_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


def written_by_torch_save(path) -> bool:
    """Whether ``path`` has the layout of a ``torch.save`` file (zip with a pickle, or the legacy form)."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                return any(name.endswith("/data.pkl") for name in archive.namelist())
        except (zipfile.BadZipFile, OSError):
            return False
    with open(path, "rb") as fh:
        return fh.read(len(_LEGACY_MAGIC)) == _LEGACY_MAGIC


def load_checkpoint(path, map_location="cpu", allow_unsafe: bool = False) -> dict:
    """Load a checkpoint with ``weights_only=True``; arbitrary unpickling only when ``allow_unsafe``.

    A file that is not a ``torch.save`` file at all (a photo, a text file) is reported as such: the
    unsafe-loading advice only applies to a real checkpoint that holds other Python objects.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if not written_by_torch_save(path):
        raise ValueError(f"{path} is not a megen checkpoint (not a file written by torch.save; "
                         f"training writes them to <run folder>/checkpoints/*.ckpt)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if allow_unsafe or os.environ.get("MEGEN_ALLOW_UNSAFE_CHECKPOINTS") == "1":
            return torch.load(path, map_location=map_location, weights_only=False)
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        reason = f"{found.group(1)} is not allowed" if found else (str(err).splitlines() or [""])[0][:200]
        raise ValueError(
            f"cannot load checkpoint {path} safely: it holds Python objects besides tensors ({reason}). "
            f"If you trust the file, set MEGEN_ALLOW_UNSAFE_CHECKPOINTS=1."
        ) from err
    except Exception as err:  # noqa: BLE001  (torch raises several types for truncated or corrupt archives)
        raise ValueError(f"{path} is a damaged checkpoint ({type(err).__name__}: "
                         f"{(str(err).splitlines() or [''])[0][:200]})") from err


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


def model_state(state: dict) -> dict:
    """The motion model's entries of a training checkpoint's ``state_dict``, keyed as the model itself keys them."""
    return {k[len(MODEL_PREFIX):]: v for k, v in state.items() if k.startswith(MODEL_PREFIX)}
