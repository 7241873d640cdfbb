"""``python -m megen.augment``: a checkpoint's generated clips as a prepared training set."""
from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from megen.animation.animate import resolve_batch_size, resolve_device
from megen.animation.animator import Animator, GenerationError
from megen.augmentation import AugmentResult, augment
from megen.config.check import validate_augment
from megen.config.choices import AugmentMethod
from megen.config.schema import register
from megen.data.cache import CacheError
from megen.data.preparation import prepare_sources
from megen.runtime.cli import user_errors

register()     # conf/augment.yaml's options and its --help resolver, before Hydra composes


def fill_by_aus(cfg: DictConfig) -> AugmentResult:
    """``method=au``: the data's emotions filled with clips made from action units (no checkpoint)."""
    from megen.augmentation.au_fill import au_fill

    progress = bool(cfg.get("progress", True))
    folders = [f for f, _ in prepare_sources(cfg.dataset, cfg.paths.cache_dir, progress=progress,
                                             data_dir=cfg.paths.data_dir)]
    targets = list(cfg.targets) if OmegaConf.is_list(cfg.targets) else str(cfg.targets)
    intensity = OmegaConf.to_container(cfg.intensity) if OmegaConf.is_list(cfg.intensity) else cfg.intensity
    result = au_fill(cfg.basis, folders, cfg.out, fill=cfg.get("fill"), targets=targets,
                     holdout=list(cfg.get("holdout") or []), seed=int(cfg.seed), intensity=intensity,
                     name=str(cfg.name), overwrite=bool(cfg.overwrite), progress=progress)
    print(f"generated set {result.folder}: {result.clips} clips made from action units ({result.built} made, "
          f"{result.reused} reused), added per class {result.meta['added_per_class']}; {result.seconds:.1f} s")
    print(f"use it with: python -m megen.recognise extra=[{result.folder}]")
    return result


def run(cfg: DictConfig) -> AugmentResult:
    """Check the settings, load the model, prepare the driving data, generate, print the summary."""
    validate_augment(cfg)
    if not cfg.get("out"):
        raise ValueError("out= is required: the folder the generated set is written to")
    if cfg.get("method", AugmentMethod.MODEL) == AugmentMethod.AU:
        return fill_by_aus(cfg)
    if not cfg.get("ckpt"):
        raise ValueError("ckpt= is required: a checkpoint from `python -m megen.train` (or method=au basis=...)")
    ckpt = Path(str(cfg.ckpt)).expanduser()
    if not ckpt.is_file():
        raise FileNotFoundError(f"ckpt={ckpt}: no such file")
    targets = cfg.targets
    targets = list(targets) if OmegaConf.is_list(targets) else str(targets)
    device = resolve_device(cfg.device)
    batch_size = resolve_batch_size(cfg.batch_size, device)
    animator = Animator.from_checkpoint(ckpt, device=device, family=cfg.get("family"))
    progress = bool(cfg.get("progress", True))
    folders = [f for f, _ in prepare_sources(cfg.dataset, cfg.paths.cache_dir, progress=progress,
                                             data_dir=cfg.paths.data_dir)]
    print(f"driving: {', '.join(str(f) for f in folders)}; model: {animator.family}, {animator.frame_size}px")
    result = augment(animator, folders, cfg.out, targets=targets, per_clip=int(cfg.per_clip),
                     holdout=list(cfg.get("holdout") or []), seed=int(cfg.seed), checkpoint=str(ckpt),
                     name=str(cfg.name), relative=bool(cfg.relative), adapt_movement_scale=bool(cfg.adapt_movement_scale),
                     batch_size=batch_size, crop=bool(cfg.crop), exclude_clips=list(cfg.get("exclude_clips") or []),
                     overwrite=bool(cfg.overwrite), progress=progress, render=str(cfg.render),
                     trainer=OmegaConf.to_container(cfg.trainer, resolve=True), device=device, head=str(cfg.head),
                     gain=OmegaConf.to_container(cfg.gain) if OmegaConf.is_list(cfg.gain) else cfg.gain,
                     regions=None if cfg.regions is None else list(cfg.regions),
                     out_fps=cfg.get("out_fps"), retarget=str(cfg.get("retarget") or "similarity"),
                     stretch=OmegaConf.to_container(cfg.stretch) if OmegaConf.is_list(cfg.stretch) else cfg.stretch)
    if not result.rank_zero:
        return result
    print(result.summary())
    print(f"use it with: dataset=generated dataset.path={result.folder} dataset.frame_size={animator.frame_size}   "
          f"or   python -m megen.recognise extra=[{result.folder}]")
    return result


@hydra.main(version_base="1.3", config_path="../../conf", config_name="augment")
def main(cfg: DictConfig) -> None:
    with user_errors(OSError, ValueError, CacheError, GenerationError):     # BasisError is a ValueError
        run(cfg)


if __name__ == "__main__":
    main()
