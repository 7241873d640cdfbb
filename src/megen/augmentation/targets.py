"""Target identities for generated clips: subjects of prepared sets, or a folder of face photos."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from megen.animation.animate import FaceInput
from megen.animation.animator import Animator
from megen.config.choices import Render
from megen.data.cache import PreparedSet


@dataclass(frozen=True)
class Target:
    """One face to animate.

    name: the manifest's ``target`` (``dataset/subject``, or a photo's file name);
    subject: the generated clips' ``subject`` (their face is this identity's);
    identity: ``dataset/subject`` for a dataset subject, None for a photo;
    source: the file the face comes from (for messages).
    """

    name: str
    subject: str
    identity: str | None
    source: str
    face: FaceInput

    @property
    def landmarks(self) -> np.ndarray:
        return np.asarray(self.face.landmarks, dtype=np.float64)


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(text)).strip("-") or "target"


def subject_faces(sets: list[PreparedSet]) -> dict[str, tuple[PreparedSet, int]]:
    """``dataset/subject`` -> the clip whose onset frame shows that subject's face (its first clip by name)."""
    found: dict[str, tuple[PreparedSet, int, str]] = {}
    for prepared in sets:
        for i, row in enumerate(prepared.rows):
            key = f"{row['dataset']}/{row['subject']}"
            if key not in found or row["clip"] < found[key][2]:
                found[key] = (prepared, i, row["clip"])
    return {k: (p, i) for k, (p, i, _) in found.items()}


def subject_target(animator: Animator, key: str, prepared: PreparedSet, index: int,
                   render: str = "native") -> Target:
    """A dataset subject's face: the onset frame of one of its prepared clips, with its stored landmarks,
    at the model's frame size (``render="native"``: also as the crop rendered at that size)."""
    row = prepared.rows[index]
    onset = int(row["onset"])
    face = animator.prepared_input(prepared.load(index), slice(onset, onset + 1))
    if render == Render.NATIVE:
        face.native, face.native_landmarks = face.frames[:, :1].clone(), face.landmarks
    return Target(key, safe_name(key.replace("/", "-")), key, str(prepared.clip_path(row)), face)


def photo_targets(animator: Animator, folder, crop: bool = True, render: str = "native") -> list[Target]:
    """Every image of ``folder`` (sorted by name), face-detected and cropped like the training data (with
    ``render="native"`` also kept in colour at the model's frame size, where it is rendered)."""
    from megen.animation.animator import GenerationError
    from megen.runtime.video import is_image, read_image

    folder = Path(folder)
    paths = sorted((p for p in folder.iterdir() if p.is_file() and is_image(p)), key=lambda p: p.name)
    if not paths:
        raise FileNotFoundError(f"targets={folder}: no images (png, jpg, bmp, ...) in that folder")
    targets = []
    for path in paths:
        size = animator.frame_size
        face = animator.face_input([read_image(path)], crop=crop, source=str(path),
                                   native=(size, size) if render == Render.NATIVE else None)
        if face.landmarks is None:
            raise GenerationError(f"no face found in target photo {path}; generated clips need the target's "
                                  f"landmarks (use another photo)")
        targets.append(Target(path.name, safe_name(path.stem), None, str(path), face))
    subjects = [t.subject for t in targets]
    clashes = sorted({s for s in subjects if subjects.count(s) > 1})
    if clashes:
        raise ValueError(f"targets={folder}: photos {clashes} share a name stem; rename them (the stem is the "
                         f"generated clips' subject)")
    return targets
