"""Batches of (source, driving) frame pairs from one or more prepared-clip caches."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_only
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from megen.data.cache import PreparedSet
from megen.data.choices import PairMode
from megen.data.ground_truth import true_flow
from megen.data.preparation import prepare_sources
from megen.data.priors import cached_prior_maps, clip_keypoints
from megen.data.splits import select_splits, subject_key
from megen.data.transforms import hflip_sample, pixels_to_normalized
from megen.face.keypoints import flip_index
from megen.face.prior import PriorSetting

#: setup runs on every DDP rank: its notes are printed once
_say = rank_zero_only(print)


@dataclass(frozen=True)
class ClipRef:
    """One prepared clip: its cache, its manifest row index and its prior map (C, s, s)."""

    prepared: PreparedSet
    index: int
    prior: np.ndarray

    @property
    def row(self) -> dict:
        return self.prepared.rows[self.index]

    @property
    def subject_key(self) -> str:
        return subject_key(self.row)


class ClipPairDataset(Dataset):
    """Two frames of one clip with the clip's onset frame, key points and prior map.

    Item (S = frame size, s = prior map size, K = key points)::

        source, driving   (3, S, S) float32 in [0, 1] (gray replicated)
        reference         (3, S, S) float32 in [0, 1], the clip's onset frame (what key points,
                          landmarks and prior describe; equals source when the source is the onset)
        prior             (C, s, s) float32, C = 1 (sum) or K (separate)
        keypoints         (K, 2) onset prior key points in [-1, 1] (shared by both frames)
        landmarks         (68, 2) onset landmarks, pixels
        flow              (S, S, 2) true backward flow driving -> source, pixels (synthetic, if asked):
                          pixel p of driving shows what source shows at p + flow(p)
        guide             (S, S, 2) that flow as optical flow measures it on the finely rendered frames
                          (synthetic sets prepared with ``guides``; ``onset`` and ``apex`` pairs only)
        clip, source_index, driving_index

    ``pairs``: ``random`` two frames of the clip (training, as FOMM); ``onset`` the onset
    as source and a random later frame; ``apex`` onset -> apex (deterministic, evaluation).
    A flip (``flip_prob``) mirrors every frame, the maps, points and flow together.
    """

    def __init__(self, clips: list[ClipRef], keypoints: str, pairs: PairMode = PairMode.RANDOM, repeats: int = 1,
                 flip_prob: float = 0.0, with_flow: bool = False, with_guide: bool = False):
        pairs = PairMode.parse(pairs, "data.pairs")
        self.clips, self.keypoints, self.pairs, self.repeats = list(clips), keypoints, pairs, max(int(repeats), 1)
        self.flip_prob, self.with_flow = float(flip_prob), with_flow
        # the guides are measured to the onset: random pairs fall back to the model's own measurement
        self.with_guide = with_guide and pairs != PairMode.RANDOM
        self.flip_perm = torch.as_tensor(flip_index(keypoints))

    def __len__(self) -> int:
        return len(self.clips) * self.repeats

    def _frame_pair(self, row: dict, n: int) -> tuple[int, int]:
        if self.pairs == PairMode.APEX:
            return row["onset"], min(row["apex"], n - 1)
        if self.pairs == PairMode.ONSET:
            return row["onset"], int(torch.randint(row["onset"] + 1, n, ()).item())
        a, b = torch.randperm(n)[:2].tolist()
        return a, b

    def __getitem__(self, i: int) -> dict:
        ref = self.clips[i % len(self.clips)]
        row = ref.row
        arrays = ref.prepared.load(ref.index)
        frames = arrays["frames"]
        size = frames.shape[-1]
        src, drv = self._frame_pair(row, len(frames))
        as_rgb = lambda f: torch.from_numpy(f).float().div_(255.0)[None].expand(3, -1, -1).contiguous()  # noqa: E731
        sample = {
            "source": as_rgb(frames[src]),
            "driving": as_rgb(frames[drv]),
            "reference": as_rgb(frames[row["onset"]]),
            "prior": torch.from_numpy(ref.prior.astype(np.float32)),
            "keypoints": pixels_to_normalized(torch.from_numpy(clip_keypoints(arrays, self.keypoints)).float(), size),
            "landmarks": torch.from_numpy(arrays["landmarks"]).float(),
            "clip": row["file"],
            "source_index": src,
            "driving_index": drv,
        }
        if self.with_flow and "gt_landmarks" in arrays:
            sample["flow"] = torch.from_numpy(true_flow(arrays, src, drv))
        if self.with_guide:
            sample["guide"] = torch.from_numpy(arrays["guide_flow"][drv].astype(np.float32))
        if self.flip_prob > 0 and torch.rand(()) < self.flip_prob:
            sample = hflip_sample(sample, self.flip_perm)
        return sample


class MicroExpressionDataModule(pl.LightningDataModule):
    """Subject-wise train/val/test splits over one or more prepared cache folders.

    Built by ``hydra.utils.instantiate(cfg.data)`` (see conf/train.yaml) from a ``dataset`` config,
    which ``prepare_data`` prepares (or finds prepared) under ``cache_dir``; or from ``cache``,
    folders prepared already.

    Args:
        cache: a prepared folder (from ``megen.prepare``) or a list of them (a training-set mix).
        prior: a PriorSetting or its config mapping; with ``scale_factor`` (the key-point
            detector's) the prior map size follows the prepared frame size.
        split: ``{val, test, seed}`` fractions of subjects, ``{loso: k}`` for leave-one-subject-out
            fold k, or explicit ``{train, val, test}`` lists of ``dataset/subject`` names.
        weights: sampling weight per cache (mix); each source then contributes in that proportion.
        exclude: clip ids to leave out; ``megc`` stands for the nine MEGC driving clips.
        dataset, cache_dir, data_dir, progress: what ``prepare_data`` prepares, where, and whether
            it shows progress.
    """

    def __init__(self, cache=None, prior=None, batch_size: int = 8, num_workers: int = 0, split: dict | None = None,
                 repeats: int = 1, flip_prob: float = 0.5, pairs: str = "random", val_pairs: str = "apex",
                 with_flow: bool = True, exclude=(), weights=None, dataset=None, cache_dir=None, data_dir=None,
                 scale_factor: float | None = None, progress: bool = True):
        super().__init__()
        if cache is None and dataset is None:
            raise ValueError("MicroExpressionDataModule needs prepared folders (cache=...) or a dataset config")
        self.caches = [Path(c) for c in (cache if isinstance(cache, (list, tuple)) else [cache])] if cache else []
        self.dataset_cfg, self.cache_dir, self.data_dir, self.progress = dataset, cache_dir, data_dir, progress
        self.prior = prior if isinstance(prior, PriorSetting) else PriorSetting.from_config(prior or {})
        self._prior_cfg, self.scale_factor = prior, scale_factor
        self.batch_size, self.num_workers = int(batch_size), int(num_workers)
        self.split_cfg = dict(split or {})
        self.repeats, self.flip_prob, self.pairs, self.val_pairs = repeats, flip_prob, pairs, val_pairs
        self.with_flow = with_flow
        self.with_guide = False   # set by setup: every source carries measured guides
        self.exclude = [str(x) for x in (exclude or ())]
        self.weights = list(weights) if weights else None
        self._check_weights()
        self.splits: dict[str, list[ClipRef]] = {}

    def _check_weights(self) -> None:
        if self.weights and self.caches and len(self.weights) != len(self.caches):
            raise ValueError(f"dataset.weights has {len(self.weights)} entries for {len(self.caches)} sources")

    def prepare_data(self) -> None:
        """Prepare the dataset's clips (once per node; reused when the cache is complete)."""
        self._folders()

    def _folders(self) -> list[Path]:
        if not self.caches:
            if self.progress:
                _say(f"preparing data: dataset={self.dataset_cfg['name']} into {self.cache_dir}")
            self.caches = [f for f, _ in prepare_sources(self.dataset_cfg, self.cache_dir, progress=self.progress,
                                                         data_dir=self.data_dir)]
        self._check_weights()
        return self.caches

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        sets = [p for p in (PreparedSet.open(c) for c in self._folders()) if len(p)]
        firsts = [p.load(0) for p in sets]      # what each source's clips carry
        sizes = {int(a["frames"].shape[-1]) for a in firsts}
        if len(sizes) > 1:
            raise ValueError(f"prepared sources have different frame sizes {sorted(sizes)}; prepare them alike")
        if not sets:
            raise ValueError(f"no clips in {[str(c) for c in self.caches]}")
        self.frame_size = sizes.pop()
        if self.with_flow and len({"gt_landmarks" in a for a in firsts}) > 1:
            # a batch cannot mix samples with and without a true flow (synthetic beside real or generated
            # clips): such a mix trains without the flow loss
            _say("sources differ in ground-truth flow (synthetic beside real or generated clips): batches carry none")
            self.with_flow = False
        # a batch either carries measured guides for all its samples or for none
        self.with_guide = all("guide_flow" in a for a in firsts)
        if self.scale_factor is not None and not isinstance(self._prior_cfg, PriorSetting):
            self.prior = PriorSetting.from_config(self._prior_cfg or {}, self.frame_size, self.scale_factor)
        refs = [(p, i) for p in sets for i in range(len(p))]
        selected, excluded = select_splits([p.rows[i] for p, i in refs], self.split_cfg, self.exclude)
        priors = {p.folder: cached_prior_maps(p, self.prior, self.frame_size) for p in sets}
        clip = lambda k: ClipRef(refs[k][0], refs[k][1], priors[refs[k][0].folder][refs[k][1]])  # noqa: E731
        self.splits = {name: [clip(k) for k in ks] for name, ks in selected.items()}
        self.excluded = [clip(k) for k in excluded]
        self.subject_splits = {name: sorted({c.subject_key for c in refs_}) for name, refs_ in self.splits.items()}
        if self.excluded:
            _say(f"excluded {len(self.excluded)} clip(s) from every split: "
                  f"{', '.join(sorted(c.row['clip'] for c in self.excluded))}")

    def dataset(self, split: str, pairs: str | None = None, repeats: int = 1, flip_prob: float = 0.0):
        return ClipPairDataset(self.splits[split], self.prior.keypoints, pairs or self.val_pairs, repeats, flip_prob,
                               self.with_flow, self.with_guide)

    def _loader(self, ds, shuffle: bool, sampler=None) -> DataLoader:
        return DataLoader(ds, batch_size=self.batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
                          num_workers=self.num_workers, drop_last=False, persistent_workers=self.num_workers > 0)

    def _sampler(self, ds: ClipPairDataset):
        if not self.weights:
            return None
        counts: dict[Path, int] = {}
        for c in ds.clips:
            counts[c.prepared.folder] = counts.get(c.prepared.folder, 0) + 1
        source_weight = {c: w for c, w in zip(self.caches, self.weights)}
        per_clip = [source_weight[c.prepared.folder] / counts[c.prepared.folder] for c in ds.clips]
        return WeightedRandomSampler(torch.tensor(per_clip * ds.repeats, dtype=torch.double), num_samples=len(ds))

    def train_dataloader(self) -> DataLoader:
        ds = self.dataset("train", self.pairs, self.repeats, self.flip_prob)
        return self._loader(ds, shuffle=True, sampler=self._sampler(ds))

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("val"), shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("test"), shuffle=False)
