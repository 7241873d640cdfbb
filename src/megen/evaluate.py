"""``python -m megen.evaluate ckpt=<file> [dataset=...]``: metrics beside the static baseline.

``python -m megen.evaluate [ckpt=<file>] real.pairs=<pairs.csv>`` scores real pairs without ground
truth instead, beside the static copy, the flow-transfer baseline and the published outputs listed.

``python -m megen.evaluate spotting.root=<CAS(ME)² or SAMM-LV folder> spotting.layout=casme_sq|samm_lv`` runs the
baseline spotter on the database's long videos, scored with the MEGC rule beside random intervals.

The checkpoint is checked and loaded before the data is prepared (which can take minutes), and
the heavy imports wait until the file is known to exist.
"""
from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from megen.config.choices import EvaluateRender, FlowEstimator, Render
from megen.config.schema import register
from megen.data.cache import CacheError
from megen.runtime.cli import user_errors
from megen.runtime.errors import ExportError, GenerationError


def rendered(render) -> list[Render]:
    """The renders ``render=`` asks for: both, one after the other, for ``both``."""
    render = EvaluateRender.parse(render, "render")
    return [Render.NATIVE, Render.DECODER] if render == EvaluateRender.BOTH else [Render.parse(render)]

register()     # conf/evaluate.yaml's options and its --help resolver, before Hydra composes


def run_real(cfg: DictConfig) -> dict:
    from megen.evaluation.real_pairs import read_pairs

    pairs = read_pairs(cfg.real.pairs)          # every missing file named before anything loads
    if cfg.get("ckpt") and not Path(str(cfg.ckpt)).expanduser().is_file():
        raise FileNotFoundError(f"checkpoint not found: ckpt={cfg.ckpt}")
    from megen.config.check import validate_evaluate

    validate_evaluate(cfg)
    from megen.evaluation.real_pairs import model_system, print_table, score_pairs

    systems = {}
    if cfg.get("ckpt"):
        from megen.animation import Animator

        animator = Animator.from_checkpoint(cfg.ckpt)
        renders = rendered(cfg.get("render", EvaluateRender.NATIVE))
        for render in renders:
            systems[f"megen ({render})"] = model_system(animator, batch_size=cfg.batch_size, render=render)
    print(f"run folder: {cfg.run_dir}")
    results = score_pairs(pairs, systems, cfg.run_dir, face_metrics=cfg.face_metrics, sheets=cfg.real.sheets,
                          progress=(lambda m: print(m, flush=True)) if cfg.progress else None,
                          estimators=list(cfg.real.estimators), motion_cache=cfg.real.get("motion_cache"))
    print_table(results)
    print(f"{cfg.run_dir}/real_pairs.md")
    return results


def run_spotting(cfg: DictConfig) -> dict:
    """The baseline spotter on a long-video database (``spotting.*``), beside random intervals."""
    from megen.config.check import validate_spotting_evaluation

    validate_spotting_evaluation(cfg)
    from megen.spotting.long_video_eval import spot_database, summary

    print(f"run folder: {cfg.run_dir}")
    result = spot_database(OmegaConf.to_container(cfg.spotting, resolve=True), cfg.run_dir,
                           progress=lambda m: print(m, flush=True), each_video=bool(cfg.progress))
    print(summary(result))
    print(f"{cfg.run_dir}/spotting.json")
    return result


def run(cfg: DictConfig) -> dict:
    if cfg.get("spotting") and cfg.spotting.get("root"):
        return run_spotting(cfg)
    if cfg.get("real") and cfg.real.get("pairs"):
        return run_real(cfg)
    if not cfg.get("ckpt"):
        raise ValueError("ckpt=<checkpoint file> is required")
    if not Path(str(cfg.ckpt)).expanduser().is_file():
        raise FileNotFoundError(f"checkpoint not found: ckpt={cfg.ckpt}")
    from megen.config.check import validate_evaluate

    validate_evaluate(cfg)
    from megen.animation import Animator
    from megen.data.preparation import prepare_sources, source_configs
    from megen.evaluation import evaluate_checkpoint

    if len(source_configs(cfg.dataset)) != 1:
        raise ValueError("evaluate one dataset at a time (dataset=mix is for training)")
    gen = Animator.from_checkpoint(cfg.ckpt)
    guide = getattr(getattr(gen, "model", None), "guide_estimator", None)   # the set's guides: as the model's were
    if guide and cfg.dataset.get("guides") and cfg.dataset.get("guide_estimator", guide) != guide:
        raise ValueError(f"the checkpoint's guide is measured by {guide}, the set's by {cfg.dataset.guide_estimator}: "
                         f"pass dataset.guide_estimator={guide}" + (" dataset.guide_checkpoint=<its estimator's "
                                                                    "checkpoint>" if guide == FlowEstimator.LEARNED else ""))
    print(f"run folder: {cfg.run_dir}")
    if cfg.progress:
        print(f"preparing data: dataset={cfg.dataset.name} into {cfg.paths.cache_dir}", flush=True)
    sources = prepare_sources(cfg.dataset, cfg.paths.cache_dir, progress=cfg.progress, data_dir=cfg.paths.data_dir)
    folder = sources[0][0]
    renders = rendered(cfg.get("render", EvaluateRender.NATIVE))
    results = {}
    for r in renders:     # render=both: one folder each, the same test clips and pairs
        out_dir = Path(str(cfg.run_dir)) / r if len(renders) > 1 else cfg.run_dir
        results[r] = evaluate_checkpoint(
            cfg.ckpt, folder, OmegaConf.to_container(cfg.dataset.split, resolve=True), out_dir,
            exclude=list(cfg.dataset.get("exclude", []) or []), face_metrics=cfg.face_metrics,
            face_every=cfg.face_every, batch_size=cfg.batch_size, max_clips=cfg.max_clips, max_pairs=cfg.max_pairs,
            show_progress=cfg.progress, gen=gen, render=r,
        )
        print(f"{out_dir}/metrics.md")
    return results[renders[0]] if len(renders) == 1 else results


@hydra.main(version_base="1.3", config_path="../../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    with user_errors(OSError, ValueError, GenerationError, ExportError, CacheError):     # the project's own errors only
        run(cfg)


if __name__ == "__main__":
    main()
