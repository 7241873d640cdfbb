"""Seconds per training step through a Lightning loop on random batches, the prior's overhead, bf16
beside fp32, and the public first-order-model code's step interleaved with megen's."""
from __future__ import annotations

import time

from megen.benchmarks.reference import reference_step
from megen.benchmarks.timing import bench_device, say
from megen.config.choices import KeypointMode, PriorInputMode
from megen.config.compose import compose_train


class _Batches:
    """The same batch ``n`` times (a map-style dataset for ``DataLoader(batch_size=None)``)."""

    def __init__(self, batch: dict, n: int):
        self.batch, self.n = batch, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        return self.batch


def random_train_batch(system, batch: int, size: int, seed: int = 0) -> dict:
    """A training batch of random frames with the shapes the data module gives ``system`` (frames in
    [0, 1], prior maps of random onset key points, a small random true flow)."""
    import numpy as np
    import torch

    setting = system.prior_setting
    gen = torch.Generator().manual_seed(seed)
    frames = lambda: torch.rand(batch, 3, size, size, generator=gen)   # noqa: E731
    points = size * (0.2 + 0.6 * torch.rand(batch, setting.num_keypoints, 2, generator=gen))   # pixels, on the face
    maps = setting.maps(points.numpy().astype(np.float64), size).float()
    return {"source": frames(), "driving": frames(), "reference": frames(), "prior": maps,
            "keypoints": (2 * points + 1) / size - 1, "flow": torch.randn(batch, size, size, 2, generator=gen)}


def time_training_steps(cfg, size: int, batch: int, steps: int = 3, warmup: int = 1, flops: bool = True,
                        device: str = "cpu", between=None) -> dict:
    """Run ``warmup + steps`` (+1 counted for FLOPs) training batches of the composed train config
    through a Lightning fit loop; returns ``{"step_s": [...], "cpu_s": [...], "gflop": float | None}``
    (wall-clock and process CPU seconds of each timed batch, FLOPs of one batch, forward and backward).

    ``between(data)``, if given, is called with the random batch after each warm-up and timed batch,
    outside megen's timing (another implementation's step, interleaved with megen's); its wall-clock
    and CPU seconds after warm-up are returned too, as ``between_s`` and ``between_cpu_s``."""
    import pytorch_lightning as pl
    import torch
    from hydra.utils import instantiate
    from torch.utils.data import DataLoader
    from torch.utils.flop_counter import FlopCounterMode

    seconds, cpu, counted = [], [], {}
    other = {"between_s": [], "between_cpu_s": []}
    flop_batch = warmup + steps if flops else -1

    class _Timer(pl.Callback):
        def on_train_batch_start(self, trainer, module, batch_, batch_idx):
            if batch_idx == flop_batch:
                counted["mode"] = FlopCounterMode(display=False)
                counted["mode"].__enter__()
            self.start, self.cpu = time.perf_counter(), time.process_time()

        def on_train_batch_end(self, trainer, module, outputs, batch_, batch_idx):
            if str(device).startswith("cuda"):
                torch.cuda.synchronize()
            elapsed, used = time.perf_counter() - self.start, time.process_time() - self.cpu
            if batch_idx == flop_batch:
                counted["mode"].__exit__(None, None, None)
                counted["gflop"] = counted["mode"].get_total_flops() / 1e9
                return
            if batch_idx >= warmup:
                seconds.append(elapsed)
                cpu.append(used)
            if between is not None:
                start, start_cpu = time.perf_counter(), time.process_time()
                between(data)
                if batch_idx >= warmup:
                    other["between_s"].append(time.perf_counter() - start)
                    other["between_cpu_s"].append(time.process_time() - start_cpu)

    torch.manual_seed(int(cfg.seed))
    system = instantiate(cfg.system)
    data = random_train_batch(system, batch, size)
    n = warmup + steps + (1 if flops else 0)
    trainer = pl.Trainer(accelerator="gpu" if str(device).startswith("cuda") else "cpu", devices=1, max_epochs=1,
                         precision=cfg.trainer.get("precision", "32-true"),
                         limit_train_batches=n, limit_val_batches=0, num_sanity_val_steps=0, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[_Timer()])
    trainer.fit(system, train_dataloaders=DataLoader(_Batches(data, n), batch_size=None))
    result = {"step_s": seconds, "cpu_s": cpu, "gflop": counted.get("gflop")}
    return {**result, **other} if between is not None else result


