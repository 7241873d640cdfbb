"""A driver's expression inserted into a long video of another person, at a known time.

The driver's flows are measured on its face crop (``megen.face.flow.DriverFlow``); its rigid head motion is
removed there (``megen.face.controls``), so only the expression travels. The video keeps its own head motion:
each frame of the window is the video's own frame, warped by the expression carried onto the face as it is in
that frame: the face's landmarks moved by its similarity (rotation, scale, translation) from the window's first
frame, measured on the images (``track_face``; dlib's landmarks on a single frame can be off by many pixels, and
would shake the expression with them). Frames outside a window are the video's, untouched; inside one, only
pixels the expression moves change.

Pure functions on uint8 frames (H, W[, C]), backward flows (``megen.face.flow``'s convention) and landmarks
(68, 2) in pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from megen.face.align import apply_similarity, invert_similarity
from megen.face.choices import HeadMotion
from megen.face.controls import FACE_PAD, MotionControls, controlled_flows, face_weight
from megen.face.correspondence import carry_flow, correspondence, eye_distance, hull_distance
from megen.face.flow import DriverFlow, warp_backward
from megen.face.landmarks import to_gray_uint8
from megen.ops.timing import resample_flows, resample_positions, retimed_index


class InsertionError(ValueError):
    """An insertion that cannot be made: outside the video, overlapping another; the message names the option."""


@dataclass(frozen=True)
class Window:
    """Where one insertion lands in the video: frames ``start`` .. ``start + length - 1`` (0-based), the
    driver's apex at ``apex`` (0-based, absolute)."""

    start: int
    length: int
    apex: int

    @property
    def offset(self) -> int:
        return self.start + self.length - 1

    def frames(self) -> range:
        return range(self.start, self.start + self.length)


def expression_flows(driver: DriverFlow, gain: float = 1.0, regions=None) -> np.ndarray:
    """The driver's flows (T, S, S, 2) with its rigid head motion removed, in its own crop, scaled by ``gain`` and
    held to ``regions`` (``megen.face.controls.REGIONS`` names; None: the whole face)."""
    controls = MotionControls(head=HeadMotion.REMOVE, gain=float(gain), regions=None if regions is None else tuple(regions))
    return controlled_flows(driver.flows, driver.landmarks, controls)


def window_positions(n_driver: int, driver_fps: float, video_fps: float,
                     duration_ms: float | None = None) -> np.ndarray:
    """(M,) the driver positions (fractional frames) of the video frames an insertion spans: the driver's
    ``n_driver`` frames at ``driver_fps`` resampled to the video's rate (``megen.ops.timing``)."""
    return resample_positions(n_driver, driver_fps, video_fps, duration_ms)


def plan_windows(starts, lengths, apexes, n_frames: int) -> list[Window]:
    """Windows for insertions starting at ``starts`` (0-based frames) spanning ``lengths`` frames with their apex
    ``apexes`` frames in; an InsertionError naming ``at=`` when one leaves the video or two overlap."""
    windows = [Window(int(s), int(n), int(s) + int(a)) for s, n, a in zip(starts, lengths, apexes)]
    for i, w in enumerate(windows):
        if w.start < 0 or w.offset >= n_frames:
            raise InsertionError(f"at=: insertion {i + 1} spans frames {w.start}-{w.offset}, outside the video's "
                                 f"0-{n_frames - 1}")
    ordered = sorted(windows, key=lambda w: w.start)
    for a, b in zip(ordered, ordered[1:]):
        if b.start <= a.offset:
            raise InsertionError(f"at=: insertions at frames {a.start}-{a.offset} and {b.start}-{b.offset} overlap; "
                                 "each needs its own interval")
    return windows


