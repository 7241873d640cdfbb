"""Batches of (source, driving) frame pairs from the prepared-clip cache."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from megen.data.cache import PreparedSet
from megen.data.priors import PriorSetting, cached_prior_maps, clip_keypoints
from megen.data.splits import split_subjects
from megen.data.transforms import hflip_sample, pixels_to_normalized
from megen.face.keypoints import flip_index

PAIR_MODES = ("random", "onset", "apex")


class ClipPairDataset(Dataset):
    """Two frames of one clip with the clip's onset key points and prior map.

    Item (S = frame size, s = prior map size, K = key points)::

        source, driving   (3, S, S) float32 in [0, 1] (gray replicated)
        prior             (C, s, s) float32, C = 1 (sum) or K (separate)
        keypoints         (K, 2) onset prior key points in [-1, 1] (shared by both frames)
        landmarks         (68, 2) onset landmarks, pixels
        flow              (S, S, 2) true backward flow driving -> source, pixels (synthetic, if asked)
        clip, source_index, driving_index

    ``pairs``: ``random`` two frames of the clip (training, as FOMM); ``onset`` the onset
    as source and a random later frame; ``apex`` onset -> apex (deterministic, evaluation).
    """

    def __init__(self, prepared: PreparedSet, indices, priors: np.ndarray, keypoints: str, pairs: str = "random",
                 repeats: int = 1, flip_prob: float = 0.0, with_flow: bool = False):
        if pairs not in PAIR_MODES:
            raise ValueError(f"unknown pair mode {pairs!r}; valid: {', '.join(PAIR_MODES)}")
        self.prepared, self.indices, self.priors = prepared, list(indices), priors
        self.keypoints, self.pairs, self.repeats = keypoints, pairs, max(int(repeats), 1)
        self.flip_prob, self.with_flow = float(flip_prob), with_flow
        self.flip_perm = torch.as_tensor(flip_index(keypoints))

    def __len__(self) -> int:
        return len(self.indices) * self.repeats

    def _frame_pair(self, row: dict, n: int) -> tuple[int, int]:
        if self.pairs == "apex":
            return row["onset"], min(row["apex"], n - 1)
        if self.pairs == "onset":
            return 0, int(torch.randint(1, n, ()).item())
        a, b = torch.randperm(n)[:2].tolist()
        return a, b

    def __getitem__(self, i: int) -> dict:
        index = self.indices[i % len(self.indices)]
        row = self.prepared.rows[index]
        arrays = self.prepared.load(index)
        frames = arrays["frames"]
        size = frames.shape[-1]
        src, drv = self._frame_pair(row, len(frames))
        as_rgb = lambda f: torch.from_numpy(f).float().div_(255.0)[None].expand(3, -1, -1).contiguous()
        sample = {
            "source": as_rgb(frames[src]),
            "driving": as_rgb(frames[drv]),
            "prior": torch.from_numpy(self.priors[index].astype(np.float32)),
            "keypoints": pixels_to_normalized(
                torch.from_numpy(clip_keypoints(arrays, self.keypoints)).float(), size),
            "landmarks": torch.from_numpy(arrays["landmarks"]).float(),
            "clip": row["file"],
            "source_index": src,
            "driving_index": drv,
        }
        if self.with_flow and "gt_landmarks" in arrays:
            from megen.data.synthetic.clips import motion_between

            lm, sh = arrays["gt_landmarks"], arrays["gt_shifts"]
            sample["flow"] = torch.from_numpy(motion_between(lm[src], lm[drv], sh[src], sh[drv], lm[0], size))
        if self.flip_prob > 0 and torch.rand(()) < self.flip_prob:
            sample = hflip_sample(sample, self.flip_perm)
        return sample


class MicroExpressionDataModule(pl.LightningDataModule):
    """Subject-wise train/val/test splits over one prepared cache folder.

    Args:
        cache: prepared folder (from ``megen.prepare``).
        prior: a PriorSetting or its config mapping.
        split: ``{val, test, seed}`` fractions of subjects, or explicit ``{train, val, test}`` lists.
    """

    def __init__(self, cache: str | Path, prior, batch_size: int = 8, num_workers: int = 0,
                 split: dict | None = None, repeats: int = 1, flip_prob: float = 0.5, pairs: str = "random",
                 val_pairs: str = "apex", with_flow: bool = True, exclude=()):
        super().__init__()
        self.cache = Path(cache)
        self.prior = prior if isinstance(prior, PriorSetting) else PriorSetting.from_config(prior)
        self.batch_size, self.num_workers = int(batch_size), int(num_workers)
        self.split_cfg = dict(split or {})
        self.repeats, self.flip_prob, self.pairs, self.val_pairs = repeats, flip_prob, pairs, val_pairs
        self.with_flow = with_flow
        self.exclude = {str(x) for x in (exclude or ())}
        self.splits: dict[str, list[int]] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        self.prepared = PreparedSet.open(self.cache)
        keep = [i for i, r in enumerate(self.prepared.rows) if r["clip"] not in self.exclude]
        if not keep:
            raise ValueError(f"no clips left in {self.cache} after excluding {sorted(self.exclude)}")
        frame_size = int(np.load(self.prepared.clip_path(self.prepared.rows[keep[0]]))["frames"].shape[-1])
        self.frame_size = frame_size
        self.priors = cached_prior_maps(self.prepared, self.prior, frame_size)
        subjects = {i: self.prepared.rows[i]["subject"] for i in keep}
        if {"train", "val", "test"} <= set(self.split_cfg):
            names = {k: {str(s) for s in self.split_cfg[k]} for k in ("train", "val", "test")}
        else:
            names = split_subjects(subjects.values(), self.split_cfg.get("val", 0.15),
                                   self.split_cfg.get("test", 0.15), self.split_cfg.get("seed", 0))
        self.subject_splits = {k: sorted(v) for k, v in names.items()}
        self.splits = {k: [i for i in keep if subjects[i] in set(v)] for k, v in names.items()}
        if not self.splits["train"]:
            raise ValueError(f"the training split of {self.cache} is empty (subjects {sorted(set(subjects.values()))})")

    def dataset(self, split: str, pairs: str | None = None, repeats: int = 1, flip_prob: float = 0.0):
        return ClipPairDataset(self.prepared, self.splits[split], self.priors, self.prior.keypoints,
                               pairs or self.val_pairs, repeats, flip_prob, self.with_flow)

    def _loader(self, ds, shuffle: bool) -> DataLoader:
        return DataLoader(ds, batch_size=self.batch_size, shuffle=shuffle, num_workers=self.num_workers,
                          drop_last=False, persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        ds = self.dataset("train", self.pairs, self.repeats, self.flip_prob)
        return self._loader(ds, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("val"), shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("test"), shuffle=False)
