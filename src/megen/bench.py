"""``python -m megen.bench <case> [...]``: speed measurements quoted in issue notes (never asserted in tests).

Cases:
    synthetic   time ``prepare`` of the default synthetic set into a fresh temporary cache
    prepare     preparation throughput on a generated CASME II-sized raw tree (about 250 clips of about
                60 frames, 640x480 JPEG): ``clips=250 frames=60 workers=2``
    all         the three cases above and below, in turn
    generate    frames per second animating a 256x256 clip (vox-256 FOMM and the paper configuration),
                megen's clip animation against a per-frame loop that re-encodes the target every frame
    gradients   one training batch of the train config (Hydra overrides): each loss term's gradient norm
                on each network, its share of the sum over terms, and the predicted against the true motion
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf


def bench_synthetic(args) -> None:
    from megen.data.preparation import prepare_dataset
    from megen.paths import conf_dir

    cfg = OmegaConf.load(conf_dir() / "dataset" / "synthetic.yaml")
    for item in args.overrides:
        key, value = item.split("=", 1)
        OmegaConf.update(cfg, key, _parse(value))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        _, summary = prepare_dataset(cfg, tmp, progress=False)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        prepare_dataset(cfg, tmp, progress=False)
        warm = time.perf_counter() - start
    print(f"prepare-synthetic clips={summary['clips']} frame_size={cfg.frame_size} cold_s={cold:.2f} reuse_s={warm:.2f}")


def _parse(value: str):
    import yaml

    return yaml.safe_load(value)


def _compose_train(*overrides):
    from hydra import compose, initialize_config_dir

    from megen.paths import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("train", overrides=[*overrides, "run_dir=/tmp/unused"])


def _per_frame_loop(model, target, driving, device, batch):
    """One frame per call, as a plain animation loop does: the target is re-encoded and its key
    points recomputed for every frame."""
    import torch

    with torch.inference_mode():
        src = target.frames.to(device)
        for f in driving.frames:
            model(src, f[None].to(device), target.prior.to(device), target.keypoints.to(device))


def _clip_animation(model, target, driving, device, batch):
    from megen.animation import animate

    animate(model, target, driving, batch_size=batch)


def _timed(fn, *args) -> float:
    import torch

    device = args[3]
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    if str(device) != "cpu":
        fn(*args)          # warm-up on GPUs (kernels, allocator)
    sync()
    start = time.perf_counter()
    fn(*args)
    sync()
    return time.perf_counter() - start


def bench_generate(args) -> None:
    import torch

    from megen.animation import FaceInput, default_batch_size
    from megen.face.prior import PriorSetting
    from megen.models.full import build_model

    opts = dict(item.split("=", 1) for item in args.overrides)
    n_frames = int(opts.get("frames", 16))
    device = opts.get("device", "cuda" if torch.cuda.is_available() else "cpu")
    batch = int(opts.get("batch_size", default_batch_size(device)))
    torch.manual_seed(0)
    print(f"device={device} threads={torch.get_num_threads()} frames={n_frames} batch_size={batch}")
    for name in opts.get("experiments", "fomm_vox256,fp_fomm_paper").split(","):
        cfg = _compose_train(f"experiment={name}")
        size = int(cfg.dataset.frame_size)
        prior = PriorSetting.from_config(cfg.prior, size, cfg.model.motion.scale_factor)
        model = build_model(OmegaConf.to_container(cfg.model, resolve=True), prior.model_args()).to(device).eval()
        target = FaceInput(torch.rand(1, 3, size, size), torch.rand(1, prior.channels, prior.map_size, prior.map_size),
                           torch.rand(1, prior.num_keypoints, 2) * 2 - 1)
        driving = FaceInput(torch.rand(n_frames, 3, size, size), target.prior, target.keypoints)

        for label, fn in (("reference-loop", _per_frame_loop), ("megen", _clip_animation)):
            seconds = _timed(fn, model, target, driving, device, batch)
            print(f"{name}-{label} fps={n_frames / seconds:.2f}")


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
        print(f"tree written in {time.perf_counter() - start:.1f} s ({n_clips} clips x {n_frames} frames, 640x480 JPEG)")
        cfg = {"name": "casme2", "root": str(Path(tmp) / "casme2"), "frame_size": 256, "workers": workers}
        start = time.perf_counter()
        _, summary = prepare_dataset(cfg, Path(tmp) / "cache", progress=False)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        prepare_dataset(cfg, Path(tmp) / "cache", progress=False)
        warm = time.perf_counter() - start
    frames = summary["clips"] * n_frames
    print(f"prepare-casme2 clips={summary['clips']} frames={frames} workers={workers} seconds={cold:.1f} "
          f"frames_per_s={frames / cold:.0f} rerun_seconds={warm:.1f}")


def bench_gradients(args) -> None:
    import pytorch_lightning as pl
    from hydra.utils import instantiate

    from megen.diagnostics import diagnose

    cfg = _compose_train(*args.overrides)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data, progress=False)
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    system = instantiate(cfg.system).train()
    start = time.perf_counter()
    norms, summary = diagnose(system, batch)
    seconds = time.perf_counter() - start
    print(f"gradients batch_size={batch['source'].shape[0]} frame_size={batch['source'].shape[-1]} "
          f"seconds={seconds:.2f}")
    nets = list(next(iter(norms.values()), {}))
    totals = {net: sum(per_net[net] for per_net in norms.values()) for net in nets}
    for term, per_net in norms.items():
        for net, value in per_net.items():
            share = value / totals[net] if totals[net] > 0 else 0.0
            print(f"grad term={term} net={net} norm={value:.4g} share={share:.3f}")
    for name, value in summary.items():
        print(f"motion {name}={value:.4g}")


def bench_all(args) -> None:
    for case in ("synthetic", "prepare", "generate"):
        CASES[case](args)


CASES = {"synthetic": bench_synthetic, "generate": bench_generate, "prepare": bench_prepare, "all": bench_all,
         "gradients": bench_gradients}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m megen.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("overrides", nargs="*", help="key=value settings of the case's config")
    args = parser.parse_args(argv)
    CASES[args.case](args)


if __name__ == "__main__":
    main()
