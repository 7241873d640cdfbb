"""Generate one (target photo, driving clip) pair end to end: crop, prior, animate, write.

Inputs are read and their faces found (``load_pair_inputs``) before a model is needed, so a
bad file fails in seconds rather than after the checkpoint has loaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from megen.animation.animate import FaceInput, animate, animate_from_best_frame, best_frame
from megen.animation.animator import Animator
from megen.animation.driving import load_driving
from megen.animation.errors import GenerationError
from megen.animation.outputs import write_outputs
from megen.config.choices import Render
from megen.face.landmarks import FaceNotFoundError, detect_landmarks, to_gray_uint8
from megen.runtime.progress import Progress
from megen.runtime.video import read_image, to_uint8

DEFAULT_FPS = 100.0   # capture rate assumed for a frame folder whose rate nothing records
# a 1/5 s micro-expression captured at 200 fps (40 frames) plays for 1.6 s: long enough to see
DEFAULT_PLAYBACK_FPS = 25.0


def capture_rate(fps: float | None, clip_fps: float | None, dataset: str = "") -> tuple[float, str]:
    """The driving clip's true frame rate and where it came from: ``fps=``, the clip (a video's
    header, a prepared clip's dataset), its dataset, else ``DEFAULT_FPS`` (assumed)."""
    if fps:
        return float(fps), "fps="
    if clip_fps:
        return float(clip_fps), "driving clip"
    if dataset:
        return _dataset_fps(dataset), f"{dataset} frame rate"
    return DEFAULT_FPS, "assumed (the driving frames record no rate; pass fps=)"


def _dataset_fps(dataset: str) -> float:
    from megen.data.readers import casme2, samm, smic

    return {"casme2": casme2.FPS, "samm": samm.FPS, "smic": smic.FPS}[dataset]


@dataclass
class PairInputs:
    """A target image and a driving clip, decoded, with the onset faces found when cropping."""

    target_path: Path
    target: np.ndarray
    target_landmarks: np.ndarray | None     # None: crop=false (the model's frame size decides later)
    frames: list[np.ndarray]
    fps: float | None
    driving_name: str
    driving_landmarks: np.ndarray | None
    driving_prepared: dict | None = None    # a clip of the prepared cache (already cropped): its arrays


def crop_sides(crop: bool | tuple[bool, bool]) -> tuple[bool, bool]:
    """``crop`` as (target, driving): one bool is the shorthand for both."""
    return (bool(crop), bool(crop)) if isinstance(crop, (bool, int)) else (bool(crop[0]), bool(crop[1]))


def find_face(image: np.ndarray, source: str) -> np.ndarray:
    """68 landmarks of the (largest) face in ``image``, saying so when there are several; a GenerationError
    naming ``source`` when there is none."""
    try:
        return detect_landmarks(to_gray_uint8(image), fallback=True, source=source,
                                on_several=lambda message: print(f"note: {message}", flush=True))
    except FaceNotFoundError as err:
        raise GenerationError(f"{err}; pass crop=false to use the image as it is") from err


def composite_alpha(image: np.ndarray, background: float = 255) -> np.ndarray:
    """An RGBA image laid over a plain ``background`` gray level (0-255); others unchanged.

    Dropping alpha would show whatever colour the transparent pixels happen to store (often black)."""
    if image.ndim != 3 or image.shape[2] != 4:
        return image
    top = float(np.iinfo(image.dtype).max) if np.issubdtype(image.dtype, np.integer) else 1.0
    alpha = image[..., 3:].astype(np.float64) / top
    out = image[..., :3].astype(np.float64) * alpha + background / 255.0 * top * (1.0 - alpha)
    return out.round().astype(image.dtype) if np.issubdtype(image.dtype, np.integer) else out.astype(image.dtype)


def load_target(path, crop: bool = True, background: float = 255) -> tuple[np.ndarray, np.ndarray | None]:
    """A target image (transparent pixels over ``background``) and, when cropping, its face landmarks."""
    image = composite_alpha(read_image(path), background)
    return image, (find_face(image, str(path)) if crop else None)


def load_pair_inputs(target_path, driving_spec: str, crop: bool | tuple[bool, bool] = True,
                     cache_dir: str | None = None, background: float = 255) -> PairInputs:
    """Read both inputs and find their onset faces; every error names its file.

    ``crop``: one bool for both sides, or (target, driving)."""
    crop_target, crop_driving = crop_sides(crop)
    target, target_lm = load_target(target_path, crop_target, background)
    clip = load_driving(str(driving_spec), cache_dir)
    drv_lm = clip.landmarks
    if crop_driving and clip.prepared is None:
        drv_lm = find_face(clip.frames[0], f"{driving_spec} (first frame)")
    return PairInputs(Path(target_path), target, target_lm, clip.frames, clip.fps, clip.name, drv_lm, clip.prepared)


