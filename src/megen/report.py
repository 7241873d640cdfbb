"""``python -m megen.report <multirun folder>``: one markdown table and a plot from many runs.

A run is any folder holding a ``metrics.json`` (written by ``megen.train`` or ``megen.evaluate``);
its swept settings come from Hydra's ``.hydra/overrides.yaml`` beside it. Runs whose overrides
differ only in ``seed`` are one variant: the table shows each metric's mean ± sample sd over them.
"""
from __future__ import annotations

import argparse

from megen.studies.report import report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m megen.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="a Hydra multirun folder (or any folder of runs)")
    parser.add_argument("--caption", default="", help="a line written above the table")
    parser.add_argument("--runs", action="store_true", help="add the per-run table under the variant table")
    parser.add_argument("--by-driver", action="store_true",
                        help="add the real pairs' scores per driving clip (real_cosine@<clip>, ...)")
    parser.add_argument("--by-estimator", action="store_true",
                        help="add the real pairs' cosine and amplitude under each estimator (real_cosine/<estimator>, ...)")
    args = parser.parse_args(argv)
    report(args.folder, args.caption, per_run=args.runs, by_driver=args.by_driver, by_estimator=args.by_estimator)


if __name__ == "__main__":
    main()
