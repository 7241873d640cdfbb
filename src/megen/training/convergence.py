"""Whether a training run converged, by one rule for every recipe: no epoch's training loss above
``LOSS_RATIO`` times the first epoch's, and the last validation rMTE below the first's.

The rule catches what a best checkpoint hides: a run whose loss climbs after its first epochs keeps that
epoch's checkpoint and reports a test score as if it had learned. ``EpochHistory`` records the two curves
during training (in the checkpoint too, so a resumed run keeps them); ``megen.train`` writes them and the
verdict into the run's ``metrics.json``, and ``megen.report`` shows the share of seeds that converged.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import pytorch_lightning as pl

#: an epoch's training loss may exceed the first epoch's by this factor before the run counts as diverged
LOSS_RATIO = 1.2
#: the logged curves the rule reads: the epoch mean of the total training loss, and the validation rMTE
LOSS_KEY, VAL_KEY = "train/total_epoch", "val/rmte"


def convergence(losses: Sequence[float], val_rmte: Sequence[float], loss_ratio: float = LOSS_RATIO) -> dict:
    """The verdict on per-epoch curves (training loss (E,), validation rMTE (V,)).

    Returns ``converged`` (True / False; None where there is too little to judge: under two validation
    epochs, or no loss) with the numbers behind it: ``loss_max_over_first`` (the largest epoch loss over the
    first), ``val_rmte_first`` and ``val_rmte_last``. A non-finite loss or rMTE is a divergence.
    """
    losses, val = [float(v) for v in losses], [float(v) for v in val_rmte]
    out: dict = {"epochs": len(losses), "loss_ratio_limit": loss_ratio}
    if losses:
        first = losses[0]
        worst = max(losses) / first if first > 0 and all(map(math.isfinite, losses)) else math.inf
        out.update(loss_first=first, loss_last=losses[-1], loss_max_over_first=worst)
    if val:
        out.update(val_rmte_first=val[0], val_rmte_last=val[-1])
    if not losses or len(val) < 2:
        out["converged"] = None
        return out
    finite = all(map(math.isfinite, val))
    out["converged"] = bool(out["loss_max_over_first"] <= loss_ratio and finite and val[-1] < val[0])
    return out


class EpochHistory(pl.Callback):
    """Records ``LOSS_KEY`` at the end of every training epoch and ``VAL_KEY`` where that epoch validated
    (validation runs before the hook, so its rMTE is the same epoch's); ``history`` is {key: [per epoch]},
    kept in checkpoints."""

    def __init__(self):
        self.history: dict[str, list[float]] = {LOSS_KEY: [], VAL_KEY: []}
        self._validated = False

    def on_validation_end(self, trainer, pl_module) -> None:
        self._validated = self._validated or not trainer.sanity_checking

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        metrics = trainer.callback_metrics
        if metrics.get(LOSS_KEY) is not None:
            self.history[LOSS_KEY].append(float(metrics[LOSS_KEY]))
        if self._validated and metrics.get(VAL_KEY) is not None:
            self.history[VAL_KEY].append(float(metrics[VAL_KEY]))
        self._validated = False

    def verdict(self) -> dict:
        """``convergence`` of the recorded curves, with the curves."""
        return {**convergence(self.history[LOSS_KEY], self.history[VAL_KEY]), "history": self.history}

    def state_dict(self) -> dict:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = {k: list(v) for k, v in state_dict.get("history", {}).items()} or self.history


def find_history(trainer) -> EpochHistory | None:
    """The trainer's ``EpochHistory`` callback, if it has one."""
    return next((c for c in trainer.callbacks if isinstance(c, EpochHistory)), None)


__all__ = ["LOSS_KEY", "LOSS_RATIO", "VAL_KEY", "EpochHistory", "convergence", "find_history"]
