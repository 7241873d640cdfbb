"""The MEGC 2021 / 2022 generation protocol: 9 driving clips x 2 or 4 template faces."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from megen.animation.pair import generate_pair
from megen.data.readers import MEGC_DRIVING_CLIPS
from megen.video import contact_sheet, read_image, write_png

#: The nine driving clips (excluded from training by default): clip id -> (dataset, emotion).
MEGC_CLIPS: dict[str, tuple[str, str]] = {d.clip: (d.dataset, d.emotion) for d in MEGC_DRIVING_CLIPS}
KIT_FOLDERS = {"casme2": "casme2_challenge", "samm": "SAMM_challenge", "smic": "Smic_challenge"}
TEMPLATES = {
    "megc2021": ("normalized_westernMale.jpg", "normalized_asianFemale.jpg"),
    "megc2022": ("Template_Female_Asian.jpg", "Template_Female_Europe.jpg", "Template_Male_Asian.jpg",
                 "Template_Male_Europe.JPG"),
}


def kit_layout(root) -> str:
    """The expected test-kit layout, for error messages."""
    return (f"{root}/source_samples/{{casme2_challenge,SAMM_challenge,Smic_challenge}}/<Emotion>_<clip>/*.jpg and "
            f"{root}/target_template_face/<template images>")


def find_templates(root: Path, protocol: str) -> list[Path]:
    if protocol not in TEMPLATES:
        raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(TEMPLATES)}")
    folder = root / "target_template_face"
    found = []
    for name in TEMPLATES[protocol]:
        path = folder / name
        if not path.is_file():   # the kits are inconsistent about .jpg / .JPG
            matches = [p for p in folder.glob("*") if p.name.lower() == name.lower()] if folder.is_dir() else []
            if not matches:
                raise FileNotFoundError(f"template {name} missing in {folder}; expected layout: {kit_layout(root)}")
            path = matches[0]
        found.append(path)
    return found


def find_driving_clips(root: Path) -> dict[str, Path]:
    """clip id -> its frame folder in the kit (folders are named <Emotion>_<clip>)."""
    out = {}
    for clip, (dataset, _) in MEGC_CLIPS.items():
        folder = root / "source_samples" / KIT_FOLDERS[dataset]
        matches = sorted(p for p in folder.glob(f"*{clip}") if p.is_dir() and p.name.endswith(clip)) if folder.is_dir() else []
        if not matches:
            raise FileNotFoundError(f"driving clip {clip} missing under {folder}; expected layout: {kit_layout(root)}")
        out[clip] = matches[0]
    return out


def run_protocol(gen, protocol: str, megc_root, out_dir, **options) -> list[Path]:
    """Write the 18 (2021) or 36 (2022) ``<driving>-<template>`` videos and one overview sheet."""
    if not megc_root:
        raise ValueError(f"protocol={protocol} needs megc_root=<test kit>; expected layout: {kit_layout('<kit>')}")
    root = Path(megc_root)
    templates = find_templates(root, protocol)
    clips = find_driving_clips(root)
    out_dir = Path(out_dir)
    folders, rows = [], []
    for clip, folder in clips.items():
        for template in templates:
            name = f"{clip}-{template.stem}"
            result = generate_pair(gen, template, str(folder), out_dir, name=name, **options)
            folders.append(result)
            frames = sorted((result / "frames").glob("*.png"))
            pick = [frames[i] for i in np.linspace(0, len(frames) - 1, min(6, len(frames))).round().astype(int)]
            rows.append(torch.stack([torch.from_numpy(read_image(p)).permute(2, 0, 1).float() / 255 for p in pick]))
    write_png(out_dir / f"{protocol}-overview.png", contact_sheet(rows))
    print(f"wrote {len(folders)} videos and {out_dir / f'{protocol}-overview.png'}")
    return folders