def native_bounds(out_size: int | None) -> tuple[int, int]:
    """(low, high) px of the target's native crop: ``out_size`` exactly, else its own size up to 512."""
    from megen.animation.native import MAX_NATIVE

    return (int(out_size), int(out_size)) if out_size else (64, MAX_NATIVE)


def face_inputs(gen: Animator, inputs: PairInputs, crop: bool | tuple[bool, bool] = True, render: str = "decoder",
                out_size: int | None = None, magnify: float = 1.0) -> tuple[FaceInput, FaceInput]:
    """The model's view of both inputs: cropped like its training data (or padded to square when
    a side is not cropped), with their priors; for ``render="native"`` the target's crop is also kept
    at its own size (or ``out_size``), and the driving clip's at >= 256 px where its motion is measured
    there (``Animator.driving_native``)."""
    crop_target, crop_driving = crop_sides(crop)
    target = gen.face_input([inputs.target], crop=crop_target, source=str(inputs.target_path),
                            landmarks=inputs.target_landmarks,
                            native=native_bounds(out_size) if render == Render.NATIVE else None)
    if inputs.driving_prepared is not None:   # cropped already; its >= 256-px crop or stored guides measure motion
        return target, gen.prepared_input(inputs.driving_prepared)
    driving = gen.face_input(inputs.frames, crop=crop_driving, source=inputs.driving_name,
                             landmarks=inputs.driving_landmarks, native=gen.driving_native(render, magnify))
    return target, driving


def render_pair(gen: Animator, target: FaceInput, driving: FaceInput, out_dir, name: str, fps: float,
                relative: bool = True, adapt_movement_scale: bool = False, find_best_frame: bool = False,
                batch_size: int = 8, progress: bool = True, playback_fps: float | None = DEFAULT_PLAYBACK_FPS,
                fps_source: str = "", out_size: int | None = None, render: str = "decoder", controls=None,
                magnify: float = 1.0) -> Path:
    """Animate ``target`` with ``driving`` and write the outputs into ``out_dir/name``.

    ``fps``: the driving clip's capture rate (timing metadata); the videos play at ``playback_fps``.
    ``render``: ``native`` (the target's size and colour) or ``decoder`` (the model's frame size, gray).
    ``controls``: ``megen.face.controls.MotionControls`` (head, gain, regions; out_fps and duration_ms retime
    the output, whose frames are then at ``out_fps``). ``magnify``: a key-point model sees the driver magnified
    that many times (``megen.animation.magnify``)."""
    positions = None if controls is None else controls.positions(len(driving.frames), fps)
    if positions is not None and find_best_frame:
        raise GenerationError("find_best_frame=true animates from a frame in the middle of the clip; out_fps= and "
                              "duration_ms= retime the clip from its first frame: use one or the other")
    kw = {"relative": relative, "adapt_movement_scale": adapt_movement_scale, "batch_size": batch_size,
          "engine": gen.engine, "render": render, "precision": getattr(gen, "precision", "fp32"), "controls": controls,
          "positions": positions, "magnify": magnify}
    count = len(driving.frames) if positions is None else len(positions)
    from megen.animation.amplitude import out_of_range_warning

    warning = out_of_range_warning(driving.frames, getattr(gen, "trained_motion_px", None), driving.frames.shape[-1])
    if warning:
        print(f"{name}: {warning}", flush=True)
    with Progress(progress) as bar:
        if find_best_frame and target.landmarks is not None:
            task = bar.add_task(f"best frame for {name}", total=len(driving.frames), unit="frames")
            per_frame = []
            for f in to_uint8(driving.frames):
                try:
                    per_frame.append(detect_landmarks(f))
                except FaceNotFoundError:
                    per_frame.append(None)
                bar.advance(task)
            best = best_frame(target.landmarks, per_frame)
            # the clip is animated forwards from the best frame and backwards to the first
            task = bar.add_task(f"generating {name}", total=len(driving.frames) + 1, unit="frames")
            generated = animate_from_best_frame(gen.model, target, driving, best,
                                                on_frames=lambda n: bar.advance(task, n), **kw)
        else:
            task = bar.add_task(f"generating {name}", total=count, unit="frames")
            generated = animate(gen.model, target, driving, on_frames=lambda n: bar.advance(task, n), **kw)
    native = render == Render.NATIVE
    shown = target.native if native else target.frames
    color = ("rgb" if shown.shape[1] == 3 else "gray") if native else "gray"
    drv, rate, fps_source, extra = retimed_outputs(driving.frames, fps, fps_source, controls, positions)
    return write_outputs(Path(out_dir), name, shown, drv, generated, rate, playback_fps=playback_fps,
                         fps_source=fps_source, out_size=None if native else out_size, render=render, color=color,
                         extra=extra)


