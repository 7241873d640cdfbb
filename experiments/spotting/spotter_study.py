"""The baseline spotter on generated spotting data: tuned on some identities and driving clips, scored on
others, against the interval length and the gain, beside random intervals.

Driving clips: the synthetic set rendered at 256 px at the real clips' scale (``dataset.apex_px_at=256``),
split by subject (the first half tunes, the second half tests). Target videos: talking-head-like videos of
pseudo-identities (``megen.synthetic.identities``) of one photo for tuning and the other for testing, with
smooth random head motion. Each 10-s video gets 3 insertions at random, seeded times (``megen.spotting``) at one
(gain, duration); the spotter's threshold is the one with the best F1 on the tuning videos (its k follows the
duration), and the test F1 (MEGC rule, IoU >= 0.5) is reported per (gain, duration) over seeds, beside random
intervals of the same count and length.

    python experiments/spotting/spotter_study.py --cache /tmp/spotcache --out /tmp/spotter.json
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from megen.spotting.insertion import random_starts
from megen.spotting.scoring import spotting_scores
from megen.spotting.spotter import SpotterSettings, motion_signal, random_intervals, spot_intervals
from megen.spotting.video_target import insert_into_video, plan_insertion
from megen.synthetic.identities import base_face, embedded_photo_paths, make_identity

sys.path.insert(0, str(Path(__file__).parent))
from study import talking_video  # noqa: E402

VIDEO_FPS, N_FRAMES, PER_VIDEO = 30.0, 300, 3
GAINS, DURATIONS_MS = (0.5, 1.0, 2.0), (100, 200, 400)
THRESHOLDS = tuple(np.round(np.arange(0.05, 0.96, 0.05), 2))


def prepared_clips(cache: Path) -> tuple[list[str], list[str]]:
    """The synthetic set at 256 px, real-scale motion, no guides: (tuning specs, testing specs) by subject."""
    subprocess.run([sys.executable, "-m", "megen.prepare", "dataset=synthetic", "dataset.frame_size=256",
                    "dataset.apex_px_at=256", "dataset.guides=false", "dataset.n_subjects=12",
                    "dataset.clips_per_subject=3", f"paths.cache_dir={cache}"], check=True)
    folder = next(f for f in sorted(cache.glob("synthetic-*")) if (f / "manifest.csv").is_file())
    rows = list(csv.DictReader((folder / "manifest.csv").open()))
    subjects = sorted({r["subject"] for r in rows})
    half = set(subjects[: len(subjects) // 2])
    tune = [f"synthetic:{r['clip']}" for r in rows if r["subject"] in half]
    test = [f"synthetic:{r['clip']}" for r in rows if r["subject"] not in half]
    return tune, test


def spotting_video_of(photo: int, seed: int, clips: list[str], gain: float, duration_ms: float, cache: Path):
    """(frames, truth intervals) of one generated spotting video."""
    rng = np.random.default_rng([seed, photo, int(gain * 10), int(duration_ms)])
    identity = make_identity(base_face(str(embedded_photo_paths()[photo]), 384), rng, f"id{photo}")
    face = np.repeat((identity.image * 255).round().astype(np.uint8)[..., None], 3, axis=2)
    video = talking_video(N_FRAMES, VIDEO_FPS, seed, image=face)
    chosen = [clips[i] for i in rng.choice(len(clips), PER_VIDEO, replace=False)]
    plans = [plan_insertion(c, VIDEO_FPS, cache, gain=gain, duration_ms=duration_ms) for c in chosen]
    starts = random_starts(len(video), [len(p.flows) for p in plans], rng, spacing=30, margin=15)
    frames, truth = insert_into_video(video, VIDEO_FPS, plans, starts, video_name="v")
    return frames, truth


def k_for(duration_ms: float) -> int:
    """Half the interval's length in frames at the video's rate, at least 1."""
    return max(1, int(round(duration_ms / 1000.0 * VIDEO_FPS / 2)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    tune_clips, test_clips = prepared_clips(args.cache)
    rows = []
    for seed in args.seeds:
        for gain in GAINS:
            for duration in DURATIONS_MS:
                k = k_for(duration)
                signals = {}
                for split, photo, clips in (("tune", 0, tune_clips), ("test", 1, test_clips)):
                    frames, truth = spotting_video_of(photo, seed, clips, gain, duration, args.cache)
                    signals[split] = (motion_signal(frames, SpotterSettings(k=k)), truth)
                tuned = max(THRESHOLDS, key=lambda p: spotting_scores(
                    signals["tune"][1], [("v", a, b) for a, b in spot_intervals(
                        signals["tune"][0], SpotterSettings(k=k, threshold=float(p)))])["f1"])
                signal, truth = signals["test"]
                spotted = spot_intervals(signal, SpotterSettings(k=k, threshold=float(tuned)))
                scores = spotting_scores(truth, [("v", a, b) for a, b in spotted])
                rng = np.random.default_rng(seed)
                length = int(np.mean([t.offset - t.onset + 1 for t in truth]))
                chance = np.mean([spotting_scores(truth, [("v", a, b) for a, b in random_intervals(
                    len(signal), max(len(spotted), 1), length, rng)])["f1"] for _ in range(100)])
                row = {"seed": seed, "gain": gain, "duration_ms": duration, "k": k, "threshold": float(tuned),
                       "interval_frames": length, **scores, "random_f1": float(chance)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": rows}, indent=2))
    for gain in GAINS:
        for duration in DURATIONS_MS:
            got = [r for r in rows if r["gain"] == gain and r["duration_ms"] == duration]
            f1, chance = np.array([r["f1"] for r in got]), np.array([r["random_f1"] for r in got])
            print(f"gain {gain:g}, {duration} ms ({got[0]['interval_frames']} frames): F1 {f1.mean():.2f} ± "
                  f"{f1.std(ddof=1) if len(f1) > 1 else 0:.2f}, random {chance.mean():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
