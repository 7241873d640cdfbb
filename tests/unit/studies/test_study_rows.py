"""A study's rows come from its experiment config: run.sh and ``train -m experiment=<study>`` run one grid."""
import re

import pytest
from helpers import REPO
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from megen.config.compose import compose_train
from megen.runtime.paths import conf_dir
from megen.studies.rows import study_rows

EXPERIMENTS = REPO / "experiments"
#: the studies whose run.sh trains rows through run_study.sh
STUDIES = sorted(re.search(r"run_study.sh (\w+)", p.read_text()).group(1)
                 for p in EXPERIMENTS.glob("*/run.sh") if "run_study.sh" in p.read_text())


def test_every_study_script_reads_its_rows_from_its_config():
    assert {"ablation_prior", "real_motion", "recipe", "sweep_sigma", "sweep_keypoints"} <= set(STUDIES)
    for study in STUDIES:
        script = (EXPERIMENTS / study / "run.sh").read_text()
        assert "<<" not in script, f"{study}/run.sh lists rows of its own"
        assert (conf_dir() / "experiment" / f"{study}.yaml").is_file()


@pytest.mark.parametrize("study", STUDIES)
def test_committed_runs_are_rows_of_the_study(study):
    names = {name for name, _ in study_rows(study)}
    runs = EXPERIMENTS / study / "runs"
    # a row's folder holds its seeds' runs; anything else there (an estimator a study trains first) is no row
    committed = {p.name for p in runs.iterdir() if p.is_dir() and any(runs.glob(f"{p.name}/seed*"))} \
        if runs.is_dir() else set()
    assert committed <= names | {"landmarks"} if study == "sweep_keypoint_mode" else committed <= names


@pytest.mark.parametrize("study", STUDIES)
def test_every_row_composes_to_its_values(study):
    for name, overrides in study_rows(study):
        cfg = compose_train(*overrides)
        for item in overrides[1:]:
            key, value = item.lstrip("+").split("=", 1)
            if value.startswith("{"):     # a mapping: compared as Hydra parses it, not as spelled
                parsed = OverridesParser.create().parse_override(item).value()
                assert OmegaConf.to_container(OmegaConf.select(cfg, key)) == parsed, (study, name, item)
                continue
            # a value (a group choice such as model=fomm is a file); one read from the environment at run time
            # (${oc.env:...}, a file the user names) has no value to compare here
            if "." in key and "${" not in value:
                got = OmegaConf.select(cfg, key)
                shown = ("null" if got is None else f"[{','.join(map(str, got))}]" if OmegaConf.is_list(got)
                         else str(got))       # a list as an override spells it: [a,b]
                assert shown.lower() == value.lower(), (study, name, item)


def test_grid_rows_are_named_by_their_values(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "s.yaml").write_text(
        "hydra:\n  sweeper:\n    params:\n      model: fomm,tps\n      prior.sigma: 2,8\n"
        "study:\n  rows:\n    extra: model=mraa prior=none\n")
    rows = study_rows("s", conf=tmp_path)
    assert [name for name, _ in rows] == ["fomm_sigma2", "fomm_sigma8", "tps_sigma2", "tps_sigma8", "extra"]
    assert rows[1][1] == ["experiment=s", "model=fomm", "prior.sigma=8"]
    assert rows[-1][1] == ["experiment=s", "model=mraa", "prior=none"]


def test_a_study_without_rows_or_config_is_named(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "empty.yaml").write_text("# @package _global_\n")
    with pytest.raises(ValueError, match="empty.yaml has no rows"):
        study_rows("empty", conf=tmp_path)
    with pytest.raises(ValueError, match="no study config"):
        study_rows("missing", conf=tmp_path)
    (tmp_path / "experiment" / "twice.yaml").write_text("hydra:\n  sweeper:\n    params:\n      model: fomm\n"
                                                         "study:\n  rows:\n    fomm: model=tps\n")
    with pytest.raises(ValueError, match="repeat: fomm"):
        study_rows("twice", conf=tmp_path)
