"""Write synthetic clips as a real-looking raw dataset tree (CASME II, SAMM or SMIC-HS layout).

Used to exercise the dataset readers and real-data preparation without licensed data. The
face of each synthetic frame is upscaled (about 256 px, so dlib finds it) and pasted into a
larger gray canvas at one position per clip; frames get absolute frame numbers starting at a
random offset and the sheets use the real column names and header offsets. With
``quirks=True`` the known defects of the real releases are reproduced, one clip each.

Beside the tree, ``raw_tree_truth.json`` records what was written (names, frame numbers,
sheet values, which quirk went where), so tests can check the readers against it.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

LAYOUTS = ("casme2", "casme2-raw", "casme2-cropped", "samm", "smic", "smic-cropped")
TRUTH_FILE = "raw_tree_truth.json"

CASME2_SHEET = "CASME2-coding-20140508.xlsx"
CASME2_HEADER = ("Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
                 "Estimated Emotion")
SAMM_SHEET = "SAMM_Micro_FACS_Codes_v2.xlsx"
SAMM_HEADER = ("Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
               "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes")
SAMM_HEADER_ROW = 14          # Excel row of the header below the notes block (pandas header=13)
SAMM_EMOTIONS = {"happiness": "Happiness", "disgust": "Disgust", "surprise": "Surprise", "sadness": "Sadness",
                 "fear": "Fear", "repression": "Other", "others": "Other", "anger": "Anger", "contempt": "Contempt"}
SMIC_GROUPS = {"happiness": "positive", "surprise": "surprise"}     # everything else -> negative
SMIC_CODES = {"positive": "po", "negative": "ne", "surprise": "sur"}


def _face(frame: np.ndarray, size: int) -> np.ndarray:
    interp = cv2.INTER_CUBIC if size > frame.shape[0] else cv2.INTER_AREA
    return cv2.resize(frame, (size, size), interpolation=interp)


class _Painter:
    """Pastes upscaled faces into a noisy gray canvas, one position per clip."""

    def __init__(self, canvas: tuple[int, int], rng: np.random.Generator):
        self.h, self.w = int(canvas[0]), int(canvas[1])
        self.size = int(min(256, min(self.h, self.w) - 16))
        if self.size < 96:
            raise ValueError(f"canvas {canvas} too small: the face needs at least 112 px on each side")
        self.rng = rng

    def background(self) -> np.ndarray:
        level = int(self.rng.integers(105, 150))
        noise = self.rng.normal(0.0, 3.0, (self.h, self.w))
        return np.clip(level + noise, 0, 255).astype(np.uint8)

    def clip_frames(self, frames: np.ndarray, blank: bool, cropped: bool) -> list[np.ndarray]:
        if cropped:
            if blank:
                return [np.full((self.size, self.size), 128, np.uint8) for _ in frames]
            return [_face(f, self.size) for f in frames]
        base = self.background()
        if blank:
            return [base.copy() for _ in frames]
        y = int(self.rng.integers(8, self.h - self.size - 7))
        x = int(self.rng.integers(8, self.w - self.size - 7))
        out = []
        for f in frames:
            img = base.copy()
            img[y:y + self.size, x:x + self.size] = _face(f, self.size)
            out.append(img)
        return out


def _write_image(path: Path, gray: np.ndarray, color: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR) if color else gray
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if path.suffix.lower() in (".jpg", ".jpeg") else []
    if not cv2.imwrite(str(path), img, params):
        raise OSError(f"cannot write image {path}")


def _subject_index(clips) -> dict[str, int]:
    order: dict[str, int] = {}
    for c in clips:
        order.setdefault(c.subject, len(order))
    return order


def _save_xlsx(path: Path, rows: list[list]) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    for row in rows:
        sheet.append(list(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


def _au_cell(text: str):
    """AU codes as Excel stores them: a single number becomes a numeric cell."""
    return int(text) if text.isdigit() else text


def write_raw_tree(clips, root, layout: str, canvas=(480, 640), quirks: bool = True, seed: int = 0) -> Path:
    """Write synthetic clips under ``root`` as a raw ``layout`` tree; returns the sheet path (SMIC: ``root``).

    Args:
        clips: SyntheticClip objects (``megen.synthetic.generate``).
        layout: casme2 (CASME2_RAW_selected), casme2-raw (CASME2-RAW, two extra frames on each
            side of onset..offset), casme2-cropped (Cropped/Cropped, reg_imgN.jpg, face only),
            samm, smic (SMIC_all_raw/HS) or smic-cropped (SMIC_all_cropped/HS, .bmp, face only).
        canvas: (H, W) of the full frames; the face is pasted at about 256 px.
        quirks: reproduce the known defects (see below), one clip each, in clip order.
        seed: frame-number offsets, canvas noise and face positions.

    Quirks (``quirks=True``), by clip position:
        casme2*: 0 frame numbers crossing 9 -> 10 (img9, img10); 1 apex '/'; 2 sheet offset past
            the last frame; 3 one frame missing inside onset..offset; last: no face (blank canvas);
            plus a sheet row whose subject folder is absent and a folder absent from the sheet
            (cropped: nested Cropped/Cropped).
        samm: notes block above the header (Excel row 14); subject 0 uses 4-digit frame numbers
            (crossing 9999 -> 10000), the others 5-digit; 1 apex outside onset..offset; 2 no apex;
            3 Filename cell that is a number (folder name all digits); 4 AUs with 'or'; last blank.
        smic*: 0 frame numbers crossing 99 -> 100 (from 97); non_micro folders; last blank.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown raw-tree layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    clips = list(clips)
    if not clips:
        raise ValueError("write_raw_tree needs at least one clip")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 7])
    painter = _Painter(canvas, rng)
    writer = {"casme2": _casme2, "samm": _samm, "smic": _smic}[layout.split("-")[0]]
    result, truth = writer(clips, root, layout, painter, rng, quirks)
    truth.update({"layout": layout, "quirks": quirks, "canvas": list(canvas), "face_size": painter.size})
    (root / TRUTH_FILE).write_text(json.dumps(truth, indent=2))
    return result


