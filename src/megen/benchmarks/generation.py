"""Frames per second of generation: megen's clip animation beside a per-frame loop, the CPU default's
models rendering natively, the exported graph in ONNX Runtime, bf16 beside fp32."""
from __future__ import annotations

import tempfile
import time
from dataclasses import fields

from omegaconf import OmegaConf

from megen.benchmarks.timing import bench_device, median_seconds, say
from megen.config.choices import Family, GeneratePrecision
from megen.config.compose import compose_train
from megen.config.schema import FlowOptions

#: the default's guide estimator (flow.estimator=): its line is named default-flow-native, others carry theirs
DEFAULT_GUIDE = next(f.default for f in fields(FlowOptions) if f.name == "estimator")


def _per_frame_loop(model, target, driving, device, batch):
    """One frame per call, as a plain animation loop does: the target is re-encoded and its key
    points recomputed for every frame."""
    import torch

    with torch.inference_mode():
        src = target.frames.to(device)
        for f in driving.frames:
            model(src, f[None].to(device), target.prior.to(device), target.keypoints.to(device))


def _clip_animation(model, target, driving, device, batch, precision="fp32"):
    from megen.animation import animate

    return animate(model, target, driving, batch_size=batch, precision=precision)


def _clip_animation_bf16(model, target, driving, device, batch):
    return _clip_animation(model, target, driving, device, batch, precision="bf16")


def _gflop_per_frame(fn, model, target, driving, device, batch) -> float:
    """GFLOP of one more driving frame (two frames counted minus one frame counted): what a frame costs
    once the once-per-clip work (the target's encoding and key points) is paid, for any family."""
    from torch.utils.flop_counter import FlopCounterMode

    from megen.animation import FaceInput

    counts = []
    for n in (1, 2):
        frames = FaceInput(driving.frames[:n], driving.prior, driving.keypoints)
        with FlopCounterMode(display=False) as counter:
            fn(model, target, frames, device, batch)
        counts.append(counter.get_total_flops())
    return (counts[1] - counts[0]) / 1e9


def _timed(fn, *args) -> float:
    return median_seconds(lambda: fn(*args), args[3])


def generation_fps(settings, overrides: list[str]) -> None:
    """Frames per second of each ``settings.experiments`` (``conf/bench.yaml``'s ``bench`` node), each
    composed with the train ``overrides`` (``dataset.frame_size=64`` and the like)."""
    import torch

    from megen.animation import FaceInput, default_batch_size

    n_frames = int(settings.frames)
    device = bench_device(settings)
    batch = int(settings.frames_per_pass or default_batch_size(device))
    precision = str(settings.precision)
    if precision not in GeneratePrecision.values():
        raise ValueError(f"bench.precision={precision}; valid: {', '.join(GeneratePrecision.values())} "
                         f"(bf16 times both)")
    torch.manual_seed(0)
    say(f"device={device} threads={torch.get_num_threads()} frames={n_frames} batch_size={batch}")
    if settings.native:     # the CPU default's models (their own configs) rendering natively
        batches = sorted({int(b) for b in settings.get("native_batches") or [1, batch]})
        for family in settings.native_models:
            guides = [str(g) for g in settings.get("native_guides") or [DEFAULT_GUIDE]] if family == Family.FLOW else [None]
            for guide in guides:
                for out in settings.native_sizes:
                    _native_generation(str(family), n_frames, int(out), device, batches, guide,
                                       settings.get("flow_checkpoint"))
    for name in settings.experiments:
        model, prior, size = untrained_model(compose_train(f"experiment={name}", *overrides))
        model = model.to(device)
        target = FaceInput(torch.rand(1, 3, size, size), torch.rand(1, prior.channels, prior.map_size, prior.map_size),
                           torch.rand(1, prior.num_keypoints, 2) * 2 - 1)
        driving = FaceInput(torch.rand(n_frames, 3, size, size), target.prior, target.keypoints)

        cases = [("reference-loop", _per_frame_loop), ("megen", _clip_animation)]
        if precision == GeneratePrecision.BF16:       # beside fp32, with its largest difference from the fp32 frames
            cases.append(("megen-bf16", _clip_animation_bf16))
        for label, fn in cases:
            seconds = _timed(fn, model, target, driving, device, batch)
            if label != "megen-bf16":    # the same operations in either precision
                gflop = _gflop_per_frame(fn, model, target, driving, device, batch)
            diff = ""
            if label == "megen-bf16":
                exact = _clip_animation(model, target, driving, device, batch)
                diff = f" max_abs_diff={float((fn(model, target, driving, device, batch) - exact).abs().max()):.2e}"
            say(f"{name}-{label} fps={n_frames / seconds:.2f} gflop_per_frame={gflop:.1f} "
                 f"gflops={gflop * n_frames / seconds:.0f}{diff}")
        if settings.onnx and str(device) == "cpu":
            _onnx_generation(name, model, target, driving, batch, size, prior, n_frames, gflop)


