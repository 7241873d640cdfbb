"""Which loss term drives which network, and whether the predicted motion is collapsing.

A run can converge to zero flow (the dense-motion masks put all their weight on the background
motion, the generator copies the source) with every loss still decreasing. These diagnostics make
that visible: the gradient norm of each weighted loss term on each network, and a summary of the
predicted motion beside the true one where the data has it (synthetic clips).

``GradientShareMonitor`` logs both during training (``grad/<term>/<net>``, ``motion/<name>``);
``python -m megen.diagnose gradients`` prints them for one batch of a configuration, and
``python -m megen.diagnose fit`` whether it learns a fixed batch at all.
"""
from __future__ import annotations

import contextlib
import tempfile
import time

import pytorch_lightning as pl
import torch

from megen.models.motion import deformation_to_frame_flow

NETWORKS = ("motion_net", "dense_motion", "generator", "background")
MOVING_PX = 0.25     # a pixel moves when its true flow is longer than this, in frame pixels


def networks(system) -> dict[str, torch.nn.Module]:
    """The model's trainable networks by name (``background`` only where the model has one)."""
    model = system.model
    return {name: getattr(model, name) for name in NETWORKS if getattr(model, name, None) is not None}


def _gradient_norms(losses: dict, nets: dict) -> dict[str, dict[str, float]]:
    params = {name: [p for p in net.parameters() if p.requires_grad] for name, net in nets.items()}
    flat = [p for ps in params.values() for p in ps]
    # a constant term (nothing upstream needs a gradient) reaches no network
    norms = {term: {name: 0.0 for name in nets} for term in losses}
    terms = [(k, v) for k, v in losses.items() if v.requires_grad]
    for i, (term, loss) in enumerate(terms):
        # one backward pass per term over all networks at once; autograd.grad leaves .grad alone
        grads = torch.autograd.grad(loss, flat, retain_graph=i < len(terms) - 1, allow_unused=True)
        start = 0
        for name, ps in params.items():
            chunk = [g for g in grads[start:start + len(ps)] if g is not None]
            start += len(ps)
            if chunk:
                norms[term][name] = float(torch.sqrt(sum((g.double() ** 2).sum() for g in chunk)))
    return norms


def loss_gradient_norms(system, batch: dict) -> dict[str, dict[str, float]]:
    """{term: {network: L2 norm of d(weighted term)/d(network parameters)}} for one batch.

    Networks: motion_net, dense_motion, generator (and background where present); 0.0 where a
    term does not reach a network. One forward pass in the module's current mode.
    """
    with torch.enable_grad():
        losses, _ = system.generator_losses(batch)
        return _gradient_norms(losses, networks(system))


@torch.no_grad()
def motion_summary(out: dict, batch: dict) -> dict[str, float]:
    """The predicted motion in frame pixels, and beside it the true motion where the batch has ``flow``.

    ``background_weight``: mean mask weight of the background/identity motion; ``pred_flow_px``:
    mean |predicted flow|; with a true flow also ``true_flow_px`` (= the zero-flow end-point error),
    ``epe_px``, ``moving_fraction`` and, over the pixels whose true flow is longer than 0.25 px,
    ``true_flow_moving_px`` and ``pred_flow_moving_px``. Collapse shows as ``pred_flow_moving_px``
    near 0 against ``true_flow_moving_px``; ``background_weight`` near 1 goes with it, but a good
    fit of micro-expressions keeps most weight there too (about 0.84 in tests/unit/models/test_motion_capacity.py),
    as most pixels do not move.
    """
    size = tuple(batch["source"].shape[2:])
    pred = deformation_to_frame_flow(out["deformation"].detach().float(), size)
    summary = {"pred_flow_px": float(pred.norm(dim=-1).mean())}
    if "mask" in out:     # the flow-guided family has no masks over sparse motions
        summary["background_weight"] = float(out["mask"][:, 0].float().mean())
    if "flow" in batch:
        true = batch["flow"].to(pred)
        true_len = true.norm(dim=-1)
        moving = true_len > MOVING_PX
        summary.update(true_flow_px=float(true_len.mean()), epe_px=float((pred - true).norm(dim=-1).mean()),
                       moving_fraction=float(moving.float().mean()))
        if moving.any():
            summary.update(true_flow_moving_px=float(true_len[moving].mean()),
                           pred_flow_moving_px=float(pred.norm(dim=-1)[moving].mean()))
    return summary


