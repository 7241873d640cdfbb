"""``python -m megen.generate``: drive a target face with a micro-expression clip.

    python -m megen.generate ckpt=<file> target=<image> driving=<frames folder | video | dataset:clip> out=<folder>
    python -m megen.generate ckpt=<file> protocol=megc2021 megc_root=<test kit> out=<folder>

Checks run cheapest first, so a mistake costs seconds: config values and file paths (no torch
imported yet), then decoding the inputs and finding their faces, and only then the checkpoint.
"""
from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from megen.config.check import validate_generate
from megen.config.choices import Backend, GeneratePrecision, GenerationMethod
from megen.config.schema import register
from megen.data.cache import CacheError
from megen.runtime.cli import no_empty_folders_on_failure, user_errors
from megen.runtime.errors import ExportError, GenerationError

register()     # conf/generate.yaml's options and its --help resolver, before Hydra composes


def check_paths(cfg: DictConfig) -> None:
    """Every named input exists (for the MEGC protocol: the whole kit); one error lists all that do not."""
    method = cfg.get("method", "model")
    if method == GenerationMethod.AU:      # basis= and the target are checked with the AUs; there is no driving clip
        return
    flow = method == GenerationMethod.FLOW_TRANSFER
    if not cfg.get("ckpt") and not flow:
        raise ValueError("ckpt=<checkpoint file> is required (or method=flow_transfer, which needs none)")
    protocol = cfg.get("protocol")
    if flow and protocol:
        raise ValueError("method=flow_transfer generates one pair (target= driving=); the MEGC protocol needs ckpt=")
    if cfg.get("at") is not None:       # a long video as the target: its inputs are checked with at=
        return
    if not protocol and (not cfg.get("target") or not cfg.get("driving")):
        raise ValueError("target=<image> and driving=<frames folder | video | dataset:clip> are required "
                              "(or protocol=megc2021|megc2022 megc_root=<kit>)")
    missing = []
    if not flow and not Path(str(cfg.ckpt)).expanduser().is_file():
        missing.append(f"ckpt={cfg.ckpt} (no such file)")
    if protocol:
        from megen.data.megc_kit import KitError, check_kit, kit_layout

        if not cfg.get("megc_root"):
            raise ValueError(f"protocol={protocol} needs megc_root=<test kit>; expected layout: "
                                  f"{kit_layout('<kit>')}")
        try:
            check_kit(cfg.megc_root, protocol)
        except KitError as err:
            missing.append(str(err))
    else:
        if not Path(str(cfg.target)).is_file():
            missing.append(f"target={cfg.target} (no such file)")
        driving = str(cfg.driving)
        if not Path(driving).exists() and ":" not in driving:   # <dataset>:<clip> is looked up in the cache later
            missing.append(f"driving={driving} (no such frame folder or video file, and not <dataset>:<clip>)")
    if missing:
        raise FileNotFoundError("missing input: " + "; ".join(missing))


def run(cfg: DictConfig) -> list[Path]:
    validate_generate(cfg)
    check_paths(cfg)
    if cfg.get("method", GenerationMethod.MODEL) == GenerationMethod.AU:     # no model: no torch
        from megen.animation.pair import au_pair_of

        return [au_pair_of(cfg)]
    if cfg.get("at") is not None:
        from megen.spotting.video_target import spotting_video_of

        return [spotting_video_of(cfg)]
    # the slow imports (torch, the models, dlib) only once the cheap checks have passed
    from megen.animation import Animator
    from megen.animation.animate import resolve_batch_size, resolve_device
    from megen.animation.megc import load_kit, run_protocol
    from megen.animation.outputs import print_summary
    from megen.animation.pair import generate_pair, load_pair_inputs

    # crop= is the shorthand; crop_target= / crop_driving= override it for one side
    crop = tuple(cfg.crop if cfg.get(k) is None else cfg.get(k) for k in ("crop_target", "crop_driving"))
    if cfg.get("protocol"):
        kit = load_kit(cfg.protocol, cfg.megc_root, crop=crop)
    else:
        inputs = load_pair_inputs(cfg.target, str(cfg.driving), crop=crop, cache_dir=cfg.paths.cache_dir,
                                  background=cfg.get("alpha_background", 255))
    from megen.face.controls import MotionControls

    controls = MotionControls.of(cfg)
    if cfg.get("method", GenerationMethod.MODEL) == GenerationMethod.FLOW_TRANSFER:
        from megen.animation.pair import flow_transfer_pair
        measure = tuple((cfg.get("flow") or {}).get(k) for k in ("estimator", "checkpoint"))
        folder = flow_transfer_pair(inputs, Path(cfg.out), fps=cfg.fps, playback_fps=cfg.get("playback_fps", 25),
                                    out_size=cfg.get("out_size"), estimator=measure, controls=controls,
                                    aus_gain=(cfg.basis, cfg.aus_gain) if cfg.get("aus_gain") else None)
        print_summary(folder)
        return [folder]
    device = resolve_device(cfg.device)
    animator = Animator.from_checkpoint(cfg.ckpt, device=device, family=cfg.get("family"),
                                        backend=cfg.get("backend", Backend.TORCH),
                                        precision=cfg.get("precision", GeneratePrecision.FP32))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    batch_size = resolve_batch_size(cfg.batch_size, device)
    options = dict(relative=cfg.relative, adapt_movement_scale=cfg.adapt_movement_scale,
                   find_best_frame=cfg.find_best_frame, crop=crop, fps=cfg.fps, batch_size=batch_size,
                   cache_dir=cfg.paths.cache_dir, progress=cfg.get("progress", True),
                   playback_fps=cfg.get("playback_fps", 25), out_size=cfg.get("out_size"),
                   render=cfg.get("render", "native"), controls=controls, magnify=float(cfg.get("magnify") or 1.0))
    if cfg.get("protocol"):
        return run_protocol(animator, cfg.protocol, cfg.megc_root, out, kit=kit, **options)
    folder = generate_pair(animator, cfg.target, cfg.driving, out, inputs=inputs, **options)
    print_summary(folder)
    return [folder]


@hydra.main(version_base="1.3", config_path="../../conf", config_name="generate")
def main(cfg: DictConfig) -> None:
    with user_errors(OSError, ValueError, GenerationError, ExportError, CacheError):     # the project's own errors only
        with no_empty_folders_on_failure(cfg.out):
            run(cfg)


if __name__ == "__main__":
    main()
