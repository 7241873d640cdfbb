"""Spotting data: is a micro-expression inserted into a moving long video as faithful as the same driver on a
still face, without a seam, with the video's head motion kept, and fast enough?

A long talking-head-like video is made from a photo of the project's synthetic identities (smooth random head
motion: a few px of translation and about a degree of rotation), and driving clips are inserted at chosen
times with ``megen.spotting``. For each insertion it reports, under estimators the insertion does not use
(DeepFlow, TV-L1; the insertion measures with Farnebäck):

* fidelity: the real-pair scorer's cosine / amplitude of the window's expression motion against the driver's
  (read at the window's driver positions), beside the same driver on the window's still first frame; the
  window's motion is taken raw, less the original video's own motion over the window, and with the video's
  head motion undone by its true poses (``inserted_head_undone``: the scorer's estimators are not linear in the
  motion's size, so a difference of readings need not be the expression); beside them the still reference given
  the video's head motion (``still_moved_less_video``: what the subtraction costs an exact insertion), and the
  still frame with the expression placed where the insertion placed it (``still_first_frame_placed_as_inserted``:
  the median of the window's detections, not the first frame's);
* head: the largest difference of the face's mean flow (px of the 256-px canonical face) between the window
  and the original over it; beside it the largest mean flow of the same driver on the still frame (the
  expression's own translation, which an exact insertion adds) and the difference with that share taken out
  (``*_less_placed_expression_px``: the share of the still frame placed as inserted);
  and the same three read exactly, from the fields the insertion warps by (no estimator): what it adds to the
  face's mean motion in the moving video, on the still frame, and their difference; with them the exact
  expression's cosine / amplitude in the moving video against the still frame's;
* seams: the face's mean frame-to-frame flow magnitude across the window's edges, beside the 95th percentile
  of the original video's own;
* the fidelity scores again without the eye regions (``*_without_eyes``): a lid that slides over the eye is an
  occlusion, which each estimator reads at its own size;

and the time to write a 60-s, 30-fps video with 3 insertions.

    python experiments/spotting/study.py --driving <clip> [<clip> ...] [--fps <rate> ...] --out /tmp/spotting.json
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from megen.animation.driving import load_driving
from megen.animation.pair import find_face
from megen.face.align import CANONICAL_SIZE, apply_similarity, canonical_similarity, fit_similarity
from megen.face.landmarks import detect_landmarks, to_gray_uint8
from megen.metrics.expression import (
    NOT_EYES,
    canonical_clip,
    face_motion,
    region_masks,
    regional_expression,
    transfer_scores,
)
from megen.ops.flow import estimator
from megen.ops.timing import resample_flows
from megen.runtime.video import read_image, write_video
from megen.spotting.insertion import insert_window, window_fields, window_positions
from megen.spotting.video_target import insert_into_video, plan_insertion, spotting_video, window_landmarks
from megen.synthetic import embedded_photo_paths

SCORERS = ("deepflow", "tvl1")


def head_path(n_frames: int, fps: float, seed: int, size: int = 384) -> np.ndarray:
    """(n_frames, 2, 3) the talking video's head pose per frame, as the affine map from the photo to the frame
    (sums of slow sinusoids: up to ~4 px of translation and ~1.5 degrees of rotation about the face centre)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / fps

    def wave(amplitude):
        f, phase = rng.uniform(0.1, 0.6, 3), rng.uniform(0, 2 * np.pi, 3)
        return amplitude / 3 * np.sin(2 * np.pi * f[:, None] * t[None] + phase[:, None]).sum(0)
    dx, dy, angle = wave(4.0), wave(3.0), wave(1.5)
    centre = (size / 2, size / 2)
    poses = np.stack([cv2.getRotationMatrix2D(centre, float(a), 1.0) for a in angle])
    poses[:, :, 2] += np.stack([dx, dy], axis=1)
    return poses


def talking_video(n_frames: int, fps: float, seed: int, photo: int = 1, size: int = 384,
                  image: np.ndarray | None = None) -> list[np.ndarray]:
    """(n_frames of (size, size, 3) uint8): a photo (or ``image``) moved along ``head_path``."""
    image = read_image(embedded_photo_paths()[photo])[..., :3] if image is None else image
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return [cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
            for m in head_path(n_frames, fps, seed, size)]


