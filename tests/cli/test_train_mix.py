"""Training on a mix of real-layout datasets (written from synthetic clips) end to end."""
import pytest
from helpers import compose_train
from hydra.utils import instantiate

from megen.synthetic import SyntheticSpec, generate
from megen.testing.rawtree import write_raw_tree
from megen.train import train


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    clips = list(generate(SyntheticSpec(seed=5, frame_size=64, n_subjects=3, clips_per_subject=2,
                                        duration_s=(0.04, 0.05), fps=100.0)))
    for layout in ("casme2", "samm", "smic"):
        write_raw_tree(clips, root / layout, layout, canvas=(288, 352), quirks=True, seed=2)
    return root


@pytest.mark.slow
def test_mix_of_casme2_samm_smic_trains(tmp_path, data_dir):
    cfg = compose_train(tmp_path, "dataset=mix", "dataset.sources=[casme2,samm,smic]", "dataset.frame_size=64",
                        "dataset.weights=[1,1,2]", "dataset.workers=1", f"paths.data_dir={data_dir}",
                        "loss.perceptual.allow_random=true", "dataset.split.val=0.2", "dataset.split.test=0.2")
    dm = instantiate(cfg.data, progress=False)
    dm.setup()
    datasets = {c.row["dataset"] for split in dm.splits.values() for c in split}
    assert datasets == {"casme2", "samm", "smic"}
    keys = {c.subject_key for c in dm.splits["train"]}
    assert all("/" in k for k in keys)                  # subjects are kept apart per dataset
    result = train(cfg)
    assert result["global_step"] > 0 and "val/rmte" in result["metrics"]


def test_missing_root_names_the_layout(tmp_path):
    cfg = compose_train(tmp_path, "dataset=samm", "dataset.frame_size=64", f"paths.data_dir={tmp_path / 'nowhere'}",
                        "loss.perceptual.allow_random=true")
    with pytest.raises(FileNotFoundError, match="nowhere/samm"):
        instantiate(cfg.data, progress=False).prepare_data()
