"""SAMM reader: 3-digit subject folders plus the Micro-FACS sheet -> clip records (no image decoded)."""
from __future__ import annotations

import re
from pathlib import Path

from megen.data.readers._common import (
    cell_int,
    cell_text,
    check_root,
    cut_clip,
    find_trees,
    read_table,
    require_columns,
    resolve_sheet,
    sheet_clip_folder,
    skip_unlisted_folders,
)
from megen.data.records import ClipRecord, DatasetRootError, ReaderReport

DATASET = "samm"
FPS = 200.0

SHEET_NAMES = ("SAMM_Micro_FACS_Codes_v2.xlsx", "SAMM_Micro_FACS_Codes_v2.xls", "SAMM_Micro_FACS_Codes.xlsx")
SHEET_PATTERNS = ("samm*facs*.xls*", "samm*codes*.xls*", "samm*.xlsx")
SUBJECT_DIR = r"\d{3}"

LAYOUT = """\
  <root>/SAMM_Micro_FACS_Codes_v2.xlsx   (notes block on top; header row with Subject, Filename, ...)
  <root>/SAMM/006/006_1_2/006_05562.jpg ...   (3-digit subject folders; 4- or 5-digit frame numbers)
  sheet columns: Subject | Filename | Inducement Code | Onset Frame | Apex Frame | Offset Frame | Duration |
                 Micro | Action Units | Estimated Emotion | Objective Classes | Notes
"""


def find_tree(root: Path) -> Path:
    found = find_trees(root, SUBJECT_DIR)
    if not found:
        raise DatasetRootError(DATASET, root, "no frames tree (3-digit subject folders 006, 007, ...)", LAYOUT)
    return min(found, key=lambda p: ("samm" not in p.name.lower(), len(p.parts), str(p)))


def subject_folder(value) -> str | None:
    """Sheet Subject cell -> 3-digit folder name (6 -> '006', '006' -> '006')."""
    text = cell_text(value)
    return f"{int(text):03d}" if re.fullmatch(r"\d+", text) else None


def read_samm(root, sheet=None) -> tuple[list[ClipRecord], ReaderReport]:
    """Clip records of SAMM found under ``root``.

    The header row is found by scanning for a 'Filename' cell, so the notes block above the
    table may have any length. A Filename cell that is not text (read as a number) is matched
    to its folder ignoring lost leading zeros and flagged. Emotions are lower case.
    """
    root = check_root(DATASET, root, LAYOUT)
    sheet_path = resolve_sheet(DATASET, root, sheet, SHEET_NAMES, SHEET_PATTERNS, LAYOUT)
    frames_root = find_tree(root)
    report = ReaderReport(DATASET, str(root), source={"sheet": str(sheet_path), "tree": str(frames_root)})
    rows, header_at = read_table(sheet_path, "filename")
    report.source["header_row"] = header_at + 1
    require_columns(rows, sheet_path, ("subject", "filename", "onsetframe", "apexframe", "offsetframe"))

    records: list[ClipRecord] = []
    used: set[Path] = set()
    for row in rows:
        found = sheet_clip_folder(report, frames_root, row, subject_folder, used)
        if found is None:
            continue
        subject, name, folder = found
        raw_name = row["filename"]
        notes = ()
        if not isinstance(raw_name, str) or folder.name != name:
            note = f"Filename cell {raw_name!r} ({type(raw_name).__name__}) matched folder {folder.name}"
            report.flag(f"{subject}/{folder.name}", note)
            notes = (note,)
        record = cut_clip(
            report, DATASET, subject, folder.name, folder,
            onset=cell_int(row["onsetframe"]), apex=cell_int(row["apexframe"]), offset=cell_int(row["offsetframe"]),
            emotion=cell_text(row.get("estimatedemotion")).lower(),
            action_units=cell_text(row.get("actionunits")),
            fps=FPS, apex_raw=row["apexframe"], notes=notes,
        )
        if record is not None:
            records.append(record)
    skip_unlisted_folders(report, frames_root, used)
    return records, report
