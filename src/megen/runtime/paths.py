"""Where the project's own files are (configs), independent of the working directory."""
from __future__ import annotations

from pathlib import Path


def conf_dir() -> Path:
    """The ``conf/`` folder of the Hydra configs."""
    path = Path(__file__).resolve().parents[3] / "conf"
    if not path.is_dir():
        raise FileNotFoundError(f"config folder not found at {path}; install megen from its source tree (pip install -e .)")
    return path
