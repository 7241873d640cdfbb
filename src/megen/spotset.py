"""``python -m megen.spotset targets=<videos> out=<folder>``: a spotting dataset, driving clips' micro-expressions
inserted into many long videos at random, seeded times, with one annotation file over all of them
(``megen.spotting``).

    python -m megen.spotset targets=talks/ out=spotting/ dataset=casme2 spotset.per_video=3 spotset.gain=[0.5,2]
    python -m megen.spotset targets=[a.mp4,b.mp4] out=spotting/ spotset.driving=[x.mp4,y.mp4,z.mp4]

The ``spotset.*`` settings are ``conf/spotset.yaml``; every other override is the train config's (``dataset=``,
``dataset.root=``), whose prepared clips drive when ``spotset.driving`` is null. A bad key or value is one line on
stderr and exit status 2.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from megen.config.compose import ComposeError, compose_settings, compose_train
from megen.data.cache import CacheError
from megen.runtime.cli import user_errors


def build(cfg, overrides: list[str]) -> Path:
    from megen.config.check import check_spotset
    from megen.models.microflow import flow_estimator
    from megen.spotting.dataset import SpotsetSettings, build_spotset, target_videos

    check_spotset(cfg)
    settings = cfg.spotset
    videos = target_videos(list(settings.targets) if not isinstance(settings.targets, str) else settings.targets)
    train = compose_train(*overrides, *([] if any(o.startswith("dataset.guides=") for o in overrides)
                                        else ["dataset.guides=false"]))
    clips, cache = settings.driving, train.paths.cache_dir
    if clips is None:
        from megen.data.cache import PreparedSet
        from megen.data.preparation import prepare_dataset

        folder, _ = prepare_dataset(train.dataset, cache, data_dir=train.paths.get("data_dir"))
        clips = [f"{folder}:{row['clip']}" for row in PreparedSet.open(folder).rows]
    clips = [str(c) for c in ([clips] if isinstance(clips, str) else clips)]
    plan = SpotsetSettings(int(settings.per_video), tuple(float(g) for g in settings.gain), float(settings.spacing_s),
                           float(settings.margin_s), settings.duration_ms, int(settings.seed))
    out = build_spotset(videos, clips, settings.out, plan, cache, settings.target_fps,
                        flow_estimator(settings.estimator), settings.retarget)
    print(f"{out}: {len(videos)} videos, annotations_casme_sq.csv, annotations_samm_lv.csv, spotset.json")
    return out


def main(argv=None) -> None:
    from megen.spotting.insertion import InsertionError

    parser = argparse.ArgumentParser(prog="python -m megen.spotset", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("args", nargs="*", help="targets=, out=, spotset.<key>=value and the train config's overrides")
    args = parser.parse_args(argv)
    with user_errors(ComposeError, CacheError, InsertionError, ValueError, OSError):
        items = [f"spotset.{a}" if a.startswith(("out=", "targets=")) else a for a in args.args]
        cfg, train = compose_settings("spotset", "spotset", items)
        build(cfg, train)


if __name__ == "__main__":
    main()
