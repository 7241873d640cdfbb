"""Leave-one-subject-out (LOSO) recognition: one model per held-out subject, pooled scores."""
from __future__ import annotations

import contextlib
import logging
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from megen.config.choices import ClassWeighting
from megen.recognition.classes import ClassMapping
from megen.recognition.flow import FlowSettings
from megen.recognition.metrics import majority_class, random_baseline, uf1_uar
from megen.recognition.model import RecognitionModule
from megen.recognition.samples import RecognitionSet, concat_sets, load_recognition_set
from megen.runtime.progress import Progress


@dataclass(frozen=True)
class TrainSettings:
    """How each fold's recogniser is trained (``trainer`` goes to ``pl.Trainer``)."""

    epochs: int = 40
    batch_size: int = 32
    lr: float = 5e-3
    weight_decay: float = 1e-4
    class_weights: ClassWeighting = ClassWeighting.BALANCED
    channels: tuple[int, ...] = (3, 5, 8)
    dropout: float = 0.0
    flip_prob: float = 0.0
    rotate_deg: float = 0.0
    trainer: dict = field(default_factory=lambda: {"accelerator": "cpu", "devices": 1})

    def __post_init__(self):
        object.__setattr__(self, "class_weights", ClassWeighting.parse(self.class_weights, "train.class_weights"))
        if int(self.epochs) < 1 or int(self.batch_size) < 1:
            raise ValueError(f"train.epochs and train.batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))

    @classmethod
    def from_config(cls, cfg, trainer=None) -> "TrainSettings":
        cfg = dict(cfg or {})
        unknown = set(cfg) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown train setting(s) {sorted(unknown)}; valid: {sorted(cls.__dataclass_fields__)}")
        if trainer is not None:
            cfg["trainer"] = dict(trainer)
        return cls(**cfg)


@dataclass
class Fold:
    """One LOSO fold: what was held out, what was trained on."""

    held_out: str
    test_index: np.ndarray            # indices into the real set
    train_index: np.ndarray           # indices into the real set
    extra_index: np.ndarray           # indices into the extra set used for training
    extra_dropped: int = 0            # extra clips left out because they carry the held-out subject
    seconds: float = 0.0

    def train_identities(self, real: RecognitionSet, extra: RecognitionSet | None = None) -> set[str]:
        """Every subject whose clips (or, for extra clips, face or motion) this fold trains on."""
        found = {real.subjects[i] for i in self.train_index}
        if extra is not None:
            found |= {k for i in self.extra_index for k in extra.identities[i]}
        return found

    def as_dict(self) -> dict:
        return {"held_out": self.held_out, "n_test": len(self.test_index), "n_train": len(self.train_index),
                "n_train_extra": len(self.extra_index), "extra_dropped": self.extra_dropped,
                "seconds": round(self.seconds, 3)}


def loso_folds(real: RecognitionSet, extra: RecognitionSet | None = None) -> list[Fold]:
    """One fold per subject of ``real``: its clips are the test set, the other subjects' clips
    train, plus every ``extra`` clip that carries none of the held-out subject's identity
    (its own subject, a generated clip's driving subject or target subject)."""
    subjects = np.asarray(real.subjects, dtype=object)
    folds = []
    for held in sorted(set(real.subjects)):
        test = np.flatnonzero(subjects == held)
        train = np.flatnonzero(subjects != held)
        if extra is not None and len(extra):
            keep = np.array([held not in ids for ids in extra.identities], bool)
            extra_index, dropped = np.flatnonzero(keep), int((~keep).sum())
        else:
            extra_index, dropped = np.zeros(0, np.int64), 0
        folds.append(Fold(held, test, train, extra_index, dropped))
    return folds


def fold_seed(seed: int, held_out: str) -> int:
    """A per-fold seed from the run seed and the held-out subject (independent of fold order)."""
    return zlib.crc32(f"{seed}/{held_out}".encode()) & 0x7FFFFFFF


def class_weights(labels: np.ndarray, num_classes: int, mode: ClassWeighting) -> torch.Tensor | None:
    """Balanced: N / (C_present * N_c) for classes present in training, 0 for absent ones."""
    if mode == ClassWeighting.NONE:
        return None
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = counts > 0
    w = np.zeros(num_classes)
    w[present] = counts.sum() / (present.sum() * counts[present])
    return torch.as_tensor(w, dtype=torch.float32)


@contextlib.contextmanager
def _quiet_lightning():
    """Lightning announces its devices on every Trainer; one per fold would bury the summary."""
    loggers = [logging.getLogger(n) for n in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def train_fold(x: np.ndarray, y: np.ndarray, num_classes: int, settings: TrainSettings, seed: int) -> RecognitionModule:
    """Train one recogniser on features ``x`` (N, 3, S, S) and labels ``y`` (N,)."""
    pl.seed_everything(seed, workers=True, verbose=False)
    module = RecognitionModule(num_classes, size=x.shape[-1], channels=settings.channels, dropout=settings.dropout,
                               lr=settings.lr, weight_decay=settings.weight_decay,
                               class_weights=class_weights(y, num_classes, settings.class_weights),
                               flip_prob=settings.flip_prob, rotate_deg=settings.rotate_deg)
    data = TensorDataset(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y))
    loader = DataLoader(data, batch_size=settings.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    trainer_kw = {"accelerator": "cpu", "devices": 1, **settings.trainer}
    trainer_kw.update(max_epochs=int(settings.epochs), logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False)
    with _quiet_lightning():
        trainer = pl.Trainer(**trainer_kw)
        trainer.fit(module, loader)
    return module


@dataclass
class LosoResult:
    """Per-clip predictions, per-fold facts and the UF1 / UAR summary of one LOSO run."""

    classes: tuple[str, ...]
    predictions: list[dict]     # dataset, subject, clip, emotion, label, pred, majority, apex, apex_estimated, apex_note
    folds: list[Fold]
    summary: dict               # {"overall": {...}, "per_dataset": {name: {...}}}; see score_predictions
    data: dict                  # RecognitionSet.describe() of the real set (and of the extra set)
    settings: dict
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"classes": list(self.classes), "summary": self.summary, "data": self.data, "settings": self.settings,
                "folds": [f.as_dict() for f in self.folds], "predictions": self.predictions,
                "seconds": round(self.seconds, 2)}


def score_predictions(predictions: list[dict], num_classes: int, draws: int = 100, seed: int = 0) -> dict:
    """UF1 / UAR of the model, the majority-class and the random baseline, overall and per dataset.

    Each entry: ``{"n", "model": {uf1, uar}, "majority": {uf1, uar}, "random": {uf1, uar, uf1_sd, uar_sd}}``.
    """
    def block(rows):
        y = np.array([r["label"] for r in rows], np.int64)
        score = lambda key: {k: v for k, v in uf1_uar([r[key] for r in rows], y, num_classes).items() if k != "n"}  # noqa: E731
        rand = random_baseline(y, num_classes, draws, seed)
        rand.pop("n")
        return {"n": len(rows), "model": score("pred"), "majority": score("majority"), "random": rand}

    datasets = sorted({r["dataset"] for r in predictions})
    return {"overall": block(predictions), "per_dataset": {d: block([r for r in predictions if r["dataset"] == d])
                                                           for d in datasets}}


def run_loso_on_sets(real: RecognitionSet, extra: RecognitionSet | None = None,
                     train: TrainSettings = TrainSettings(), seed: int = 0, random_draws: int = 100,
                     progress: bool = False, fit=None) -> LosoResult:
    """LOSO over the subjects of ``real``; ``extra`` clips only ever train (never tested).

    ``fit(x, y, num_classes, settings, seed) -> module with predict_logits`` replaces
    :func:`train_fold` (tests use it to watch what each fold trains on).
    """
    if extra is not None and tuple(extra.classes) != tuple(real.classes):
        raise ValueError(f"extra clips have classes {extra.classes} but the real set {real.classes}; "
                         "label them with the real set's ClassMapping")
    if len(set(real.subjects)) < 2:
        raise ValueError(f"LOSO needs at least 2 subjects; the chosen data has {len(set(real.subjects))} "
                         f"({len(real)} usable clips)")
    fit = fit or train_fold
    start = time.perf_counter()
    num_classes = len(real.classes)
    folds = loso_folds(real, extra)
    predictions: list[dict] = []
    with Progress(progress) as bar:
        task = bar.add_task("LOSO folds", total=len(folds), unit="folds")
        for fold in folds:
            t0 = time.perf_counter()
            x = real.features[fold.train_index]
            y = real.labels[fold.train_index]
            if len(fold.extra_index):
                x = np.concatenate([x, extra.features[fold.extra_index]])
                y = np.concatenate([y, extra.labels[fold.extra_index]])
            module = fit(x, y, num_classes, train, fold_seed(seed, fold.held_out))
            logits = module.predict_logits(torch.from_numpy(real.features[fold.test_index]))
            preds = logits.argmax(1).numpy()
            # the majority baseline is what this fold's training data would predict, like the model
            majority = majority_class(y, num_classes)
            for i, p in zip(fold.test_index, preds):
                predictions.append({
                    "dataset": real.datasets[i], "subject": real.subjects[i], "clip": real.clips[i],
                    "emotion": real.emotions[i], "label": int(real.labels[i]), "pred": int(p), "majority": majority,
                    "apex": int(real.apex[i]), "apex_estimated": bool(real.apex_estimated[i]),
                    "apex_note": real.apex_notes[i],
                })
            fold.seconds = time.perf_counter() - t0
            bar.advance(task)
    data = {"real": real.describe()}
    if extra is not None:
        data["extra"] = extra.describe()
    settings = {"train": asdict(train), "seed": seed, "random_draws": random_draws}
    return LosoResult(real.classes, predictions, folds, score_predictions(predictions, num_classes, random_draws, seed),
                      data, settings, time.perf_counter() - start)


def run_loso(folders, extra=(), classes: str = "composite", features: FlowSettings = FlowSettings(),
             train: TrainSettings = TrainSettings(), seed: int = 0, exclude_emotions=(), exclude_clips=(),
             random_draws: int = 100, progress: bool = False, apex_jitter=()) -> LosoResult:
    """LOSO recognition over prepared ``folders``, with ``extra`` prepared folders for training only.

    Args:
        folders: prepared dataset folders whose subjects are held out one at a time.
        extra: prepared folders (e.g. generated clips) added to every fold's training set, minus the
            clips that carry the held-out subject (see ``samples.identity_keys``).
        classes: ``composite`` (MEGC 2019 negative / positive / surprise) or ``emotions``.
        apex_jitter: temporal jitter, e.g. ``(-1, 1)``: training copies of every real clip with its
            apex moved by these frames (extra clips of the clip's own subject, so a fold drops them
            with the subject).
    Returns a LosoResult: ``.summary["overall"]["model"]["uf1"]`` etc., ``.predictions`` per clip.
    """
    folders = [Path(f) for f in ([folders] if isinstance(folders, (str, Path)) else folders)]
    extra = [Path(f) for f in ([extra] if isinstance(extra, (str, Path)) else (extra or ()))]
    mapping = ClassMapping(mode=classes, exclude_emotions=tuple(exclude_emotions))
    real = load_recognition_set(folders, mapping, features, exclude_clips, progress)
    if not len(real):
        raise ValueError(f"no clip of {[str(f) for f in folders]} "
                         f"maps to a class (classes={classes}); left out: {dict(real.excluded)}")
    extra_sets = [load_recognition_set(extra, mapping, features, (), progress)] if extra else []
    extra_sets += [load_recognition_set(folders, mapping, features, exclude_clips, progress, apex_shift=int(k))
                   for k in apex_jitter if int(k)]
    extra_set = concat_sets(extra_sets) if extra_sets else None
    result = run_loso_on_sets(real, extra_set, train, seed, random_draws, progress)
    result.settings.update({"classes": classes, "features": asdict(features), "exclude_emotions": list(exclude_emotions),
                            "exclude_clips": list(exclude_clips), "folders": [str(f) for f in folders],
                            "extra": [str(f) for f in extra], "apex_jitter": [int(k) for k in apex_jitter]})
    return result