def retimed_outputs(driving_frames, fps: float, fps_source: str, controls, positions):
    """What the outputs show for a clip retimed to ``positions`` (None: not retimed): the driving frames nearest
    each output frame (for the sheet), the output's frame rate and where it came from, and ``timing.json``'s
    record of the resampling."""
    if positions is None:
        return driving_frames, fps, fps_source, {}
    from megen.ops.timing import nearest_frames

    rate = float(controls.out_fps or fps)
    record = {"resampled_from": {"capture_fps": float(fps), "capture_fps_source": fps_source,
                                 "frames": len(driving_frames), "duration_s": round(len(driving_frames) / fps, 4)},
              "resampling": "the driver's optical flow interpolated between its frames (megen.ops.timing)"}
    return driving_frames[nearest_frames(positions)], rate, "out_fps=" if controls.out_fps else fps_source, record


def generate_pair(gen: Animator, target_path, driving_spec: str, out_dir, relative: bool = True,
                  adapt_movement_scale: bool = False, find_best_frame: bool = False,
                  crop: bool | tuple[bool, bool] = True,
                  fps: float | None = None, batch_size: int = 8, cache_dir: str | None = None,
                  name: str | None = None, inputs: PairInputs | None = None, progress: bool = False,
                  playback_fps: float | None = DEFAULT_PLAYBACK_FPS, out_size: int | None = None,
                  render: str = "decoder", controls=None, magnify: float = 1.0) -> Path:
    """Generate one (target, driving) pair and write its outputs; returns the output folder.

    ``inputs`` from ``load_pair_inputs`` skips reading the files again.
    """
    inputs = inputs or load_pair_inputs(target_path, driving_spec, crop, cache_dir)
    target, driving = face_inputs(gen, inputs, crop, render, out_size, magnify)
    if crop_sides(crop)[1] and inputs.driving_prepared is None and driving.face_found:
        from megen.animation.driving import faceless_warning

        crops = driving.native if driving.native is not None else driving.frames
        warning = faceless_warning(inputs.driving_name, to_uint8(crops.mean(1))[..., 0])
        if warning:
            print(f"warning: {warning}", flush=True)
    name = name or f"{inputs.driving_name}-{Path(target_path).stem}"
    rate, source = capture_rate(fps, inputs.fps)
    return render_pair(gen, target, driving, out_dir, name, rate, relative=relative,
                       adapt_movement_scale=adapt_movement_scale, find_best_frame=find_best_frame,
                       batch_size=batch_size, progress=progress, playback_fps=playback_fps, fps_source=source,
                       out_size=out_size, render=render, controls=controls, magnify=magnify)


def native_target(image: np.ndarray, landmarks: np.ndarray, out_size: int | None = None):
    """The target's face crop at its own size (or ``out_size``, at most 512) and colour, and its landmarks there."""
    from megen.animation.animator import _native_crop
    from megen.animation.native import native_size
    from megen.face.crop import crop_box, transform_points

    box = crop_box(landmarks, image.shape[:2])
    n = native_size(box[2] - box[0], out_size)
    return _native_crop(image, box, n), transform_points(landmarks, box, n)


