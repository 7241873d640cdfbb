"""A study's rows, read from its experiment config (``conf/experiment/<study>.yaml``), so that
``experiments/<study>/run.sh`` and ``python -m megen.train -m experiment=<study>`` run the same grid.

The rows are the product of the file's ``hydra.sweeper.params`` (a row per combination, named by its
values joined with ``_``; a number is named with its key's last part: ``prior.sigma=2`` -> ``sigma2``),
then the file's ``study.rows``: ``{name: "<override> <override> ..."}`` for rows outside the grid.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import yaml

from megen.runtime.paths import conf_dir


def _value_name(key: str, value: str) -> str:
    try:
        float(value)
    except ValueError:
        return value
    return f"{key.rsplit('.', 1)[-1]}{value}"


def study_rows(study: str, conf: Path | None = None) -> list[tuple[str, list[str]]]:
    """``[(row name, [override, ...]), ...]`` of ``conf/experiment/<study>.yaml``, every row starting with
    ``experiment=<study>``. A missing file or a file with no rows raises ``ValueError`` naming it."""
    path = (conf or conf_dir()) / "experiment" / f"{study}.yaml"
    if not path.is_file():
        raise ValueError(f"no study config {path}")
    spec = yaml.safe_load(path.read_text()) or {}
    grid = ((spec.get("hydra") or {}).get("sweeper") or {}).get("params") or {}
    keys = list(grid)
    choices = [[v.strip() for v in str(grid[k]).split(",")] for k in keys]
    rows = [("_".join(_value_name(k, v) for k, v in zip(keys, combo)), [f"{k}={v}" for k, v in zip(keys, combo)])
            for combo in itertools.product(*choices)] if keys else []
    rows += [(name, str(overrides or "").split()) for name, overrides in ((spec.get("study") or {}).get("rows") or {}).items()]
    if not rows:
        raise ValueError(f"{path} has no rows: give hydra.sweeper.params or study.rows")
    names = [name for name, _ in rows]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: row names repeat: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
    return [(name, [f"experiment={study}", *overrides]) for name, overrides in rows]


if __name__ == "__main__":      # one line per row, for experiments/run_study.sh
    import sys

    for name, overrides in study_rows(sys.argv[1]):
        print(name, *overrides)