def _blank_index(clips, quirks: bool) -> int:
    return len(clips) - 1 if quirks and len(clips) >= 2 else -1


def _casme2(clips, root: Path, layout: str, painter: _Painter, rng, quirks: bool):
    cropped = layout == "casme2-cropped"
    tree = {"casme2": root / "CASME2_RAW_selected", "casme2-raw": root / "CASME2-RAW",
            "casme2-cropped": root / "Cropped" / "Cropped"}[layout]
    prefix = "reg_img" if cropped else "img"
    subjects = _subject_index(clips)
    per_subject: dict[str, int] = {}
    blank = _blank_index(clips, quirks)
    rows = [list(CASME2_HEADER)]
    entries = []
    for k, clip in enumerate(clips):
        i = subjects[clip.subject]
        j = per_subject[clip.subject] = per_subject.get(clip.subject, 0) + 1
        subject = f"sub{i + 1:02d}"
        name = f"EP{9 + j:02d}_{i + 1:02d}" + ("f" if j % 2 == 0 else "")
        tags = []
        start = int(rng.integers(20, 300))
        if quirks and k == 0:
            start = 7
            tags.append("numeric_sort")
        frames = list(clip.frames)
        pad = 2 if layout == "casme2-raw" else 0
        frames = [frames[0]] * pad + frames + [frames[-1]] * pad
        numbers = list(range(start - pad, start - pad + len(frames)))
        onset, apex, offset = start + clip.onset, start + clip.apex, start + clip.offset
        apex_cell, offset_cell = apex, offset
        if quirks and k == 1:
            apex_cell = "/"
            tags.append("apex_slash")
        if quirks and k == 2:
            offset_cell = offset + 5
            tags.append("offset_past_end")
        images = painter.clip_frames(np.asarray(frames), blank=(k == blank), cropped=cropped)
        if k == blank:
            tags.append("blank")
        drop = None
        if quirks and k == 3:
            drop = next((n for n in range(onset + 1, offset) if n != apex), None)
            if drop is not None:
                tags.append("missing_frame")
        written = []
        for n, img in zip(numbers, images):
            if n == drop:
                continue
            _write_image(tree / subject / name / f"{prefix}{n}.jpg", img, color=True)
            written.append(n)
        rows.append([i + 1, name, j, onset, apex_cell, offset_cell, None, _au_cell(clip.program.action_units),
                     clip.program.emotion])
        entries.append({"source": clip.clip, "subject": subject, "clip": name, "folder": str(tree / subject / name),
                        "frame_numbers": written, "onset": onset, "apex": apex, "offset": offset,
                        "emotion": clip.program.emotion, "action_units": clip.program.action_units, "quirks": tags})
    extra = {}
    if quirks:
        ghost = f"sub{len(subjects) + 5:02d}"
        rows.append([len(subjects) + 5, "EP01_01", 1, 10, 12, 20, None, "4", "others"])
        extra["sheet_row_without_folder"] = f"{ghost}/EP01_01"
        stray = tree / "sub01" / "EP99_99"
        for n in range(3):
            _write_image(stray / f"{prefix}{n + 1}.jpg", painter.background(), color=True)
        extra["folder_not_in_sheet"] = "sub01/EP99_99"
    sheet = root / CASME2_SHEET
    _save_xlsx(sheet, rows)
    return sheet, {"tree": str(tree), "sheet": str(sheet), "clips": entries, "extra": extra}


