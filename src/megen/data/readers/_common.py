"""Helpers shared by the dataset readers: finding trees and sheets, reading sheets, cutting clips."""
from __future__ import annotations

import fnmatch
import math
import os
import re
from pathlib import Path

from megen.data.records import ClipRecord, DatasetRootError, ReaderReport, frame_number, sorted_frames

SHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv")
# subject folders (sub01, 006, s3): sheets never sit inside them, so searches do not descend
_FRAME_DIRS = re.compile(r"(sub\d+|\d{3}|s\d+)", re.IGNORECASE)
MISSING_MARKS = {"", "/", "-", "--", "n/a", "na", "nan", "none", "?"}


def norm_col(name) -> str:
    """Header cell -> comparable key: lower case, letters and digits only ('Onset Frame' -> 'onsetframe')."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in MISSING_MARKS


def cell_text(value) -> str:
    """A sheet cell as text: integral numbers lose their '.0', missing cells become ''."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value).strip()


def cell_int(value) -> int | None:
    """A frame-number cell as int; None when missing or not a whole number ('/', '-', text)."""
    if is_missing(value) or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    if re.fullmatch(r"[+-]?\d+(\.0+)?", text):
        return int(float(text))
    return None


def _walk_dirs(root: Path, max_depth: int, prune):
    """Directories under ``root`` (root included) up to ``max_depth``, not descending into pruned ones."""
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        yield folder, depth
        if depth >= max_depth:
            continue
        try:
            children = sorted(
                (Path(e.path) for e in os.scandir(folder) if e.is_dir() and not e.name.startswith(".")),
                reverse=True,
            )
        except OSError:
            continue
        stack.extend((c, depth + 1) for c in children if not prune(c))


def find_trees(root: Path, subject_pattern: str, max_depth: int = 4) -> list[Path]:
    """Folders under ``root`` (itself included) that hold subject folders matching ``subject_pattern``."""
    rx = re.compile(subject_pattern)
    found = []
    for folder, _ in _walk_dirs(root, max_depth, prune=lambda p: bool(rx.fullmatch(p.name))):
        try:
            if any(e.is_dir() and rx.fullmatch(e.name) for e in os.scandir(folder)):
                found.append(folder)
        except OSError:
            continue
    return found


def find_sheet(root: Path, names: tuple[str, ...], patterns: tuple[str, ...], max_depth: int = 3) -> Path | None:
    """The first known sheet name found under ``root`` (shallowest first), else the first pattern match."""
    wanted = [n.lower() for n in names]
    by_name: list[tuple[int, int, Path]] = []
    by_pattern: list[tuple[int, int, Path]] = []
    for folder, depth in _walk_dirs(root, max_depth, prune=lambda p: bool(_FRAME_DIRS.fullmatch(p.name))):
        try:
            files = [Path(e.path) for e in os.scandir(folder) if e.is_file()]
        except OSError:
            continue
        for f in files:
            if f.name.startswith(("~$", ".")) or f.suffix.lower() not in SHEET_SUFFIXES:
                continue
            if f.name.lower() in wanted:
                by_name.append((wanted.index(f.name.lower()), depth, f))
            elif any(fnmatch.fnmatch(f.name.lower(), p.lower()) for p in patterns):
                by_pattern.append((depth, 0, f))
    if by_name:
        return min(by_name, key=lambda t: (t[0], t[1], str(t[2])))[2]
    if by_pattern:
        return min(by_pattern, key=lambda t: (t[0], str(t[2])))[2]
    return None


def _raw_table(path: Path, sheet_name: int | str | None = 0):
    """The rows of one sheet (``sheet_name``: its index or name in a workbook) as lists of cells (None: empty);
    ``sheet_name=None``: every sheet's, by name (a CSV is one sheet, named by its file)."""
    import pandas as pd

    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, header=None, dtype=object, keep_default_na=False)
            frame = {path.stem: frame} if sheet_name is None else frame
        elif suffix == ".xls":
            try:
                frame = pd.read_excel(path, header=None, dtype=object, sheet_name=sheet_name, engine="xlrd")
            except ImportError as err:
                raise ImportError(
                    f"reading the .xls sheet {path} needs the xlrd package (`pip install xlrd`), "
                    "or save the sheet as .xlsx and pass its path"
                ) from err
        else:
            frame = pd.read_excel(path, header=None, dtype=object, sheet_name=sheet_name, engine="openpyxl")
    except ImportError:
        raise
    except Exception as err:
        raise ValueError(f"cannot read sheet {path}: {type(err).__name__}: {err}") from err

    def rows(table) -> list[list]:
        return [[None if is_missing_float(v) else v for v in row] for row in table.itertuples(index=False, name=None)]

    return {name: rows(t) for name, t in frame.items()} if sheet_name is None else rows(frame)


