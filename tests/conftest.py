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
