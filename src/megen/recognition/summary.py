"""The readable summary of a LOSO run and its files (results.json, predictions.csv)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from megen.recognition.loso import LosoResult
from megen.runtime.io import atomic_write_text

PREDICTION_COLUMNS = ("dataset", "subject", "clip", "emotion", "label", "pred", "majority", "apex", "apex_estimated",
                      "apex_note")


def _rows(name: str, block: dict) -> list[str]:
    m, j, r = block["model"], block["majority"], block["random"]
    return [
        f"{name:<14} {'model':<9} {block['n']:>5}  {m['uf1']:.3f}  {m['uar']:.3f}",
        f"{'':<14} {'majority':<9} {'':>5}  {j['uf1']:.3f}  {j['uar']:.3f}",
        f"{'':<14} {'random':<9} {'':>5}  {r['uf1']:.3f}  {r['uar']:.3f}   (sd {r['uf1_sd']:.3f} / {r['uar_sd']:.3f}, "
        f"{r['draws']} draws)",
    ]


def format_summary(result: LosoResult) -> str:
    """Counts, what was left out, and UF1 / UAR beside the baselines, overall and per dataset."""
    real = result.data["real"]
    classes = ", ".join(f"{c} {n}" for c, n in real["classes"].items())
    lines = [f"LOSO recognition: {real['clips']} clips, {real['subjects']} subjects ({len(result.folds)} folds), "
             f"classes={result.settings.get('classes', '?')}: {classes}"]
    if real["excluded"]:
        lines.append("  left out (no class): " + ", ".join(f"{k} {v}" for k, v in real["excluded"].items()))
    if real["apex_estimated"]:
        lines.append(f"  apex estimated (middle frame) for {real['apex_estimated']} clip(s): "
                     + ", ".join(f"{d} {v['apex_estimated']}" for d, v in real["per_dataset"].items() if v["apex_estimated"]))
    if "extra" in result.data:
        extra = result.data["extra"]
        dropped = sum(f.extra_dropped for f in result.folds)
        lines.append(f"  extra training clips: {extra['clips']} ({extra['subjects']} subjects); "
                     f"{dropped} fold-clip pairs left out for carrying the held-out subject")
    lines.append(f"{'':<14} {'':<9} {'n':>5}  {'UF1':>5}  {'UAR':>5}")
    lines += _rows("overall", result.summary["overall"])
    if len(result.summary["per_dataset"]) > 1:
        for name, block in result.summary["per_dataset"].items():
            lines += _rows(name, block)
    lines.append(f"wall time {result.seconds:.1f} s")
    return "\n".join(lines)


def write_results(result: LosoResult, out_dir, extra: dict | None = None) -> Path:
    """Write ``results.json`` (everything), ``predictions.csv`` and ``summary.txt``; returns the folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps({**result.as_dict(), **(extra or {})}, indent=2, sort_keys=True))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(PREDICTION_COLUMNS), extrasaction="ignore")
    writer.writeheader()
    for row in result.predictions:
        writer.writerow({**row, "label": result.classes[row["label"]], "pred": result.classes[row["pred"]],
                         "majority": result.classes[row["majority"]]})
    atomic_write_text(out / "predictions.csv", buf.getvalue())
    atomic_write_text(out / "summary.txt", format_summary(result) + "\n")
    return out
