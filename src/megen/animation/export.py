"""Export a training checkpoint's per-frame graph (the library side of ``python -m megen.export``).

Kept apart from ``onnx_backend`` so that the backend, which the Animator loads, never imports the Animator.
"""
from __future__ import annotations

from pathlib import Path

from megen.animation.animator import Animator
from megen.animation.onnx_backend import ExportError, OnnxFrameEngine, export_onnx, max_difference


def export_checkpoint(ckpt, out, fmt: str = "onnx", check: bool = True) -> tuple[Path, float | None]:
    """Export a training checkpoint's per-frame graph to ``out``; with ``check`` also run it through
    ONNX Runtime against torch on random inputs. Returns (path, max abs difference or None)."""
    if fmt != "onnx":
        raise ExportError(f"unknown export format {fmt!r}; valid: onnx")
    animator = Animator.from_checkpoint(ckpt, device="cpu")
    prior = animator.prior
    path = export_onnx(animator.model, out, animator.frame_size, prior.channels, prior.map_size)
    if not check:
        return path, None
    engine = OnnxFrameEngine(path)
    return path, max_difference(animator.model, engine, animator.frame_size, prior.channels, prior.map_size)