@contextlib.contextmanager
def _no_side_effects(system):
    """Leave the module as training left it: BatchNorm statistics, RNG streams and SyncBatchNorm peers."""
    buffers = {k: v.detach().clone() for k, v in system.named_buffers()}
    # SyncBatchNorm all-reduces in training mode, and only rank zero runs this: it would wait forever
    synced = [m for m in system.modules() if isinstance(m, torch.nn.SyncBatchNorm) and m.training]
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    # the equivariance loss draws random transforms; forking keeps the run's random stream unchanged
    with torch.random.fork_rng(devices=devices):
        for m in synced:
            m.eval()
        try:
            yield
        finally:
            for m in synced:
                m.train()
            with torch.no_grad():
                for k, v in system.named_buffers():
                    if k in buffers:
                        v.copy_(buffers[k])


def diagnose(system, batch: dict) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Gradient norms per (term, network) and the motion summary from one shared forward pass."""
    with _no_side_effects(system), torch.enable_grad():
        losses, out = system.generator_losses(batch)
        summary = motion_summary(out, batch)
        norms = _gradient_norms(losses, networks(system))
    return norms, summary


def flat_metrics(norms: dict[str, dict[str, float]], summary: dict[str, float]) -> dict[str, float]:
    """``grad/<term>/<net>`` and ``motion/<name>`` keys, as the monitor logs them."""
    out = {f"grad/{term}/{net}": v for term, per_net in norms.items() for net, v in per_net.items()}
    out.update({f"motion/{k}": v for k, v in summary.items()})
    return out


def _match_dtype(batch: dict, dtype: torch.dtype) -> dict:
    return {k: v.to(dtype) if torch.is_tensor(v) and v.is_floating_point() else v for k, v in batch.items()}


class GradientShareMonitor(pl.Callback):
    """Log every loss term's gradient norm on each network and the motion summary during training.

    Runs on the rank-zero process after a training batch, at most every ``every_n_batches``
    batches and only on batches whose step metrics the logger writes (``trainer.log_every_n_steps``):
    a reading taken in between would be written later under another step, or overwritten. The
    first logged training step has a reading. It takes one extra forward pass and one backward
    pass per loss term, computes gradients with ``torch.autograd.grad`` (``.grad`` and the
    optimisers are untouched), and restores the module's buffers (BatchNorm statistics) and the
    random state, so training proceeds as it would without it.
    """

    def __init__(self, every_n_batches: int = 50):
        if int(every_n_batches) < 1:
            raise ValueError(f"every_n_batches must be >= 1, got {every_n_batches}")
        self.every_n_batches = int(every_n_batches)
        self._batches = 0
        self._last: int | None = None

    def _due(self, trainer) -> bool:
        if self._last is not None and self._batches - self._last < self.every_n_batches:
            return False
        # a private attribute, read defensively: without it, log on every due batch
        connector = getattr(trainer, "_logger_connector", None)
        return bool(getattr(connector, "should_update_logs", True))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        due = self._due(trainer)
        self._batches += 1
        if not due:
            return
        self._last = self._batches - 1
        if not trainer.is_global_zero:
            return
        param = next(pl_module.parameters())
        # outside autocast, in the parameters' dtype: under 16-mixed an unscaled fp16 backward
        # could underflow to false zeros
        norms, summary = diagnose(pl_module, _match_dtype(batch, param.dtype))
        pl_module.log_dict(flat_metrics(norms, summary), on_step=True, on_epoch=False, prog_bar=False,
                           batch_size=batch["source"].shape[0], rank_zero_only=True)

    def state_dict(self) -> dict:
        return {"batches": self._batches, "last": self._last}

    def load_state_dict(self, state_dict: dict) -> None:
        self._batches = int(state_dict.get("batches", 0))
        self._last = state_dict.get("last")


# -- does a configuration learn at all? ------------------------------------------------------------

#: train-config overrides of the fixed-batch fit (``tests/unit/training/test_learning.py``, ``diagnose fit``): a small
#: synthetic set at 64 px with apexes of 1-4 px, one perceptual scale, no GAN
FIXED_BATCH_SETTING = ("dataset.n_subjects=4", "dataset.clips_per_subject=2", "dataset.frame_size=64",
                       "dataset.apex_px_at=64", "loss.scales=[1]", "loss.weights.generator_gan=0")

def fixed_batch(datamodule, pairs: int = 4) -> dict:
    """The ``pairs`` onset -> apex training pairs with the most true motion, stacked into one batch
    (a learning signal, not sensor noise). Needs a synthetic set (the true ``flow``) and ``setup()``."""
    dataset = datamodule.dataset("train", pairs="apex")
    items = [dataset[i] for i in range(len(dataset))]
    if not items or "flow" not in items[0]:
        raise ValueError("a fixed-batch fit needs the synthetic set's true flow (dataset=synthetic)")
    items = sorted(items, key=lambda it: -float(it["flow"].norm(dim=-1).mean()))[:pairs]
    keys = ("source", "driving", "prior", "keypoints", "reference", "flow")
    return {k: torch.stack([it[k] for it in items]) for k in keys}


def batch_scores(system, batch: dict) -> tuple[float, float]:
    """(rMTE, flow EPE / zero-flow EPE) of ``system`` on ``batch``, in eval mode; 1.0 is a static copy."""
    from megen.metrics import MotionTransferError

    was_training = system.training
    system.eval()
    with torch.no_grad():
        src, drv = batch["source"], batch["driving"]
        args = (batch["prior"], batch["keypoints"], batch["reference"])
        out = system(src, drv, *args)
        rmte = MotionTransferError(relative=True)
        rmte.update(out["prediction"], drv, system(src, src, *args)["prediction"], src)
        flow = deformation_to_frame_flow(out["deformation"], tuple(src.shape[2:]))
        epe = (flow - batch["flow"]).norm(dim=-1).mean() / batch["flow"].norm(dim=-1).mean()
    system.train(was_training)
    return float(rmte.compute()), float(epe)


def fit_batch(system, batch: dict, steps: int, seed: int = 0) -> None:
    """``steps`` updates of the motion and generator networks on ``batch`` with the system's own
    generator losses and optimisers (no discriminator, no Lightning loop)."""
    torch.manual_seed(seed)
    opt_motion, opt_gen = system.configure_optimizers()[0][:2]
    for _ in range(steps):
        losses, _ = system.generator_losses(batch)
        opt_motion.zero_grad()
        opt_gen.zero_grad()
        sum(losses.values()).backward()
        opt_motion.step()
        opt_gen.step()


def print_gradients(settings, overrides, say=print) -> None:
    """One training batch of the train config (Hydra ``overrides``): each loss term's gradient norm on each
    network, its share of the sum over terms, and the predicted against the true motion."""
    from hydra.utils import instantiate

    from megen.config.compose import compose_train

    cfg = compose_train(*overrides)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data, progress=False)
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    system = instantiate(cfg.system).train()
    start = time.perf_counter()
    norms, summary = diagnose(system, batch)
    seconds = time.perf_counter() - start
    say(f"gradients batch_size={batch['source'].shape[0]} frame_size={batch['source'].shape[-1]} "
        f"seconds={seconds:.2f}")
    nets = list(next(iter(norms.values()), {}))
    totals = {net: sum(per_net[net] for per_net in norms.values()) for net in nets}
    for term, per_net in norms.items():
        for net, value in per_net.items():
            share = value / totals[net] if totals[net] > 0 else 0.0
            say(f"grad term={term} net={net} norm={value:.4g} share={share:.3f}")
    for name, value in summary.items():
        say(f"motion {name}={value:.4g}")


def print_fit(settings, overrides, say=print) -> None:
    """Does a configuration learn at all: the ``settings.pairs`` synthetic pairs with the most motion fitted
    for ``settings.steps`` updates (``conf/diagnose.yaml``'s ``fit``: 4 and 240, the learning test's setting),
    rMTE and flow EPE over zero flow's printed before and every ``settings.report_every``; ``overrides`` are
    the train config's."""
    import torch
    from hydra.utils import instantiate

    from megen.config.compose import compose_train

    fit = {k: int(settings[k]) for k in ("steps", "report_every", "pairs")}
    rest = list(overrides)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose_train(*FIXED_BATCH_SETTING, "loss.perceptual.allow_random=true", f"paths.data_dir={tmp}",
                            *rest)
        datamodule = instantiate(cfg.data, progress=False)
        datamodule.setup()
        batch = fixed_batch(datamodule, fit["pairs"])
    torch.manual_seed(cfg.seed)
    system = instantiate(cfg.system)
    label = " ".join(rest) or "default"
    rmte, epe = batch_scores(system, batch)
    say(f"fit {label} step=0 rmte={rmte:.3f} epe_over_zero_flow={epe:.3f}")
    done = 0
    while done < fit["steps"]:
        n = min(fit["report_every"], fit["steps"] - done)
        start = time.perf_counter()
        fit_batch(system, batch, n, seed=done)
        done += n
        rmte, epe = batch_scores(system, batch)
        say(f"fit {label} step={done} rmte={rmte:.3f} epe_over_zero_flow={epe:.3f} "
            f"seconds={time.perf_counter() - start:.1f}")
