"""``python -m megen.bench <case> [...]``: speed measurements (never asserted in tests); whether a
configuration learns at all is ``python -m megen.diagnose``.

Cases:
    synthetic   time ``prepare`` of the default synthetic set into a fresh temporary cache
    prepare     preparation throughput on a generated CASME II-sized raw tree (about 250 clips of about
                60 frames, 640x480 JPEG): ``clips=250 frames=60 workers=2``
    all         the three cases above and below, in turn
    generate    frames per second animating a 256x256 clip (vox-256 FOMM and the paper configuration),
                megen's clip animation against a per-frame loop that re-encodes the target every frame, and
                (on the CPU) the per-frame graph exported to ONNX in ONNX Runtime, with its largest difference
                from torch's frames (``frames=16 experiments=fomm_vox256,fp_fomm_paper onnx=true``, dotted keys such as
                ``dataset.frame_size=128`` override each experiment's config); each line
                also gives the GFLOP of one more frame and the arithmetic rate reached (``gflops``), which
                bound what any faster runtime can gain without doing less work; ``precision=bf16`` adds the clip
                animation in bf16 beside fp32, with its largest difference from the fp32 frames. Without the
                export extra the ONNX line is one sentence saying what to install
    train       seconds per training step (one batch: every loss term, generator, motion and discriminator
                updates, as ``training_step`` runs them in a Lightning loop) on random batches of the train
                config (Hydra overrides, e.g. ``experiment=fomm_vox256``) with ``bench.size=128 bench.batch=4
                bench.steps=3 bench.warmup=1``; the median after warm-up, samples per second, the GFLOP of one
                step (``FlopCounterMode``), the median CPU seconds of all threads (``cpu_s``: what a step
                costs when other processes share the cores), and the facial prior's overhead: the same
                case without the prior (``prior.input=none prior.keypoint_mode=learned``, as ``prior=none``).
                ``trainer.precision=bf16-mixed`` also times the fp32 case and prints the ratio.
                ``bench.reference=<first-order-model checkout>`` times the public code's training step at its
                own config (``bench.reference_config=config/vox-256.yaml``) between megen's steps, interleaved in
                one run, and prints both medians and ``megen_over_reference``. ``bench.threads=1`` runs on one
                thread, where ``cpu_s`` is the work itself even on cores other processes share

Every line ends in ``cpu=<torch.backends.cpu.get_cpu_capability()>`` (AVX2, AVX512, ...).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

from megen.cli import compose_train, parse_value, split_settings


def bench_synthetic(args) -> None:
    from megen.data.preparation import prepare_dataset
    from megen.paths import conf_dir

    cfg = OmegaConf.load(conf_dir() / "dataset" / "synthetic.yaml")
    for item in args.overrides:
        key, value = item.split("=", 1)
        OmegaConf.update(cfg, key, parse_value(value))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        _, summary = prepare_dataset(cfg, tmp, progress=False)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        prepare_dataset(cfg, tmp, progress=False)
        warm = time.perf_counter() - start
    _say(f"prepare-synthetic clips={summary['clips']} frame_size={cfg.frame_size} cold_s={cold:.2f} reuse_s={warm:.2f}")


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


def _seconds(run, device, repeats: int = 3) -> float:
    """Median wall time of ``run()`` over ``repeats`` calls after one warm-up call (first-call costs:
    oneDNN primitives, the allocator, CUDA kernels), each synchronised on GPUs."""
    import statistics

    import torch

    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    run()
    sync()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _timed(fn, *args) -> float:
    return _seconds(lambda: fn(*args), args[3])


def bench_generate(args) -> None:
    import torch

    from megen.animation import FaceInput, default_batch_size
    from megen.face.prior import PriorSetting
    from megen.models.full import build_model

    # dotted keys (``dataset.frame_size=64``) are overrides of each experiment's train config
    config_overrides = [item for item in args.overrides if "." in item.split("=", 1)[0]]
    opts = dict(item.split("=", 1) for item in args.overrides if item not in config_overrides)
    n_frames = int(opts.get("frames", 16))
    device = opts.get("device", "cuda" if torch.cuda.is_available() else "cpu")
    batch = int(opts.get("batch_size", default_batch_size(device)))
    precisions = opts.get("precision", "fp32").split(",")
    bad = [p for p in precisions if p not in ("fp32", "bf16")]
    if bad:
        raise SystemExit(f"unknown precision {','.join(bad)}; valid: fp32, bf16 (precision=bf16 times both)")
    torch.manual_seed(0)
    _say(f"device={device} threads={torch.get_num_threads()} frames={n_frames} batch_size={batch}")
    if opts.get("native", "true") != "false":     # the CPU default's models (their own configs) rendering natively
        for family in opts.get("native_models", "flow,fomm").split(","):
            _native_generation(family, n_frames, int(opts.get("native_size", 256)), device, batch)
    for name in opts.get("experiments", "fomm_vox256,fp_fomm_paper").split(","):
        cfg = compose_train(f"experiment={name}", *config_overrides)
        size = int(cfg.dataset.frame_size)
        prior = PriorSetting.from_config(cfg.prior, size, cfg.model.motion.scale_factor)
        model = build_model(OmegaConf.to_container(cfg.model, resolve=True), prior.model_args()).to(device).eval()
        target = FaceInput(torch.rand(1, 3, size, size), torch.rand(1, prior.channels, prior.map_size, prior.map_size),
                           torch.rand(1, prior.num_keypoints, 2) * 2 - 1)
        driving = FaceInput(torch.rand(n_frames, 3, size, size), target.prior, target.keypoints)

        cases = [("reference-loop", _per_frame_loop), ("megen", _clip_animation)]
        if "bf16" in precisions:       # beside fp32, with its largest difference from the fp32 frames
            cases.append(("megen-bf16", _clip_animation_bf16))
        for label, fn in cases:
            seconds = _timed(fn, model, target, driving, device, batch)
            if label != "megen-bf16":    # the same operations in either precision
                gflop = _gflop_per_frame(fn, model, target, driving, device, batch)
            diff = ""
            if label == "megen-bf16":
                exact = _clip_animation(model, target, driving, device, batch)
                diff = f" max_abs_diff={float((fn(model, target, driving, device, batch) - exact).abs().max()):.2e}"
            _say(f"{name}-{label} fps={n_frames / seconds:.2f} gflop_per_frame={gflop:.1f} "
                 f"gflops={gflop * n_frames / seconds:.0f}{diff}")
        if opts.get("onnx", "true") != "false" and str(device) == "cpu":
            _onnx_generation(name, model, target, driving, batch, size, prior, n_frames, gflop)


def _native_generation(family: str, n_frames: int, out: int, device, batch) -> None:
    """The CPU default's model (64 px) rendering natively at ``out`` px (``render=native``): fps beside the
    reference loop's above. Random frames and landmarks: the cost does not depend on the content."""
    import numpy as np
    import torch

    from megen.animation import FaceInput, animate
    from megen.animation.native import to_tensor_frames
    from megen.face.prior import PriorSetting
    from megen.models.full import build_model

    cfg = compose_train(f"model={family}")
    size = int(cfg.dataset.frame_size)
    prior = PriorSetting.from_config(cfg.prior, size, cfg.model.motion.scale_factor)
    model = build_model(OmegaConf.to_container(cfg.model, resolve=True), prior.model_args()).to(device).eval()
    rng = np.random.default_rng(0)
    lm_out = rng.uniform(0.25 * out, 0.75 * out, (68, 2))
    lm = (lm_out + 0.5) * size / out - 0.5
    frames = lambda n, s: torch.rand(n, 3, s, s)  # noqa: E731
    kp = torch.rand(1, prior.num_keypoints, 2) * 2 - 1
    maps = torch.rand(1, prior.channels, prior.map_size, prior.map_size)
    target = FaceInput(frames(1, size), maps, kp, lm, True, frames(1, out), lm_out)
    driving = FaceInput(frames(n_frames, size), maps, kp, lm, True,
                        to_tensor_frames(rng.integers(0, 256, (n_frames, out, out), dtype=np.uint8)), lm_out)
    last = {}
    run = lambda: last.update(frames=animate(model, target, driving, batch_size=batch, render="native"))  # noqa: E731
    seconds = _seconds(run, device)
    result = last["frames"]
    _say(f"default-{family}-native fps={n_frames / seconds:.2f} model_px={size} out_px={result.shape[-1]} "
         f"(render=native; model={family}{', the guide measured at ' + str(out) + ' px' if family == 'flow' else ''})")


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
    import tempfile

    import torch

    from megen.animation import animate
    from megen.animation.onnx_backend import ExportError, OnnxFrameEngine

    missing = export_extra_missing()
    if missing:
        _say(f"{name}-onnxruntime skipped: {missing}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        try:
            engine = OnnxFrameEngine.from_model(model, size, prior.channels, prior.map_size, folder=tmp)
        except (ExportError, ImportError, torch.onnx.errors.OnnxExporterError) as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            _say(f"{name}-onnxruntime skipped: {reason}")
            return
        export_s = time.perf_counter() - start
        animate(model, target, _first_frames(driving), batch_size=batch, engine=engine)   # session warm-up
        start = time.perf_counter()
        generated = animate(model, target, driving, batch_size=batch, engine=engine)
        seconds = time.perf_counter() - start
    expected = animate(model, target, driving, batch_size=batch)
    diff = float((generated - expected).abs().max())
    _say(f"{name}-onnxruntime fps={n_frames / seconds:.2f} gflops={gflop * n_frames / seconds:.0f} "
          f"max_abs_diff={diff:.2e} export_s={export_s:.1f}")


def _first_frames(driving):
    from megen.animation import FaceInput

    return FaceInput(driving.frames[:2], driving.prior, driving.keypoints)


def bench_prepare(args) -> None:
    import dataclasses

    from megen.data.preparation import prepare_dataset
    from megen.data.synthetic import SyntheticSpec, generate
    from megen.data.synthetic.rawtree import write_raw_tree

    opts = dict(item.split("=", 1) for item in args.overrides)
    n_clips, n_frames, workers = int(opts.get("clips", 250)), int(opts.get("frames", 60)), int(opts.get("workers", 2))
    duration = (n_frames - 1) / 200.0
    # a handful of distinct clips, repeated under new names: the tree's size is what is measured
    base = list(generate(SyntheticSpec(seed=11, frame_size=64, n_subjects=5, clips_per_subject=2,
                                       duration_s=(duration, duration))))
    clips = [dataclasses.replace(base[i % len(base)], subject=f"b{i // 10:02d}", clip=f"b{i:03d}")
             for i in range(n_clips)]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_raw_tree(clips, Path(tmp) / "casme2", "casme2", canvas=(480, 640), quirks=False, seed=0)
        _say(f"tree written in {time.perf_counter() - start:.1f} s ({n_clips} clips x {n_frames} frames, 640x480 JPEG)")
        cfg = {"name": "casme2", "root": str(Path(tmp) / "casme2"), "frame_size": 256, "workers": workers}
        start = time.perf_counter()
        _, summary = prepare_dataset(cfg, Path(tmp) / "cache", progress=False)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        prepare_dataset(cfg, Path(tmp) / "cache", progress=False)
        warm = time.perf_counter() - start
    frames = summary["clips"] * n_frames
    _say(f"prepare-casme2 clips={summary['clips']} frames={frames} workers={workers} seconds={cold:.1f} "
          f"frames_per_s={frames / cold:.0f} rerun_seconds={warm:.1f}")


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


def _random_vgg19(pretrained: bool = False, **_):
    """Stands in for ``torchvision.models.vgg19`` when the public code is timed: the same layers,
    megen's seeded random weights (no ImageNet file is read; the arithmetic is the same)."""
    import warnings
    from types import SimpleNamespace

    from megen.models.perceptual import Vgg19

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        features = Vgg19(allow_random=True).features
    return SimpleNamespace(features=features)


#: the public code's top-level packages, and torchvision, which its perceptual loss imports
_REFERENCE_PACKAGES = ("modules", "sync_batchnorm", "torchvision")


def load_reference(path):
    """The public first-order-model code's networks and training models, imported from a checkout at
    ``path`` as they are; at run time only, ``torchvision.models.vgg19`` is a random stand-in of the
    same shape (torchvision is not installed here, and no weights are downloaded). The modules are
    removed from ``sys.modules`` again, so nothing of it stays importable by name."""
    import importlib
    import sys
    import types
    import warnings
    from types import SimpleNamespace

    root = Path(path).expanduser().resolve()
    if not (root / "modules" / "model.py").is_file():
        raise SystemExit(f"bench.reference={path} is not a first-order-model checkout (no modules/model.py); "
                         f"git clone https://github.com/AliaksandrSiarohin/first-order-model")
    ours = lambda name: name.split(".")[0] in _REFERENCE_PACKAGES   # noqa: E731
    saved = {name: module for name, module in sys.modules.items() if ours(name)}
    for name in saved:
        del sys.modules[name]
    vision, models = types.ModuleType("torchvision"), types.ModuleType("torchvision.models")
    models.vgg19, vision.models = _random_vgg19, models
    sys.modules.update({"torchvision": vision, "torchvision.models": models})
    sys.path.insert(0, str(root))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = {name: importlib.import_module(f"modules.{name}")
                      for name in ("model", "generator", "discriminator", "keypoint_detector")}
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
    return SimpleNamespace(root=root, GeneratorFullModel=loaded["model"].GeneratorFullModel,
                           DiscriminatorFullModel=loaded["model"].DiscriminatorFullModel,
                           OcclusionAwareGenerator=loaded["generator"].OcclusionAwareGenerator,
                           MultiScaleDiscriminator=loaded["discriminator"].MultiScaleDiscriminator,
                           KPDetector=loaded["keypoint_detector"].KPDetector)


def reference_step(path, config: str = "config/vox-256.yaml", device: str = "cpu", seed: int = 0):
    """One training step of the public first-order-model code at its own ``config`` (a path inside the
    checkout, or any file): its ``GeneratorFullModel`` forward, the backward of the summed losses and the
    generator's and key-point detector's Adam updates, then the discriminator's pass and update where
    ``generator_gan`` is not 0, and the losses copied to numpy, as its ``train.py`` loop does.
    Returns ``(step, config dict)``; ``step(batch)`` takes a batch with ``source`` and ``driving``."""
    import warnings

    import torch
    import yaml

    ref = load_reference(path)
    file = Path(config) if Path(config).is_absolute() else ref.root / config
    conf = yaml.safe_load(file.read_text())
    common, train = conf["model_params"]["common_params"], conf["train_params"]
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generator = ref.OcclusionAwareGenerator(**conf["model_params"]["generator_params"], **common)
        discriminator = ref.MultiScaleDiscriminator(**conf["model_params"]["discriminator_params"], **common)
        kp_detector = ref.KPDetector(**conf["model_params"]["kp_detector_params"], **common)
        # on a machine with CUDA its constructors move the pyramid and VGG there: everything to ``device``
        generator_full = ref.GeneratorFullModel(kp_detector, generator, discriminator, train).to(device)
        discriminator_full = ref.DiscriminatorFullModel(kp_detector, generator, discriminator, train).to(device)
    adam = lambda module, lr: torch.optim.Adam(module.parameters(), lr=lr, betas=(0.5, 0.999))   # noqa: E731
    opt_g, opt_d = adam(generator, train["lr_generator"]), adam(discriminator, train["lr_discriminator"])
    opt_kp = adam(kp_detector, train["lr_kp_detector"])
    gan = train["loss_weights"]["generator_gan"] != 0
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)

    def step(batch: dict) -> dict:
        x = {"source": batch["source"].to(device), "driving": batch["driving"].to(device)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # its grid_sample / interpolate / sigmoid calls warn on every call
            losses, generated = generator_full(x)
            sum(v.mean() for v in losses.values()).backward()
            opt_g.step()
            opt_g.zero_grad()
            opt_kp.step()
            opt_kp.zero_grad()
            if gan:
                opt_d.zero_grad()
                losses_d = discriminator_full(x, generated)
                sum(v.mean() for v in losses_d.values()).backward()
                opt_d.step()
                opt_d.zero_grad()
                losses.update(losses_d)
        values = {k: v.mean().detach().cpu().numpy() for k, v in losses.items()}
        sync()
        return values

    return step, conf


def cpu_capability() -> str:
    """The instruction-set level torch's CPU kernels run at (``AVX2``, ``AVX512``, ...): every bench line
    says it, since it decides the speed of each precision (``ATEN_CPU_CAPABILITY=avx2`` forces a lower one)."""
    import torch

    return str(torch.backends.cpu.get_cpu_capability())


def _say(line: str) -> None:
    print(f"{line} cpu={cpu_capability()}")


def bench_train(args) -> None:
    import statistics

    import torch

    bench, overrides = split_settings(args.overrides, "bench", {"size": 128, "batch": 4, "steps": 3, "warmup": 1,
                                                                "flops": True, "device": "cpu", "reference": None,
                                                                "reference_config": "config/vox-256.yaml",
                                                                "threads": None})
    size, batch = int(bench["size"]), int(bench["batch"])
    if bench["threads"]:     # 1 thread: cpu_s is then the work itself, even where other processes share the cores
        torch.set_num_threads(int(bench["threads"]))
    # random VGG features time like ImageNet ones; no weights file is needed to measure
    fixed = [f"dataset.frame_size={size}", f"data.batch_size={batch}", "loss.perceptual.allow_random=true"]
    label = " ".join(overrides) or "default"
    _say(f"train device={bench['device']} threads={torch.get_num_threads()} size={size} batch={batch} "
         f"steps={bench['steps']} warmup={bench['warmup']}")
    cases = [(label, overrides)]
    cfg = compose_train(*overrides, *fixed)
    if cfg.prior.input != "none" or cfg.prior.keypoint_mode != "learned":
        cases.append((f"{label} prior=none", [*overrides, "prior.input=none", "prior.keypoint_mode=learned"]))
    precision = str(cfg.trainer.get("precision", "32-true"))
    if precision not in ("32-true", "32"):
        cases.append((f"{label} trainer.precision=32-true", [*overrides, "trainer.precision=32-true"]))
    reference = None
    if bench["reference"]:
        reference, _ = reference_step(bench["reference"], str(bench["reference_config"]), str(bench["device"]),
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
                                     str(bench["device"]), between=between)
        step = statistics.median(result["step_s"])
        medians.append(step)
        gflops = f" gflops={result['gflop']:.1f}" if result["gflop"] is not None else ""
        runs = ",".join(f"{s:.2f}" for s in result["step_s"])
        cpu = statistics.median(result["cpu_s"])
        _say(f"{name} step_s={step:.4g} samples_per_s={batch / step:.2f}{gflops} cpu_s={cpu:.2f} steps_s=[{runs}]")
        if between is not None:
            ref_step = statistics.median(result["between_s"])
            ref_gflops = ""
            if bench["flops"]:
                from torch.utils.flop_counter import FlopCounterMode

                with FlopCounterMode(display=False) as counter:
                    reference(seen["data"])
                ref_gflops = f" gflops={counter.get_total_flops() / 1e9:.1f}"
            runs = ",".join(f"{s:.2f}" for s in result["between_s"])
            _say(f"reference first-order-model ({bench['reference_config']}) step_s={ref_step:.4g} "
                 f"samples_per_s={batch / ref_step:.2f}{ref_gflops} "
                 f"cpu_s={statistics.median(result['between_cpu_s']):.2f} steps_s=[{runs}]")
            _say(f"{name} megen_over_reference={step / ref_step:.3f} (step medians, interleaved in one run)")
    if len(medians) > 1 and cases[1][0].endswith("prior=none"):
        _say(f"{label} prior_overhead={100 * (medians[0] / medians[1] - 1):+.1f}%")
    if cases[-1][0].endswith("trainer.precision=32-true"):
        _say(f"{label} {precision}_over_32-true={medians[0] / medians[-1]:.3f}")


def bench_all(args) -> None:
    for case in ("synthetic", "prepare", "generate"):
        CASES[case](args)


CASES = {"synthetic": bench_synthetic, "generate": bench_generate, "prepare": bench_prepare, "all": bench_all,
         "train": bench_train}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m megen.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("overrides", nargs="*", help="key=value settings of the case's config")
    args = parser.parse_args(argv)
    CASES[args.case](args)


if __name__ == "__main__":
    main()
