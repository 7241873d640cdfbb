"""Synthetic micro-expression clips with ground-truth landmarks and motion."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from megen.synthetic.action_units import (
    EMOTION_AUS,
    EMOTION_WEIGHTS,
    expression_template,
    intensity_curve,
)
from megen.synthetic.identities import Identity
from megen.synthetic.nuisance import Nuisance, photometric
from megen.synthetic.warp import anchor_points, flow_model, grid_flow, warp_image, with_anchors


@dataclass(frozen=True)
class ExpressionProgram:
    """What a clip does, independent of the face it is rendered on.

    Intensities are in eye-distance units, so the same program on another identity moves its
    landmarks in proportion to that identity's eye distance (the cross-identity ground truth).
    """

    emotion: str
    aus: tuple[int, ...]
    au_weights: tuple[float, ...]
    n_frames: int
    apex: int
    intensity: float                  # apex: largest landmark displacement / eye distance
    jitter: tuple[tuple[float, float], ...] = ()   # per-frame head shift, eye-distance units
    nuisance: Nuisance = Nuisance()   # the camera's noise, compression and flicker on every frame
    fps: float = 200.0

    @property
    def onset(self) -> int:
        return 0

    @property
    def offset(self) -> int:
        return self.n_frames - 1

    @property
    def action_units(self) -> str:
        return "+".join(str(a) for a in self.aus)


@dataclass
class SyntheticClip:
    """A rendered clip: uint8 gray frames and per-frame ground-truth landmarks and motion."""

    subject: str
    clip: str
    identity: str
    program: ExpressionProgram
    frames: np.ndarray        # (T, S, S) uint8
    landmarks: np.ndarray     # (T, 68, 2) float32 pixel (x, y), ground truth for every frame
    shifts: np.ndarray        # (T, 2) float32 head shift in pixels (moves the anchors too)
    flows: np.ndarray | None = None   # (T, S, S, 2) float32 backward flow frame k -> onset, pixels
    guides: np.ndarray | None = None  # (T, S, S, 2) float32 the measured flow k -> onset (render_with_flow)
    meta: dict = field(default_factory=dict)

    @property
    def onset(self) -> int:
        return self.program.onset

    @property
    def apex(self) -> int:
        return self.program.apex

    @property
    def offset(self) -> int:
        return self.program.offset


def clip_landmarks(identity: Identity, program: ExpressionProgram) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth (T, 68, 2) landmarks and (T, 2) head shifts of ``program`` on ``identity``."""
    e = identity.eye_distance
    template = expression_template(program.aus, program.au_weights, roll=identity.roll)   # (68, 2)
    curve = intensity_curve(program.n_frames, program.apex)                                # (T,)
    shifts = np.zeros((program.n_frames, 2)) if not program.jitter else np.asarray(program.jitter) * e
    disp = curve[:, None, None] * program.intensity * e * template[None]
    return identity.landmarks[None] + disp + shifts[:, None, :], shifts


def motion_model(landmarks_src, landmarks_dst, shift_src, shift_dst, onset_landmarks, size: int):
    """The spline behind ``motion_between`` (evaluate it with ``warp.grid_flow`` at any scale)."""
    anchors = anchor_points(size, onset_landmarks)
    return flow_model(with_anchors(landmarks_src, anchors, shift_src), with_anchors(landmarks_dst, anchors, shift_dst))


def motion_between(landmarks_src, landmarks_dst, shift_src, shift_dst, onset_landmarks, size: int) -> np.ndarray:
    """Ground-truth backward flow (size, size, 2) from a frame ``dst`` to a frame ``src`` of one clip.

    Pixel p of frame dst shows what frame src shows at p + flow(p); exact at the landmarks
    and, for src = onset, the spline that rendered the clip (there sampled ``render_scale`` times finer).
    """
    return grid_flow(motion_model(landmarks_src, landmarks_dst, shift_src, shift_dst, onset_landmarks, size), size)


