"""Subject-wise splits: no subject appears in two splits."""
from __future__ import annotations

import numpy as np


def split_subjects(subjects, val: float = 0.15, test: float = 0.15, seed: int = 0) -> dict[str, list[str]]:
    """Shuffle the distinct subjects with ``seed`` and cut them into train / val / test.

    A split with a non-zero fraction gets at least one subject while train keeps at least one.
    """
    unique = sorted(set(map(str, subjects)))
    if not unique:
        raise ValueError("cannot split an empty dataset: no subjects")
    order = [str(s) for s in np.random.default_rng(seed).permutation(unique)]
    n = len(order)
    n_val = max(int(round(val * n)), 1 if val > 0 and n >= 2 else 0)
    n_test = max(int(round(test * n)), 1 if test > 0 and n >= 3 else 0)
    if n_val + n_test >= n:
        raise ValueError(f"{n} subject(s) cannot fill val={val} and test={test} and leave any for training")
    return {"val": order[:n_val], "test": order[n_val:n_val + n_test], "train": order[n_val + n_test:]}


def leave_one_subject_out(subjects) -> list[dict[str, list[str]]]:
    """One fold per subject: that subject is the test split, the rest train (no val split)."""
    unique = sorted(set(map(str, subjects)))
    return [{"train": [s for s in unique if s != held], "val": [], "test": [held]} for held in unique]
