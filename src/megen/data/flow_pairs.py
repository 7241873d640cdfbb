"""The micro-motion estimator's data: synthetic face pairs with exact sub-pixel flow, drawn on the fly
(``megen.synthetic.flow_pairs``), as a Lightning data module.

Training pairs come from the synthetic set's identities (seed 0 on, as the default set's), each pair drawn
from its own seeded generator (index -> the same pair in every run), with nuisance levels drawn up to the
given ones; validation pairs come from identities no estimator trains on (seed 500 on; ``megen.bench flow``
uses seed 1000 on) at exactly the given levels.
"""
from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from megen.synthetic.flow_pairs import PairSpec, flow_pair
from megen.synthetic.nuisance import Nuisance

#: the identities' seeds: training (as the synthetic set's), validation
TRAIN_SEED, VAL_SEED = 0, 500


class FlowPairs(Dataset):
    """``count`` pairs on ``identities``: sample ``{"frame", "onset"}`` (1, S, S) float32 in [0, 255], ``"flow"``
    (2, S, S) float32 the exact forward flow frame -> onset in pixels."""

    def __init__(self, identities, count: int, spec: PairSpec, seed: int):
        self.identities, self.count, self.spec, self.seed = identities, int(count), spec, int(seed)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng([self.seed, 3, i])
        frame, onset, flow = flow_pair(self.identities[i % len(self.identities)], rng, self.spec)
        return {"frame": torch.from_numpy(frame).float()[None], "onset": torch.from_numpy(onset).float()[None],
                "flow": torch.from_numpy(flow).permute(2, 0, 1).contiguous()}


class FlowPairsDataModule(pl.LightningDataModule):
    """Training and validation pairs at ``size`` px (``megen.synthetic.flow_pairs``)."""

    def __init__(self, size: int = 256, identities: int = 16, val_identities: int = 4, train_pairs: int = 28800,
                 val_pairs: int = 64, batch_size: int = 8, motion_px=(0.05, 3.0), nuisance: dict | None = None,
                 occlusion: float = 0.0, seed: int = 0, num_workers: int = 0):
        super().__init__()
        if size % 4:
            raise ValueError(f"pairs.size must be a multiple of 4 (the estimator's cell), got {size}")
        self.size, self.n_train, self.n_val = int(size), int(identities), int(val_identities)
        self.train_pairs, self.val_pairs, self.batch_size = int(train_pairs), int(val_pairs), int(batch_size)
        nuisance = Nuisance(**(nuisance or {}))
        if not 0.0 <= float(occlusion) <= 1.0:
            raise ValueError(f"pairs.occlusion must be a share in [0, 1], got {occlusion}")
        motion = tuple(float(m) for m in motion_px)
        self.train_spec = PairSpec(motion_px=motion, nuisance=nuisance, occlusion=float(occlusion))
        self.val_spec = PairSpec(motion_px=motion, nuisance=nuisance, vary_nuisance=False, occlusion=float(occlusion))
        self.seed, self.num_workers = int(seed), int(num_workers)

    def setup(self, stage: str | None = None) -> None:
        from megen.synthetic.generator import SyntheticSpec, make_identities

        def faces(seed, n):
            return make_identities(SyntheticSpec(seed=seed, frame_size=self.size, n_subjects=n, render_scale=2))

        self.train_set = FlowPairs(faces(TRAIN_SEED, self.n_train), self.train_pairs, self.train_spec, self.seed)
        self.val_set = FlowPairs(faces(VAL_SEED, self.n_val), self.val_pairs, self.val_spec, 10_000)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, self.batch_size, shuffle=True, num_workers=self.num_workers,
                          drop_last=True, persistent_workers=self.num_workers > 0)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, self.batch_size, num_workers=self.num_workers)


__all__ = ["FlowPairs", "FlowPairsDataModule", "TRAIN_SEED", "VAL_SEED"]