def training_step_times(bench, overrides: list[str]) -> None:
    """Training steps of the train config with ``overrides`` (and without its prior, and in fp32 beside
    another precision), timed with ``bench`` (``conf/bench.yaml``'s ``bench`` node); with ``bench.reference``
    the public code's step interleaved with the first case's."""
    import statistics

    import torch

    device = bench_device(bench)
    size, batch = int(bench["size"]), int(bench["batch"])
    if bench["threads"]:     # 1 thread: cpu_s is then the work itself, even where other processes share the cores
        torch.set_num_threads(int(bench["threads"]))
    # random VGG features time like ImageNet ones; no weights file is needed to measure
    fixed = [f"dataset.frame_size={size}", f"data.batch_size={batch}", "loss.perceptual.allow_random=true"]
    label = " ".join(overrides) or "default"
    say(f"train device={device} threads={torch.get_num_threads()} size={size} batch={batch} "
         f"steps={bench['steps']} warmup={bench['warmup']}")
    cases = [(label, overrides)]
    cfg = compose_train(*overrides, *fixed)
    if cfg.prior.input != PriorInputMode.NONE or cfg.prior.keypoint_mode != KeypointMode.LEARNED:
        cases.append((f"{label} prior=none", [*overrides, "prior.input=none", "prior.keypoint_mode=learned"]))
    precision = str(cfg.trainer.get("precision", "32-true"))
    if precision not in ("32-true", "32"):
        cases.append((f"{label} trainer.precision=32-true", [*overrides, "trainer.precision=32-true"]))
    reference = None
    if bench["reference"]:
        reference, _ = reference_step(bench["reference"], str(bench["reference_config"]), device,
                                      int(cfg.seed))
    seen = {}

    def interleaved(data):     # the public code's step, between the first case's steps
        seen["data"] = data
        reference(data)

    medians = []
    for i, (name, case) in enumerate(cases):
        cfg = compose_train(*case, *fixed)
        between = interleaved if reference is not None and i == 0 else None
        result = time_training_steps(cfg, size, batch, int(bench["steps"]), int(bench["warmup"]), bool(bench["flops"]),
                                     device, between=between)
        step = statistics.median(result["step_s"])
        medians.append(step)
        gflops = f" gflops={result['gflop']:.1f}" if result["gflop"] is not None else ""
        runs = ",".join(f"{s:.2f}" for s in result["step_s"])
        cpu = statistics.median(result["cpu_s"])
        say(f"{name} step_s={step:.4g} samples_per_s={batch / step:.2f}{gflops} cpu_s={cpu:.2f} steps_s=[{runs}]")
        if between is not None:
            ref_step = statistics.median(result["between_s"])
            ref_gflops = ""
            if bench["flops"]:
                from torch.utils.flop_counter import FlopCounterMode

                with FlopCounterMode(display=False) as counter:
                    reference(seen["data"])
                ref_gflops = f" gflops={counter.get_total_flops() / 1e9:.1f}"
            runs = ",".join(f"{s:.2f}" for s in result["between_s"])
            say(f"reference first-order-model ({bench['reference_config']}) step_s={ref_step:.4g} "
                 f"samples_per_s={batch / ref_step:.2f}{ref_gflops} "
                 f"cpu_s={statistics.median(result['between_cpu_s']):.2f} steps_s=[{runs}]")
            say(f"{name} megen_over_reference={step / ref_step:.3f} (step medians, interleaved in one run)")
    if len(medians) > 1 and cases[1][0].endswith("prior=none"):
        say(f"{label} prior_overhead={100 * (medians[0] / medians[1] - 1):+.1f}%")
    if cases[-1][0].endswith("trainer.precision=32-true"):
        say(f"{label} {precision}_over_32-true={medians[0] / medians[-1]:.3f}")
