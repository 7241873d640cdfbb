"""A study's table and figure from many runs (``python -m megen.report <folder>``).

A run is any folder holding a ``metrics.json`` (written by ``megen.train`` or ``megen.evaluate``);
its swept settings come from Hydra's ``.hydra/overrides.yaml`` beside it. Runs whose overrides
differ only in ``seed`` are one variant: the table shows each metric's mean ± sample sd over them.
"""
from __future__ import annotations

import json
import math
import os
import re
import statistics
from pathlib import Path

import yaml

from megen.runtime.io import atomic_write_text

#: metric -> its static-baseline partner in train metrics (None: the baseline is 1 by definition)
TRAIN_METRICS = {"rmte": None, "mte": None, "l1": "l1_static", "epe": "epe_zero"}

#: metric name without its section prefix -> what "better" means: "lower", "higher", or a target
#: value the best variant lies closest to (an amplitude ratio of 1 means the driving's motion).
BETTER = {"rmte": "lower", "mte": "lower", "l1": "lower", "epe": "lower", "akd": "lower", "aed": "lower",
          "psnr": "higher", "ssim": "higher", "corr": "higher", "ratio": 1.0,
          "cosine": "higher", "amplitude": 1.0, "identity": "lower", "converged": "higher"}
SECTION_PREFIXES = ("x_", "fid_", "real_")

#: real-pair scores (``real_pairs.json`` beside a run's metrics) shown, beside the flow-transfer baseline
REAL_METRICS = ("cosine", "amplitude", "identity")
REAL_BASELINE = "flow_transfer"
#: the real-pair scores measured under each estimator (identity does not depend on one)
ESTIMATOR_METRICS = ("cosine", "amplitude")

#: the metrics report.md shows first (motion transfer, pixel error, flow, regional timing); any
#: others go to a second table so that neither is too wide to read
MAIN_METRICS = ("rmte", "mte", "l1", "epe", "fid_corr", "real_cosine", "real_amplitude", "converged")

#: the override that repeats a variant rather than making a new one
SEED_KEY = "seed"

LEGEND = ("mean ± sample sd (n runs) over seeds, n = 1 without sd; static: the copy-of-source baseline "
          "(zero flow for epe; for the real_ columns, scored on real pairs without ground truth, the training-free "
          "flow transfer), mean; **bold**: the best variant of a metric (lowest error, highest psnr, "
          "ssim and corr, ratio nearest 1) where it has n ≥ 2; *: differs from that best by more than "
          "the seed spread, |mean - mean_best| > sd + sd_best, with n ≥ 2.")


def better(metric: str):
    """The direction of ``metric`` from :data:`BETTER`, or None when unknown."""
    for prefix in SECTION_PREFIXES:
        if metric.startswith(prefix):
            metric = metric[len(prefix):]
            break
    # a per-clip or per-estimator score (real_cosine@<clip>, real_cosine/<estimator>) as its score
    return BETTER.get(metric.split("@")[0].split("/")[0])


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
    verdict = (data.get("convergence") or {}).get("converged")
    if verdict is not None:                                 # megen.train's EpochHistory: 1 converged, 0 not
        out["converged"] = float(verdict)
    for section in ("reconstruction", "cross_identity", "motion_fidelity"):   # megen.evaluate
        prefix = {"reconstruction": "", "cross_identity": "x_", "motion_fidelity": "fid_"}[section]
        for name, v in data.get(section, {}).items():
            if "/" in name:
                continue
            out[f"{prefix}{name}"] = v["model"]
            out[f"{prefix}{name}_static"] = v["static"]
    return out