def raw_sheets(path: Path) -> dict[str, list[list]]:
    """Every sheet of a workbook read once, by name: rows of cells, without header detection."""
    return _raw_table(path, None)


def is_missing_float(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def read_table(path: str | Path, key_column: str = "filename", max_scan: int = 60) -> tuple[list[dict], int]:
    """Rows of a sheet as dicts keyed by :func:`norm_col` header names.

    The header row is the first of the top ``max_scan`` rows with a cell ``key_column``
    (normalised), so notes above the table are skipped whatever their length.
    Returns (rows, 0-based header row index); rows carry their 1-based sheet row in ``'_row'``.
    Raises ValueError naming the file when no header is found.
    """
    path = Path(path)
    table = _raw_table(path)
    key = norm_col(key_column)
    header_at = next(
        (i for i, row in enumerate(table[:max_scan]) if any(not is_missing_float(c) and norm_col(c) == key for c in row)),
        None,
    )
    if header_at is None:
        raise ValueError(f"sheet {path} has no header row with a {key_column!r} cell in its first {max_scan} rows")
    header = []
    for j, cell in enumerate(table[header_at]):
        name = norm_col(cell) if not is_missing_float(cell) and norm_col(cell) else f"unnamed{j}"
        header.append(name if name not in header else f"{name}_{j}")
    rows = []
    for i, row in enumerate(table[header_at + 1:], start=header_at + 2):
        if all(is_missing(c) for c in row):
            continue
        record = dict(zip(header, row))
        record["_row"] = i
        rows.append(record)
    return rows, header_at


def require_columns(rows: list[dict], path: Path, columns: tuple[str, ...]) -> None:
    if not rows:
        raise ValueError(f"sheet {path} has a header but no rows")
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        present = sorted(k for k in rows[0] if k != "_row")
        raise ValueError(f"sheet {path} lacks columns {missing} (normalised names; found {present})")


def match_folder(parent: Path, name: str) -> Path | None:
    """``parent/name``, else a child whose name matches ignoring case, else ignoring leading zeros
    of its '_'-separated numeric parts (a sheet cell read as a number loses them)."""
    if not name:
        return None
    exact = parent / name
    if exact.is_dir():
        return exact
    if not parent.is_dir():
        return None
    children = [p for p in parent.iterdir() if p.is_dir()]
    for child in children:
        if child.name.lower() == name.lower():
            return child

    def loose(text: str) -> str:
        return "_".join(part.lstrip("0") or "0" if part.isdigit() else part.lower() for part in text.split("_"))

    hits = [c for c in children if loose(c.name) == loose(name)]
    return hits[0] if len(hits) == 1 else None


def sheet_clip_folder(report: ReaderReport, frames_root: Path, row: dict, subject_folder, used: set[Path]):
    """The clip folder a sheet row names -> (subject folder name, Filename text, folder), or None.

    ``subject_folder`` turns the Subject cell into the dataset's folder name. Rows whose cells,
    subject folder or clip folder cannot be found, and repeated rows, are skipped with the
    reason; the folder found is added to ``used``.
    """
    name = cell_text(row["filename"])
    subject = subject_folder(row["subject"])
    key = f"{subject or cell_text(row['subject'])}/{name}"
    where = f"sheet row {row['_row']}"
    if subject is None or not name:
        report.skip(key, f"{where}: unreadable Subject/Filename cells")
        return None
    subject_dir = frames_root / subject
    if not subject_dir.is_dir():
        report.skip(key, f"{where}: subject folder {subject_dir} not found")
        return None
    folder = match_folder(subject_dir, name)
    if folder is None:
        report.skip(key, f"{where}: clip folder {subject_dir / name} not found")
        return None
    if folder in used:
        report.skip(key, f"{where}: duplicate row for {folder}")
        return None
    used.add(folder)
    return subject, name, folder


def skip_unlisted_folders(report: ReaderReport, frames_root: Path, used: set[Path]) -> None:
    """Report every <subject>/<clip> folder that no sheet row named."""
    for subject_dir in sorted(p for p in frames_root.iterdir() if p.is_dir()):
        for folder in sorted(p for p in subject_dir.iterdir() if p.is_dir()):
            if folder not in used:
                report.skip(f"{subject_dir.name}/{folder.name}", "folder not in the sheet")


def cut_clip(
    report: ReaderReport,
    dataset: str,
    subject: str,
    clip: str,
    folder: Path,
    onset: int | None,
    apex: int | None,
    offset: int | None,
    emotion: str,
    action_units: str,
    fps: float,
    apex_raw=None,
    notes: tuple[str, ...] = (),
) -> ClipRecord | None:
    """Apply the annotation policy to one clip folder; returns a record or None (reported as skipped).

    Policy (frame numbers are the absolute numbers in the file names):
      * onset/offset missing, or offset < onset: skipped;
      * offset past the last frame / onset before the first frame: clamped to it, flagged;
      * frames missing inside onset..offset: flagged, the clip is kept if >= 2 frames remain;
      * apex missing ('/', '-', empty, negative): middle of onset..offset, flagged;
      * apex outside [onset, offset]: middle of onset..offset, flagged;
      * apex frame file absent: the nearest present frame, flagged.
    The record keeps only the onset..offset frames; its onset/apex/offset are indices into them.
    """
    key = f"{subject}/{clip}"
    notes = list(notes)

    def flag(reason: str) -> None:
        report.flag(key, reason)
        notes.append(reason)

    try:
        frames = sorted_frames(folder)
    except (ValueError, OSError) as err:
        report.skip(key, f"cannot list frames: {err}")
        return None
    if not frames:
        report.skip(key, f"no image files in {folder}")
        return None
    numbers = [frame_number(p.name) for p in frames]
    if len(set(numbers)) != len(numbers):
        dupes = sorted({n for n in numbers if numbers.count(n) > 1})
        flag(f"duplicate frame numbers {dupes[:5]} in {folder}: first file of each kept")
        seen, keep = set(), []
        for p, n in zip(frames, numbers):
            if n not in seen:
                seen.add(n)
                keep.append((p, n))
        frames, numbers = [p for p, _ in keep], [n for _, n in keep]
    if onset is None or offset is None:
        report.skip(key, f"onset/offset not annotated (onset={onset}, offset={offset})")
        return None
    if offset < onset:
        report.skip(key, f"offset {offset} before onset {onset}")
        return None
    first, last = numbers[0], numbers[-1]
    if onset > last or offset < first:
        report.skip(key, f"onset..offset {onset}..{offset} outside the frames on disk {first}..{last}")
        return None
    if offset > last:
        flag(f"offset {offset} past the last frame {last}: clamped to {last}")
        offset = last
    if onset < first:
        flag(f"onset {onset} before the first frame {first}: clamped to {first}")
        onset = first
    chosen = [(p, n) for p, n in zip(frames, numbers) if onset <= n <= offset]
    missing = (offset - onset + 1) - len(chosen)
    if missing > 0:
        present = {n for _, n in chosen}
        gaps = [n for n in range(onset, offset + 1) if n not in present]
        flag(f"{missing} frame(s) missing inside {onset}..{offset} (e.g. {gaps[:5]})")
    if len(chosen) < 2:
        report.skip(key, f"only {len(chosen)} frame(s) inside {onset}..{offset}")
        return None
    middle = (onset + offset) // 2
    if apex is None or apex < 0:
        shown = cell_text(apex_raw) if apex_raw is not None else apex
        flag(f"apex not annotated ({shown!r}): middle frame {middle} of onset..offset used")
        apex = middle
    elif not onset <= apex <= offset:
        flag(f"apex {apex} outside onset..offset {onset}..{offset}: middle frame {middle} used")
        apex = middle
    kept_numbers = [n for _, n in chosen]
    apex_index = min(range(len(kept_numbers)), key=lambda i: (abs(kept_numbers[i] - apex), kept_numbers[i]))
    if kept_numbers[apex_index] != apex:
        flag(f"apex frame {apex} not on disk: nearest frame {kept_numbers[apex_index]} used")
    return ClipRecord(
        dataset=dataset,
        subject=subject,
        clip=clip,
        frame_paths=tuple(str(p) for p, _ in chosen),
        frame_numbers=tuple(kept_numbers),
        onset=0,
        apex=apex_index,
        offset=len(chosen) - 1,
        emotion=emotion,
        action_units=action_units,
        fps=float(fps),
        notes=tuple(notes),
    )


def check_root(dataset: str, root, layout: str) -> Path:
    if root is None or str(root) == "":
        raise DatasetRootError(dataset, root, "no root given", layout)
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DatasetRootError(dataset, path, "the folder does not exist", layout)
    return path


def resolve_sheet(dataset: str, root: Path, sheet, names, patterns, layout: str) -> Path:
    if sheet is not None:
        path = Path(sheet).expanduser()
        if not path.is_absolute() and not path.is_file():
            path = root / path
        if not path.is_file():
            raise DatasetRootError(dataset, root, f"the sheet {sheet} does not exist", layout)
        return path
    found = find_sheet(root, names, patterns)
    if found is None:
        raise DatasetRootError(dataset, root, f"no coding sheet found (looked for {', '.join(names)})", layout)
    return found