def random_starts(n_frames: int, lengths: list[int], rng: np.random.Generator, spacing: int = 0,
                  margin: int = 0) -> list[int]:
    """Seeded starts (0-based) for windows of ``lengths`` frames, in the given order, at least ``spacing`` frames
    apart and ``margin`` frames from the video's ends, uniformly spread over the room left; an InsertionError
    when they do not fit."""
    room = n_frames - 2 * margin - sum(lengths) - spacing * max(len(lengths) - 1, 0)
    if room < 0:
        raise InsertionError(f"{len(lengths)} insertions of {sum(lengths)} frames, {spacing} apart and {margin} from "
                             f"the ends, do not fit in {n_frames} frames")
    gaps = np.diff(np.concatenate([[0], np.sort(rng.integers(0, room + 1, len(lengths)))]))
    starts, at = [], margin
    for gap, length in zip(gaps, lengths):
        at += int(gap)
        starts.append(at)
        at += length + spacing
    return starts


#: ECC's stopping rule for a window's head motion (iterations, least change of the correlation), and the blur
#: (px) it measures on
ECC_CRITERIA, ECC_BLUR = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-6), 5


def head_motions(frames, face: np.ndarray) -> list[np.ndarray]:
    """The face's rigid motion through a window of frames (M of (H, W[, C]) uint8): per frame the (2, 3) similarity
    (rotation, scale, translation) taking the first frame's pixels to its own. ECC (``cv2.findTransformECC``) fits
    an affine map over the ``face`` mask (H, W) uint8, on the mask's bounding box only, each frame started from the
    frame before's, and the nearest similarity to it is kept (a talking face's own non-rigid motion goes to the
    affine's shear); a frame where ECC fails keeps the frame before's."""
    ys, xs = np.nonzero(face)
    if not len(xs):
        return [np.eye(2, 3) for _ in frames]
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    crops = [to_gray_uint8(np.asarray(f)[y0:y1, x0:x1]).astype(np.float32) for f in frames]
    mask = np.ascontiguousarray(face[y0:y1, x0:x1])
    origin = np.array([x0, y0], np.float64)
    centre = np.array([xs.mean(), ys.mean()]) - origin
    motions, warp = [np.eye(2, 3)], np.eye(2, 3, dtype=np.float32)
    for image in crops[1:]:
        try:
            _, warp = cv2.findTransformECC(crops[0], image, warp.copy(), cv2.MOTION_AFFINE, ECC_CRITERIA, mask, ECC_BLUR)
        except cv2.error:
            pass
        affine = warp[:, :2].astype(np.float64)
        (a, b), (c, d) = affine
        linear = np.array([[(a + d) / 2, (b - c) / 2], [(c - b) / 2, (a + d) / 2]])
        # the similarity agrees with the affine at the face's centre; in the frame's pixels (x = crop + origin)
        shift = warp[:, 2] + (affine - linear) @ centre
        motions.append(np.hstack([linear, (shift + origin - linear @ origin)[:, None]]))
    return motions


def track_face(frames, landmarks: list) -> np.ndarray:
    """Landmarks (M, 68, 2) that follow the face's rigid motion through a window of frames (M of (H, W[, C])),
    measured on the images (``head_motions``, over the face's hull padded by ``FACE_PAD`` eye distances), from the
    face in the first frame: the median of every frame's detection (``landmarks``: (68, 2) arrays, None where no
    face was found) carried back there by its frame's motion. dlib's landmarks on a single frame can be off by many
    pixels on a face it finds hard, and a similarity fitted to each frame's would shake the expression with them.
    An InsertionError when no frame has a face."""
    found = [(j, np.asarray(lm, np.float64)) for j, lm in enumerate(landmarks) if lm is not None]
    if not found:
        raise InsertionError("no face was found in any frame of the insertion window")
    shape = np.asarray(frames[0]).shape[:2]
    rough = np.median(np.stack([lm for _, lm in found]), axis=0)      # where the face is, for the mask only
    face = (hull_distance([rough], shape) <= FACE_PAD * eye_distance(rough)).astype(np.uint8)
    motions = head_motions(frames, face)
    first = np.median(np.stack([apply_similarity(invert_similarity(motions[j]), lm) for j, lm in found]), axis=0)
    return np.stack([apply_similarity(m, first) for m in motions])


