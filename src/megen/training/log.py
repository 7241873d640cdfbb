"""What training prints when stdout is not a terminal: one line per epoch, and no known-harmless noise.

In a terminal Lightning's rich bar shows the run. Piped into a log (``make train | tee log``, a
batch job) that bar prints nothing until the end, so there the bar is switched off and
:class:`EpochLine` prints, after every training epoch (its validation included)::

    epoch 3/8, step 48, 41.2 s/epoch, ETA 3 min 26 s: loss 2.314 (perceptual 1.902, flow 0.301,
    equivariance_flow 0.111); val rMTE 0.812, EPE 0.134 (zero flow 0.153)

(one line; wrapped here), and after the final test ``test rMTE 0.805, EPE 0.131 (zero flow 0.153)``.
The validation part appears only in epochs that validated; a loss term the configuration does not
log is left out. :func:`quiet_known_noise` silences, by their exact text, the libraries' messages
that say nothing about the run (``KNOWN_WARNINGS``, Lightning's product tips); the others that
used to show were fixed where they came from (the frozen VGG follows its parent's train/eval
mode; ``last.ckpt`` is saved with ``weights_only=False`` stated).
"""
from __future__ import annotations

import logging
import math
import sys
import time
import warnings
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks.progress import ProgressBar

from megen.runtime.progress import _duration

#: the loss terms the line shows, where the run logs them (``train/<term>``, the epoch's mean)
MAIN_LOSSES = ("total", "perceptual", "flow", "equivariance_flow", "generator_gan", "discriminator_gan")

#: (message regex, category, module regex, why it is harmless); each is matched from the message's start
KNOWN_WARNINGS = (
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning, r"pytorch_lightning\.utilities\._pytree",
     "Lightning's own CombinedLoader builds the LeafSpec this torch deprecates; megen cannot change it"),
    (r"You have overridden `on_after_batch_transfer` in `LightningModule` but have passed in a "
     r"`LightningDataModule`", UserWarning, r"pytorch_lightning\.",
     "the system's hook (channels_last frames) is the one meant to run; the data module has none"),
)

#: Lightning's INFO advertisements, dropped from its log by their opening words
_TIPS = ("💡 Tip: For seamless cloud logging", "💡 Tip: For seamless cloud uploads")


class _DropTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_TIPS)


_TIP_FILTER = _DropTips()


def quiet_known_noise() -> None:
    """Ignore exactly the messages of ``KNOWN_WARNINGS`` and Lightning's product tips; every other
    warning still shows. Idempotent."""
    for message, category, module, _why in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if _TIP_FILTER not in logger.filters:
            logger.addFilter(_TIP_FILTER)


def begin_run(cfg) -> Path:
    """A run's start, shared by the training commands: Lightning's known noise quietened, ``cfg.run_dir``
    made with the resolved ``config.yaml`` in it (atomically), every generator seeded by ``cfg.seed``."""
    from omegaconf import OmegaConf

    from megen.runtime.io import atomic_write_text

    quiet_known_noise()
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    pl.seed_everything(cfg.seed, workers=True)
    return run_dir


def stdout_is_terminal() -> bool:
    return bool(getattr(sys.stdout, "isatty", lambda: False)())


def console_callbacks(callbacks: list, terminal: bool | None = None) -> tuple[list, bool]:
    """The callbacks for where stdout goes, and whether Lightning's progress bar stays on.

    Piped or redirected, progress bars go and :class:`EpochLine` stays. In a terminal a progress
    bar (``callbacks.progress``) stays and the epoch lines go; with the bar switched off
    (``callbacks.progress=null``) the epoch lines stay there too. Lightning is told not to add its
    default bar whenever no bar is left.
    """
    terminal = stdout_is_terminal() if terminal is None else terminal
    bar = terminal and any(isinstance(c, ProgressBar) for c in callbacks)
    if bar:
        return [c for c in callbacks if not isinstance(c, EpochLine)], True
    return [c for c in callbacks if not isinstance(c, ProgressBar)], False


