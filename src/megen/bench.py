"""``python -m megen.bench <case> [...]``: speed measurements quoted in issue notes (never asserted in tests).

Cases:
    synthetic   time ``prepare`` of the default synthetic set into a fresh temporary cache
"""
from __future__ import annotations

import argparse
import tempfile
import time

from omegaconf import OmegaConf


def bench_synthetic(args) -> None:
    from megen.data.preparation import prepare_dataset
    from megen.paths import conf_dir

    cfg = OmegaConf.load(conf_dir() / "dataset" / "synthetic.yaml")
    for item in args.overrides:
        key, value = item.split("=", 1)
        OmegaConf.update(cfg, key, _parse(value))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        _, summary = prepare_dataset(cfg, tmp, progress=False)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        prepare_dataset(cfg, tmp, progress=False)
        warm = time.perf_counter() - start
    print(f"prepare-synthetic clips={summary['clips']} frame_size={cfg.frame_size} cold_s={cold:.2f} reuse_s={warm:.2f}")


def _parse(value: str):
    import yaml

    return yaml.safe_load(value)


CASES = {"synthetic": bench_synthetic}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m megen.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("overrides", nargs="*", help="key=value settings of the case's config")
    args = parser.parse_args(argv)
    CASES[args.case](args)


if __name__ == "__main__":
    main()
