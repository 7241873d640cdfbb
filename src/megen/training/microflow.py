"""The micro-motion estimator's LightningModule (``python -m megen.train_flow``)."""
from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from megen.models.microflow import CELL, MicroFlowNet, blur, gaussian_kernel, load_microflow

#: the region loss's Gaussian (sd, cells of CELL px): 16 px, the scale of a facial action's motion
REGION_SD_CELLS = 4.0


def relative_epe(pred: torch.Tensor, true: torch.Tensor, floor_px: float = 0.05) -> torch.Tensor:
    """Mean over pairs of the end-point error (B, 2, h, w) divided by the pair's mean true motion plus
    ``floor_px``: a 0.1-px motion weighs as much as a 2-px one, and a still pair's false motion counts."""
    epe = (pred - true).pow(2).sum(1).add(1e-12).sqrt().mean(dim=(1, 2))
    return (epe / (true.norm(dim=1).mean(dim=(1, 2)) + floor_px)).mean()


def region_epe(pred: torch.Tensor, true: torch.Tensor, sd_cells: float = REGION_SD_CELLS) -> torch.Tensor:
    """``relative_epe`` of both flows (B, 2, h, w) blurred by a Gaussian of ``sd_cells``: the error of the motion a
    region makes as a whole. A faint motion's evidence is below the noise at a pixel but not over a region, so
    the per-cell error alone lets an estimator shrink faint motion toward zero; this term charges for it."""
    kernel = gaussian_kernel(sd_cells).to(pred)
    return relative_epe(blur(pred, kernel), blur(true, kernel))


class MicroFlowSystem(pl.LightningModule):
    """Trains a ``MicroFlowNet`` (``net``: its arguments) on exact flow at its grid, Adam with a one-cycle rate
    peaking at ``lr``, on the relative end-point error plus ``region_loss`` times its ``region_epe``; validation
    logs ``val/epe`` (px) and ``val/epe_over_zero`` (to zero flow's). ``init`` (a checkpoint, or ``packaged``)
    starts from a trained estimator, whose arguments then replace ``net``'s but for ``refinements`` (passes it
    lacks are added, new) and ``relight*`` (net='s, where given). ``freeze_init`` trains those added passes alone."""

    def __init__(self, net: dict | None = None, lr: float = 3e-3, init: str | None = None, region_loss: float = 0.0,
                 freeze_init: bool = False):
        super().__init__()
        start = None if init is None else load_microflow(None if init == "packaged" else init, "init")
        if start is not None:
            # saved below, so the checkpoint rebuilds the network it continues (with any passes net= adds)
            passes = max(int((net or {}).get("refinements", 0)), int(start.hparams.get("refinements", 0)))
            # relighting has no weights: net= may switch it on (or set its scale) for a network trained without it
            light = {key: float((net or {}).get(key) or start.hparams.get(key, 0.0))
                     for key in ("relight", "relight_tolerance")}
            net = {**start.hparams, "refinements": passes, **light}
        elif freeze_init:
            raise ValueError("freeze_init=true: needs init= (the estimator whose weights stay fixed)")
        self.save_hyperparameters()
        self.net = MicroFlowNet(**(net or {}))
        if start is not None:
            missing, unexpected = self.net.load_state_dict(start.state_dict(), strict=False)
            if unexpected or any(not k.startswith("refine.") for k in missing):
                raise ValueError(f"init={init}: its weights do not fit net={net}")
            if freeze_init:
                for name, p in self.net.named_parameters():
                    p.requires_grad_(name in missing)

    def _grid(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.coarse(batch["frame"], batch["onset"]), F.avg_pool2d(batch["flow"], CELL)

    def training_step(self, batch, _):
        pred, true = self._grid(batch)
        loss = relative_epe(pred, true)
        if self.hparams.region_loss:
            loss = loss + self.hparams.region_loss * region_epe(pred, true)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(pred))
        return loss

    def validation_step(self, batch, _):
        pred, true = self._grid(batch)
        epe = (pred - true).norm(dim=1).mean()
        self.log("val/epe", epe, batch_size=len(pred))
        self.log("val/epe_over_zero", epe / true.norm(dim=1).mean().clamp_min(1e-6), batch_size=len(pred))

    def configure_optimizers(self):
        opt = torch.optim.Adam([p for p in self.net.parameters() if p.requires_grad], lr=self.hparams.lr)
        steps = max(1, int(self.trainer.estimated_stepping_batches))
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.hparams.lr, total_steps=steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


__all__ = ["REGION_SD_CELLS", "MicroFlowSystem", "region_epe", "relative_epe"]
