"""Generate one (target photo, driving clip) pair end to end: crop, prior, animate, write."""
from __future__ import annotations

from pathlib import Path

from megen.animation.animate import animate, animate_from_best_frame, best_frame
from megen.animation.animator import Animator
from megen.animation.driving import load_driving
from megen.animation.outputs import write_outputs
from megen.face.landmarks import FaceNotFoundError, detect_landmarks
from megen.video import read_image, to_uint8

DEFAULT_FPS = 100.0   # the reference animation frame rate


def generate_pair(gen: Animator, target_path, driving_spec: str, out_dir, relative: bool = True,
                  adapt_movement_scale: bool = False, find_best_frame: bool = False, crop: bool = True,
                  fps: float | None = None, batch_size: int = 8, cache_dir: str | None = None,
                  name: str | None = None) -> Path:
    """Generate one (target, driving) pair and write its outputs; returns the output folder."""
    target_img = read_image(target_path)
    target = gen.face_input([target_img], crop=crop, source=str(target_path))
    frames, clip_fps, drv_name, drv_landmarks = load_driving(str(driving_spec), cache_dir)
    driving = gen.face_input(frames, crop=crop and drv_landmarks is None, source=str(driving_spec),
                             landmarks=drv_landmarks)
    kw = {"relative": relative, "adapt_movement_scale": adapt_movement_scale, "batch_size": batch_size}
    if find_best_frame and target.landmarks is not None:
        per_frame = []
        for f in to_uint8(driving.frames):
            try:
                per_frame.append(detect_landmarks(f))
            except FaceNotFoundError:
                per_frame.append(None)
        generated = animate_from_best_frame(gen.model, target, driving, best_frame(target.landmarks, per_frame), **kw)
    else:
        generated = animate(gen.model, target, driving, **kw)
    name = name or f"{drv_name}-{Path(target_path).stem}"
    return write_outputs(Path(out_dir), name, target.frames, driving.frames, generated, fps or clip_fps or DEFAULT_FPS)
