"""The baseline spotter on a database's long videos (CAS(ME)², SAMM Long Videos; ``megen.data.readers.long_videos``)
scored with the MEGC rule beside randomly placed intervals: ``python -m megen.evaluate spotting.root=<folder>``.

Frames are read one at a time, so a SAMM long video (thousands of 2K frames) never sits in memory whole. The
spotter's k follows each video's rate: half of ``interval_ms`` in frames.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from megen.data.readers.long_videos import LongVideo, LongVideoSet
from megen.data.records import SpottedInterval
from megen.runtime.io import atomic_write_text
from megen.runtime.video import read_image
from megen.spotting.annotations import write_annotations
from megen.spotting.scoring import spotting_scores
from megen.spotting.spotter import SpotterSettings, motion_signal, random_intervals, spot_intervals

KINDS = ("micro", "macro", "all")
RANDOM_DRAWS = 100


def frames_k(fps: float, interval_ms: float) -> int:
    """Half an interval of ``interval_ms`` in frames at ``fps``, at least 1."""
    return max(1, int(round(interval_ms / 1000.0 * fps / 2)))


def spot_video(video: LongVideo, settings: SpotterSettings, realign_s: float | None = 1.0) -> tuple[np.ndarray, list]:
    """The spotter's signal (N,) over ``video`` and its spotted intervals as (video, onset, offset) 0-based."""
    frames = (read_image(path) for path in video.frames)
    realign = max(1, int(round(realign_s * video.fps))) if realign_s else None
    signal = motion_signal(frames, settings, realign=realign)
    return signal, [(video.name, a, b) for a, b in spot_intervals(signal, settings)]


def evaluate_long_videos(videos: LongVideoSet, out_dir, layout: str, base: SpotterSettings = SpotterSettings(),
                         interval_ms: float = 300.0, kind: str = "micro", realign_s: float | None = 1.0,
                         seed: int = 0, progress=None) -> dict:
    """Spot every video of ``videos``, score against its ``kind`` intervals (``KINDS``) and against randomly placed
    intervals of the spotter's length and count (``RANDOM_DRAWS`` draws, seeded); write ``spotting.json`` and the
    spotted intervals as ``spotted_<layout>.csv`` into ``out_dir``. Returns the JSON's content."""
    if kind not in KINDS:
        raise ValueError(f"spotting.kind={kind!r}: expected one of {', '.join(KINDS)}")
    out_dir = Path(out_dir)
    truth, spotted, per_video, chance = [], [], [], []
    rng = np.random.default_rng(seed)
    for i, video in enumerate(videos.videos):
        settings = replace(base, k=frames_k(video.fps, interval_ms))
        signal, found = spot_video(video, settings, realign_s)
        coded = [t for t in video.intervals if kind == "all" or t.kind == kind]
        truth += coded
        spotted += found
        chance.append([random_intervals(len(signal), len(found), 2 * settings.k + 1, rng)
                       for _ in range(RANDOM_DRAWS)])
        per_video.append({"video": video.name, "frames": len(signal), "fps": video.fps, "k": settings.k,
                          "truth": len(coded), "spotted": len(found),
                          **{key: v for key, v in spotting_scores(coded, found).items() if key in ("tp", "f1")}})
        if progress is not None:
            progress(f"[{i + 1}/{len(videos.videos)}] {video.name}: {len(found)} spotted, {len(coded)} coded")
    scores = spotting_scores(truth, spotted)
    random_f1 = [spotting_scores(truth, [(v.name, a, b) for v, draws in zip(videos.videos, chance)
                                         for a, b in draws[d]])["f1"] for d in range(RANDOM_DRAWS)]
    result = {"layout": layout, "kind": kind, "interval_ms": interval_ms, "realign_s": realign_s,
              "spotter": {key: v for key, v in asdict(base).items() if key != "k"}, "videos": len(videos.videos), **scores,
              "random_f1": float(np.mean(random_f1)), "random_f1_sd": float(np.std(random_f1)),
              "skipped": videos.skipped, "per_video": per_video}
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "spotting.json", json.dumps(result, indent=2))
    counts = Counter()        # each video's intervals numbered from 1, as the layouts write them
    numbered = []
    for v, a, b in spotted:
        counts[v] += 1
        numbered.append(SpottedInterval(v, a, (a + b) // 2, b, number=counts[v]))
    write_annotations(out_dir / f"spotted_{layout}.csv", numbered, layout)
    return result


def spot_database(spotting: dict, out_dir, progress=print, each_video: bool = True) -> dict:
    """``evaluate_long_videos`` on the database that ``spotting`` (``python -m megen.evaluate``'s ``spotting.*``:
    root, layout, sheet, kind, interval_ms, threshold, flow, size, realign_s, max_videos) names; ``progress``
    hears what was read and, with ``each_video``, every video spotted."""
    from megen.data.readers.long_videos import read_long_videos

    videos = read_long_videos(spotting["root"], spotting["layout"], spotting.get("sheet"))
    if spotting.get("max_videos"):
        videos.videos = videos.videos[:int(spotting["max_videos"])]
    progress(f"{len(videos.videos)} videos in {spotting['root']} ({spotting['layout']}); {len(videos.skipped)} sheet "
             f"rows or folders skipped" + (f", e.g. {videos.skipped[0]}" if videos.skipped else ""))
    settings = SpotterSettings(threshold=float(spotting["threshold"]), size=int(spotting["size"]),
                               flow=str(spotting["flow"]))
    return evaluate_long_videos(videos, out_dir, str(spotting["layout"]), settings, float(spotting["interval_ms"]),
                                str(spotting["kind"]), spotting["realign_s"],
                                progress=progress if each_video else None)


def summary(result: dict) -> str:
    """One line: the spotter's F1 and its parts beside the random intervals'."""
    return (f"{result['kind']} expressions: F1 {result['f1']:.3f} (precision {result['precision']:.3f}, recall "
            f"{result['recall']:.3f}; {result['tp']} of {result['truth']} coded, {result['spotted']} spotted); random "
            f"intervals F1 {result['random_f1']:.3f} ± {result['random_f1_sd']:.3f}")


__all__ = ["KINDS", "evaluate_long_videos", "frames_k", "spot_database", "spot_video", "summary"]
