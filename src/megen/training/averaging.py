"""An exponential moving average of the motion and generator weights, validated and saved in their place.

Lightning's own ``WeightAveraging`` averages the whole LightningModule: here that would carry the frozen VGG
(most of the parameters) through every update and store it twice in each checkpoint, and average the
discriminator, which generation never uses. This one averages ``pl_module.model`` only.
"""
from __future__ import annotations

import torch
from pytorch_lightning.callbacks import Callback
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from megen.runtime.checkpoints import MODEL_PREFIX, model_state

TRAINING_KEY = "training_state_dict"   # the weights as trained (not averaged), for resuming


class WeightAverage(Callback):
    """Keep ``w_avg <- decay * w_avg + (1 - decay) * w`` of ``pl_module.model`` after every training batch from
    ``start_step`` on (parameters and buffers, the batch-norm statistics included). With ``bias_correction`` the
    average after n batches is ``sum_i decay**(n-i) w_i / sum_i decay**(n-i)``: the plain average starts from a copy
    of the first batch's weights, which still holds ``decay**n`` of the whole after n batches (a quarter after 140
    at 0.99), so an early checkpoint mixes in near-initial weights; corrected, every batch counts by its age alone.

    Validation sees the average, so the best checkpoint is picked on it, and every checkpoint's ``state_dict``
    holds it, so generation, ``trainer.test(ckpt_path="best")`` and ``megen.evaluate`` use it with no option of
    their own. The weights as trained go in ``checkpoint["training_state_dict"]``, from where a resumed run
    continues them. ``decay=0`` is off (no copy is made).
    """

    def __init__(self, decay: float = 0.0, start_step: int = 0, bias_correction: bool = False):
        if not 0.0 <= float(decay) < 1.0:
            raise ValueError(f"callbacks.weight_average.decay must be in [0, 1), got {decay}")
        if int(start_step) < 0:
            raise ValueError(f"callbacks.weight_average.start_step must be >= 0, got {start_step}")
        self.decay = float(decay)
        self.start_step = int(start_step)
        self.bias_correction = bool(bias_correction)
        self.average: AveragedModel | None = None
        self._updated_at = 0

    def setup(self, trainer, pl_module, stage: str) -> None:
        if stage == "fit" and self.decay > 0 and self.average is None:
            update = _bias_corrected_ema(self.decay) if self.bias_correction else get_ema_multi_avg_fn(self.decay)
            self.average = AveragedModel(pl_module.model, multi_avg_fn=update, use_buffers=True)

    def on_fit_start(self, trainer, pl_module) -> None:
        if self.average is not None:
            self.average.to(pl_module.device)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        # global_step counts the generator's updates (one per batch); a skipped batch does not advance it
        step = trainer.global_step
        if self.average is not None and step > self._updated_at and step > self.start_step:
            self.average.update_parameters(pl_module.model)
            self._updated_at = step

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._swap(trainer, pl_module)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self._swap(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        if self._ready():
            pl_module.model.load_state_dict(self.average.module.state_dict())

    def state_dict(self) -> dict:
        return {"updated_at": self._updated_at}

    def load_state_dict(self, state_dict: dict) -> None:
        self._updated_at = int(state_dict.get("updated_at", 0))

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        if not self._ready():
            return
        state = checkpoint["state_dict"]
        checkpoint[TRAINING_KEY] = {k: v for k, v in state.items() if k.startswith(MODEL_PREFIX)}
        state.update({MODEL_PREFIX + k: v.detach().clone() for k, v in self.average.module.state_dict().items()})
        checkpoint["weight_average"] = {"decay": self.decay, "bias_correction": self.bias_correction,
                                        "n_averaged": int(self.average.n_averaged)}

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        # resuming: the state_dict just loaded into the model is the average; the trained weights go back
        if self.average is None or TRAINING_KEY not in checkpoint:
            return
        self.average.module.load_state_dict(model_state(checkpoint["state_dict"]))
        self.average.n_averaged.fill_(int(checkpoint.get("weight_average", {}).get("n_averaged", 1)))
        pl_module.model.load_state_dict(model_state(checkpoint[TRAINING_KEY]))

    def _ready(self) -> bool:
        return self.average is not None and int(self.average.n_averaged) > 0

    @torch.no_grad()
    def _swap(self, trainer, pl_module) -> None:
        if not self._ready() or trainer.sanity_checking:
            return
        live = list(pl_module.model.parameters()) + list(pl_module.model.buffers())
        kept = list(self.average.module.parameters()) + list(self.average.module.buffers())
        for a, b in zip(live, kept, strict=True):
            held = a.detach().clone()
            a.copy_(b)
            b.copy_(held)


def _bias_corrected_ema(decay: float):
    """The update of the bias-corrected average: after ``n`` batches averaged the next one enters with weight
    ``(1 - decay) / (1 - decay**(n+1))``, which keeps the average the ``decay**age``-weighted mean of all of them."""
    def update(averaged: list, current: list, n_averaged: torch.Tensor) -> None:
        n = int(n_averaged)
        get_ema_multi_avg_fn(decay * (1 - decay ** n) / (1 - decay ** (n + 1)))(averaged, current, n_averaged)
    return update
