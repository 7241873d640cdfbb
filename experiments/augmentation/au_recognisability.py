"""Does the recogniser read AU-made clips as their emotion? Per LOSO fold, a recogniser trained on the real
clips of the other subjects classifies the held-out subject's real clips and the AU-made clips that show that
subject's face (the fold's training never saw that face); UF1 / UAR of each, pooled over folds, 3 seeds.

Usage: python experiments/augmentation/au_recognisability.py <au_fill set> [recognise overrides ...]
  e.g. outputs/augmentation/generated/au_fill classes=emotions    (made by run.sh with ROWS containing au_fill)
Writes experiments/augmentation/au_fill/recognisability.json; numbers only.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from megen.config.compose import compose_config
from megen.data.preparation import prepare_sources
from megen.recognition import ClassMapping, FlowSettings, TrainSettings, load_recognition_set
from megen.recognition.loso import fold_seed, loso_folds, train_fold
from megen.recognition.metrics import uf1_uar
from megen.runtime.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> None:
    made, overrides = Path(argv[0]), argv[1:]
    cfg = compose_config("recognise", *overrides)
    plain = lambda node: OmegaConf.to_container(node, resolve=True)   # noqa: E731
    features = FlowSettings.from_config(plain(cfg.features))
    train = TrainSettings.from_config(plain(cfg.train), trainer=plain(cfg.trainer))
    folders = [f for f, _ in prepare_sources(cfg.dataset, cfg.paths.cache_dir, progress=False,
                                             data_dir=cfg.paths.data_dir)]
    real = load_recognition_set(folders, ClassMapping(mode=str(cfg.classes)), features)
    mapping = ClassMapping(mode=str(cfg.classes), classes=real.classes)
    au = load_recognition_set([made], mapping, features)
    n = len(real.classes)
    out = {"classes": list(real.classes), "real_clips": len(real), "au_clips": len(au), "seeds": {}}
    for seed in (0, 1, 2):
        real_rows, au_rows = [], []
        for fold in loso_folds(real):
            module = train_fold(real.features[fold.train_index], real.labels[fold.train_index], n, train,
                                fold_seed(seed, fold.held_out))
            shows = np.array([fold.held_out in ids for ids in au.identities], bool)
            for index, rows, data in ((fold.test_index, real_rows, real), (np.flatnonzero(shows), au_rows, au)):
                if len(index):
                    pred = module.predict_logits(torch.from_numpy(data.features[index])).argmax(1).numpy()
                    rows += list(zip(pred.tolist(), data.labels[index].tolist()))
        score = {name: uf1_uar([p for p, _ in rows], np.array([y for _, y in rows]), n)
                 for name, rows in (("real", real_rows), ("au", au_rows))}
        out["seeds"][seed] = score
        print(f"seed {seed}: real UF1 {score['real']['uf1']:.3f} UAR {score['real']['uar']:.3f} | AU-made UF1 "
              f"{score['au']['uf1']:.3f} UAR {score['au']['uar']:.3f} ({score['au']['n']} clips)", flush=True)
    for name in ("real", "au"):
        uf1 = np.array([s[name]["uf1"] for s in out["seeds"].values()])
        out[f"{name}_uf1"] = [float(uf1.mean()), float(uf1.std(ddof=1))]
    ratio = np.array([s["au"]["uf1"] / s["real"]["uf1"] for s in out["seeds"].values()])
    out["au_over_real_uf1"] = [float(ratio.mean()), float(ratio.std(ddof=1))]
    print(f"UF1 real {out['real_uf1'][0]:.3f} ± {out['real_uf1'][1]:.3f}, AU-made {out['au_uf1'][0]:.3f} ± "
          f"{out['au_uf1'][1]:.3f}; ratio {ratio.mean():.2f} ± {ratio.std(ddof=1):.2f} (goal >= 0.9)")
    atomic_write_text(ROOT / "experiments/augmentation/au_fill/recognisability.json", json.dumps(out, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