def _samm(clips, root: Path, layout: str, painter: _Painter, rng, quirks: bool):
    tree = root / "SAMM"
    subjects = _subject_index(clips)
    per_subject: dict[str, int] = {}
    blank = _blank_index(clips, quirks)
    table = []
    entries = []
    for k, clip in enumerate(clips):
        i = subjects[clip.subject]
        j = per_subject[clip.subject] = per_subject.get(clip.subject, 0) + 1
        subject = f"{6 + i:03d}"
        name = f"{subject}_{j}_{1 + i % 3}"
        name_cell: object = name
        tags = []
        digits = 4 if quirks and i == 0 else 5
        if digits == 4:
            tags.append("pad4")
        start = int(rng.integers(1000, 8000))
        if quirks and k == 0:
            start = 9999 - clip.onset - 2          # crosses 9999 -> 10000 with 4-digit names
            tags.append("numeric_sort")
        onset, apex, offset = start + clip.onset, start + clip.apex, start + clip.offset
        apex_cell = apex
        aus = clip.program.action_units
        if quirks and k == 1:
            apex_cell = offset + 10
            tags.append("apex_outside")
        if quirks and k == 2:
            apex_cell = "-"
            tags.append("apex_missing")
        if quirks and k == 3:
            name = f"{subject}{j}{1 + i % 3}"
            name_cell = int(name)
            tags.append("numeric_filename")
        if quirks and k == 4:
            aus = f"{aus} or R{aus.split('+')[0]}"
            tags.append("au_or")
        images = painter.clip_frames(clip.frames, blank=(k == blank), cropped=False)
        if k == blank:
            tags.append("blank")
        numbers = list(range(start, start + len(images)))
        for n, img in zip(numbers, images):
            _write_image(tree / subject / name / f"{subject}_{n:0{digits}d}.jpg", img, color=False)
        table.append([6 + i, name_cell, 1 + i % 3, onset, apex_cell, offset, offset - onset + 1, "Micro - 1/2",
                      _au_cell(aus), SAMM_EMOTIONS.get(clip.program.emotion, "Other"), 1 + k % 7, None])
        entries.append({"source": clip.clip, "subject": subject, "clip": name, "folder": str(tree / subject / name),
                        "frame_numbers": numbers, "onset": onset, "apex": apex, "offset": offset,
                        "emotion": SAMM_EMOTIONS.get(clip.program.emotion, "Other").lower(),
                        "action_units": aus, "quirks": tags})
    rows: list[list] = []
    if quirks:
        notes = [["SAMM Micro-Movement Database: Micro-FACS Codes"], [],
                 ["Notes:"], ["Onset, Apex and Offset are absolute frame numbers."],
                 ["Duration in frames."], ["Objective classes follow the FACS-based grouping."],
                 ["Inducement Code: the video that induced the movement."], [], ["Version 2"]]
        rows = notes + [[] for _ in range(SAMM_HEADER_ROW - 1 - len(notes))]
    rows += [list(SAMM_HEADER)] + table
    sheet = root / SAMM_SHEET
    _save_xlsx(sheet, rows)
    header_row = SAMM_HEADER_ROW if quirks else 1
    return sheet, {"tree": str(tree), "sheet": str(sheet), "header_row": header_row, "clips": entries, "extra": {}}


def _smic(clips, root: Path, layout: str, painter: _Painter, rng, quirks: bool):
    cropped = layout == "smic-cropped"
    tree = root / ("SMIC_all_cropped" if cropped else "SMIC_all_raw") / "HS"
    ext, prefix = (".bmp", "reg_image") if cropped else (".jpg", "image")
    subjects = _subject_index(clips)
    counts: dict[tuple[int, str], int] = {}
    blank = _blank_index(clips, quirks)
    entries = []
    for k, clip in enumerate(clips):
        i = subjects[clip.subject]
        subject = f"s{i + 1}"
        group = SMIC_GROUPS.get(clip.program.emotion, "negative")
        c = counts[(i, group)] = counts.get((i, group), 0) + 1
        name = f"{subject}_{SMIC_CODES[group]}_{c:02d}"
        tags = []
        start = int(rng.integers(100, 5000))
        if quirks and k == 0:
            start = 97
            tags.append("numeric_sort")
        images = painter.clip_frames(clip.frames, blank=(k == blank), cropped=cropped)
        if k == blank:
            tags.append("blank")
        numbers = list(range(start, start + len(images)))
        folder = tree / subject / "micro" / group / name
        for n, img in zip(numbers, images):
            _write_image(folder / f"{prefix}{n}{ext}", img, color=not cropped)
        entries.append({"source": clip.clip, "subject": subject, "clip": name, "folder": str(folder),
                        "frame_numbers": numbers, "onset": numbers[0], "apex": numbers[(len(numbers) - 1) // 2],
                        "offset": numbers[-1], "emotion": group, "action_units": "", "quirks": tags})
    extra = {}
    if quirks:
        non_micro = []
        for i in sorted(set(subjects.values()))[:2]:
            folder = tree / f"s{i + 1}" / "non_micro" / "negative" / f"s{i + 1}_ne_{90 + i:02d}"
            for n in range(3):
                _write_image(folder / f"{prefix}{n + 1}{ext}", painter.background()[: painter.size, : painter.size]
                             if cropped else painter.background(), color=not cropped)
            non_micro.append(f"s{i + 1}/{folder.name}")
        extra["non_micro"] = non_micro
    return root, {"tree": str(tree), "sheet": None, "clips": entries, "extra": extra}