def flow_transfer_pair(inputs: PairInputs, out_dir, fps: float | None = None,
                       playback_fps: float | None = DEFAULT_PLAYBACK_FPS, out_size: int | None = None,
                       name: str | None = None, estimator: tuple = (None, None), controls=None,
                       aus_gain: tuple | None = None) -> Path:
    """The training-free baseline for one pair (``megen.animation.flow_transfer``): the target's face
    crop at its own size (or ``out_size``, at most 512) and colour, warped by the driver's optical flow
    measured by ``estimator``, (name, checkpoint) of ``megen.models.microflow.flow_estimator`` (name None:
    Farnebäck), shaped by ``controls`` (``megen.face.controls.MotionControls``); ``aus_gain``: (basis file,
    {AU: gain}) scales the driver's AUs first (``megen.expression.edit``)."""
    from megen.animation.flow_transfer import transfer
    from megen.face.flow import driver_flows

    if inputs.target_landmarks is None or inputs.driving_landmarks is None:
        raise GenerationError("method=flow_transfer maps the motion by the faces' landmarks: it needs crop=true")
    target, landmarks = native_target(inputs.target, inputs.target_landmarks, out_size)
    from megen.models.microflow import flow_estimator

    measure = flow_estimator(estimator[0] or "farneback", estimator[1])
    rate, source = capture_rate(fps, inputs.fps)
    positions = None if controls is None else controls.positions(len(inputs.frames), rate)
    driver = driver_flows(inputs.frames, inputs.driving_landmarks, estimator=measure)
    edited = {}
    if aus_gain:
        from megen.expression import load_basis
        from megen.expression.edit import edit_aus

        driver, peaks = edit_aus(driver, load_basis(aus_gain[0]), dict(aus_gain[1]))
        edited = {"aus_gain": {a: float(g) for a, g in aus_gain[1].items()}, "basis": str(aus_gain[0]),
                  "au_peak_activation": {a: round(v, 4) for a, v in peaks.items()}}
        print("aus_gain: " + ", ".join(f"{a} x{float(g):g} (its peak activation {peaks[a]:.2f})"
                                       for a, g in zip(peaks, aus_gain[1].values())))
    generated = transfer(target, landmarks, driver, controls, positions)
    name = name or f"{inputs.driving_name}-{inputs.target_path.stem}"
    drv, rate, source, extra = retimed_outputs(np.stack([to_gray_uint8(f) for f in inputs.frames]), rate, source,
                                               controls, positions)
    extra = {**extra, **edited}
    return write_outputs(Path(out_dir), name, target[None], drv, generated, rate, playback_fps=playback_fps,
                         fps_source=source, render="flow_transfer", color="gray" if target.ndim == 2 else "rgb",
                         extra=extra)


def au_pair(target_path, basis_path, out_dir, aus=None, emotion: str | None = None, intensity: float = 1.0,
            duration_ms: float | None = None, fps: float | None = None, crop: bool = True, background: float = 255,
            playback_fps: float | None = DEFAULT_PLAYBACK_FPS, out_size: int | None = None, controls=None,
            name: str | None = None, apex_px: float | None = None) -> Path:
    """A micro-expression made from action units on the target photo: ``aus`` (or ``emotion``'s most frequent AU
    set) at ``intensity`` (and ``apex_px``, ``megen.expression.compose.au_motion``) from the basis file
    (``megen.expression``), lasting ``duration_ms`` at ``fps``, carried
    into the target's face crop at its own size and colour and rendered there, shaped by ``controls`` (gain,
    regions, retarget). The outputs are driven generation's; the sheet's driving row shows the generated
    frames, there being no driving clip."""
    from dataclasses import replace

    from megen.animation.flow_transfer import transfer
    from megen.expression import load_basis
    from megen.expression.compose import au_motion

    if not crop:
        raise GenerationError("method=au maps the motion by the target's landmarks: it needs crop=true")
    basis = load_basis(basis_path)
    motion = au_motion(basis, aus, emotion, intensity, duration_ms, fps, apex_px)
    print(motion.source if emotion else f"aus: {', '.join(motion.weights) or 'none (the still face)'}")
    image, landmarks = load_target(target_path, True, background)
    target, landmarks = native_target(image, landmarks, out_size)
    shape = None if controls is None else replace(controls, out_fps=None, duration_ms=None)
    generated = transfer(target, landmarks, motion.driver(), shape)
    name = name or f"{'+'.join(motion.weights) or 'still'}-{Path(target_path).stem}"
    extra = {**motion.record(), "basis": {"file": str(basis_path), **basis.provenance}}
    return write_outputs(Path(out_dir), name, target[None], generated, generated, motion.fps,
                         playback_fps=playback_fps, fps_source="aus= (no driving clip)", render="au",
                         color="gray" if target.ndim == 2 else "rgb", extra=extra)


def au_pair_of(cfg) -> Path:
    """``au_pair`` from ``python -m megen.generate method=au``'s options, its folder's summary printed."""
    from megen.animation.outputs import print_summary
    from megen.face.controls import MotionControls

    folder = au_pair(cfg.target, cfg.basis, Path(cfg.out), None if cfg.get("aus") is None else list(cfg.aus),
                     cfg.get("emotion"), float(cfg.intensity), cfg.get("duration_ms"), cfg.get("out_fps") or cfg.fps,
                     cfg.crop if cfg.get("crop_target") is None else cfg.crop_target, cfg.alpha_background,
                     cfg.playback_fps, cfg.get("out_size"), MotionControls.of(cfg), apex_px=cfg.get("apex_px"))
    print_summary(folder)
    return folder
