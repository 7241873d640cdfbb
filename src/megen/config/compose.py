"""Composing a command's config outside a Hydra main (benchmarks, diagnostics, tests): the train config, or
any ``conf/<name>.yaml`` (bench's and diagnose's settings), with Hydra's own errors as one line."""
from __future__ import annotations


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


def compose_settings(name: str, node: str, overrides) -> tuple:
    """A command's own settings beside the train config's overrides: the ``<node>.*`` items of ``overrides``
    composed into ``conf/<name>.yaml`` (``ComposeError`` if Hydra cannot), and the other items, left for
    the train config. Returns ``(composed config, train overrides)``."""
    ours = [item for item in overrides if item.lstrip("+~").startswith(f"{node}.")]
    return compose_config(name, *ours), [item for item in overrides if item not in ours]


def instantiate(node, **kwargs):
    """``hydra.utils.instantiate`` that raises the constructor's own error (which names the bad file
    or setting) rather than Hydra's wrapper around it."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate as hydra_instantiate

    try:
        return hydra_instantiate(node, **kwargs)
    except InstantiationException as err:
        if isinstance(err.__cause__, Exception):
            raise err.__cause__ from None
        raise
