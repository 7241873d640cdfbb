"""The augmentation study: LOSO recognition on real clips only, with classic augmentation, and with
each generator's clips as extra training data; seeds x rows, resumable, one table.

Usage (run.sh calls it): python experiments/augmentation/study.py [recognise overrides ...]
  e.g. classes=emotions | dataset=casme2 paths.data_dir=/data classes=composite
Environment: SEEDS="0 1 2", ROWS="real classic fomm_paper fomm_none [au_fill]", PER_CLIP=2,
  AU_BASIS=outputs/augmentation/generators/au_basis/au_basis.npz (row au_fill: every emotion filled up to the
  largest class with clips made from action units, megen.augment method=au; fitted on another synthetic set),
  GENERATORS=outputs/augmentation/generators (<row>/: the run's best checkpoint), GENERATED=outputs/augmentation/generated,
  CLASSIC="flip_prob=0.5 rotate_deg=5 apex_jitter=-1,1", STUDY=experiments/augmentation (results go there).
Every recognition run is sequential; each writes runs/<row>/seed<k>.json and is skipped when present.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from megen.animation.animator import Animator
from megen.augmentation import augment
from megen.augmentation.au_fill import au_fill
from megen.config.compose import compose_config
from megen.data.cache import PreparedSet
from megen.data.preparation import prepare_sources
from megen.recognition import ClassMapping, FlowSettings, TrainSettings, load_recognition_set, run_loso_on_sets
from megen.recognition.samples import concat_sets
from megen.runtime.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]


def env(name, default):
    return os.environ.get(name, default)


def classic_settings(text: str) -> tuple[dict, list[int]]:
    train, jitter = {}, []
    for item in text.split():
        key, value = item.split("=", 1)
        if key == "apex_jitter":
            jitter = [int(v) for v in value.split(",") if v]
        else:
            train[key] = float(value)
    return train, jitter


def motion_ratio(generated, sources: list[str], real) -> dict:
    """How much onset -> apex motion a generated clip carries against its driving clip: the ratio of
    their mean flow magnitudes (u, v of the recogniser's features); median and quartiles over clips.
    ``sources``: each generated clip's ``generated_from`` (dataset/subject/clip), in the set's order."""
    index = {f"{s}/{c}": i for i, (s, c) in enumerate(zip(real.subjects, real.clips))}
    mag = lambda f: float(np.sqrt(f[0] ** 2 + f[1] ** 2).mean())   # noqa: E731
    ratios = [mag(generated.features[i]) / max(mag(real.features[index[ref]]), 1e-9)
              for i, ref in enumerate(sources) if ref in index]
    if not ratios:
        return {}
    q = np.percentile(ratios, [25, 50, 75])
    return {"median": round(float(q[1]), 3), "q25": round(float(q[0]), 3), "q75": round(float(q[2]), 3),
            "n": len(ratios)}


def generator_checkpoint(run: Path) -> Path | None:
    """The run's best-validation checkpoint (its metrics.json names it), else its last.ckpt."""
    metrics = run / "metrics.json"
    if metrics.is_file():
        best = json.loads(metrics.read_text()).get("best_checkpoint")
        if best and Path(best).is_file():
            return Path(best)
    last = run / "checkpoints" / "last.ckpt"
    return last if last.is_file() else None


def main(overrides: list[str]) -> None:
    study = Path(env("STUDY", ROOT / "experiments" / "augmentation"))
    seeds = [int(s) for s in env("SEEDS", "0 1 2").split()]
    rows = env("ROWS", "real classic fomm_paper fomm_none").split()
    per_clip = int(env("PER_CLIP", "2"))
    generators = Path(env("GENERATORS", ROOT / "outputs" / "augmentation" / "generators"))
    generated_root = Path(env("GENERATED", ROOT / "outputs" / "augmentation" / "generated"))
    classic_train, classic_jitter = classic_settings(env("CLASSIC", "flip_prob=0.5 rotate_deg=5 apex_jitter=-1,1"))

    cfg = compose_config("recognise", *overrides)
    plain = lambda node: OmegaConf.to_container(node, resolve=True)   # noqa: E731
    features = FlowSettings.from_config(plain(cfg.features))
    train = TrainSettings.from_config(plain(cfg.train), trainer=plain(cfg.trainer))
    mapping = lambda: ClassMapping(mode=str(cfg.classes), exclude_emotions=tuple(cfg.exclude_emotions or ()))  # noqa: E731
    folders = [f for f, _ in prepare_sources(cfg.dataset, cfg.paths.cache_dir, progress=True,
                                             data_dir=cfg.paths.data_dir)]
    real = load_recognition_set(folders, mapping(), features, list(cfg.exclude_clips or []), progress=True)
    real_mapping = ClassMapping(mode=str(cfg.classes), classes=real.classes,
                                exclude_emotions=tuple(cfg.exclude_emotions or ()))
    print(f"real set: {real.describe()['clips']} clips, {len(set(real.subjects))} subjects, classes {real.class_counts()}")

    info = {"overrides": overrides, "seeds": seeds, "rows": rows, "per_clip": per_clip, "folders": [str(f) for f in folders],
            "classic": {"train": classic_train, "apex_jitter": classic_jitter}, "generated": {}}
    extras = {}
    for row in rows:
        if row == "real":
            extras[row] = (None, train)
        elif row == "classic":
            sets = [load_recognition_set(folders, real_mapping, features, list(cfg.exclude_clips or []), apex_shift=k)
                    for k in classic_jitter]
            extras[row] = (concat_sets(sets) if sets else None, replace(train, **classic_train))
        elif row == "au_fill":
            basis = Path(env("AU_BASIS", generators / "au_basis" / "au_basis.npz"))
            if not basis.is_file():
                print(f"skipping row {row}: no AU basis at {basis}")
                continue
            t0 = time.perf_counter()
            result = au_fill(basis, folders, generated_root / row, seed=0, progress=True)
            print(f"{result.clips} clips made from action units, added per class {result.meta['added_per_class']}")
            gen = load_recognition_set([result.folder], real_mapping, features, progress=True)
            info["generated"][row] = {"clips": result.clips, "made": result.built,
                                      "seconds": round(time.perf_counter() - t0, 1),
                                      "added_per_class": result.meta["added_per_class"],
                                      "basis": str(basis.relative_to(ROOT)) if basis.is_relative_to(ROOT) else str(basis)}
            extras[row] = (gen, train)
        else:
            ckpt = generator_checkpoint(generators / row)
            if ckpt is None:
                print(f"skipping row {row}: no generator checkpoint under {generators / row}")
                continue
            t0 = time.perf_counter()
            result = augment(Animator.from_checkpoint(ckpt), folders, generated_root / row, targets="subjects",
                             per_clip=per_clip, seed=0, checkpoint=str(ckpt), batch_size=8, progress=True)
            print(result.summary())
            gen = load_recognition_set([result.folder], real_mapping, features, progress=True)
            sources = [r["generated_from"] for r in PreparedSet.open(result.folder).rows
                       if real_mapping.label(r) is not None]
            info["generated"][row] = {"clips": result.clips, "made": result.built, "seconds": round(time.perf_counter() - t0, 1),
                                      "motion_ratio": motion_ratio(gen, sources, real),
                                      "checkpoint": str(ckpt.relative_to(ROOT)) if ckpt.is_relative_to(ROOT) else str(ckpt)}
            extras[row] = (gen, train)

    for seed in seeds:
        for row, (extra, settings) in extras.items():
            path = study / "runs" / row / f"seed{seed}.json"
            if path.is_file():
                continue
            t0 = time.perf_counter()
            result = run_loso_on_sets(real, extra, settings, seed=seed, random_draws=int(cfg.random_draws))
            record = {"row": row, "seed": seed, "summary": result.summary, "data": result.data,
                      "settings": result.settings, "folds": [f.as_dict() for f in result.folds],
                      "seconds": round(time.perf_counter() - t0, 1)}
            atomic_write_text(path, json.dumps(record, indent=2, sort_keys=True))
            o = result.summary["overall"]["model"]
            print(f"[{time.strftime('%H:%M:%S')}] {row} seed {seed}: UF1 {o['uf1']:.3f} UAR {o['uar']:.3f} "
                  f"({record['seconds']:.0f} s)", flush=True)
    atomic_write_text(study / "study.json", json.dumps(info, indent=2, sort_keys=True))
    write_sheet(study, folders, {r: generated_root / r for r in info["generated"]})
    write_table(study, rows)


def write_sheet(study: Path, folders, generated: dict[str, Path], scale: int = 3) -> Path | None:
    """sheet.png: for the real clip with the most onset -> apex change, one row per source (the
    driving clip, then each generator's clip of it on the same target; for clips made from AUs, one per
    emotion): onset, apex, and their difference amplified 10x."""
    import cv2

    from megen.runtime.video import write_png

    if not generated:
        return None
    real = [PreparedSet.open(f) for f in folders]
    moved = [(np.abs(p.load(i)["frames"][r["apex"]].astype(float) - p.load(i)["frames"][r["onset"]]).mean(), p, i)
             for p in real for i, r in enumerate(p.rows)]
    _, prepared, index = max(moved, key=lambda m: m[0])
    row = prepared.rows[index]
    ref = f"{row['dataset']}/{row['subject']}/{row['clip']}"
    strips = [("driving " + ref, prepared.load(index)["frames"], row)]
    for name, folder in generated.items():
        out = PreparedSet.open(folder)
        hits = [i for i, r in enumerate(out.rows) if r["generated_from"] == ref]
        made = [i for i, r in enumerate(out.rows) if str(r["generated_from"]).startswith("au:")]
        if hits:
            strips.append((f"{name} on {out.rows[hits[0]]['target']}", out.load(hits[0])["frames"], out.rows[hits[0]]))
        elif made:      # clips made from AUs have no driver: the first of each emotion, with its AUs
            for i in sorted({out.rows[i]["emotion"]: i for i in reversed(made)}.values()):
                r = out.rows[i]
                strips.append((f"{name}: {r['emotion']} AU {r['action_units']} on {r['target']}", out.load(i)["frames"], r))
    tiles = []
    for label, frames, r in strips:
        onset, apex = frames[int(r["onset"])].astype(float), frames[int(r["apex"])].astype(float)
        diff = np.clip(np.abs(apex - onset) * 10, 0, 255)
        strip = np.concatenate([onset, apex, diff], axis=1).astype(np.uint8)
        strip = cv2.resize(strip, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        bar = np.full((16, strip.shape[1]), 255, np.uint8)
        cv2.putText(bar, label, (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 0, 1)
        tiles.append(np.concatenate([bar, strip]))
    sheet = np.concatenate(tiles)
    return write_png(study / "sheet.png", np.repeat(sheet[..., None], 3, axis=-1))


def write_table(study: Path, rows: list[str]) -> None:
    """results.md: mean ± sample sd over seeds of UF1 / UAR per row, beside the baselines."""
    lines = ["| row | seeds | UF1 | UAR | extra training clips per fold | s per run |", "|---|---|---|---|---|---|"]
    baselines = None
    for row in rows:
        records = [json.loads(p.read_text()) for p in sorted((study / "runs" / row).glob("seed*.json"))]
        if not records:
            continue
        uf1 = np.array([r["summary"]["overall"]["model"]["uf1"] for r in records])
        uar = np.array([r["summary"]["overall"]["model"]["uar"] for r in records])
        sd = lambda a: f" ± {a.std(ddof=1):.3f}" if len(a) > 1 else ""   # noqa: E731
        extra = np.mean([np.mean([f["n_train_extra"] for f in r["folds"]]) for r in records])
        secs = np.mean([r["seconds"] for r in records])
        lines.append(f"| {row} | {len(records)} | {uf1.mean():.3f}{sd(uf1)} | {uar.mean():.3f}{sd(uar)} "
                     f"| {extra:.0f} | {secs:.0f} |")
        baselines = baselines or records[0]["summary"]["overall"]
    if baselines:
        m, r = baselines["majority"], baselines["random"]
        lines.append(f"| majority class | | {m['uf1']:.3f} | {m['uar']:.3f} | | |")
        lines.append(f"| random (uniform, {r['draws']} draws) | | {r['uf1']:.3f} ± {r['uf1_sd']:.3f} | "
                     f"{r['uar']:.3f} ± {r['uar_sd']:.3f} | | |")
    atomic_write_text(study / "results.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
