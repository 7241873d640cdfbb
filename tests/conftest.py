import numpy as np
import pytest
import torch

from megen.data.preparation import prepare_synthetic
from megen.data.synthetic import SyntheticSpec, make_identities


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def small_spec() -> SyntheticSpec:
    return SyntheticSpec(seed=3, frame_size=64, n_subjects=5, clips_per_subject=2)


@pytest.fixture(scope="session")
def identities(small_spec):
    return make_identities(small_spec)


@pytest.fixture(scope="session")
def prepared(tmp_path_factory, small_spec):
    folder, _ = prepare_synthetic(small_spec, tmp_path_factory.mktemp("cache"), progress=False)
    return folder


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A tiny model trained for two steps at 64x64; returns (run folder, config)."""
    from helpers import compose_train

    from megen.train import train

    tmp = tmp_path_factory.mktemp("tiny_run")
    cfg = compose_train(tmp, "dataset.frame_size=64")
    result = train(cfg)
    return tmp / "run", cfg, result
