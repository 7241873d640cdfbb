"""The commands' options are declared once (megen.config.schema): their defaults, checks and --help."""
from dataclasses import fields

import pytest
from helpers import run_module
from hydra import compose, initialize_config_dir

from megen.config.check import ConfigError, validate_augment, validate_evaluate, validate_export
from megen.config.schema import SCHEMAS, option_kind, options_help, register
from megen.runtime.paths import conf_dir


def _compose(name, *overrides):
    register()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(name, overrides=list(overrides))


def _keys(schema, prefix=""):
    for f in fields(schema):
        if option_kind(schema, f)[0] == "section":
            yield from _keys(f.default_factory, f"{prefix}{f.name}.")
        elif option_kind(schema, f)[0] != "wiring":
            yield f"{prefix}{f.metadata.get('key') or f.name}"


@pytest.mark.parametrize("command", sorted(SCHEMAS))
def test_the_config_holds_the_schemas_defaults(command):
    cfg = _compose(command)
    for f in fields(SCHEMAS[command]):
        if option_kind(SCHEMAS[command], f)[0] in ("str", "bool", "whole", "number") and "${" not in str(f.default):
            assert cfg[f.name] == f.default, (command, f.name)


@pytest.mark.parametrize("command", sorted(SCHEMAS))
def test_help_has_a_line_per_option_with_its_default_and_doc(command, tmp_path):
    out = run_module(f"megen.{command}", "--help", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for key in _keys(SCHEMAS[command]):
        found = [x for x in lines if x.startswith(f"{key}=")]
        assert len(found) == 1, f"{command}: {key}= has no line of its own"
        assert len(found[0].split(maxsplit=1)) == 2, f"{command}: {key}= has no description"
    assert "${" not in out.stdout
    # only train composes the training groups; the other commands list their own options alone
    assert ("Configuration groups" in out.stdout) == (command == "train")


def test_train_help_lists_the_groups_and_every_section():
    text = options_help(SCHEMAS["train"])
    for line in ("data.batch_size=8      pairs per training batch", "optim.milestones=[6]", "model=flow",
                 "real.render=native     native | decoder"):
        assert line in text
    assert "_target_" not in text and "system" not in text


def test_help_lists_the_declared_choices_first():
    text = options_help(SCHEMAS["evaluate"])
    assert "render=native          native | decoder | both: " in text
    assert "real.sheets=true" in text


@pytest.mark.parametrize("command,validate,overrides,expected", [
    ("evaluate", validate_evaluate, ["render=bot", "face_every=0", "real.sheets=maybe"],
     ["render='bot' is not valid; valid: native, decoder, both", "face_every=0 must be > 0",
      "real.sheets='maybe' must be true or false"]),
    ("export", validate_export, ["format=tflite", "check=sometimes"],
     ["format='tflite' is not valid; valid: onnx", "check='sometimes' must be true or false"]),
    ("augment", validate_augment, ["per_clip=0", "holdout=s01", "device=tpu", "batch_size=auto"],
     ["per_clip=0 must be > 0", "holdout='s01' must be a list", "device='tpu' is not valid"]),
])
def test_every_bad_value_is_named_at_once(command, validate, overrides, expected):
    validate(_compose(command))
    with pytest.raises(ConfigError) as err:
        validate(_compose(command, *overrides))
    assert len(err.value.problems) == len(expected)
    for problem, want in zip(err.value.problems, expected):
        assert problem.startswith(want), problem


def test_a_bad_export_value_is_one_line_and_exit_2(tmp_path):
    out = run_module("megen.export", "ckpt=none.ckpt", "format=tflite", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: format='tflite' is not valid; valid: onnx"


def test_a_fields_type_is_its_check():
    from dataclasses import dataclass
    from typing import Any

    from megen.config.choices import Render
    from megen.config.schema import option

    @dataclass
    class Options:
        render: Render = option("native", "how")
        size: int | None = option(None, "px", positive=True)
        gain: float = option(1.0, "scale", low=0)
        on: bool = option(True, "switch")
        names: list = option(list, "names")
        free: str = option("x", "text")
        kit: str | None = option(None, "a protocol", choices=("a", "b"))
        anything: Any = option(None, "checked by code")

    kinds = {f.name: option_kind(Options, f) for f in fields(Options)}
    assert kinds == {"render": ("str", Render), "size": ("whole", None), "gain": ("number", None),
                     "on": ("bool", None), "names": ("list", None), "free": ("str", None), "kit": ("str", ("a", "b")),
                     "anything": ("any", None)}

    @dataclass
    class Wrong:
        pair: tuple = option((1, 2), "a type with no check")

    with pytest.raises(TypeError, match="Wrong.pair"):
        option_kind(Wrong, fields(Wrong)[0])


@pytest.mark.parametrize("command", sorted(SCHEMAS))
def test_every_option_has_a_checkable_type_and_the_store_holds_an_untyped_twin(command):
    from typing import Any

    from megen.config.schema import untyped

    def walk(schema):
        twin = untyped(schema)
        assert [f.name for f in fields(twin)] == [f.name for f in fields(schema)]
        assert all(f.type is Any for f in fields(twin))
        for f in fields(schema):
            if option_kind(schema, f)[0] == "section":
                walk(f.default_factory)

    walk(SCHEMAS[command])


def test_every_bad_value_is_reported_at_once_despite_the_types():
    """OmegaConf would stop at the first value that does not fit a typed field; the check names all of them."""
    from megen.config.check import validate_generate

    cfg = _compose("generate", "render=nativ", "relative=maybe", "gain=lots", "batch_size=0")
    with pytest.raises(ConfigError) as err:
        validate_generate(cfg)
    assert len(err.value.problems) == 4, err.value.problems
    assert {p.split("=")[0] for p in err.value.problems} == {"render", "relative", "gain", "batch_size"}


def test_a_bad_loss_value_is_named_by_its_declared_type():
    from megen.config.check import validate_train
    from megen.config.compose import compose_train

    cfg = compose_train("loss.weights.flow=-1", "loss.flow_normalise=maybe", "loss.equivariance.points_tps=2.5",
                        "loss.nonfinite=ignore")
    with pytest.raises(ConfigError) as err:
        validate_train(cfg)
    problems = [p for p in err.value.problems if p.startswith("loss.")]
    assert [p.split("=")[0] for p in problems] == ["loss.weights.flow", "loss.flow_normalise",
                                                     "loss.nonfinite", "loss.equivariance.points_tps"]