def _number(value) -> float | None:
    """A logged scalar (tensor or number) as a float (NaN and inf kept: the line shows them); None if absent."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.3e}"


class EpochLine(pl.Callback):
    """Prints one line per training epoch on the global-zero process (see the module's docstring).

    Args:
        losses: the ``train/<term>`` loss terms shown, in order, where logged (``total`` first).
        stream: where the line goes (default: stdout at print time).
    """

    def __init__(self, losses=MAIN_LOSSES, stream=None):
        self.losses = tuple(losses)
        self.stream = stream
        self._started = None
        self._durations: list[float] = []
        self._validated = False

    # -- hooks ------------------------------------------------------------------------------
    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._started = time.perf_counter()
        self._validated = False

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._validated = True

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._started is None:
            return
        self._durations.append(time.perf_counter() - self._started)
        self._started = None
        if trainer.is_global_zero:
            print(self.line(trainer), file=self.stream if self.stream is not None else sys.stdout, flush=True)

    def on_test_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            scores = self._scores(trainer.callback_metrics, "test")
            if scores:
                print("test " + scores, file=self.stream if self.stream is not None else sys.stdout, flush=True)

    # -- the line ---------------------------------------------------------------------------
    @staticmethod
    def _scores(metrics, prefix: str) -> str:
        """``rMTE r, EPE e (zero flow z)`` of ``<prefix>/rmte`` etc., the parts that were logged."""
        parts = []
        rmte, epe, zero = (_number(metrics.get(f"{prefix}/{k}")) for k in ("rmte", "epe", "epe_zero"))
        if rmte is not None:
            parts.append(f"rMTE {_fmt(rmte)}")
        if epe is not None:
            parts.append(f"EPE {_fmt(epe)}" + (f" (zero flow {_fmt(zero)})" if zero is not None else ""))
        return ", ".join(parts)

    def total_epochs(self, trainer) -> int | None:
        """The epoch count this run will reach: ``max_epochs``, or fewer where ``max_steps`` stops it."""
        limits = []
        if trainer.max_epochs is not None and trainer.max_epochs >= 0:
            limits.append(int(trainer.max_epochs))
        per_epoch = trainer.num_training_batches
        if trainer.max_steps is not None and trainer.max_steps >= 0 and per_epoch and math.isfinite(per_epoch):
            left = max(0, int(trainer.max_steps) - int(trainer.global_step))
            limits.append(trainer.current_epoch + 1 + math.ceil(left / per_epoch))
        return min(limits) if limits else None

    def line(self, trainer) -> str:
        metrics = trainer.callback_metrics
        epoch, total = trainer.current_epoch + 1, self.total_epochs(trainer)
        seconds = self._durations[-1] if self._durations else 0.0
        head = [f"epoch {epoch}/{total if total is not None else '?'}", f"step {trainer.global_step}",
                f"{seconds:.1f} s/epoch"]
        if total is not None:
            mean = sum(self._durations) / len(self._durations) if self._durations else 0.0
            head.append(f"ETA {_duration(max(0, total - epoch) * mean)}")
        text = ", ".join(head)

        terms = []
        for name in self.losses:
            value = _number(metrics.get(f"train/{name}_epoch", metrics.get(f"train/{name}")))
            if value is not None:
                terms.append((name, value))
        if terms:
            (first, value), rest = terms[0], terms[1:]
            loss = f"loss {_fmt(value)}" if first == "total" else f"{first} {_fmt(value)}"
            if rest:
                loss += " (" + ", ".join(f"{n} {_fmt(v)}" for n, v in rest) + ")"
            text += ": " + loss

        scores = self._scores(metrics, "val") if self._validated else ""
        if scores:
            text += ("; " if terms else ": ") + "val " + scores
        return text
