"""Composing the train config outside a Hydra main (benchmarks, diagnostics, tests), and reading
``<prefix>.<name>=value`` settings beside its overrides."""
from __future__ import annotations


def parse_value(value: str):
    """A command-line value as YAML reads it (``3`` -> 3, ``true`` -> True, ``[1,2]`` -> a list)."""
    import yaml

    return yaml.safe_load(value)


def split_settings(overrides, prefix: str, defaults: dict) -> tuple[dict, list[str]]:
    """``<prefix>.<name>=value`` items into a copy of ``defaults`` (values parsed as YAML); the rest are
    the train config's Hydra overrides. An unknown name exits with the valid ones."""
    settings, rest = dict(defaults), []
    for item in overrides:
        key, value = item.split("=", 1)
        if not key.startswith(prefix + "."):
            rest.append(item)
            continue
        name = key[len(prefix) + 1:]
        if name not in settings:
            raise SystemExit(f"unknown setting {key}; valid: {', '.join(f'{prefix}.{k}' for k in settings)}")
        settings[name] = parse_value(value)
    return settings, rest


def compose_train(*overrides, run_dir: str = "/tmp/unused"):
    """The train config composed outside a Hydra main (benchmarks, diagnostics, tests), with ``overrides``
    (``run_dir`` stands in for the run folder Hydra would have made); ``ComposeError`` if Hydra cannot."""
    return compose_config("train", *overrides, f"run_dir={run_dir}")


class ComposeError(ValueError):
    """Overrides Hydra cannot apply: its first line (``Could not override 'bench.sise'.``)."""


def compose_config(name: str, *overrides):
    """``conf/<name>.yaml`` composed outside a Hydra main with ``overrides``; raises ``ComposeError`` with
    Hydra's first line where a key or value cannot be applied."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from megen.config.schema import register
    from megen.runtime.paths import conf_dir

    register()     # the commands' options schemas, which conf/<command>.yaml list first
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            return compose(name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as err:
        raise ComposeError(str(err).strip().splitlines()[0]) from None
