"""Subject-wise splits: no subject appears in two splits. Pure functions of manifest rows."""
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


def subject_key(row: dict) -> str:
    """Subjects are only unique within a dataset: ``<dataset>/<subject>``."""
    return f"{row['dataset']}/{row['subject']}"


def is_excluded(row: dict, exclude) -> bool:
    """Whether a manifest row is left out of every split: its clip id is listed, or ``megc`` is
    listed and it is one of the nine MEGC driving clips."""
    exclude = {str(x) for x in (exclude or ())}
    if "megc" in exclude:
        from megen.data.readers import is_driving_clip

        if is_driving_clip(row["dataset"], row["subject"], row["clip"]):
            return True
    return row["clip"] in exclude


def subject_splits(subjects, split: dict | None) -> dict[str, list[str]]:
    """Subject names per split from a ``dataset.split`` setting.

    ``split``: ``{val, test, seed}`` fractions of subjects, ``{loso: k}`` for leave-one-subject-out
    fold k, or explicit ``{train, val, test}`` lists of ``dataset/subject`` names.
    """
    split = dict(split or {})
    subjects = sorted(set(map(str, subjects)))
    if {"train", "val", "test"} <= set(split):
        names = {k: [str(s) for s in split[k]] for k in ("train", "val", "test")}
    elif split.get("loso") is not None:
        folds = leave_one_subject_out(subjects)
        k = int(split["loso"])
        if not 0 <= k < len(folds):
            raise ValueError(f"dataset.split.loso={k} but there are {len(folds)} subjects (folds 0..{len(folds) - 1})")
        names = folds[k]
    else:
        names = split_subjects(subjects, split.get("val", 0.15), split.get("test", 0.15), split.get("seed", 0))
    return {k: sorted(v) for k, v in names.items()}


def select_splits(rows: list[dict], split: dict | None, exclude=()) -> tuple[dict[str, list[int]], list[int]]:
    """Row indices per split (train / val / test) and the excluded rows' indices.

    ``rows``: manifest rows (``dataset``, ``subject``, ``clip``), e.g. of several prepared sets
    concatenated; excluded rows (see ``is_excluded``) are in no split. Pure: no file is read.
    """
    kept = [i for i, r in enumerate(rows) if not is_excluded(r, exclude)]
    excluded = [i for i, r in enumerate(rows) if is_excluded(r, exclude)]
    if not kept:
        raise ValueError(f"no clips left after excluding {sorted(map(str, exclude or ()))}")
    names = subject_splits({subject_key(rows[i]) for i in kept}, split)
    selected = {k: [i for i in kept if subject_key(rows[i]) in set(v)] for k, v in names.items()}
    if not selected["train"]:
        raise ValueError(f"the training split is empty (subjects {sorted({subject_key(rows[i]) for i in kept})}); "
                         f"check dataset.split")
    return selected, excluded
