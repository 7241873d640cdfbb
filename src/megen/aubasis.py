"""``python -m megen.aubasis fit dataset=<set> out=<folder>``: fit an AU motion basis from a prepared set's coded
clips (``megen.expression``), one file that ``python -m megen.generate method=au basis=<file>`` reads.

    python -m megen.aubasis fit dataset=synthetic out=bases/synthetic
    python -m megen.aubasis fit dataset=casme2 dataset.frame_size=256 out=bases/casme2
    python -m megen.aubasis show <file>

The ``aubasis.*`` settings are ``conf/aubasis.yaml``; every other override is the train config's (``dataset=``,
``dataset.root=``). A bad key or value, an AU-less set or a damaged file is one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from megen.config.compose import ComposeError, compose_settings, compose_train
from megen.data.cache import CacheError
from megen.runtime.cli import user_errors

BASIS_FILE = "au_basis.npz"


def fit(settings, overrides: list[str]) -> Path:
    from megen.data.preparation import prepare_dataset
    from megen.expression import save_basis
    from megen.expression.clips import FLOW_SOURCES, prepared_clip_flows
    from megen.expression.fit import fit_basis
    from megen.face.choices import HeadMotion, Retarget
    from megen.models.microflow import flow_estimator

    if not settings.out:
        raise ValueError("out=<folder> is required: the basis file is written there")
    for key, value, valid in (("flow", settings.flow, FLOW_SOURCES), ("retarget", settings.retarget, Retarget.values()),
                              ("head", settings.head, HeadMotion.values())):
        if value not in valid:
            raise ValueError(f"aubasis.{key}={value}: expected one of {', '.join(valid)}")
    if not (isinstance(settings.min_clips, int) and settings.min_clips >= 1):
        raise ValueError(f"aubasis.min_clips={settings.min_clips}: expected a whole number >= 1")
    if not (isinstance(settings.ridge, (int, float)) and settings.ridge >= 0):
        raise ValueError(f"aubasis.ridge={settings.ridge}: expected a number >= 0")
    rounds = settings.strength_rounds
    if not (isinstance(rounds, int) and not isinstance(rounds, bool) and rounds >= 0):
        raise ValueError(f"aubasis.strength_rounds={rounds}: expected a whole number >= 0")
    # the basis needs no training guides: a synthetic set is prepared without them unless asked
    if not any(o.lstrip("+~").startswith("dataset.guides=") for o in overrides):
        overrides = [*overrides, "dataset.guides=false"]
    train = compose_train(*overrides)
    folder, _ = prepare_dataset(train.dataset, train.paths.cache_dir, data_dir=train.paths.get("data_dir"))
    clips, skipped = prepared_clip_flows(folder, settings.flow, flow_estimator(settings.estimator))
    name = str(train.dataset.name)
    basis = fit_basis(clips, min_clips=int(settings.min_clips), ridge=float(settings.ridge), retarget=settings.retarget,
                      head=settings.head, strength_rounds=int(rounds),
                      provenance={"dataset": name, "prepared": str(folder), "flow": settings.flow,
                                  "estimator": settings.estimator, "skipped": len(skipped)})
    path = save_basis(basis, Path(settings.out) / BASIS_FILE)
    print(summary(basis))
    print(f"basis: {path}")
    return path


def summary(basis) -> str:
    """What a basis holds, in a few lines."""
    p = basis.provenance
    lines = [f"AU basis of {p.get('dataset')}: {p.get('clips')} coded clips, {len(basis.aus)} AUs, "
             f"{basis.size}-px canonical face, flow {p.get('flow')} ({p.get('estimator')})"]
    peak = {a: float((basis.fields[i] ** 2).sum(-1).max() ** 0.5) for i, a in enumerate(basis.aus)}
    lines += [f"  {a}: {p['clips_per_au'][a]} clips, peak {peak[a]:.2f} px, rise {basis.timing([a])[0]:.0f} ms, "
              f"fall {basis.timing([a])[1]:.0f} ms" for a in basis.aus]
    if p.get("refused"):
        lines.append("  refused (under min_clips={}): {}".format(
            p.get("min_clips"), ", ".join(f"{a} {n} clip(s)" for a, n in p["refused"].items())))
    lines += [f"  emotion {k}: {'+'.join(v['aus'])} ({v['count']} of {v['clips']} clips)" for k, v in basis.emotion_aus.items()]
    return "\n".join(lines)


def show(path: str) -> None:
    from megen.expression import load_basis

    basis = load_basis(path)
    print(summary(basis))
    print(json.dumps({k: v for k, v in basis.provenance.items() if k not in ("clips_per_au", "refused")}, indent=1))


def main(argv=None) -> None:
    from megen.expression import BasisError

    parser = argparse.ArgumentParser(prog="python -m megen.aubasis", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("fit", "show"))
    parser.add_argument("args", nargs="*", help="fit: out=<folder>, aubasis.<key>=value and the train config's "
                                                "overrides; show: the basis file")
    args = parser.parse_args(argv)
    with user_errors(ComposeError, CacheError, BasisError, ValueError, OSError):
        if args.command == "show":
            if len(args.args) != 1:
                raise ValueError("show takes one basis file: python -m megen.aubasis show <file>")
            return show(args.args[0])
        items = [f"aubasis.{a}" if a.startswith("out=") else a for a in args.args]
        cfg, train = compose_settings("aubasis", "aubasis", items)
        fit(cfg.aubasis, train)


if __name__ == "__main__":
    main()
