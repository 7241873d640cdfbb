"""``python -m megen.export``: the per-frame part of generation as an ONNX graph.

    python -m megen.export ckpt=<checkpoint> format=onnx out=<file.onnx>

The graph takes a batch of driving frames and the target's side (its frame, encoding and key
points, see ``megen.animation.onnx_backend.FrameGraph``) and returns the generated frames.
``python -m megen.generate backend=onnxruntime`` exports and runs the same graph by itself.
"""
from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from megen.config.check import validate_export
from megen.config.schema import register
from megen.data.cache import CacheError
from megen.runtime.cli import user_errors
from megen.runtime.errors import ExportError, GenerationError

register()     # conf/export.yaml's options and its --help resolver, before Hydra composes


def run(cfg: DictConfig) -> Path:
    validate_export(cfg)
    from megen.animation.export import ExportError, export_checkpoint

    if not cfg.get("ckpt"):
        raise ExportError("ckpt=<checkpoint file> is required")
    out = Path(cfg.out) if cfg.get("out") else Path(cfg.paths.output_root) / "export" / f"{Path(cfg.ckpt).stem}.onnx"
    path, diff = export_checkpoint(cfg.ckpt, out, cfg.format, check=bool(cfg.check))
    check = f" (max abs difference against torch on random inputs: {diff:.2e})" if diff is not None else ""
    print(f"wrote {path}{check}")
    return path


@hydra.main(version_base="1.3", config_path="../../conf", config_name="export")
def main(cfg: DictConfig) -> None:
    with user_errors(OSError, ValueError, GenerationError, ExportError, CacheError):     # the project's own errors only
        run(cfg)


if __name__ == "__main__":
    main()
