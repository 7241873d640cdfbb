"""``python -m megen.generate target=<video> driving=<clip> at=<time>``: micro-expressions inserted into a long
video of another person, written with their spotting ground truth.

The output folder holds the video's every frame as lossless PNG (``frames/00001.png``, numbered from 1 as the
annotations are), an MP4 to watch, the intervals in both long-video layouts
(``megen.spotting.annotations``), and ``insertions.json`` with what each insertion was made from.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from megen.animation.driving import load_driving
from megen.animation.errors import GenerationError
from megen.animation.pair import capture_rate, find_face
from megen.face.flow import driver_flows
from megen.face.landmarks import FaceNotFoundError, detect_landmarks, to_gray_uint8
from megen.runtime.io import atomic_write_text
from megen.runtime.video import frame_paths, read_image, read_video, write_png, write_video
from megen.spotting.annotations import LAYOUTS, SpottedInterval, write_annotations
from megen.spotting.insertion import (
    InsertionError,
    driver_apex,
    expression_flows,
    insert_window,
    insertion_apex,
    plan_windows,
    release_start,
    released,
    resampled_expression,
    track_face,
)

_FRAME_AT = re.compile(r"^\s*(\d+)\s*f\s*$")
_SECONDS_AT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*s?\s*$")


def at_frame(value, fps: float) -> int:
    """An ``at=`` value as a 0-based frame of a video at ``fps``: seconds (``2.5``, ``2.5s``) or a frame
    (``75f``)."""
    text = str(value)
    frame = _FRAME_AT.match(text)
    if frame:
        return int(frame.group(1))
    seconds = _SECONDS_AT.match(text)
    if seconds:
        return int(round(float(seconds.group(1)) * fps))
    raise InsertionError(f"at={value}: expected seconds (2.5 or 2.5s) or a frame number (75f)")


def read_target_video(path, fps: float | None = None) -> tuple[list[np.ndarray], float]:
    """A long video's frames (N of (H, W, 3) uint8) and its rate: a video file's own unless ``fps`` is given; a
    folder of frames needs ``fps``."""
    path = Path(path)
    if path.is_dir():
        if not fps:
            raise GenerationError(f"target={path} is a folder of frames: pass target_fps= (its frame rate)")
        frames = [np.asarray(read_image(p)) for p in frame_paths(path)]
        frames = [f if f.ndim == 3 else np.repeat(f[..., None], 3, axis=2) for f in frames]
        return [f[..., :3] for f in frames], float(fps)
    frames, rate = read_video(path)
    if not (fps or rate):
        raise GenerationError(f"target={path} records no frame rate: pass target_fps=")
    return frames, float(fps or rate)


@dataclass
class PlannedInsertion:
    """One driving clip's expression, resampled to the video's rate, and where it lands."""

    driving: str
    flows: np.ndarray               # (M, S, S, 2): the expression at each window frame's time, driver's crop
    driver_landmarks: np.ndarray    # (68, 2) in the driver's crop
    driver_fps: float
    fps_source: str
    n_driver: int
    apex_in_window: int
    labels: dict


def plan_insertion(spec: str, video_fps: float, cache_dir=None, fps: float | None = None, measure=None,
                   gain: float = 1.0, regions=None, duration_ms: float | None = None) -> PlannedInsertion:
    """A driving clip (frames folder, video or ``<dataset>:<clip>``) measured by ``measure`` (an estimator of
    ``megen.ops.flow``; None: Farnebäck, the flow transfer's) and made ready to insert into a video at ``video_fps``.

    A prepared clip is cut to its labelled onset..offset, with its labelled apex; others run from their first
    frame to their last, their apex the frame that moves the face most."""
    clip = load_driving(spec, cache_dir)
    labels = dict(clip.labels or {})
    frames = clip.frames
    onset, offset = 0, len(frames) - 1
    if labels.get("onset") not in (None, "") and labels.get("offset") not in (None, ""):
        onset, offset = int(labels["onset"]), min(int(labels["offset"]), len(frames) - 1)
    frames = frames[onset:offset + 1]
    if len(frames) < 2:
        raise GenerationError(f"driving={spec}: {len(frames)} frame(s) from onset to offset; at least 2 are needed")
    landmarks = clip.landmarks if clip.landmarks is not None and onset == 0 else None
    if landmarks is None:
        landmarks = find_face(frames[0], f"{spec} (onset frame)")
    driver = driver_flows(frames, landmarks, **({"estimator": measure} if measure is not None else {}))
    rate, source = capture_rate(fps, clip.fps, str(labels.get("dataset", "")))
    apex = int(labels["apex"]) - onset if str(labels.get("apex", "")).lstrip("-").isdigit() else -1
    if not 0 <= apex < len(frames):
        apex = driver_apex(expression_flows(driver), driver.landmarks)
    flows = resampled_expression(driver, rate, video_fps, gain, regions, duration_ms)
    # released from the apex (or earlier, for a clip still moving at its end): the apex is where the release starts
    window_apex = release_start(len(flows), insertion_apex(apex, len(frames), rate, video_fps, duration_ms))
    return PlannedInsertion(spec, released(flows, window_apex), driver.landmarks, rate, source, len(frames),
                            window_apex, labels)


def _detect(frame: np.ndarray, source: str):
    try:
        return detect_landmarks(to_gray_uint8(frame), fallback=True, source=source)
    except FaceNotFoundError:
        return None


def window_landmarks(span: list[np.ndarray], first: int = 0, video_name: str = "video") -> np.ndarray:
    """(M, 68, 2) the face's landmarks through a window of frames ``span`` (video frames ``first``..), detected in
    each and tracked rigidly on the images (``megen.spotting.insertion.track_face``); an InsertionError naming the
    frames when no frame has a face."""
    try:
        return track_face(span, [_detect(f, f"{video_name} frame {first + j}") for j, f in enumerate(span)])
    except InsertionError as err:
        raise InsertionError(f"{video_name}, frames {first}-{first + len(span) - 1}: {err}") from None


def insert_into_video(video: list[np.ndarray], video_fps: float, plans: list[PlannedInsertion], starts: list[int],
                      retarget: str = "similarity", video_name: str = "video") -> tuple[list[np.ndarray], list]:
    """``video`` (N of (H, W[, C]) uint8) with each plan's expression inserted from frame ``starts[i]``: the new
    frame list (frames outside the windows are the same objects, untouched) and the ``SpottedInterval``s, in the
    order of ``starts``."""
    windows = plan_windows(starts, [len(p.flows) for p in plans], [p.apex_in_window for p in plans], len(video))
    out = list(video)
    intervals = []
    for number, (plan, window) in enumerate(sorted(zip(plans, windows), key=lambda pw: pw[1].start), start=1):
        span = [video[k] for k in window.frames()]
        tracked = window_landmarks(span, window.start, video_name)
        for k, frame in zip(window.frames(), insert_window(span, tracked, plan.flows, plan.driver_landmarks, retarget)):
            out[k] = frame
        labels = plan.labels
        source = f"{labels['dataset']}:{labels['clip']}" if labels.get("dataset") and labels.get("clip") else plan.driving
        intervals.append(SpottedInterval(video_name, window.start, window.apex, window.offset, subject=video_name,
                                         action_units=str(labels.get("action_units") or ""),
                                         emotion=str(labels.get("emotion") or ""), source=source, number=number))
    return out, intervals


def write_spotting_video(out_dir, name: str, frames: list[np.ndarray], fps: float, intervals: list,
                         record: dict) -> Path:
    """``<out_dir>/<name>/``: frames/ (lossless PNG from 00001), ``<name>.mp4``, the annotations in every layout
    of ``megen.spotting.annotations.LAYOUTS`` and ``insertions.json``."""
    folder = Path(out_dir) / name
    for k, frame in enumerate(frames, start=1):
        write_png(folder / "frames" / f"{k:05d}.png", frame)
    write_video(folder / f"{name}.mp4", np.stack(frames), fps)
    for layout in LAYOUTS:
        write_annotations(folder / f"annotations_{layout}.csv", intervals, layout)
    atomic_write_text(folder / "insertions.json", json.dumps(record, indent=2))
    return folder


def spotting_video(target, drivings: list[str], at: list, out_dir, cache_dir=None, target_fps: float | None = None,
                   fps: float | None = None, estimator: tuple = (None, None), gain: float = 1.0, regions=None,
                   duration_ms: float | None = None, retarget: str = "similarity", name: str | None = None) -> Path:
    """Insert ``drivings[i]`` at ``at[i]`` (seconds or ``<frame>f``; one driving clip for every ``at`` when a
    single one is given) into the video ``target`` and write it (``write_spotting_video``). ``estimator``: (name,
    checkpoint) of ``megen.models.microflow.flow_estimator`` measuring the drivers; ``gain``, ``regions``,
    ``duration_ms``, ``retarget``: as generation's controls (the head motion is always the video's own)."""
    from megen.models.microflow import flow_estimator

    at = list(at) if isinstance(at, (list, tuple)) else [at]
    drivings = list(drivings) if isinstance(drivings, (list, tuple)) else [drivings]
    if len(drivings) == 1:
        drivings = drivings * len(at)
    if len(drivings) != len(at):
        raise InsertionError(f"at= has {len(at)} time(s) for {len(drivings)} driving clips: give one clip, or one "
                             "per time")
    video, video_fps = read_target_video(target, target_fps)
    starts = [at_frame(a, video_fps) for a in at]
    measure = flow_estimator(estimator[0] or "farneback", estimator[1])
    plans = [plan_insertion(spec, video_fps, cache_dir, fps, measure, gain, regions, duration_ms) for spec in drivings]
    name = name or Path(str(target)).stem
    frames, intervals = insert_into_video(video, video_fps, plans, starts, retarget, name)
    record = {"target": str(target), "fps": video_fps, "n_frames": len(frames), "frames_numbered_from": 1,
              "estimator": estimator[0] or "farneback", "gain": gain, "regions": regions, "retarget": retarget,
              "duration_ms": duration_ms,
              "insertions": [{"driving": p.driving, "at": str(a), "driver_fps": p.driver_fps,
                              "driver_fps_source": p.fps_source, "driver_frames": p.n_driver, **asdict(it),
                              "onset_s": it.onset / video_fps, "offset_s": it.offset / video_fps}
                             for p, a, it in zip(*_in_time_order(plans, at, starts), intervals)]}
    return write_spotting_video(out_dir, name, frames, video_fps, intervals, record)


def spotting_video_of(cfg) -> Path:
    """``spotting_video`` from ``python -m megen.generate target=<video> at=...``'s options; prints what it wrote."""
    drivings = [str(cfg.driving)] if isinstance(cfg.driving, str) else [str(d) for d in cfg.driving]
    at = [cfg.at] if isinstance(cfg.at, (str, int, float)) else list(cfg.at)
    flow = cfg.get("flow") or {}
    folder = spotting_video(cfg.target, drivings, at, Path(cfg.out), cfg.paths.cache_dir, cfg.get("target_fps"),
                            cfg.get("fps"), (flow.get("estimator"), flow.get("checkpoint")), float(cfg.gain),
                            None if cfg.get("regions") is None else [str(r) for r in cfg.regions],
                            cfg.get("duration_ms"), str(cfg.get("retarget") or "similarity"))
    print(f"{folder}: frames/ (lossless PNG from 00001), {folder.name}.mp4, annotations_casme_sq.csv, "
          "annotations_samm_lv.csv, insertions.json")
    return folder


def _in_time_order(plans, at, starts):
    order = sorted(range(len(starts)), key=lambda i: starts[i])
    return [plans[i] for i in order], [at[i] for i in order]


__all__ = ["PlannedInsertion", "at_frame", "insert_into_video", "plan_insertion", "read_target_video",
           "spotting_video", "spotting_video_of", "window_landmarks", "write_spotting_video"]