def real_pair_metrics(data: dict, by_driver: bool = False, by_estimator: bool = False) -> dict[str, float]:
    """A run's real-pair scores (mean over the pairs) as ``{real_<score>: model, real_<score>_static:
    the flow-transfer baseline}``: on real clips the training-free baseline is the one to beat. ``by_driver``
    adds each driving clip's own, as ``real_<score>@<clip>`` (the mean over the pairs it drives, named by its
    file's stem): the studies' question per source dataset, where each clip comes from one. ``by_estimator``
    adds the cosine and amplitude under each estimator the pairs were scored with, as
    ``real_<score>/<estimator>`` (``real_<score>`` is their mean)."""
    means = data.get("mean", {})
    model = next((k for k in means if k.startswith("megen")), None)
    if model is None:
        return {}
    out = {}
    for name in REAL_METRICS:
        out[f"real_{name}"] = means[model][name]
        if REAL_BASELINE in means:
            out[f"real_{name}_static"] = means[REAL_BASELINE][name]
    if by_estimator:
        for est in data.get("estimators", []):
            for name in ESTIMATOR_METRICS:
                key = f"{name}/{est}"
                if key in means[model]:
                    out[f"real_{key}"] = means[model][key]
                    if key in means.get(REAL_BASELINE, {}):
                        out[f"real_{key}_static"] = means[REAL_BASELINE][key]
    if by_driver:
        clips: dict[str, list[dict]] = {}
        for pair in data.get("pairs", []):
            clips.setdefault(Path(str(pair["driving"])).stem, []).append(pair["systems"])
        for clip, systems in clips.items():
            for name in REAL_METRICS:
                for label, key in ((model, f"real_{name}@{clip}"), (REAL_BASELINE, f"real_{name}@{clip}_static")):
                    values = [s[label][name] for s in systems if label in s and not math.isnan(s[label][name])]
                    if values:
                        out[key] = statistics.fmean(values)
    return out


def _natural(path: Path):
    # Hydra numbers jobs 0..N-1; "10" must come after "2".
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.as_posix())]


#: overrides that say where a run writes or how it shows progress, not what it trains
PLACEMENT_KEYS = ("run_dir", "callbacks.progress", "callbacks.epoch_line", "trainer.enable_progress_bar")
PLACEMENT_PREFIXES = ("paths.", "hydra.")


def _is_placement(key: str) -> bool:
    return key in PLACEMENT_KEYS or key.startswith(PLACEMENT_PREFIXES)


def _metrics_files(folder: Path) -> list[Path]:
    """Every ``metrics.json`` under ``folder``, through symbolic links too: a study can include
    another study's runs of the same configuration (``runs/landmarks -> ../../sweep_sigma/runs/sigma8``)
    instead of training them again. A link back into a folder already walked is not followed twice."""
    found, seen = [], set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        if "metrics.json" in files:
            found.append(Path(root) / "metrics.json")
    return found