def render_with_flow(identity: Identity, program: ExpressionProgram, rng: np.random.Generator | None = None,
                     measure_guides: bool = False, estimator=None):
    """Render ``program`` on ``identity`` with its ground truth.

    Returns frames (T, S, S) uint8, landmarks (T, 68, 2) float32, shifts (T, 2) float32,
    flows (T, S, S, 2) float32 and guides (below), where flows[k] = motion_between(lm[0], lm[k], sh[0], sh[k], lm[0], S)
    of the returned arrays. Frame k is ``identity.hires`` warped by that same spline sampled r
    times finer, then area-reduced like the identity itself, so no frame is a resampling of
    another; the onset is ``identity.image`` itself. The program's photometric nuisances
    (``megen.synthetic.nuisance``: flicker, sensor noise, palette and JPEG compression) act on every
    fine frame, the onset included, before the reduction (a camera sees the face at a real crop's
    resolution), drawn from ``rng``; they leave the flows exact.

    The fifth array, guides, is None unless ``measure_guides``: (T, S, S, 2) float32, the flow-guided
    model's input as generation measures it on a real driver, the optical flow of every frame to the
    onset measured on the *fine* frames (before area reduction, so at the resolution a real 256-px
    clip has, nuisances included) by ``estimator``
    (``megen.ops.flow``; None: the guide's default) and mapped onto the frame grid by the landmarks
    (``megen.face.flow.measured_guides``).
    """
    size = identity.image.shape[0]
    fine = identity.hires if identity.hires is not None else identity.image
    scale = identity.render_scale
    landmarks, shifts = clip_landmarks(identity, program)
    # render from the float32 geometry that is stored, so flows rebuilt from it are the warps used
    landmarks, shifts = landmarks.astype(np.float32), shifts.astype(np.float32)
    t0 = program.onset
    if shifts[t0].any():
        raise ValueError("a program's head shift must be zero at the onset (the identity's own pose)")
    nuisance = program.nuisance if rng is not None else Nuisance()
    frames = np.empty((program.n_frames, size, size), dtype=np.uint8)
    flows = np.zeros((program.n_frames, size, size, 2), dtype=np.float32)
    fine_frames = []
    for k in range(program.n_frames):
        if k == t0:
            img = identity.image   # zero motion; flows[t0] stays 0, which is what the spline gives
            fine_img = fine
        else:
            model = motion_model(landmarks[t0], landmarks[k], shifts[t0], shifts[k], landmarks[t0], size)
            flows[k] = grid_flow(model, size)
            img = fine_img = warp_image(fine, grid_flow(model, size, scale))
            if scale > 1:
                img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        if nuisance.photometric:
            # the camera sees the fine face (a real crop's resolution); the frame is reduced from what it delivers
            fine_img = photometric(fine_img * 255.0, nuisance, rng).astype(np.float32) / 255.0
            img = cv2.resize(fine_img, (size, size), interpolation=cv2.INTER_AREA) if scale > 1 else fine_img
        if measure_guides:
            fine_frames.append(np.clip(np.rint(fine_img * 255.0), 0, 255).astype(np.uint8))
        frames[k] = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    if not measure_guides:
        return frames, landmarks, shifts, flows, None
    from megen.face.flow import DRIVER_FLOW, measured_guides

    # frame pixel centre p sits at fine pixel (p + 0.5) * scale - 0.5
    fine_landmarks = (landmarks[t0].astype(np.float64) + 0.5) * scale - 0.5
    guides = measured_guides(fine_frames, fine_landmarks, landmarks[t0].astype(np.float64), (size, size), reference=t0,
                             estimator=estimator or DRIVER_FLOW)
    return frames, landmarks, shifts, flows, guides


def render_clip(identity: Identity, program: ExpressionProgram, rng: np.random.Generator | None = None):
    """Render ``program`` on ``identity`` -> (frames (T,S,S) uint8, landmarks (T,68,2), shifts (T,2))."""
    return render_with_flow(identity, program, rng)[:3]


def sample_program(
    rng: np.random.Generator,
    eye_distance: float,
    apex_px: tuple[float, float],
    duration_s: tuple[float, float] = (1 / 25, 1 / 5),
    fps: float = 200.0,
    head_px: float = 0.0,
    nuisance: Nuisance = Nuisance(),
    emotions: dict[str, float] | None = None,
) -> ExpressionProgram:
    """Draw an expression: emotion (CASME II-like frequencies), AUs, timing, amplitude in pixels; a head
    translation that walks to ``head_px`` sd (pixels of this frame) by the clip's end; the camera's ``nuisance``."""
    weights = emotions or EMOTION_WEIGHTS
    names = sorted(weights)
    p = np.array([weights[n] for n in names], dtype=np.float64)
    emotion = names[rng.choice(len(names), p=p / p.sum())]
    options = EMOTION_AUS[emotion]
    aus = options[rng.integers(len(options))]
    au_weights = tuple(float(w) for w in rng.uniform(0.6, 1.0, size=len(aus)))
    n_frames = int(round(rng.uniform(*duration_s) * fps)) + 1
    apex = int(np.clip(round(rng.uniform(0.3, 0.6) * (n_frames - 1)), 1, n_frames - 2))
    intensity = float(rng.uniform(*apex_px)) / eye_distance
    jitter: tuple = ()
    if head_px > 0:
        walk = np.cumsum(rng.normal(0.0, head_px / np.sqrt(n_frames), size=(n_frames, 2)), axis=0)
        walk -= walk[0]
        jitter = tuple(map(tuple, (walk / eye_distance).tolist()))
    return ExpressionProgram(emotion, tuple(int(a) for a in aus), au_weights, n_frames, apex, intensity,
                             jitter, nuisance, float(fps))