def repose(frames, poses: np.ndarray, start: int, back: bool) -> np.ndarray:
    """(M, H, W, C) frames ``start..start+M-1`` of a talking video carried from their own head pose to the window's
    first frame's (``back``), or frames posed as the first one carried to each frame's pose (not ``back``).

    The poses are the video's true ones (``head_path``), so no estimator or tracker is involved."""
    first = np.vstack([poses[start], [0.0, 0.0, 1.0]])
    out = []
    for k, frame in enumerate(frames):
        onto = (np.vstack([poses[start + k], [0.0, 0.0, 1.0]]) @ np.linalg.inv(first))[:2]   # first pose -> frame k's
        flags = cv2.INTER_CUBIC | (cv2.WARP_INVERSE_MAP if back else 0)
        out.append(cv2.warpAffine(np.ascontiguousarray(frame), onto, frame.shape[1::-1], flags=flags,
                                  borderMode=cv2.BORDER_REFLECT_101))
    return np.stack(out)


def face_step_magnitudes(frames, landmarks, name: str = "farneback") -> np.ndarray:
    """(len(frames) - 1,) the mean |flow| (px of the canonical face) inside the face between consecutive frames."""
    gray, lm = canonical_clip(frames, landmarks)
    face = region_masks(lm)[1]
    flow = estimator(name)
    return np.array([np.linalg.norm(flow(a, b)[face], axis=-1).mean() for a, b in zip(gray[:-1], gray[1:])])


def exact_motion(span, tracked: np.ndarray, plan) -> tuple[np.ndarray, np.ndarray]:
    """The expression (M, R, 2) and head motion (M, 2) an insertion adds over a window of frames ``span`` (M of
    (H, W[, C])) whose face ``window_landmarks`` tracked as ``tracked`` (M, 68, 2), read from the fields it warps
    by (no estimator) the way ``face_motion`` reads a clip: in px of the canonical face aligned on the window's
    first frame, at the place each point of that frame has reached (the video's head motion, tracked), the
    content's forward motion (minus the backward field, to first order) relative to the first frame, per region
    less the face's mean."""
    shape = np.asarray(span[0]).shape[:2]
    fields = window_fields(shape, tracked, plan.flows, plan.driver_landmarks)
    to_canonical = np.vstack([canonical_similarity(tracked[0]), [0.0, 0.0, 1.0]])
    canonical = []
    for field, lm in zip(fields, tracked):
        head = np.vstack([fit_similarity(tracked[0], lm), [0.0, 0.0, 1.0]])      # the first frame -> this one
        a = (to_canonical @ np.linalg.inv(head))[:2]                              # this frame -> the canonical face
        moved = cv2.warpAffine(np.ascontiguousarray(-field), a, (CANONICAL_SIZE, CANONICAL_SIZE), flags=cv2.INTER_LINEAR)
        canonical.append(moved @ a[:, :2].T.astype(np.float32))
    canonical = np.stack(canonical) - canonical[0]
    regions, face = region_masks(apply_similarity(to_canonical[:2], tracked[0]))
    return regional_expression(canonical, regions, face), canonical[:, face].mean(axis=1).astype(np.float64)


def score_insertion(original, inserted, still, still_placed, poses, start: int, length: int, driver_frames, driver_lm,
                    positions):
    window, base, ref = (np.stack(v[start:start + length]) for v in (inserted, original, still))
    # controls for the scorer: it reads head and expression motion together, and its estimators are not linear in
    # the motion's size (TV-L1 reads 0.4 of a 0.1-px motion, 0.85 of a 1-px one; docs/benchmarks.md), so
    # "less the video's own motion" need not be the expression; the window with the head undone by its true poses,
    # and the still reference given that head motion, show what the subtraction costs
    steady, moved = repose(window, poses, start, back=True), repose(ref, poses, start, back=False)
    lm = detect_landmarks(to_gray_uint8(window[0]))
    out = {}
    for name in SCORERS:
        est = estimator(name)
        driver = face_motion(driver_frames, driver_lm, estimator=est)[0]
        expected = resample_flows(driver, positions).astype(np.float64)
        (w, w_head), (b, b_head), (s, s_head), (st, _), (mv, _), (sp, sp_head) = (
            face_motion(v, lm, estimator=est) for v in (window, base, ref, steady, moved, np.stack(still_placed)))
        out[name] = {"inserted": transfer_scores(expected, w), "inserted_less_video": transfer_scores(expected, w - b),
                     "still_first_frame": transfer_scores(expected, s),
                     "inserted_head_undone": transfer_scores(expected, st),
                     "still_moved_less_video": transfer_scores(expected, mv - b),
                     "still_first_frame_placed_as_inserted": transfer_scores(expected, sp),
                     "still_first_frame_placed_as_inserted_without_eyes": transfer_scores(expected[:, NOT_EYES],
                                                                                          sp[:, NOT_EYES]),
                     "inserted_head_undone_without_eyes": transfer_scores(expected[:, NOT_EYES], st[:, NOT_EYES]),
                     "inserted_less_video_without_eyes": transfer_scores(expected[:, NOT_EYES], (w - b)[:, NOT_EYES]),
                     "still_first_frame_without_eyes": transfer_scores(expected[:, NOT_EYES], s[:, NOT_EYES]),
                     "head_difference_px": float(np.linalg.norm(w_head - b_head, axis=-1).max()),
                     # a brow raise or a lip pull moves the face's mean flow too: the same driver on the still frame
                     # shows that share, which an exact insertion of the expression adds to the video's head motion
                     "expression_own_px": float(np.linalg.norm(s_head, axis=-1).max()),
                     "head_difference_less_expression_px": float(np.linalg.norm(w_head - b_head - s_head, axis=-1).max()),
                     "head_difference_less_placed_expression_px": float(
                         np.linalg.norm(w_head - b_head - sp_head, axis=-1).max())}
    return out


