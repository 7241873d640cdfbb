"""The config groups' dataclasses (megen.config.groups) declare every key their files set, with its type."""
from dataclasses import fields

import pytest
from omegaconf import OmegaConf

from megen.config.groups import DatasetOptions, LossOptions, ModelOptions
from megen.config.schema import option_kind
from megen.runtime.paths import conf_dir


def _flatten(node: dict, prefix: str = "", leaves=()) -> dict:
    """``node``'s keys, dotted; a key in ``leaves`` (an option whose value is a free-form mapping) is not entered."""
    out = {}
    for k, v in node.items():
        key = f"{prefix}{k}"
        out.update(_flatten(v, f"{key}.", leaves) if isinstance(v, dict) and key not in leaves else {key: v})
    return out


def _declared(schema, prefix: str = "") -> dict:
    """key -> (kind, default) of every option of ``schema``, sections flattened."""
    out = {}
    for f in fields(schema):
        kind = option_kind(schema, f)[0]
        if kind == "section":
            out.update(_declared(f.default_factory, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = (kind, f.default_factory() if callable(f.default_factory) else f.default)
    return out


def _fits(kind: str, value) -> bool:
    if value is None or (isinstance(value, str) and "${" in value):
        return True
    return {"bool": isinstance(value, bool), "whole": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, (int, float)) and not isinstance(value, bool), "list": isinstance(value, list),
            "str": isinstance(value, str), "any": True}[kind]


def _group_files(group: str) -> list[tuple[str, dict]]:
    """Each file of conf/<group>/, and each experiment's ``<group>:`` node."""
    found = []
    for path in sorted((conf_dir() / group).glob("*.yaml")):
        node = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        node.pop("defaults", None)
        found.append((f"{group}/{path.name}", node))
    for path in sorted((conf_dir() / "experiment").glob("*.yaml")):
        node = OmegaConf.to_container(OmegaConf.load(path), resolve=False).get(group)
        if isinstance(node, dict):
            found.append((f"experiment/{path.name}", node))
    return found


@pytest.mark.parametrize("group, schema", [("loss", LossOptions), ("model", ModelOptions), ("dataset", DatasetOptions)])
def test_every_key_a_group_file_sets_is_declared_with_a_type_its_value_fits(group, schema):
    declared = _declared(schema)
    mappings = {k for k, (kind, _) in declared.items() if kind == "any"}
    for name, node in _group_files(group):
        flat = _flatten(node, leaves=mappings)
        assert set(flat) <= set(declared), (name, set(flat) - set(declared))
        bad = {k: v for k, v in flat.items() if not _fits(declared[k][0], v)}
        assert not bad, (name, bad)


def test_the_loss_files_default_values_are_the_dataclass_defaults():
    declared = _declared(LossOptions)
    flat = _flatten(dict(_group_files("loss"))["loss/default.yaml"])
    assert set(flat) == set(declared)
    for key, value in flat.items():
        if "${" not in str(value):
            assert value == declared[key][1], key


def test_a_bad_model_value_is_named_by_its_declared_type():
    from megen.config.check import ConfigError, validate_train
    from megen.config.compose import compose_train

    cfg = compose_train("model.motion.num_blocks=four", "model.dense_motion.kp_variance=-1",
                        "model.generator.blend_warped_source=maybe", "model=fomm")
    with pytest.raises(ConfigError) as err:
        validate_train(cfg)
    problems = sorted(p.split("=")[0] for p in err.value.problems if p.startswith("model."))
    assert problems == ["model.dense_motion.kp_variance", "model.generator.blend_warped_source",
                        "model.motion.num_blocks"]
