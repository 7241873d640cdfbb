"""Preparation throughput: the default synthetic set, and a generated CASME II-sized raw tree."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from megen.benchmarks.timing import say
from megen.config.compose import compose_train


def synthetic_preparation(settings, overrides: list[str]) -> None:
    """``prepare`` of the train config's dataset (default synthetic; ``dataset.*`` overrides) into a fresh
    temporary cache, then again from it."""
    from megen.data.preparation import prepare_dataset

    cfg = compose_train(*overrides).dataset
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        _, summary = prepare_dataset(cfg, tmp, progress=False)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        prepare_dataset(cfg, tmp, progress=False)
        warm = time.perf_counter() - start
    say(f"prepare-synthetic clips={summary['clips']} frame_size={cfg.frame_size} cold_s={cold:.2f} reuse_s={warm:.2f}")


def raw_tree_preparation(settings, overrides: list[str]) -> None:
    """Preparation of a generated CASME II-sized raw tree: ``settings.clips`` clips of ``settings.clip_frames``
    frames, 640x480 JPEG, with ``settings.workers`` workers."""
    import dataclasses

    from megen.data.preparation import prepare_dataset
    from megen.synthetic import SyntheticSpec, generate
    from megen.testing.rawtree import write_raw_tree

    n_clips, n_frames, workers = int(settings.clips), int(settings.clip_frames), int(settings.workers)
    duration = (n_frames - 1) / 200.0
    # a handful of distinct clips, repeated under new names: the tree's size is what is measured
    base = list(generate(SyntheticSpec(seed=11, frame_size=64, n_subjects=5, clips_per_subject=2,
                                       duration_s=(duration, duration))))
    clips = [dataclasses.replace(base[i % len(base)], subject=f"b{i // 10:02d}", clip=f"b{i:03d}")
             for i in range(n_clips)]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_raw_tree(clips, Path(tmp) / "casme2", "casme2", canvas=(480, 640), quirks=False, seed=0)
        say(f"tree written in {time.perf_counter() - start:.1f} s ({n_clips} clips x {n_frames} frames, 640x480 JPEG)")
        cfg = {"name": "casme2", "root": str(Path(tmp) / "casme2"), "frame_size": 256, "workers": workers}
        start = time.perf_counter()
        _, summary = prepare_dataset(cfg, Path(tmp) / "cache", progress=False)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        prepare_dataset(cfg, Path(tmp) / "cache", progress=False)
        warm = time.perf_counter() - start
    frames = summary["clips"] * n_frames
    say(f"prepare-casme2 clips={summary['clips']} frames={frames} workers={workers} seconds={cold:.1f} "
          f"frames_per_s={frames / cold:.0f} rerun_seconds={warm:.1f}")
