"""The MEGC 2021 / 2022 generation protocol: 9 driving clips x 2 or 4 template faces.

The kit's names and its check live in ``megen.data.megc_kit`` (no torch); this module runs it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from megen.animation.animator import Animator
from megen.animation.driving import load_driving
from megen.animation.errors import GenerationError
from megen.animation.pair import (
    DEFAULT_PLAYBACK_FPS,
    PairInputs,
    capture_rate,
    crop_sides,
    face_inputs,
    find_face,
    load_target,
    render_pair,
)
from megen.config.choices import Render
from megen.data.megc_kit import KIT_FOLDERS, MEGC_CLIPS, TEMPLATES, KitError, check_kit, kit_layout
from megen.runtime.progress import Progress
from megen.runtime.video import contact_sheet, frame_paths, read_image, write_png

__all__ = ["KIT_FOLDERS", "MEGC_CLIPS", "TEMPLATES", "KitError", "KitInputs", "check_kit", "kit_layout",
           "load_kit", "run_protocol"]


@dataclass
class KitInputs:
    """A checked kit: template images with their faces, and each driving clip's onset face."""

    protocol: str
    templates: dict[Path, tuple[np.ndarray, np.ndarray | None]]
    clips: dict[str, tuple[Path, np.ndarray | None]]


def load_kit(protocol: str, megc_root, crop: bool | tuple[bool, bool] = True) -> KitInputs:
    """Check the whole kit: every file present, templates and onset frames decode, faces found.

    Every problem is listed in one error (a missing-files ``KitError`` first, then unreadable
    images and faces not found).
    """
    if not megc_root:
        raise ValueError(f"protocol={protocol} needs megc_root=<test kit>; expected layout: {kit_layout('<kit>')}")
    templates, clips = check_kit(megc_root, protocol)
    crop_target, crop_driving = crop_sides(crop)
    problems, faces, onsets = [], {}, {}
    for path in templates:
        try:
            faces[path] = load_target(path, crop_target)
        except (OSError, GenerationError) as err:
            problems.append(str(err).split("; pass crop=false")[0])
    for clip, folder in clips.items():
        onset = frame_paths(folder)[0]
        try:
            onsets[clip] = (folder, find_face(read_image(onset), str(onset)) if crop_driving else None)
        except (OSError, GenerationError) as err:
            problems.append(str(err).split("; pass crop=false")[0])
    if problems:
        hint = " (crop=false uses images without a detectable face as they are)" if any(crop_sides(crop)) else ""
        raise GenerationError(f"the {protocol} test kit at {megc_root} has {len(problems)} unusable file(s){hint}: "
                              + "; ".join(problems))
    return KitInputs(protocol, faces, onsets)


def _peak(frames: torch.Tensor) -> int:
    """The frame that moves most from the first (micro-motion is invisible in a random frame)."""
    return int((frames - frames[:1]).abs().flatten(1).mean(1).argmax())


#: px of the challenge videos: the MEGC 2021 / 2022 entries published 256 x 256
MEGC_SIZE = 256
OVERVIEW_CELL = 128   # px of each overview cell when templates render at their own sizes


def _cell(frame: np.ndarray, resize: bool) -> np.ndarray:
    import cv2

    if not resize or frame.shape[:2] == (OVERVIEW_CELL, OVERVIEW_CELL):
        return frame
    return cv2.resize(frame, (OVERVIEW_CELL, OVERVIEW_CELL), interpolation=cv2.INTER_AREA)


def run_protocol(gen: Animator, protocol: str, megc_root, out_dir, kit: KitInputs | None = None,
                 relative: bool = True, adapt_movement_scale: bool = False, find_best_frame: bool = False,
                 crop: bool | tuple[bool, bool] = True, fps: float | None = None, batch_size: int = 8,
                 cache_dir: str | None = None,
                 progress: bool = False, playback_fps: float | None = DEFAULT_PLAYBACK_FPS,
                 out_size: int | None = None, render: str = "decoder", controls=None,
                 magnify: float = 1.0) -> list[Path]:
    """Write the 18 (2021) or 36 (2022) ``<driving>-<template>`` videos and one labelled overview sheet.

    Output is ``MEGC_SIZE`` px (the size the challenge entries published) unless ``out_size`` says
    otherwise: the face crop of every template (the kits' are 128 px) is enlarged to it before warping
    (``render=native``), or the video is (``render=decoder``), the same way for every entry.

    ``kit`` from ``load_kit`` skips checking the kit again. Each template is cropped once and
    each driving clip read once.
    """
    kit = kit or load_kit(protocol, megc_root, crop)
    out_dir = Path(out_dir)
    out_size = int(out_size or MEGC_SIZE)
    folders, rows, labels = [], [], []
    with Progress(progress) as bar:
        task = bar.add_task(f"{protocol} pairs", total=len(kit.clips) * len(kit.templates), unit="pairs")
        targets = [t.stem for t in kit.templates]
        for clip, (folder, onset_landmarks) in kit.clips.items():
            loaded = load_driving(str(folder), cache_dir)
            frames, clip_fps = loaded.frames, loaded.fps
            # the kit's clips are frame folders: their rate is their dataset's (CASME II / SAMM 200, SMIC-HS 100)
            rate, source = capture_rate(fps, clip_fps, MEGC_CLIPS.get(clip, ("", ""))[0])
            cells = []
            for template, (image, landmarks) in kit.templates.items():
                inputs = PairInputs(template, image, landmarks, frames, clip_fps, clip, onset_landmarks)
                target, driving = face_inputs(gen, inputs, crop, render, out_size, magnify)
                result = render_pair(gen, target, driving, out_dir, f"{clip}-{template.stem}",
                                     rate, relative=relative,
                                     adapt_movement_scale=adapt_movement_scale, find_best_frame=find_best_frame,
                                     batch_size=batch_size, progress=False, playback_fps=playback_fps,
                                     fps_source=source, out_size=out_size, render=render, controls=controls,
                                     magnify=magnify)
                folders.append(result)
                # one cell size for the overview, whatever size each template renders at
                native = render == Render.NATIVE
                generated = torch.stack([torch.from_numpy(_cell(read_image(p), native)).permute(2, 0, 1).float() / 255
                                         for p in sorted((result / "frames").glob("*.png"))])
                peak = _peak(generated)
                diff = ((generated[peak] - generated[0]).abs() * 10).clamp(0, 1)
                cells += [generated[0], generated[peak], diff]
                bar.advance(task)
            rows.append(torch.stack(cells))
            dataset, emotion = MEGC_CLIPS.get(clip, ("", ""))
            labels.append(f"{clip}\n{dataset} {emotion}".rstrip())
    sheet = contact_sheet(rows, row_labels=labels, column_labels=targets,
                          title=f"{protocol}: rows = driving clip, columns = template "
                                f"(onset frame | frame of peak motion | |peak - onset| x10)")
    write_png(out_dir / f"{protocol}-overview.png", sheet)
    how = ("every template's face crop enlarged to it before warping" if render == Render.NATIVE
           else "the model's frames enlarged to it in the videos")
    print(f"wrote {len(folders)} videos at {out_size} px ({how}; out_size= changes it) and "
          f"{out_dir / f'{protocol}-overview.png'} (videos play at {playback_fps:g} fps; each clip's capture rate "
          f"is in its timing.json)")
    return folders
