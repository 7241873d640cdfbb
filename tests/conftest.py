import json
import os
from pathlib import Path

# Under pytest-xdist (`make test` runs two workers) each worker gets its share of the cores for torch's
# threads, and so do the commands its tests start (they inherit OMP_NUM_THREADS): two workers of two
# threads each on a 2-core machine spin against each other.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from megen.config.schema import register  # noqa: E402
from megen.data.preparation import prepare_synthetic  # noqa: E402
from megen.synthetic import SyntheticSpec, make_identities  # noqa: E402

if _WORKERS > 1:
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
register()     # the commands' options schemas, for the tests that compose a command's config themselves


def pytest_collection_modifyitems(config, items):
    """Files with a ``slow`` test first, each file's own order kept: pytest-xdist hands out whole files
    (``--dist loadfile``) in this order, and a long file handed out last keeps one worker busy alone."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


def pytest_runtest_setup(item):
    """``@pytest.mark.gpu`` (``count=N``: N devices) skips where this machine has fewer CUDA devices."""
    from helpers import missing_devices

    reason = missing_devices(item.get_closest_marker("gpu"))
    if reason:
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def face():
    """The astronaut's face, gray, aligned to the canonical 256-px face: (frame (256, 256) uint8, landmarks (68, 2))."""
    from megen.metrics.expression import canonical_clip
    from megen.synthetic import embedded_photo_paths
    from megen.synthetic.identities import base_face

    identity = base_face(str(embedded_photo_paths()[0]), 256)
    gray, lm = canonical_clip([(identity.image * 255).round().astype(np.uint8)], identity.landmarks)
    return gray[0], lm


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


def _session_dir(tmp_path_factory, name: str) -> Path:
    """A folder of this test session that every pytest-xdist worker sees (each worker's own base
    folder sits in the session's)."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A tiny model trained for two steps at 64x64, once per session (the first worker to need it
    trains it, the others wait for it and read its metrics.json); returns (run folder, config, result).
    Tests only read it."""
    from filelock import FileLock
    from helpers import compose_train

    from megen.train import train

    tmp = _session_dir(tmp_path_factory, "tiny_run")
    cfg = compose_train(tmp, "dataset.frame_size=64")
    with FileLock(f"{tmp}.lock"):
        done = tmp / "run" / "metrics.json"              # written last by train()
        result = json.loads(done.read_text()) if done.is_file() else train(cfg)
    return tmp / "run", cfg, result
