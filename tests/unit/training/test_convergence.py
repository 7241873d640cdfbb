import math

import pytest
import torch

from megen.training.convergence import LOSS_KEY, VAL_KEY, EpochHistory, convergence


@pytest.mark.parametrize("losses, val, verdict", [
    ([44, 40, 33], [0.86, 0.80, 0.75], True),           # falls, and validation ends below its start
    ([44, 50, 75], [0.86, 0.90, 1.06], False),          # the divergence a recipe once showed at two threads
    ([44, 52.8, 40], [0.86, 0.80, 0.75], True),         # 1.2x the first epoch's is still allowed
    ([44, 52.9, 40], [0.86, 0.80, 0.75], False),        # above it is not, whatever the last epoch did
    ([44, 40, 33], [0.86, 0.80, 0.87], False),          # validation ends above its start
    ([44, math.nan, 33], [0.86, 0.80, 0.75], False),    # a non-finite loss is a divergence
    ([44, 40, 33], [0.86, math.inf], False),
])
def test_the_rule(losses, val, verdict):
    out = convergence(losses, val)
    assert out["converged"] is verdict
    assert out["epochs"] == len(losses) and out["val_rmte_first"] == val[0] and out["val_rmte_last"] == val[-1]


def test_the_numbers_behind_the_verdict():
    out = convergence([50.0, 60.0, 40.0], [0.9, 0.7])
    assert out["loss_max_over_first"] == pytest.approx(1.2) and out["loss_first"] == 50 and out["loss_last"] == 40


def test_too_little_to_judge():
    assert convergence([44.0], [0.9])["converged"] is None          # one validation epoch
    assert convergence([], [0.9, 0.8])["converged"] is None         # no loss logged


class _Trainer:
    def __init__(self):
        self.callback_metrics, self.sanity_checking = {}, False


def test_history_records_each_epoch_and_survives_a_checkpoint():
    trainer, history = _Trainer(), EpochHistory()
    trainer.sanity_checking = True                                  # the sanity check's rMTE is not an epoch's
    trainer.callback_metrics = {VAL_KEY: torch.tensor(5.0)}
    history.on_validation_end(trainer, None)
    trainer.sanity_checking = False
    for loss, val in [(44.0, 0.875), (40.0, None), (33.0, 0.75)]:    # the second epoch did not validate
        trainer.callback_metrics = {LOSS_KEY: torch.tensor(loss), VAL_KEY: torch.tensor(val or 9.0)}
        if val is not None:
            history.on_validation_end(trainer, None)
        history.on_train_epoch_end(trainer, None)
    assert history.history == {LOSS_KEY: [44.0, 40.0, 33.0], VAL_KEY: [0.875, 0.75]}
    resumed = EpochHistory()
    resumed.load_state_dict(history.state_dict())
    assert resumed.verdict()["converged"] is True and resumed.verdict()["history"] == history.history
