"""SMIC-HS reader: labels come from folder names (no sheet) -> clip records (no image decoded)."""
from __future__ import annotations

import re
from pathlib import Path

from megen.data.readers._common import check_root, find_trees
from megen.data.records import ClipRecord, DatasetRootError, ReaderReport, frame_number, sorted_frames

DATASET = "smic"
FPS = 100.0
EMOTIONS = ("negative", "positive", "surprise")
CODES = {"ne": "negative", "po": "positive", "sur": "surprise"}
SUBJECT_DIR = r"s\d+"
VARIANTS = ("raw", "cropped")

LAYOUT = """\
  <root>/SMIC_all_raw/HS/s1/micro/{negative,positive,surprise}/s1_ne_01/<frames>.jpg
  <root>/SMIC_all_cropped/HS/s1/micro/.../<frames>.bmp      (either tree; subject folders not zero-padded)
  non_micro/ folders are excluded; frames are sorted by the number in their names
"""


def variant_of(path: Path) -> str:
    return "cropped" if any("crop" in p.lower() for p in path.parts[-4:]) else "raw"


def find_tree(root: Path, variant: str | None = None) -> Path:
    """The HS tree (folders s1, s2, ...) under ``root``; ``variant`` 'raw' | 'cropped' | None (raw first)."""
    if variant is not None and variant not in VARIANTS:
        raise ValueError(f"unknown SMIC variant {variant!r}; valid: {', '.join(VARIANTS)}")
    found = [
        p for p in find_trees(root, SUBJECT_DIR)
        if not any(part.upper() in ("VIS", "NIR") for part in p.relative_to(root).parts)
    ]
    if variant is not None:
        found = [p for p in found if variant_of(p) == variant]
    if not found:
        what = f"no {variant} HS frames tree" if variant else "no HS frames tree (folders s1, s2, ...)"
        raise DatasetRootError(DATASET, root, what, LAYOUT)
    return min(found, key=lambda p: (VARIANTS.index(variant_of(p)), p.name.upper() != "HS", len(p.parts), str(p)))


def _leaf_folders(folder: Path) -> list[Path]:
    """Folders under ``folder`` (itself included) that directly hold files."""
    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_dir() and any(c.is_file() for c in p.iterdir()):
            out.append(p)
    return out


def read_smic(root, sheet=None, variant: str | None = None) -> tuple[list[ClipRecord], ReaderReport]:
    """Clip records of SMIC-HS under ``root``.

    SMIC has no coding sheet (``sheet`` is accepted for a uniform signature and ignored). Labels
    come from the emotion folder; the whole clip is the expression: onset = first frame, offset =
    last frame, apex = the middle frame (not annotated in SMIC). non_micro clips are excluded and
    listed in the report's ``skipped``.
    """
    root = check_root(DATASET, root, LAYOUT)
    tree = find_tree(root, variant)
    report = ReaderReport(DATASET, str(root), source={"tree": str(tree), "variant": variant_of(tree)})
    if sheet is not None:
        report.source["sheet_ignored"] = str(sheet)
    records: list[ClipRecord] = []
    subjects = sorted((p for p in tree.iterdir() if p.is_dir()), key=lambda p: (_num(p.name), p.name))
    for subject_dir in subjects:
        subject = subject_dir.name
        if not re.fullmatch(SUBJECT_DIR, subject):
            report.skip(subject, "not a subject folder (s<N>)")
            continue
        for child in sorted(p for p in subject_dir.iterdir() if p.is_dir()):
            if child.name.lower() != "micro":
                reason = "non_micro (not a micro-expression)" if "non" in child.name.lower() else \
                    f"unexpected folder {child.name!r} (expected micro/)"
                for leaf in _leaf_folders(child) or [child]:
                    report.skip(f"{subject}/{leaf.name}", reason)
                continue
            for emotion_dir in sorted(p for p in child.iterdir() if p.is_dir()):
                emotion = emotion_dir.name.lower()
                clips = sorted((p for p in emotion_dir.iterdir() if p.is_dir()), key=lambda p: (_num(p.name), p.name))
                if emotion not in EMOTIONS:
                    for clip_dir in clips or [emotion_dir]:
                        report.skip(f"{subject}/{clip_dir.name}", f"unknown emotion folder {emotion_dir.name!r}")
                    continue
                for clip_dir in clips:
                    record = _clip(report, subject, emotion, clip_dir)
                    if record is not None:
                        records.append(record)
    return records, report


def _num(name: str) -> int:
    digits = re.findall(r"\d+", name)
    return int(digits[-1]) if digits else -1


def _clip(report: ReaderReport, subject: str, emotion: str, folder: Path) -> ClipRecord | None:
    key = f"{subject}/{folder.name}"
    notes = []
    try:
        frames = sorted_frames(folder)
    except (ValueError, OSError) as err:
        report.skip(key, f"cannot list frames: {err}")
        return None
    if len(frames) < 2:
        report.skip(key, f"only {len(frames)} frame(s) in {folder}")
        return None
    match = re.fullmatch(r"s\d+_([a-z]+)_\d+", folder.name, re.IGNORECASE)
    if match is None or CODES.get(match.group(1).lower()) != emotion:
        note = f"clip name {folder.name!r} does not match its emotion folder {emotion!r}: folder label used"
        report.flag(key, note)
        notes.append(note)
    numbers = tuple(frame_number(p.name) for p in frames)
    gaps = numbers[-1] - numbers[0] + 1 - len(numbers)
    if gaps > 0:
        note = f"{gaps} frame number(s) missing between {numbers[0]} and {numbers[-1]}"
        report.flag(key, note)
        notes.append(note)
    n = len(frames)
    return ClipRecord(
        dataset=DATASET, subject=subject, clip=folder.name,
        frame_paths=tuple(str(p) for p in frames), frame_numbers=numbers,
        onset=0, apex=(n - 1) // 2, offset=n - 1,
        emotion=emotion, action_units="", fps=FPS, notes=tuple(notes),
    )
