"""``python -m megen.diagnose <case> [overrides]``: does a configuration learn, and what drives it.

Cases:
    fit         the 4 synthetic pairs with the most motion fitted for ``fit.steps=240`` updates (the
                learning test's setting), rMTE and flow EPE over zero flow's printed before and every
                ``fit.report_every=120`` (e.g. ``model=mraa``, ``model=mraa model.motion.region_shape=frame``)
    gradients   one training batch of the train config: each loss term's gradient norm on each network,
                its share of the sum over terms, and the predicted against the true motion

The ``fit.*`` settings are ``conf/diagnose.yaml``; every other override is the train config's (Hydra syntax).
A bad key or value is one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse

from megen.config.check import ConfigError, validate_diagnose
from megen.config.compose import ComposeError, compose_settings
from megen.runtime.cli import user_errors


def main(argv=None) -> None:
    from megen.training.diagnostics import print_fit, print_gradients

    cases = {"fit": print_fit, "gradients": print_gradients}
    parser = argparse.ArgumentParser(prog="python -m megen.diagnose", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=sorted(cases))
    parser.add_argument("overrides", nargs="*", help="fit.<key>=value settings and the train config's overrides")
    args = parser.parse_args(argv)
    with user_errors(ComposeError, ConfigError):     # the train overrides are composed (and checked) by the case
        cfg, train = compose_settings("diagnose", "fit", args.overrides)
        validate_diagnose(cfg)
        cases[args.case](cfg.fit, train)


if __name__ == "__main__":
    main()