def untrained_model(cfg):
    """The train config's model with its initial weights (what a step costs does not depend on them), in eval
    mode: (model, its PriorSetting, its frame size)."""
    from megen.face.prior import PriorSetting
    from megen.models.full import build_model

    size = int(cfg.dataset.frame_size)
    prior = PriorSetting.from_config(cfg.prior, size, cfg.model.motion.scale_factor)
    return build_model(OmegaConf.to_container(cfg.model, resolve=True), prior.model_args()).eval(), prior, size


def _native_generation(family: str, n_frames: int, out: int, device, batches, guide: str | None = None,
                       checkpoint=None) -> None:
    """The CPU default's model (64 px) rendering natively at ``out`` px (``render=native``): fps for each of
    ``batches`` (frames per forward pass) beside the reference loop's, and each stage's share of the clip's time
    (``megen.runtime.stages``); the flow-guided one with its guide measured by ``guide`` (``flow.estimator``, the
    learned one from ``checkpoint``). Random frames and landmarks: the cost does not depend on the content."""
    import numpy as np
    import torch

    from megen.animation import FaceInput, animate
    from megen.animation.native import to_tensor_frames
    from megen.animation.sources import forget_measured
    from megen.runtime.stages import StageClock

    extra = [f"flow.estimator={guide}", *([f"flow.checkpoint={checkpoint}"] if checkpoint else [])] if guide else []
    model, prior, size = untrained_model(compose_train(f"model={family}", *extra))
    model = model.to(device)
    rng = np.random.default_rng(0)
    lm_out = rng.uniform(0.25 * out, 0.75 * out, (68, 2))
    lm = (lm_out + 0.5) * size / out - 0.5
    frames = lambda n, s: torch.rand(n, 3, s, s)  # noqa: E731
    kp = torch.rand(1, prior.num_keypoints, 2) * 2 - 1
    maps = torch.rand(1, prior.channels, prior.map_size, prior.map_size)
    target = FaceInput(frames(1, size), maps, kp, lm, True, frames(1, out), lm_out)
    driving = FaceInput(frames(n_frames, size), maps, kp, lm, True,
                        to_tensor_frames(rng.integers(0, 256, (n_frames, out, out), dtype=np.uint8)), lm_out)
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else None
    for batch in batches:
        last = {}

        def run(batch=batch, last=last):
            forget_measured()       # every run measures the driver's guide, as one pair does
            last["frames"] = animate(model, target, driving, batch_size=batch, render="native")

        seconds = median_seconds(run, device)
        with StageClock(sync) as clock:
            start = time.perf_counter()
            run()
            shares = clock.shares(time.perf_counter() - start)
        shares["other"] = max(0.0, 1.0 - sum(shares.values()))
        # three places: six shares at two would sum to 1 only within 0.03 of rounding
        measured = f", the guide measured at {out} px by {guide}" if guide else ""
        say(f"default-{family}{'-' + guide if guide and guide != DEFAULT_GUIDE else ''}-native fps={n_frames / seconds:.2f} "
            f"batch_size={batch} model_px={size} out_px={last['frames'].shape[-1]} "
            f"stages={','.join(f'{k}:{v:.3f}' for k, v in shares.items())} (render=native; model={family}{measured})")


def export_extra_missing() -> str | None:
    """None where the export extra imports, else the one-sentence reason the ONNX line is skipped."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as err:
        return (f"needs the export extra ({err.name or 'onnx'} is not installed): pip install -e '.[export]' "
                f"(or set onnx=false)")
    return None


def _onnx_generation(name, model, target, driving, batch, size, prior, n_frames, gflop) -> None:
    """The same clip through the exported per-frame graph in ONNX Runtime, and its largest difference;
    ``gflop``: one frame's work in megen's clip animation, the same graph."""
    import torch

    from megen.animation import animate
    from megen.animation.onnx_backend import ExportError, OnnxFrameEngine

    missing = export_extra_missing()
    if missing:
        say(f"{name}-onnxruntime skipped: {missing}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        try:
            engine = OnnxFrameEngine.from_model(model, size, prior.channels, prior.map_size, folder=tmp)
        except (ExportError, ImportError, torch.onnx.errors.OnnxExporterError) as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            say(f"{name}-onnxruntime skipped: {reason}")
            return
        export_s = time.perf_counter() - start
        animate(model, target, _first_frames(driving), batch_size=batch, engine=engine)   # session warm-up
        start = time.perf_counter()
        generated = animate(model, target, driving, batch_size=batch, engine=engine)
        seconds = time.perf_counter() - start
    expected = animate(model, target, driving, batch_size=batch)
    diff = float((generated - expected).abs().max())
    say(f"{name}-onnxruntime fps={n_frames / seconds:.2f} gflops={gflop * n_frames / seconds:.0f} "
          f"max_abs_diff={diff:.2e} export_s={export_s:.1f}")


def _first_frames(driving):
    from megen.animation import FaceInput

    return FaceInput(driving.frames[:2], driving.prior, driving.keypoints)