def long_video_timing(driving, rate: float, video_fps: float) -> dict:
    """Seconds to write a 60-s video with 3 insertions of ``driving``'s clips."""
    long = talking_video(int(60 * video_fps), video_fps, 0)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "talk.mp4"
        write_video(target, np.stack(long), video_fps)
        clips = (list(driving) * 3)[:3]
        t0 = time.perf_counter()
        spotting_video(target, clips, ["10", "30", "50"], Path(tmp) / "out", fps=rate)
        return {"seconds": time.perf_counter() - t0, "video_s": 60, "fps": video_fps, "insertions": 3,
                "size": list(long[0].shape[:2])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driving", nargs="+", required=True, help="driving clips (files, folders, <dataset>:<clip>)")
    parser.add_argument("--fps", type=float, nargs="+", default=[200.0],
                        help="the driving clips' capture rates (one for all, or one per clip)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", required=True)
    parser.add_argument("--no-timing", action="store_true", help="skip the 60-s video's timing")
    args = parser.parse_args()
    rates = args.fps * len(args.driving) if len(args.fps) == 1 else args.fps
    if len(rates) != len(args.driving):
        parser.error("--fps: give one rate, or one per driving clip")
    video_fps, results = 30.0, {"scorers": list(SCORERS), "insertions": [], "timing": None}
    for seed in args.seeds:
        video, poses = talking_video(150, video_fps, seed), head_path(150, video_fps, seed)
        for i, (spec, rate) in enumerate(zip(args.driving, rates)):
            plan = plan_insertion(spec, video_fps, fps=rate)
            start = 20 + 40 * (i % 3)
            inserted, _ = insert_into_video(video, video_fps, [plan], [start], video_name=f"seed{seed}")
            still, _ = insert_into_video([video[start]] * len(video), video_fps, [plan], [start])
            # the still frame with the face where the insertion put it (the median of the window's detections,
            # not the first frame's alone): dlib's landmarks on this photo jump by up to 10 px from frame to frame
            # and move the expression's place and size with them, a difference of placement, not of insertion
            window = slice(start, start + len(plan.flows))
            moving_span, steady_span = video[window], [video[start]] * len(plan.flows)
            tracked = window_landmarks(moving_span)
            still_placed = insert_window(steady_span, np.stack([tracked[0]] * len(plan.flows)), plan.flows,
                                         plan.driver_landmarks)
            frames = load_driving(spec).frames[:plan.n_driver]
            positions = window_positions(plan.n_driver, plan.driver_fps, video_fps)
            scores = score_insertion(video, inserted, still, still_placed, poses, start, len(plan.flows), frames,
                                     find_face(frames[0], spec), positions)
            moving, moving_head = exact_motion(moving_span, tracked, plan)
            steady, steady_head = exact_motion(steady_span, window_landmarks(steady_span), plan)
            scores["exact"] = {"inserted_against_still_first_frame": transfer_scores(steady, moving),
                               "added_head_px": float(np.linalg.norm(moving_head, axis=-1).max()),
                               "expression_own_px": float(np.linalg.norm(steady_head, axis=-1).max()),
                               "added_less_expression_px": float(np.linalg.norm(moving_head - steady_head, axis=-1).max())}
            lm = detect_landmarks(to_gray_uint8(video[0]))
            own = face_step_magnitudes(video, lm)
            steps = face_step_magnitudes(inserted[start - 1:start + len(plan.flows) + 1], lm)
            row = {"seed": seed, "driving": Path(spec).name, "start": start, "frames": len(plan.flows), **scores,
                   "seam_px": [float(steps[0]), float(steps[-1])], "video_step_p95_px": float(np.percentile(own, 95)),
                   "video_step_max_px": float(own.max()), "window_step_max_px": float(steps.max())}
            results["insertions"].append(row)
            print(json.dumps(row), flush=True)
    if not args.no_timing:
        results["timing"] = long_video_timing(args.driving, rates[0], video_fps)
        print(json.dumps(results["timing"]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
