"""``python -m megen.report <multirun folder>``: one markdown table and a plot from many runs.

A run is any folder holding a ``metrics.json`` (written by ``megen.train`` or ``megen.evaluate``);
its swept settings come from Hydra's ``.hydra/overrides.yaml`` beside it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from megen.io import atomic_write_text

#: metric -> its static-baseline partner in train metrics (None: the baseline is 1 by definition)
TRAIN_METRICS = {"rmte": None, "mte": None, "l1": "l1_static", "epe": "epe_zero"}


def flatten_metrics(data: dict) -> dict[str, float]:
    """Model and static-baseline numbers of one run as ``{metric: value, metric_static: value}``."""
    out: dict[str, float] = {}
    if "metrics" in data:                                   # megen.train
        m = data["metrics"]
        split = "test" if any(k.startswith("test/") for k in m) else "val"
        for name, partner in TRAIN_METRICS.items():
            if f"{split}/{name}" in m:
                out[name] = m[f"{split}/{name}"]
                out[f"{name}_static"] = m[f"{split}/{partner}"] if partner else 1.0
    for section in ("reconstruction", "cross_identity", "motion_fidelity"):   # megen.evaluate
        prefix = {"reconstruction": "", "cross_identity": "x_", "motion_fidelity": "fid_"}[section]
        for name, v in data.get(section, {}).items():
            if "/" in name:
                continue
            out[f"{prefix}{name}"] = v["model"]
            out[f"{prefix}{name}_static"] = v["static"]
    return out


def collect(folder) -> list[dict]:
    """Every run under ``folder``: {"run", "overrides": {key: value}, "metrics": {...}}."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no such folder: {folder}")
    runs = []
    for path in sorted(folder.rglob("metrics.json")):
        run = path.parent
        overrides = {}
        ov = run / ".hydra" / "overrides.yaml"
        if ov.is_file():
            for item in yaml.safe_load(ov.read_text()) or []:
                key, _, value = str(item).partition("=")
                overrides[key.lstrip("+~")] = value
        try:
            metrics = flatten_metrics(json.loads(path.read_text()))
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"unreadable metrics file {path}: {err}") from err
        runs.append({"run": str(run.relative_to(folder)) or ".", "overrides": overrides, "metrics": metrics})
    if not runs:
        raise FileNotFoundError(f"no metrics.json under {folder}; did the runs finish?")
    return runs


def swept_keys(runs: list[dict]) -> list[str]:
    keys = sorted({k for r in runs for k in r["overrides"]})
    return [k for k in keys if len({r["overrides"].get(k) for r in runs}) > 1] or keys


def markdown_table(runs: list[dict], caption: str = "") -> str:
    keys = swept_keys(runs)
    metrics = [m for m in dict.fromkeys(k for r in runs for k in r["metrics"]) if not m.endswith("_static")]
    header = ["run", *keys] + [f"{m} (static)" for m in metrics]
    lines = ([caption, ""] if caption else []) + ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in runs:
        cells = [r["run"], *(r["overrides"].get(k, "") for k in keys)]
        for m in metrics:
            v, s = r["metrics"].get(m), r["metrics"].get(f"{m}_static")
            cells.append("" if v is None else f"{v:.4f}" + ("" if s is None else f" ({s:.4f})"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _as_number(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def plot(runs: list[dict], path, metrics=("rmte", "l1", "epe")) -> Path:
    """Metric vs the (first) swept value, one panel per metric, static baseline dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = swept_keys(runs)
    key = keys[0] if keys else None
    labels = [r["overrides"].get(key, r["run"]) if key else r["run"] for r in runs]
    numeric = all(_as_number(x) is not None for x in labels)
    order = sorted(range(len(runs)), key=lambda i: _as_number(labels[i]) if numeric else str(labels[i]))
    panels = [m for m in metrics if any(m in r["metrics"] for r in runs)] or [
        next(k for k in runs[0]["metrics"] if not k.endswith("_static"))]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2), squeeze=False)
    for ax, m in zip(axes[0], panels):
        xs = [_as_number(labels[i]) if numeric else k for k, i in enumerate(order)]
        ax.plot(xs, [runs[i]["metrics"].get(m, float("nan")) for i in order], "o-", label="model")
        ax.plot(xs, [runs[i]["metrics"].get(f"{m}_static", float("nan")) for i in order], "k--", label="static")
        if not numeric:
            ax.set_xticks(xs, [str(labels[i]) for i in order], rotation=30, ha="right")
        ax.set_xlabel(key or "run")
        ax.set_title(m)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def report(folder, caption: str = "") -> tuple[Path, Path]:
    runs = collect(folder)
    table = markdown_table(runs, caption)
    md = Path(folder) / "report.md"
    atomic_write_text(md, table)
    png = plot(runs, Path(folder) / "report.png")
    print(table)
    print(f"wrote {md} and {png}")
    return md, png


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m megen.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="a Hydra multirun folder (or any folder of runs)")
    parser.add_argument("--caption", default="", help="a line written above the table")
    args = parser.parse_args(argv)
    report(args.folder, args.caption)


if __name__ == "__main__":
    main()
