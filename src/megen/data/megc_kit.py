"""The MEGC 2021 / 2022 generation test kit: its names, its layout, and one check of all of it.

No torch here (so not inside ``megen.animation``, whose package imports the models):
``python -m megen.generate protocol=...`` checks the kit before the slow imports and before
loading the checkpoint; ``megen.animation.megc`` runs the protocol. The kit section of
docs/generation.md is ``kit_markdown()`` (a test keeps them equal).
"""
from __future__ import annotations

from pathlib import Path

from megen.data.readers import MEGC_DRIVING_CLIPS
from megen.runtime.video import frame_paths

#: The nine driving clips (excluded from training by default): clip id -> (dataset, emotion).
MEGC_CLIPS: dict[str, tuple[str, str]] = {d.clip: (d.dataset, d.emotion) for d in MEGC_DRIVING_CLIPS}
#: The kit's folder of each dataset's driving clips, under source_samples/.
KIT_FOLDERS = {"casme2": "casme2_challenge", "samm": "SAMM_challenge", "smic": "Smic_challenge"}
#: The template faces of each edition, under target_template_face/ (the case of the suffix varies).
TEMPLATES = {
    "megc2021": ("normalized_westernMale.jpg", "normalized_asianFemale.jpg"),
    "megc2022": ("Template_Female_Asian.jpg", "Template_Female_Europe.jpg", "Template_Male_Asian.jpg",
                 "Template_Male_Europe.JPG"),
}
PROTOCOLS = tuple(TEMPLATES)


class KitError(FileNotFoundError):
    """The test kit lacks files; the message lists every one of them and the expected layout."""


def kit_layout(root) -> str:
    """The expected test-kit layout, for error messages."""
    return (f"{root}/source_samples/{{{','.join(KIT_FOLDERS.values())}}}/<Emotion>_<clip>/*.jpg and "
            f"{root}/target_template_face/<template images> (see docs/generation.md, 'The MEGC test kit')")


def _clip_folder(folder: Path, clip: str) -> Path | None:
    """The kit names clip folders <Emotion>_<clip>; the bare clip id is accepted too."""
    if not folder.is_dir():
        return None
    matches = sorted(p for p in folder.iterdir() if p.is_dir() and (p.name == clip or p.name.endswith(f"_{clip}")))
    return matches[0] if matches else None


def _template(folder: Path, name: str) -> Path | None:
    path = folder / name
    if path.is_file():
        return path
    matches = [p for p in folder.iterdir() if p.is_file() and p.name.lower() == name.lower()] if folder.is_dir() else []
    return matches[0] if matches else None


def check_kit(root, protocol: str) -> tuple[list[Path], dict[str, Path]]:
    """Every template and driving clip of ``protocol`` in the kit at ``root``: (template files,
    clip id -> frame folder). Raises ``KitError`` listing everything missing at once."""
    if protocol not in TEMPLATES:
        raise ValueError(f"protocol={protocol!r} is not valid; valid: {', '.join(PROTOCOLS)}")
    root = Path(root)
    if not root.is_dir():
        raise KitError(f"megc_root={root}: no such folder; expected {kit_layout(root)}")
    missing, templates, clips = [], [], {}
    faces = root / "target_template_face"
    for name in TEMPLATES[protocol]:
        found = _template(faces, name)
        if found is None:
            missing.append(f"target_template_face/{name}")
        else:
            templates.append(found)
    for clip, (dataset, emotion) in MEGC_CLIPS.items():
        folder = root / "source_samples" / KIT_FOLDERS[dataset]
        found = _clip_folder(folder, clip)
        if found is None:
            missing.append(f"source_samples/{KIT_FOLDERS[dataset]}/{emotion}_{clip}/")
            continue
        try:
            if len(frame_paths(found)) < 2:
                missing.append(f"{found.relative_to(root)}/ (one frame; at least 2 are needed)")
                continue
        except ValueError:
            missing.append(f"{found.relative_to(root)}/*.jpg (no image frames)")
            continue
        clips[clip] = found
    if missing:
        raise KitError(f"the {protocol} test kit at {root} is incomplete; missing {len(missing)} of "
                       f"{len(TEMPLATES[protocol]) + len(MEGC_CLIPS)}: {', '.join(missing)} "
                       f"(layout: docs/generation.md, 'The MEGC test kit')")
    return templates, clips


def kit_markdown() -> str:
    """The kit layout with every file name, for docs/generation.md."""
    lines = ["```", "<megc_root>/", "  source_samples/"]
    for dataset, folder in KIT_FOLDERS.items():
        lines.append(f"    {folder}/")
        for clip, (ds, emotion) in MEGC_CLIPS.items():
            if ds == dataset:
                lines.append(f"      {emotion}_{clip}/*.jpg")
    lines.append("  target_template_face/")
    for protocol, names in TEMPLATES.items():
        lines.append(f"    {'  '.join(names)}    ({protocol})")
    lines.append("```")
    return "\n".join(lines)
