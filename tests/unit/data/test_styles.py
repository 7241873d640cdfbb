"""Synthetic styles of the three datasets (dataset.style=, dataset.sources=[synthetic:<style>]) and their mix."""
import pytest
from omegaconf import OmegaConf

from megen.data.preparation import source_configs
from megen.runtime.paths import conf_dir
from megen.synthetic import SyntheticSpec
from megen.synthetic.styles import STYLE_SEED_STEP, STYLES, styled


def _base() -> dict:
    return OmegaConf.to_container(OmegaConf.load(conf_dir() / "dataset" / "synthetic.yaml"), resolve=True)


def test_a_style_sets_its_datasets_rate_emotions_and_camera_and_its_own_faces():
    base = _base()
    assert styled(base) is base                     # no style: as it is
    smic = SyntheticSpec.from_config({**base, "style": "smic"})
    assert smic.fps == 100.0 and smic.seed == base["seed"] + 3 * STYLE_SEED_STEP
    assert set(smic.emotions) == {"disgust", "repression", "sadness", "fear", "happiness", "surprise"}
    assert sum(smic.emotions[k] for k in ("disgust", "repression", "sadness", "fear")) == pytest.approx(70, abs=0.01)
    assert (smic.nuisance.noise, smic.nuisance.flicker, smic.nuisance.head_px) == (1.4, 0.0006, 1.2)
    assert smic.nuisance.levels == base["nuisance"]["levels"]          # what the style does not set is kept
    samm = SyntheticSpec.from_config({**base, "style": "samm"})
    assert samm.fps == 200.0 and samm.emotions["happiness"] == 26 and samm.nuisance.noise == 2.8
    keys = {SyntheticSpec.from_config({**base, "style": s}).key() for s in STYLES} | {SyntheticSpec.from_config(base).key()}
    assert len(keys) == 4
    assert samm.dataset_name == "synthetic_samm" and SyntheticSpec.from_config(base).dataset_name == "synthetic"
    with pytest.raises(ValueError, match="dataset.style=casme3"):
        styled({**base, "style": "casme3"})


def test_a_mix_of_styles_and_a_bad_style_is_named():
    mix = OmegaConf.to_container(OmegaConf.load(conf_dir() / "dataset" / "mix.yaml"))
    mix["sources"] = ["synthetic:casme2", "synthetic:samm", "synthetic"]
    subs = source_configs(mix)
    assert [s.get("style") for s in subs] == ["casme2", "samm", None]
    assert [SyntheticSpec.from_config(s).dataset_name for s in subs] == ["synthetic_casme2", "synthetic_samm", "synthetic"]
    from megen.config.check import ConfigError, validate_train
    from megen.config.compose import compose_train

    with pytest.raises(ConfigError, match="synthetic:casme3.*has no such style"):
        validate_train(compose_train("dataset=mix", "dataset.sources=[synthetic:casme3]"))


def test_styled_sources_are_prepared_as_their_own_datasets(tmp_path):
    import csv

    from megen.data.preparation import prepare_sources

    mix = OmegaConf.to_container(OmegaConf.load(conf_dir() / "dataset" / "mix.yaml"))
    mix.update(sources=["synthetic:samm", "synthetic:smic"], frame_size=32,
               overrides={s: {"n_subjects": 2, "clips_per_subject": 1, "guides": False}
                          for s in ("synthetic:samm", "synthetic:smic")})
    prepared = prepare_sources(mix, tmp_path, progress=False)
    rows = [list(csv.DictReader((folder / "manifest.csv").open())) for folder, _ in prepared]
    assert [{r["dataset"] for r in rs} for rs in rows] == [{"synthetic_samm"}, {"synthetic_smic"}]
    assert [{float(r["fps"]) for r in rs} for rs in rows] == [{200.0}, {100.0}]
