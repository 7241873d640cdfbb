"""Generating a set as Lightning's prediction loop: one (driving clip, target) pair per item, so
``trainer=ddp`` shares the pairs out over GPUs and nodes as training shares batches.

Each rank writes the clips of its share atomically; a pair whose clip file is already valid is
not in the loop at all (a crashed run resumes). The manifest depends only on the pairs, not on
what the model produced, so the caller writes it once every rank is done.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
from torch.utils.data import DataLoader, Dataset

from megen.animation.animate import animate
from megen.animation.animator import Animator
from megen.data.cache import PreparedSet, write_clip
from megen.face.controls import MotionControls
from megen.face.keypoints import keypoint_set


@dataclass
class Pair:
    """One clip to generate: driving clip ``index`` of ``sets[set_index]`` on ``targets[target_index]``,
    written to ``path`` (start: the driving frame the motion is relative to)."""

    set_index: int
    index: int
    target_index: int
    path: str
    start: int
    gain: float = 1.0       # the expression's gain for this clip (megen.face.controls)
    fps: float = 0.0        # the driving clip's capture rate, and its timing for this clip (megen.ops.timing)
    out_fps: float | None = None
    duration_ms: float | None = None


class PairsDataset(Dataset):
    """The pairs still to generate, as plain records (the work happens in ``predict_step``)."""

    def __init__(self, pairs: list[Pair]):
        self.pairs = list(pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> Pair:
        return self.pairs[i]


class PairsDataModule(pl.LightningDataModule):
    """``predict_dataloader``: one pair per step, in order; Lightning's distributed sampler splits it by rank."""

    def __init__(self, pairs: list[Pair]):
        super().__init__()
        self.pairs = pairs

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(PairsDataset(self.pairs), batch_size=None, shuffle=False, num_workers=0)


class ClipWriter(pl.LightningModule):
    """Animates each pair's target with its driving clip and writes the clip (gray frames at the model's
    size, the target's landmarks and key points), its motion carried by ``retarget`` and shaped by ``head``,
    ``regions`` and the pair's gain and timing (``megen.face.controls``). ``on_clip()`` is called after each clip (progress)."""

    def __init__(self, animator: Animator, sets: list[PreparedSet], targets: list, *, relative: bool = True,
                 adapt_movement_scale: bool = False, batch_size: int = 1, render: str = "native",
                 on_clip: Callable[[], None] | None = None, head: str = "keep", regions=None,
                 retarget: str = "similarity"):
        super().__init__()
        self.model = animator.model     # a submodule, so Lightning puts it on the rank's device
        self.animator, self.sets, self.targets = animator, sets, targets
        self.options = {"relative": relative, "adapt_movement_scale": adapt_movement_scale,
                        "batch_size": batch_size, "render": render}
        self.on_clip = on_clip
        self.head, self.regions, self.retarget = head, regions, retarget
        self._driving: tuple[tuple[int, int], object] | None = None   # the last driving clip's input

    def _driving_input(self, pair: Pair):
        key = (pair.set_index, pair.index)
        if self._driving is None or self._driving[0] != key:   # pairs of one clip come together
            self._driving = (key, self.animator.prepared_input(self.sets[pair.set_index].load(pair.index)))
        return self._driving[1]

    def predict_step(self, pair: Pair, batch_idx: int = 0) -> None:
        target = self.targets[pair.target_index]
        controls = MotionControls(self.head, pair.gain, self.regions, pair.out_fps, pair.duration_ms, self.retarget)
        driving = self._driving_input(pair)
        generated = animate(self.model, target.face, driving, start=pair.start, controls=controls,
                            positions=controls.positions(len(driving.frames), pair.fps), **self.options)
        landmarks = target.landmarks
        write_clip(Path(pair.path), {"frames": to_gray_frames(generated), "landmarks": landmarks,
                                     "keypoints": keypoint_set("paper18", landmarks),
                                     "face_found": bool(target.face.face_found)})
        if self.on_clip is not None:
            self.on_clip()


def to_gray_frames(generated) -> np.ndarray:
    """(T, C, S, S) float frames in [0, 1] -> (T, S, S) uint8 gray (colour is averaged)."""
    gray = generated.float().mean(1).clamp(0, 1).mul(255.0).round()
    return gray.cpu().numpy().astype(np.uint8)


def prediction_trainer(trainer_cfg: dict | None = None, device: str = "cpu") -> pl.Trainer:
    """A Trainer for the prediction loop: ``trainer_cfg`` (conf/trainer/*: accelerator, devices, num_nodes,
    strategy) where it spreads the work, else one ``device``; no logger, checkpoints or bar (the caller shows
    progress)."""
    cfg = dict(trainer_cfg or {})
    if cfg.get("strategy") or cfg.get("num_nodes", 1) != 1 or cfg.get("devices", 1) not in (1, None):
        kw = {k: cfg[k] for k in ("accelerator", "devices", "num_nodes", "strategy") if cfg.get(k) is not None}
    else:
        index = device.split(":", 1)[1] if ":" in device else None
        kw = {"accelerator": "gpu" if device.startswith("cuda") else "cpu",
              "devices": [int(index)] if index is not None else 1}
    return pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, **kw)


__all__ = ["ClipWriter", "Pair", "PairsDataModule", "PairsDataset", "prediction_trainer", "to_gray_frames"]