def collect(folder, by_driver: bool = False, by_estimator: bool = False) -> list[dict]:
    """Every run under ``folder``: {"run", "overrides": {key: value}, "metrics": {...}} (``by_driver``,
    ``by_estimator``: the real pairs' scores per driving clip, per estimator too, ``real_pair_metrics``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no such folder: {folder}")
    runs = []
    for path in sorted(_metrics_files(folder), key=_natural):
        run = path.parent
        overrides = {}
        ov = run / ".hydra" / "overrides.yaml"
        if ov.is_file():
            for item in yaml.safe_load(ov.read_text()) or []:
                key, _, value = str(item).partition("=")
                key = key.lstrip("+~")
                if not _is_placement(key):
                    overrides[key] = value
        try:
            metrics = flatten_metrics(json.loads(path.read_text()))
            real = run / "real_pairs.json"
            if real.is_file():
                path = real
                metrics.update(real_pair_metrics(json.loads(real.read_text()), by_driver, by_estimator))
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"unreadable metrics file {path}: {err}") from err
        # a folder that is itself the run is named by its own name, not "."
        name = run.relative_to(folder).as_posix() if run != folder else folder.resolve().name
        runs.append({"run": name, "overrides": overrides, "metrics": metrics})
    if not runs:
        raise FileNotFoundError(f"no metrics.json under {folder}; did the runs finish?")
    return runs


def swept_keys(runs: list[dict]) -> list[str]:
    keys = sorted({k for r in runs for k in r["overrides"]})
    return [k for k in keys if len({r["overrides"].get(k) for r in runs}) > 1] or keys


def _metric_names(runs: list[dict]) -> list[str]:
    return [m for m in dict.fromkeys(k for r in runs for k in r["metrics"]) if not m.endswith("_static")]


def markdown_table(runs: list[dict], caption: str = "") -> str:
    """One row per run, each metric as ``model (static)``."""
    keys = swept_keys(runs)
    metrics = _metric_names(runs)
    header = ["run", *keys] + [f"{m} (static)" for m in metrics]
    lines = ([caption, ""] if caption else []) + ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in runs:
        cells = [r["run"], *(r["overrides"].get(k, "") for k in keys)]
        for m in metrics:
            v, s = r["metrics"].get(m), r["metrics"].get(f"{m}_static")
            cells.append("" if v is None else f"{v:.4f}" + ("" if s is None else f" ({s:.4f})"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def aggregate(runs: list[dict]) -> list[dict]:
    """Group runs into variants and summarise each metric over the variant's runs.

    Returns, in order of first appearance, {"runs": [run names], "overrides": {non-seed key: value},
    "stats": {metric: {"mean", "sd" (None below n = 2), "n", "static" (mean or None), "best", "differs"}}};
    "best" and "differs" are set only where the best variant has n >= 2 (see :func:`_compare`).
    A run without any override cannot be told apart from another, so it stays a variant of its own.
    """
    groups: dict = {}
    for r in runs:
        own = {k: v for k, v in r["overrides"].items() if k != SEED_KEY}
        key = tuple(sorted(own.items())) if r["overrides"] else ("run", r["run"])
        # a study laid out as <row>/seed<k> names its rows: two rows stay apart even where their
        # recorded overrides agree (a row run before an option existed, whose old behaviour it keeps)
        row = re.fullmatch(r"(.+)/seed\d+", r["run"])
        if row:
            key = (("row", row.group(1)), *key)
        g = groups.setdefault(key, {"runs": [], "overrides": own, "members": []})
        g["runs"].append(r["run"])
        g["members"].append(r["metrics"])
    variants = []
    for g in groups.values():
        stats = {}
        for m in _metric_names(runs):
            values = [x[m] for x in g["members"] if m in x]
            if not values:
                continue
            statics = [x[f"{m}_static"] for x in g["members"] if f"{m}_static" in x]
            stats[m] = {"mean": statistics.fmean(values), "n": len(values),
                        "sd": _sd(values) if len(values) > 1 else None,
                        "static": statistics.fmean(statics) if statics else None,
                        "best": False, "differs": False}
        variants.append({"runs": g["runs"], "overrides": g["overrides"], "stats": stats})
    _compare(variants)
    return variants


def _sd(values: list[float]) -> float:
    # statistics.stdev raises on NaN, and a diverged run does write NaN metrics.
    return statistics.stdev(values) if all(math.isfinite(v) for v in values) else float("nan")


def _compare(variants: list[dict]) -> None:
    """Flag each metric's best variant and the variants beyond the seed spread from it."""
    for m in dict.fromkeys(k for v in variants for k in v["stats"]):
        direction = better(m)
        scored = [v["stats"][m] for v in variants if m in v["stats"] and math.isfinite(v["stats"][m]["mean"])]
        if direction is None or len(scored) < 2:
            continue
        if direction == "lower":
            best = min(scored, key=lambda s: s["mean"])
        elif direction == "higher":
            best = max(scored, key=lambda s: s["mean"])
        else:
            best = min(scored, key=lambda s: abs(s["mean"] - direction))
        if best["sd"] is None:   # one run: no spread to judge a winner by
            continue
        for s in scored:
            s["best"] = s["mean"] == best["mean"] and s["sd"] is not None   # exact ties share it
            if not s["best"] and s["sd"] is not None:
                s["differs"] = abs(s["mean"] - best["mean"]) > s["sd"] + best["sd"]


def _decimals(values) -> int:
    # Four places, or more so that small metrics (L1 ~ 0.005) keep three significant digits.
    small = min((abs(v) for v in values if v and math.isfinite(v)), default=1.0)
    return min(10, max(4, 2 - math.floor(math.log10(small))))


def variant_table(variants: list[dict], caption: str = "") -> str:
    """One row per variant: ``mean ± sd (n)`` of each metric beside its static baseline, and a legend.

    The :data:`MAIN_METRICS` present come first; the other metrics follow in one more table per
    section (reconstruction, cross-identity, regional), each narrow enough to read."""
    metrics = list(dict.fromkeys(m for v in variants for m in v["stats"]))
    main = [m for m in MAIN_METRICS if m in metrics] or metrics
    text = _variant_rows(variants, main, caption)
    for prefix, title in SECTION_TITLES.items():
        rest = [m for m in metrics if m not in main and _section(m) == prefix]
        if rest:
            text += "\n" + _variant_rows(variants, rest, f"More metrics: {title}")
    return text + "\n" + LEGEND + "\n"


