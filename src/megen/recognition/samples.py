"""The clips a recogniser sees: flow features, class labels and subjects from prepared folders."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from megen.recognition.classes import ClassMapping, normalise_emotion
from megen.recognition.features import folder_features
from megen.recognition.flow import FlowSettings


def subject_key(row: dict) -> str:
    """Subjects are only unique within a dataset: ``dataset/subject``."""
    return f"{row['dataset']}/{row['subject']}"


def _subject_of(ref: str, row: dict) -> str | None:
    """``dataset/subject`` from a ``dataset/subject[/clip]`` reference (a bare subject: the row's dataset)."""
    parts = [p for p in str(ref).strip().split("/") if p]
    if not parts:
        return None
    if len(parts) == 1:
        return f"{row['dataset']}/{parts[0]}"
    return f"{parts[0]}/{parts[1]}"


def identity_keys(row: dict) -> frozenset[str]:
    """Every subject whose face or motion is in a clip: its own, plus for generated clips the
    subject of the driving clip (``generated_from`` = ``dataset/subject/clip``) and of the target
    (``target`` = ``dataset/subject``, where the target is a dataset subject). A training clip
    carrying the held-out subject in any of these would leak the test fold."""
    keys = {subject_key(row)}
    for column in ("generated_from", "target"):
        value = str(row.get(column) or "").strip()
        if value and "/" in value:     # a bare photo name is no dataset subject
            key = _subject_of(value, row)
            if key:
                keys.add(key)
    return frozenset(keys)


@dataclass
class RecognitionSet:
    """Labelled flow features of the clips of one or more prepared folders (N clips, C classes).

    features (N, 3, S, S) float32; labels (N,) int64 in [0, C); the other fields are per clip.
    """

    features: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    datasets: tuple[str, ...]
    subjects: tuple[str, ...]              # dataset/subject
    clips: tuple[str, ...]
    emotions: tuple[str, ...]
    identities: tuple[frozenset, ...]      # identity_keys of each clip
    apex: np.ndarray                       # (N,) apex index used
    apex_estimated: np.ndarray             # (N,) bool
    apex_notes: tuple[str, ...]
    folders: tuple[str, ...]
    excluded: Counter = field(default_factory=Counter)   # "dataset:emotion" -> clips left out

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index) -> "RecognitionSet":
        index = np.asarray(index, dtype=np.int64)
        pick = lambda seq: tuple(seq[i] for i in index)   # noqa: E731
        return RecognitionSet(self.features[index], self.labels[index], self.classes, pick(self.datasets),
                              pick(self.subjects), pick(self.clips), pick(self.emotions), pick(self.identities),
                              self.apex[index], self.apex_estimated[index], pick(self.apex_notes),
                              pick(self.folders), Counter(self.excluded))

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {c: int(n) for c, n in zip(self.classes, counts)}

    def describe(self) -> dict:
        per_dataset = {}
        for d in sorted(set(self.datasets)):
            sub = self.subset([i for i, x in enumerate(self.datasets) if x == d])
            per_dataset[d] = {"clips": len(sub), "subjects": len(set(sub.subjects)), "classes": sub.class_counts(),
                              "apex_estimated": int(sub.apex_estimated.sum())}
        return {"clips": len(self), "subjects": len(set(self.subjects)), "classes": self.class_counts(),
                "apex_estimated": int(self.apex_estimated.sum()), "excluded": dict(sorted(self.excluded.items())),
                "per_dataset": per_dataset}


def concat_sets(sets) -> RecognitionSet:
    """One RecognitionSet of several with the same classes (e.g. generated clips and jitter copies)."""
    sets = [s for s in sets if s is not None]
    if not sets:
        raise ValueError("no recognition sets to concatenate")
    if len({tuple(s.classes) for s in sets}) > 1:
        raise ValueError(f"cannot concatenate sets with different classes: {[s.classes for s in sets]}")
    join = lambda name: tuple(x for s in sets for x in getattr(s, name))   # noqa: E731
    excluded: Counter = Counter()
    for s in sets:
        excluded.update(s.excluded)
    return RecognitionSet(np.concatenate([s.features for s in sets]), np.concatenate([s.labels for s in sets]),
                          sets[0].classes, join("datasets"), join("subjects"), join("clips"), join("emotions"),
                          join("identities"), np.concatenate([s.apex for s in sets]),
                          np.concatenate([s.apex_estimated for s in sets]), join("apex_notes"), join("folders"),
                          excluded)


def load_recognition_set(folders, classes: str | ClassMapping = "composite", features: FlowSettings = FlowSettings(),
                         exclude_clips=(), progress: bool = False, apex_shift: int = 0) -> RecognitionSet:
    """Features and labels of every usable clip of the prepared ``folders``.

    Args:
        folders: prepared folders (``clips/*.npz`` + ``manifest.csv``), one or a list.
        classes: ``composite`` | ``emotions`` or a ClassMapping (pass the real set's mapping to
            label training-only extra folders with the same classes).
        exclude_clips: clip ids to leave out (counted as ``dataset:excluded clip``).
        apex_shift: temporal jitter: each clip's apex moved by that many frames (clip ids get
            ``@apex+k``); clips whose apex cannot move that way are left out (no new view).
    Clips whose label maps to no class are left out and counted in ``excluded``.
    """
    folders = [Path(f) for f in ([folders] if isinstance(folders, (str, Path)) else folders)]
    if not folders:
        raise ValueError("no prepared folders given")
    mapping = classes if isinstance(classes, ClassMapping) else ClassMapping(mode=classes)
    loaded = [folder_features(f, features, progress=progress, apex_shift=apex_shift) for f in folders]
    base_apex = [folder_features(f, features).apex if apex_shift else None for f in folders]
    mapping.fit([r for ff in loaded for r in ff.prepared.rows])
    exclude = {str(c) for c in exclude_clips}
    excluded: Counter = Counter()
    cols: dict[str, list] = {k: [] for k in ("feat", "label", "dataset", "subject", "clip", "emotion", "ident",
                                             "apex", "est", "note", "folder")}
    suffix = f"@apex{int(apex_shift):+d}" if apex_shift else ""
    for ff, base in zip(loaded, base_apex):
        for i, row in enumerate(ff.prepared.rows):
            if base is not None and ff.apex[i] == base[i]:
                continue
            if row["clip"] in exclude:
                excluded[f"{row['dataset']}:excluded clip"] += 1
                continue
            label = mapping.label(row)
            if label is None:
                excluded[f"{row['dataset']}:{normalise_emotion(row['emotion']) or '<no label>'}"] += 1
                continue
            for key, value in (("feat", ff.features[i]), ("label", label), ("dataset", row["dataset"]),
                               ("subject", subject_key(row)), ("clip", row["clip"] + suffix), ("emotion", row["emotion"]),
                               ("ident", identity_keys(row)), ("apex", ff.apex[i]), ("est", ff.apex_estimated[i]),
                               ("note", ff.apex_note[i]), ("folder", str(ff.prepared.folder))):
                cols[key].append(value)
    size = features.size
    return RecognitionSet(
        np.stack(cols["feat"]).astype(np.float32) if cols["feat"] else np.zeros((0, 3, size, size), np.float32),
        np.asarray(cols["label"], np.int64), tuple(mapping.classes), tuple(cols["dataset"]), tuple(cols["subject"]),
        tuple(cols["clip"]), tuple(cols["emotion"]), tuple(cols["ident"]), np.asarray(cols["apex"], np.int64),
        np.asarray(cols["est"], bool), tuple(cols["note"]), tuple(cols["folder"]), excluded,
    )
