"""``python -m megen.bench augment``: generated clips per second, as ``python -m megen.augment`` makes them
(Lightning's prediction loop over (driving clip, target) pairs, writing each clip atomically)."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from megen.benchmarks.timing import bench_device, say
from megen.config.compose import compose_train


def augment_throughput(settings, overrides: list[str]) -> None:
    """The train config's model (default: the flow-guided default, untrained: the cost does not depend on the
    weights) animating every clip of its dataset (``dataset.*`` overrides; prepared first, not timed) on
    ``bench.per_clip`` targets each, into a fresh folder: clips and frames per second."""

    from megen.animation.animator import Animator
    from megen.augmentation import augment
    from megen.benchmarks.generation import untrained_model
    from megen.data.preparation import prepare_dataset

    cfg = compose_train(*overrides)
    model, prior, size = untrained_model(cfg)
    device = bench_device(settings)
    animator = Animator(model.to(device), prior, size, str(cfg.model.family))
    with tempfile.TemporaryDirectory() as tmp:
        folder, _ = prepare_dataset(cfg.dataset, str(Path(tmp) / "cache"), progress=False)
        start = time.perf_counter()
        result = augment(animator, [folder], Path(tmp) / "generated", per_clip=int(settings.per_clip),
                         progress=False, device=device, batch_size=int(settings.frames_per_pass or 1))
        seconds = time.perf_counter() - start
        frames = sum(int(row["n_frames"]) for row in _rows(result.folder))
    say(f"augment-{cfg.model.family} clips_per_s={result.clips / seconds:.2f} frames_per_s={frames / seconds:.1f} "
        f"clips={result.clips} frame_px={size} device={device} (render=native, {int(settings.per_clip)} target(s) "
        f"per driving clip, writing included)")


def _rows(folder: Path) -> list[dict]:
    from megen.data.cache import PreparedSet

    return PreparedSet.open(folder).rows