SECTION_TITLES = {"": "reconstruction", "x_": "cross-identity (x_)", "fid_": "regional motion fidelity (fid_)",
                  "real_": "real pairs (real_; @<clip>: the pairs that clip drives; /<estimator>: scored with it)"}


def _section(metric: str) -> str:
    return next((p for p in SECTION_PREFIXES if metric.startswith(p)), "")


def _variant_rows(variants: list[dict], metrics: list[str], caption: str = "") -> str:
    keys = [k for k in swept_keys([{"overrides": v["overrides"]} for v in variants]) if k != SEED_KEY]
    header = ["runs", *keys]
    for m in metrics:
        header += [m, f"{m} {'zero flow' if m.endswith('epe') else 'flow transfer' if m.startswith('real_') else 'static'}"]
    lines = ([caption, ""] if caption else []) + ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    places = {m: _decimals([x for v in variants if m in v["stats"]
                            for x in (v["stats"][m]["mean"], v["stats"][m]["static"]) if x is not None])
              for m in metrics}
    for v in variants:
        cells = [", ".join(v["runs"]), *(v["overrides"].get(k, "") for k in keys)]
        for m in metrics:
            s, d = v["stats"].get(m), places[m]
            if s is None:
                cells += ["", ""]
                continue
            mean = f"{s['mean']:.{d}f}"
            cell = (f"**{mean}**" if s["best"] else mean) + ("" if s["sd"] is None else f" ± {s['sd']:.{d}f}")
            cells.append(cell + f" ({s['n']})" + (" *" if s["differs"] else ""))
            cells.append("" if s["static"] is None else f"{s['static']:.{d}f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _as_number(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def plot(runs: list[dict], path, metrics=("rmte", "l1", "epe")) -> Path:
    """Variant means vs the (first) swept value with sd error bars, one panel per metric, the static
    baseline as a marker per variant (visible with a single run too)."""
    import matplotlib.pyplot as plt

    fig = figure(runs, metrics)
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def figure(runs: list[dict], metrics=("rmte", "l1", "epe")):
    """The matplotlib figure :func:`plot` saves; constrained layout keeps every label inside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = aggregate(runs)
    keys = [k for k in swept_keys([{"overrides": v["overrides"]} for v in variants]) if k != SEED_KEY]
    key = keys[0] if keys else None
    labels = [v["overrides"].get(key, ", ".join(v["runs"])) if key else ", ".join(v["runs"]) for v in variants]
    numeric = all(_as_number(x) is not None for x in labels)
    order = sorted(range(len(variants)), key=lambda i: _as_number(labels[i]) if numeric else str(labels[i]))
    panels = [m for m in metrics if any(m in v["stats"] for v in variants)] or [next(iter(variants[0]["stats"]))]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), squeeze=False, layout="constrained")
    nan = {"mean": float("nan"), "sd": None, "static": None}
    for ax, m in zip(axes[0], panels):
        xs = [_as_number(labels[i]) if numeric else k for k, i in enumerate(order)]
        stats = [variants[i]["stats"].get(m, nan) for i in order]
        ax.errorbar(xs, [s["mean"] for s in stats], yerr=[s["sd"] or 0.0 for s in stats], fmt="o-", capsize=3,
                    label="model (mean ± sd)")
        ax.plot(xs, [float("nan") if s["static"] is None else s["static"] for s in stats], "k--", marker="x",
                markersize=8, label="static (copy of source)" if not m.endswith("epe") else "zero flow")
        if not numeric:
            ax.set_xticks(xs, [str(labels[i]) for i in order], rotation=30, ha="right")
        ax.set_xlabel(key or "run")
        ax.set_title(m)
        ax.legend(fontsize=8)
    return fig


def report(folder, caption: str = "", per_run: bool = False, by_driver: bool = False,
           by_estimator: bool = False) -> tuple[Path, Path]:
    """Write ``report.md`` (the variant table; with ``per_run`` the per-run table too; with ``by_driver`` the
    real pairs' scores per driving clip, with ``by_estimator`` per estimator) and ``report.png``."""
    runs = collect(folder, by_driver, by_estimator)
    text = variant_table(aggregate(runs), caption)
    if per_run:
        text += "\n" + markdown_table(runs, "Runs")
    md = Path(folder) / "report.md"
    atomic_write_text(md, text)
    png = plot(runs, Path(folder) / "report.png")
    print(text)
    print(f"wrote {md} and {png}")
    return md, png
