"""``python -m megen.train`` with the dense motion's mask network held at zero, so that the masks are the mask
prior's Gaussians alone and the key points' Jacobians are learned for them (a screen, not a library option):

    python experiments/real_motion/train_prior_masks.py experiment=paper_real model.dense_motion.background_level=0 \
        seed=0 run_dir=<run> hydra.run.dir=<run>

The checkpoint holds the zero mask network, so ``python -m megen.generate ckpt=...`` renders with the same masks.
"""
import sys
from pathlib import Path

from torch import nn

import megen.models.dense_motion as dense_motion

_build = dense_motion.DenseMotionNetwork.__init__


def _without_mask_network(self, *args, **kwargs):
    _build(self, *args, **kwargs)
    nn.init.zeros_(self.mask.weight)
    nn.init.zeros_(self.mask.bias)
    self.mask.requires_grad_(False)


dense_motion.DenseMotionNetwork.__init__ = _without_mask_network

if __name__ == "__main__":
    from megen.train import main

    # run from this file, Hydra would look for the configs beside it
    sys.argv.insert(1, f"--config-path={Path(__file__).resolve().parents[2] / 'conf'}")
    sys.exit(main())
