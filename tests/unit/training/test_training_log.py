"""What training prints when stdout is not a terminal (the CLI itself: tests/cli/test_train.py)."""
import io
import logging
import re
import warnings
from types import SimpleNamespace

import pytest
import torch
from helpers import EPOCH_LINE
from pytorch_lightning.callbacks import RichProgressBar

from megen.training.log import KNOWN_WARNINGS, EpochLine, console_callbacks, quiet_known_noise


def _trainer(**kw):
    base = dict(current_epoch=0, global_step=4, max_epochs=8, max_steps=-1, num_training_batches=4,
                is_global_zero=True, sanity_checking=False,
                callback_metrics={"train/total_epoch": torch.tensor(2.5), "train/total_step": torch.tensor(9.0),
                                  "train/perceptual_epoch": torch.tensor(2.0), "train/flow": torch.tensor(0.5),
                                  "val/rmte": torch.tensor(0.8125), "val/epe": torch.tensor(0.125),
                                  "val/epe_zero": torch.tensor(0.15)})
    return SimpleNamespace(**{**base, **kw})


def _epoch(callback, trainer, validate=True):
    callback.on_train_epoch_start(trainer, None)
    if validate:
        callback.on_validation_end(trainer, None)
    callback.on_train_epoch_end(trainer, None)


def test_one_line_per_epoch_with_step_eta_losses_and_validation():
    out = io.StringIO()
    callback = EpochLine(stream=out)
    _epoch(callback, _trainer())
    _epoch(callback, _trainer(current_epoch=1, global_step=8), validate=False)
    first, second = out.getvalue().splitlines()
    match = EPOCH_LINE.match(first)
    assert match, first
    assert match["epoch"] == "1" and match["total"] == "8" and match["step"] == "4"
    assert (match["loss"], match["rmte"], match["epe"], match["zero"]) == ("2.5", "0.8125", "0.125", "0.15")
    assert "(perceptual 2, flow 0.5)" in first          # epoch means where logged, terms in MAIN_LOSSES order
    # an epoch that did not validate shows no (stale) validation scores
    assert second.startswith("epoch 2/8, step 8, ") and "val" not in second and second.endswith("flow 0.5)")


def test_max_steps_bounds_the_epoch_count_and_other_ranks_print_nothing():
    out = io.StringIO()
    _epoch(EpochLine(stream=out), _trainer(max_epochs=-1, max_steps=10))   # 4 batches an epoch: 3 epochs
    assert out.getvalue().startswith("epoch 1/3, step 4, ")
    quiet = io.StringIO()
    _epoch(EpochLine(stream=quiet), _trainer(is_global_zero=False))
    assert quiet.getvalue() == ""


def test_test_scores_line():
    out = io.StringIO()
    EpochLine(stream=out).on_test_end(_trainer(callback_metrics={"test/rmte": 0.75, "test/epe": 0.25,
                                                                "test/epe_zero": 0.5}), None)
    assert out.getvalue() == "test rMTE 0.75, EPE 0.25 (zero flow 0.5)\n"


def test_a_terminal_keeps_the_bar_and_a_pipe_gets_the_lines():
    bar, line = RichProgressBar(), EpochLine()
    assert console_callbacks([bar, line], terminal=True) == ([bar], True)
    assert console_callbacks([bar, line], terminal=False) == ([line], False)
    assert console_callbacks([line], terminal=True) == ([line], False)     # callbacks.progress=null


#: a module each known message comes from (where Lightning 2.6 raises it)
_SOURCES = ["pytorch_lightning.utilities._pytree", "pytorch_lightning.trainer.connectors.data_connector"]


def test_only_the_known_messages_are_silenced():
    assert len(KNOWN_WARNINGS) == len(_SOURCES)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_known_noise()
        for (message, category, _, _), module in zip(KNOWN_WARNINGS, _SOURCES):
            text = re.sub(r"\\(.)", r"\1", message) + " (the rest of it)"
            warnings.warn_explicit(text, category, "x.py", 1, module=module)
        warnings.warn_explicit("`isinstance(treespec, LeafSpec)` is deprecated", FutureWarning, "x.py", 1,
                               module="megen.somewhere")              # the same text from elsewhere still shows
        warnings.warn("another warning", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["`isinstance(treespec, LeafSpec)` is deprecated", "another warning"]


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.mark.parametrize("tip", ["💡 Tip: For seamless cloud logging and experiment tracking, try litlogger",
                                 "💡 Tip: For seamless cloud uploads and versioning, try litmodels"])
def test_lightning_tips_are_dropped_other_info_kept(tip):
    quiet_known_noise()
    log, records = logging.getLogger("pytorch_lightning.utilities.rank_zero"), _Records()
    level, log.level = log.level, logging.INFO
    log.addHandler(records)
    try:
        log.info(tip)
        log.info("GPU available: False, used: False")
    finally:
        log.removeHandler(records)
        log.setLevel(level)
    assert records.messages == ["GPU available: False, used: False"]
