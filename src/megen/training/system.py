"""The LightningModule: one module for every motion family, manual optimisation, rMTE validation."""
from __future__ import annotations

import contextlib
from pathlib import Path

import pytorch_lightning as pl
import torch

from megen.config.choices import NonfinitePolicy
from megen.face.prior import PriorSetting
from megen.models.choices import KeypointMode
from megen.models.discriminator import MultiScaleDiscriminator
from megen.models.equivariance import RandomTransform
from megen.models.full import build_model, with_guide_architecture
from megen.models.losses import (
    background_cycle,
    equivariance_flow,
    equivariance_jacobian,
    equivariance_value,
    feature_matching,
    flow_supervision,
    keypoint_flow,
    lsgan_discriminator,
    lsgan_generator,
    perceptual_pyramid,
    warp_loss,
)
from megen.models.motion import deformation_to_frame_flow
from megen.models.perceptual import ImagePyramid, Vgg19
from megen.runtime.video import contact_sheet, difference, write_png


def _no_closure() -> None:
    return None


@contextlib.contextmanager
def _frozen(module: torch.nn.Module):
    """Parameters that need no gradient for a while (gradients still flow through to the inputs)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


class MotionTransferSystem(pl.LightningModule):
    """Trains a MotionTransferModel (FOMM, MRAA or TPS family, any prior input) with its losses.

    Args are plain mappings (the resolved Hydra config groups), saved as hyper-parameters so a
    checkpoint rebuilds its own model: ``model``, ``prior``, ``loss``, ``optim``, and the
    ``frame_size`` it was trained at (generation crops faces to it), and the training motion's range
    ``motion_px`` ([low, high] px of a ``motion_px_at`` frame; None for real data). ``channels_last`` keeps the
    networks' weights and the batch's frames in NHWC memory order: the same numbers (to float
    rounding); whether convolutions run faster that way depends on the machine (compare
    ``python -m megen.bench train system.channels_last=true``; on a 2-core CPU it made no difference).

    One training batch is one step (``trainer.max_steps``, ``global_step``, logs, sample and
    checkpoint names): of its two or three optimiser updates, Lightning counts only the generator's.
    """

    def __init__(self, model: dict, prior: dict, loss: dict, optim: dict, frame_size: int | None = None,
                 sample_count: int = 6, sample_amplify: float = 10.0, channels_last: bool = False,
                 motion_px: list | None = None, motion_px_at: int | None = None):
        super().__init__()
        scale = model.get("motion", {}).get("scale_factor")
        setting = PriorSetting.from_config(prior, frame_size, scale) if frame_size and scale else \
            PriorSetting.from_config(prior)
        prior = {**dict(prior), "map_size": setting.map_size}   # stored: animation rebuilds the same maps
        model = with_guide_architecture(dict(model))              # stored: the learned guide's network too
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.strict_loading = False   # the frozen VGG is not stored in checkpoints
        self.prior_setting = setting
        self.model = build_model(model, setting.model_args())
        self.loss_cfg = loss
        w = loss["weights"]
        disc = dict(model.get("discriminator", {}))
        self.use_gan = bool(disc.pop("enabled", True)) and float(w.get("generator_gan", 0)) > 0
        self.discriminator = MultiScaleDiscriminator(**disc) if self.use_gan else None
        perceptual = loss.get("perceptual", {})
        self.vgg = Vgg19(perceptual.get("weights_path"), allow_random=perceptual.get("allow_random", False))
        self.pyramid = ImagePyramid(loss["scales"], model.get("num_channels", 3))
        self._samples = None
        self.skipped_steps = 0
        if loss.get("nonfinite", "raise") not in NonfinitePolicy.values():
            raise ValueError(f"unknown loss.nonfinite {loss.get('nonfinite')!r}; "
                             f"valid: {', '.join(NonfinitePolicy.values())}")
        self._build_val_metrics()
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        if self.channels_last and isinstance(batch, dict):
            batch = {k: v.contiguous(memory_format=torch.channels_last)
                     if torch.is_tensor(v) and v.dim() == 4 and k not in ("flow", "guide") else v for k, v in batch.items()}
        return batch

    # -- checkpoints ------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if not k.startswith("vgg.")}

    # -- forward ----------------------------------------------------------------------------
    def forward(self, source, driving, prior=None, keypoints=None, reference=None, guide=None) -> dict:
        """``guide`` (B, S, S, 2): the measured flow a batch may carry; a model that measures the driver's flow
        reads it (else it measures the frames), the key-point families track the frames instead."""
        return self.model(source, driving, prior, keypoints, reference, guide=guide)

    def _generator_losses(self, batch: dict, out: dict) -> dict:
        w = self.loss_cfg["weights"]
        driving, pred = batch["driving"], out["prediction"]
        losses = {}
        real, fake = self.pyramid(driving), self.pyramid(pred)
        if any(w["perceptual"]):
            losses["perceptual"] = perceptual_pyramid(self.vgg, real, fake, w["perceptual"])
        if w.get("l1", 0) > 0:
            losses["l1"] = w["l1"] * (pred - driving).abs().mean()
        if self.use_gan:
            # pred's gradient only: the discriminator's own is not used. (DDP's reducer expects the
            # discriminator's gradients in this backward pass: there they are computed and dropped.)
            frozen = _frozen(self.discriminator) if not self._distributed() else contextlib.nullcontext()
            with frozen:
                d_fake = self.discriminator(pred)
            # with its graph: the discriminator's update reuses it (its weights do not change before;
            # with spectral norm, its power iteration then runs three times per batch instead of four)
            d_real = self.discriminator(driving)
            out["discriminator_real"] = d_real
            losses["generator_gan"] = w["generator_gan"] * lsgan_generator(d_fake)
            if any(w.get("feature_matching", [])):
                losses["feature_matching"] = feature_matching(d_real, d_fake, w["feature_matching"])
        ev, ej = w.get("equivariance_value", 0), w.get("equivariance_jacobian", 0)
        ef = w.get("equivariance_flow", 0)
        if not self.model.has_keypoints:    # the flow-guided family: no key points to keep equivariant
            ev = ej = ef = 0
        mode = getattr(self.model, "motion_net", None) and self.model.motion_net.mode
        # reference-mode key points are the onset points themselves: they cannot move with T;
        # anchored Jacobians are relative corrections, checked by the equivariance flow instead
        ev = ev if mode != KeypointMode.REFERENCE else 0
        ej = ej if mode in (KeypointMode.LEARNED, KeypointMode.REFERENCE) else 0
        # constant identity Jacobians: nothing to learn
        ej = ej if getattr(getattr(self.model, "motion_net", None), "estimate_jacobian", True) else 0
        if ev > 0 or ej > 0 or ef > 0:
            eq = self.loss_cfg["equivariance"]
            t = RandomTransform(driving.shape[0], eq["sigma_affine"], eq["sigma_tps"], eq["points_tps"],
                                device=driving.device, dtype=driving.dtype)
            prior, kp = batch.get("prior"), batch.get("keypoints")
            prior_t = t.transform_frame(prior) if prior is not None else None
            # T(driving) is tracked against the driving frame: the pair (driving -> T(driving))
            m_t = self.model.motion(t.transform_frame(driving), prior_t, kp, driving)
            # tracked key points of the driving frame against itself: the other end of the pair
            m_d = self.model.motion(driving, prior, kp, driving) if mode == KeypointMode.LANDMARKS else out["motion_driving"]
            if ev > 0:
                losses["equivariance_value"] = ev * equivariance_value(m_d["value"], m_t["value"], t)
            if ej > 0:
                losses["equivariance_jacobian"] = ej * equivariance_jacobian(m_d["jacobian"], m_t["jacobian"],
                                                                             m_t["value"], t)
            if ef > 0:
                dense = self.model.dense_motion(driving, m_d, m_t)
                losses["equivariance_flow"] = ef * equivariance_flow(dense["deformation"], t)
        if w.get("keypoint_flow", 0) > 0 and "flow" in batch and self.model.has_keypoints:
            losses["keypoint_flow"] = w["keypoint_flow"] * keypoint_flow(
                out["motion_source"]["value"], out["motion_driving"]["value"], batch["flow"])
        if w.get("flow", 0) > 0 and "flow" in batch:
            losses["flow"] = w["flow"] * flow_supervision(out["deformation"], batch["flow"],
                                                          normalise=bool(self.loss_cfg.get("flow_normalise", False)))
        if w.get("warp", 0) > 0 and "warped_features" in out:   # generators with multi-scale occlusion (tps)
            target = self.model.generator.target_features(driving, out["occlusion_maps"])
            losses["warp"] = w["warp"] * warp_loss(target, out["warped_features"])
        if w.get("background", 0) > 0 and self.model.background is not None:
            forward = self.model.background(batch["source"], driving)
            if forward is not None:                                # None before a scheduled start
                backward = self.model.background(driving, batch["source"])
                losses["background"] = w["background"] * background_cycle(forward, backward)
        return losses

    def generator_losses(self, batch: dict) -> tuple[dict, dict]:
        """One forward pass on a batch -> (weighted loss terms {name: scalar}, model outputs)."""
        out = self(batch["source"], batch["driving"], batch.get("prior"), batch.get("keypoints"), batch.get("reference"),
                   batch.get("guide"))
        return self._generator_losses(batch, out), out

    def training_step(self, batch: dict, batch_idx: int):
        opts = self.optimizers()
        opts = opts if isinstance(opts, list) else [opts]
        opt_motion, opt_gen = opts[0], opts[1]
        losses, out = self.generator_losses(batch)
        total = sum(losses.values())
        if not self._finite_or_skip(total, losses):
            return None
        opt_motion.zero_grad(set_to_none=True)
        opt_gen.zero_grad(set_to_none=True)
        self.manual_backward(total)
        clip = self.hparams.optim.get("clip_grad_inf")
        if clip:   # TPSMM: each motion network's largest gradient entry capped, one network at a time
            for net in (getattr(self.model, "motion_net", None), self.model.dense_motion, self.model.background):
                if net is not None:
                    torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm=float(clip), norm_type=float("inf"))
        self._uncounted_step(opt_motion)
        opt_gen.step()                       # the one update Lightning counts: a batch is a step
        logs = {f"train/{k}": v.detach() for k, v in losses.items()}
        logs["train/total"] = total.detach()
        if self.use_gan:
            opt_d = opts[2]
            d_real = out["discriminator_real"]
            d_fake = self.discriminator(out["prediction"].detach())
            loss_d = self.loss_cfg["weights"]["discriminator_gan"] * lsgan_discriminator(d_real, d_fake)
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(loss_d)
            self._uncounted_step(opt_d)
            logs["train/discriminator_gan"] = loss_d.detach()
        self.log_dict(logs, prog_bar=False, on_step=True, on_epoch=True, batch_size=batch["source"].shape[0])
        self.log("loss", total.detach(), prog_bar=True, on_step=True, on_epoch=False, logger=False)
        return total.detach()

    def _distributed(self) -> bool:
        return self._trainer is not None and self.trainer.world_size > 1

    def _uncounted_step(self, optimizer) -> None:
        """An optimiser update through the strategy and precision plugin, as ``optimizer.step()`` does,
        without advancing Lightning's step counter."""
        self.trainer.strategy.optimizer_step(optimizer.optimizer, closure=_no_closure)

    def _finite_or_skip(self, total, losses) -> bool:
        """False (skip this batch) or an error naming the step and every term, per ``loss.nonfinite``."""
        if torch.isfinite(total):
            return True
        terms = ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in losses.items())
        message = f"non-finite loss at global step {self.global_step} (epoch {self.current_epoch}): {terms}"
        if self.loss_cfg.get("nonfinite", NonfinitePolicy.RAISE) == NonfinitePolicy.SKIP:
            self.skipped_steps += 1
            print(f"skipping batch: {message}")
            self.log("train/skipped_steps", float(self.skipped_steps), on_step=True, on_epoch=False)
            return False
        raise FloatingPointError(message + "; the last checkpoint is untouched (loss.nonfinite=skip skips such batches)")

    def on_train_epoch_start(self) -> None:
        # epoch-scheduled parts (TPS dropout, a background transform that joins later)
        for module in self.model.modules():
            if hasattr(module, "set_epoch"):
                module.set_epoch(self.current_epoch)

    def on_train_epoch_end(self) -> None:
        scheds = self.lr_schedulers()
        for s in scheds if isinstance(scheds, list) else [scheds]:
            if s is not None:
                s.step()

    # -- validation -------------------------------------------------------------------------
    def _build_val_metrics(self) -> None:
        from torch import nn

        from megen.metrics import FlowEndPointError, L1Error, MotionTransferError

        self.val_metrics = nn.ModuleDict({
            "rmte": MotionTransferError(relative=True), "mte": MotionTransferError(relative=False),
            "l1": L1Error(), "l1_static": L1Error(), "epe": FlowEndPointError(), "epe_zero": FlowEndPointError(),
        })

    def on_validation_epoch_start(self) -> None:
        self._samples = None

    def on_test_epoch_start(self) -> None:
        self._samples = None

    def validation_step(self, batch: dict, batch_idx: int):
        self._score(batch)

    def test_step(self, batch: dict, batch_idx: int):
        self._score(batch)

    def _score(self, batch: dict) -> None:
        """Reconstruct the driving frame from the source; score motion against the static copy."""
        src, drv = batch["source"], batch["driving"]
        prior, kp, ref = batch.get("prior"), batch.get("keypoints"), batch.get("reference")
        guide = batch.get("guide")
        out = self(src, drv, prior, kp, ref, guide)
        g = out["prediction"]
        # the model's own zero-motion output
        g1 = self(src, src, prior, kp, ref, None if guide is None else torch.zeros_like(guide))["prediction"]
        m = self.val_metrics
        m["rmte"].update(g, drv, g1, src)
        m["mte"].update(g, drv, src)
        m["l1"].update(g, drv)
        m["l1_static"].update(src, drv)
        if "flow" in batch:
            pred = deformation_to_frame_flow(out["deformation"], tuple(src.shape[2:]))
            m["epe"].update(pred, batch["flow"])
            m["epe_zero"].update(torch.zeros_like(batch["flow"]), batch["flow"])
        if self._samples is None:
            n = self.hparams.sample_count
            self._samples = (drv[:n].detach().cpu(), g[:n].detach().cpu(), src[:n].detach().cpu())

    def on_validation_epoch_end(self) -> None:
        self._log_scores("val")

    def on_test_epoch_end(self) -> None:
        self._log_scores("test")

    def _log_scores(self, prefix: str) -> None:
        metrics = {}
        for name, metric in self.val_metrics.items():
            if metric.update_called:
                metrics[f"{prefix}/{name}"] = metric.compute().float()
            metric.reset()
        self.log_dict(metrics, prog_bar=True)
        if self._samples is not None and self.trainer.is_global_zero and not self.trainer.sanity_checking:
            self._write_samples()

    def _write_samples(self) -> None:
        drv, gen, src = self._samples
        rows = [drv, gen, difference(gen, src, self.hparams.sample_amplify)]
        sheet = contact_sheet(rows)
        folder = Path(self.trainer.default_root_dir) / "samples"
        stage = {"validate": "final", "test": "test"}.get(getattr(self.trainer.state.fn, "value", None), "epoch")
        path = write_png(folder / f"{stage}{self.current_epoch:03d}-step{self.global_step:06d}.png", sheet)
        logger = self.logger
        if logger is not None and hasattr(logger, "experiment"):
            exp = logger.experiment
            if hasattr(exp, "add_image"):                       # tensorboard
                exp.add_image("val/samples", sheet, self.global_step, dataformats="HWC")
            elif hasattr(logger, "log_image"):                  # wandb
                logger.log_image("val/samples", [str(path)], step=self.global_step)

    # -- optimisers -------------------------------------------------------------------------
    def configure_optimizers(self):
        o = self.hparams.optim
        betas = tuple(o.get("betas", (0.5, 0.999)))
        if self.model.has_keypoints:
            motion_params = list(self.model.motion_net.parameters())
            if self.model.background is not None:
                motion_params += list(self.model.background.parameters())
            gen_params = list(self.model.generator.parameters()) + list(self.model.dense_motion.parameters())
        else:   # the flow-guided family: its dense motion network is the motion network
            motion_params, gen_params = list(self.model.dense_motion.parameters()), list(self.model.generator.parameters())
        groups = [(motion_params, o["lr_motion"]), (gen_params, o["lr_generator"])]
        if self.use_gan:
            groups.append((list(self.discriminator.parameters()), o["lr_discriminator"]))
        decay = float(o.get("weight_decay", 0.0))
        # fused: one kernel per update instead of a handful of passes over every parameter (the same
        # arithmetic to float rounding); CPU and CUDA have it
        fused = all(p.device.type in ("cpu", "cuda") for params, _ in groups for p in params)
        optimizers = [torch.optim.Adam(p, lr=lr, betas=betas, weight_decay=decay, fused=fused) for p, lr in groups]
        schedulers = [torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(o.get("milestones", [])),
                                                           gamma=o.get("gamma", 0.1)) for opt in optimizers]
        return optimizers, schedulers