def window_fields(shape: tuple[int, int], tracked: np.ndarray, flows: np.ndarray, driver_landmarks: np.ndarray,
                  retarget: str = "similarity") -> list[np.ndarray]:
    """The backward fields (M of (H, W, 2) float32) that ``insert_window`` warps a window's frames of ``shape``
    (H, W) by: ``flows[j]`` (M, S, S, 2), the driver's expression in its crop, carried onto the face where
    ``tracked[j]`` (68, 2) puts it (``megen.face.correspondence``, by ``retarget``) and held to the face
    (``face_weight``)."""
    fields = []
    for lm, flow in zip(tracked, flows):
        positions, linear = correspondence(lm, driver_landmarks, shape, retarget)
        fields.append(carry_flow(flow, positions, linear) * face_weight(lm, shape)[..., None])
    return fields


def insert_window(frames, tracked: np.ndarray, flows: np.ndarray, driver_landmarks: np.ndarray,
                  retarget: str = "similarity") -> list[np.ndarray]:
    """The window's frames (M of (H, W[, C]) uint8) with the expression added: frame j warped by its field of
    ``window_fields``. Pixels the expression does not move keep their values exactly."""
    out = []
    shape = np.asarray(frames[0]).shape[:2] if len(frames) else (0, 0)
    for frame, field in zip(frames, window_fields(shape, tracked, flows, driver_landmarks, retarget)):
        frame = np.asarray(frame)
        moved = np.abs(field).max(axis=-1) > 0
        if not moved.any():
            out.append(frame.copy())
            continue
        warped = warp_backward(frame, field)
        out.append(np.where(moved[..., None] if frame.ndim == 3 else moved, warped, frame))
    return out


def driver_apex(flows: np.ndarray, landmarks: np.ndarray) -> int:
    """The driver frame whose expression moves its face most (mean flow magnitude inside the landmarks' hull): the
    apex where the clip records none."""
    inside = hull_distance([landmarks], flows.shape[1:3]) == 0
    return int(np.argmax([np.linalg.norm(f[inside], axis=-1).mean() if inside.any() else 0.0 for f in flows]))


def insertion_apex(apex: int, n_driver: int, driver_fps: float, video_fps: float,
                   duration_ms: float | None = None) -> int:
    """The window frame (0-based within it) at the time of the driver's ``apex``."""
    return retimed_index(apex, n_driver, driver_fps, video_fps, duration_ms)


#: the least share of a window over which the expression is released (a clip whose motion peaks at its end)
RELEASE_SHARE = 1 / 3


def release_start(length: int, apex: int, share: float = RELEASE_SHARE) -> int:
    """The window frame (0-based) from which the expression is released: the apex, or earlier, so that at least
    ``share`` of the window's frames release it (a clip still moving at its last frame peaks there)."""
    latest = length - 1 - int(np.ceil(share * (length - 1)))
    return int(max(0, min(apex, latest)))


def released(flows: np.ndarray, start: int) -> np.ndarray:
    """``flows`` (M, S, S, 2) with what is left of the expression at the last frame taken away linearly from frame
    ``start`` (none) to the last frame (all): the face is back at rest at the offset. A real clip's last frame keeps
    some motion (the annotated offset is where the expression fades, not where the flow is zero; some clips end
    near their apex), and the video's own frame that follows would jump back from it."""
    flows = np.asarray(flows, np.float32)
    m = len(flows)
    if m < 2 or start >= m - 1:
        return flows
    share = np.clip((np.arange(m) - start) / float(m - 1 - start), 0.0, 1.0).astype(np.float32)
    return flows - share[:, None, None, None] * flows[-1]


def resampled_expression(driver: DriverFlow, driver_fps: float, video_fps: float, gain: float = 1.0, regions=None,
                         duration_ms: float | None = None) -> np.ndarray:
    """The driver's expression flows (M, S, S, 2) at the video's frame times: head removed, scaled, resampled."""
    return resample_flows(expression_flows(driver, gain, regions),
                          window_positions(len(driver.flows), driver_fps, video_fps, duration_ms))


__all__ = ["ECC_BLUR", "ECC_CRITERIA", "RELEASE_SHARE", "InsertionError", "Window", "driver_apex",
           "expression_flows", "head_motions", "insert_window", "insertion_apex", "plan_windows",
           "random_starts", "release_start", "released", "resampled_expression", "track_face", "window_fields",
           "window_positions"]
