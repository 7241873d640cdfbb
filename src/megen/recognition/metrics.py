"""UF1 / UAR (the MEGC scores) and the majority-class and random baselines."""
from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional.classification import multiclass_f1_score, multiclass_recall


def uf1_uar(preds, target, num_classes: int) -> dict[str, float]:
    """Unweighted F1 and unweighted average recall of pooled predictions.

    UF1 = mean_c 2 TP_c / (2 TP_c + FP_c + FN_c), UAR = mean_c TP_c / N_c, both over the classes
    that occur in ``target`` (a class without ground truth has no recall; per-dataset scores of
    a mix would otherwise be charged for classes that dataset never has). MEGC pools the
    predictions of every LOSO fold before scoring, as here, rather than averaging fold scores.

    Args: preds, target (N,) class indices. Returns ``{"uf1", "uar", "n"}`` (nan for N = 0).
    """
    preds = torch.as_tensor(np.asarray(preds), dtype=torch.long).reshape(-1)
    target = torch.as_tensor(np.asarray(target), dtype=torch.long).reshape(-1)
    if preds.shape != target.shape:
        raise ValueError(f"preds {tuple(preds.shape)} and target {tuple(target.shape)} differ in length")
    if len(target) == 0:
        return {"uf1": float("nan"), "uar": float("nan"), "n": 0}
    present = torch.bincount(target, minlength=num_classes) > 0
    f1 = multiclass_f1_score(preds, target, num_classes=num_classes, average="none")
    recall = multiclass_recall(preds, target, num_classes=num_classes, average="none")
    return {"uf1": float(f1[present].mean()), "uar": float(recall[present].mean()), "n": int(len(target))}


def random_baseline(target, num_classes: int, draws: int = 100, seed: int = 0) -> dict[str, float]:
    """UF1 / UAR of uniform random guessing: mean and sd over ``draws`` seeded draws."""
    target = np.asarray(target, dtype=np.int64)
    rng = np.random.default_rng(seed)
    scores = [uf1_uar(rng.integers(0, num_classes, len(target)), target, num_classes) for _ in range(max(draws, 1))]
    uf1 = np.array([s["uf1"] for s in scores])
    uar = np.array([s["uar"] for s in scores])
    return {"uf1": float(uf1.mean()), "uar": float(uar.mean()), "uf1_sd": float(uf1.std()),
            "uar_sd": float(uar.std()), "draws": len(scores), "n": int(len(target))}


def majority_class(labels, num_classes: int) -> int:
    """The most frequent class of ``labels`` (the lowest index on a tie)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    return int(np.argmax(counts))
