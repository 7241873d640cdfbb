"""CASME II reader: a frames tree plus the coding sheet -> clip records (no image is decoded)."""
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

DATASET = "casme2"
FPS = 200.0

#: Known sheet names, preferred first (newer releases fix some annotations).
SHEET_NAMES = (
    "CASME2-coding-20190701.xlsx",
    "CASME2-coding-updated.xlsx",
    "CASME2-coding-20140508.xlsx",
    "CASME2_label_Ver_2.xls",
)
SHEET_PATTERNS = ("casme2*coding*.xls*", "casme2*label*.xls*", "casme2*.xlsx")
SUBJECT_DIR = r"sub\d+"
TREE_KINDS = ("selected", "raw", "cropped")

LAYOUT = """\
  <root>/CASME2-coding-20140508.xlsx      (or -20190701 / -updated .xlsx, CASME2_label_Ver_2.xls)
  <root>/CASME2_RAW_selected/sub01/EP02_01f/img46.jpg ...   (or CASME2-RAW/, Cropped/ with reg_img46.jpg,
                                                             Cropped-updated/Cropped/, Cropped/Cropped/)
  sheet columns: Subject | Filename | . | OnsetFrame | ApexFrame | OffsetFrame | . | Action Units | Estimated Emotion
"""


def tree_kind(path: Path) -> str:
    """'selected' (CASME2_RAW_selected), 'cropped' (any Cropped folder) or 'raw' (CASME2-RAW or other)."""
    parts = [p.lower() for p in path.parts]
    if any("selected" in p for p in parts[-3:]):
        return "selected"
    if any("cropped" in p for p in parts[-3:]):
        return "cropped"
    return "raw"


def find_tree(root: Path, tree: str | None = None) -> Path:
    """The frames tree under ``root``: ``tree`` is a kind (selected | raw | cropped), a path, or None
    for the first of CASME2_RAW_selected, CASME2-RAW, Cropped that exists."""
    if tree is not None and tree not in TREE_KINDS:
        path = Path(tree).expanduser()
        path = path if path.is_absolute() else root / path
        if not path.is_dir():
            raise DatasetRootError(DATASET, root, f"the frames tree {tree} does not exist", LAYOUT)
        return path
    found = find_trees(root, SUBJECT_DIR)
    if tree is not None:
        found = [p for p in found if tree_kind(p) == tree]
    if not found:
        what = f"no {tree} frames tree" if tree else "no frames tree (folders sub01, sub02, ...)"
        raise DatasetRootError(DATASET, root, what, LAYOUT)
    rank = {k: i for i, k in enumerate(TREE_KINDS)}
    return min(found, key=lambda p: (rank[tree_kind(p)], "updated" not in str(p).lower(), len(p.parts), str(p)))


def subject_folder(value) -> str | None:
    """Sheet Subject cell -> folder name ``subXX`` (1 -> sub01, '01' -> sub01, 'sub1' -> sub01)."""
    text = cell_text(value)
    match = re.fullmatch(r"(?:sub)?0*(\d+)", text, re.IGNORECASE)
    return f"sub{int(match.group(1)):02d}" if match else None


def read_casme2(root, sheet=None, tree: str | None = None) -> tuple[list[ClipRecord], ReaderReport]:
    """Clip records of CASME II found under ``root``.

    Args:
        root: the dataset folder (holding the sheet and a frames tree, see ``LAYOUT``).
        sheet: the coding sheet (path, or relative to root); None searches the known names under root.
        tree: 'selected', 'raw', 'cropped', or a path; None prefers selected > raw > cropped.
    Returns:
        (records in sheet order, report of skipped and flagged clips). Emotions are lower case.
    """
    root = check_root(DATASET, root, LAYOUT)
    sheet_path = resolve_sheet(DATASET, root, sheet, SHEET_NAMES, SHEET_PATTERNS, LAYOUT)
    frames_root = find_tree(root, tree)
    report = ReaderReport(DATASET, str(root), source={"sheet": str(sheet_path), "tree": str(frames_root),
                                                      "tree_kind": tree_kind(frames_root)})
    rows, _ = read_table(sheet_path, "filename")
    require_columns(rows, sheet_path, ("subject", "filename", "onsetframe", "apexframe", "offsetframe"))

    records: list[ClipRecord] = []
    used: set[Path] = set()
    for row in rows:
        found = sheet_clip_folder(report, frames_root, row, subject_folder, used)
        if found is None:
            continue
        subject, name, folder = found
        record = cut_clip(
            report, DATASET, subject, name, folder,
            onset=cell_int(row["onsetframe"]), apex=cell_int(row["apexframe"]), offset=cell_int(row["offsetframe"]),
            emotion=cell_text(row.get("estimatedemotion")).lower(),
            action_units=cell_text(row.get("actionunits")),
            fps=FPS, apex_raw=row["apexframe"],
        )
        if record is not None:
            records.append(record)
    skip_unlisted_folders(report, frames_root, used)
    return records, report
