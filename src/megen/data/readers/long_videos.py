"""Readers of the two long-video spotting databases, CAS(ME)² and SAMM Long Videos: every video's frame files in
order and its coded expressions as 0-based frame intervals (``megen.spotting.annotations.SpottedInterval``).

Like the clip readers they know a layout and a sheet and never decode images. Frames are matched to the sheet by
the number in their file name (``img46.jpg``, ``006_1_0046.jpg``), which is what the sheets count.

CAS(ME)² (30 fps)::

    <root>/CAS(ME)^2code_final.xlsx     sheets: the code (participant, <expression>_<k>, onset, apex, offset,
                                        AUs, emotion, type, self-report; no header), "naming rule1" (subject
                                        folder number, its name, participant) and "naming rule2" (video code,
                                        expression name)
    <root>/rawpic/s15/15_0101disgustingteeth/img1.jpg ...

SAMM Long Videos (200 fps)::

    <root>/SAMM_LongVideos_V<n>_Release.xlsx   notes, then Subject, Filename (<video>_<k>), Inducement Code,
                                               Onset, Apex, Offset, Duration, Type (Micro - 1/2 | Macro), ...
    <root>/SAMM_longvideos/006_1/006_1_0001.jpg ...

An offset coded 0 or missing (some CAS(ME)² rows) is taken as apex + (apex - onset), as the MEGC baselines do.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from megen.data.readers._common import (
    cell_int,
    cell_text,
    check_root,
    norm_col,
    raw_sheets,
    read_table,
    require_columns,
    resolve_sheet,
)
from megen.data.records import SpottedInterval, frame_number, sorted_frames

CASME_SQ_FPS = 30.0
SAMM_LV_FPS = 200.0

CASME_SQ_LAYOUT = """\
CAS(ME)^2code_final.xlsx   (sheets: the code, "naming rule1", "naming rule2")
rawpic/s15/15_0101disgustingteeth/img1.jpg ...
"""
SAMM_LV_LAYOUT = """\
SAMM_LongVideos_V3_Release.xlsx
SAMM_longvideos/006_1/006_1_0001.jpg ...
"""


@dataclass(frozen=True)
class LongVideo:
    """One long video: ``frames`` its image files in order, ``numbers`` their frame numbers (what the sheet
    counts), ``intervals`` its coded expressions with 0-based indices into ``frames``."""

    name: str
    subject: str
    frames: tuple[Path, ...]
    numbers: tuple[int, ...]
    fps: float
    intervals: tuple[SpottedInterval, ...] = ()


@dataclass
class LongVideoSet:
    """A database's videos and what the reader could not use (one line each, naming the row or folder)."""

    videos: list[LongVideo]
    skipped: list[str] = field(default_factory=list)


def _interval(video: str, subject: str, numbers: dict[int, int], onset, apex, offset, **kw) -> SpottedInterval | str:
    """The interval of a sheet row as indices of the video's frames, or why it cannot be used."""
    onset, apex, offset = cell_int(onset), cell_int(apex), cell_int(offset)
    if onset is None or apex is None:
        return "no onset or apex frame"
    if apex < onset:        # an apex coded before its onset (or missing as 0): the onset is the peak
        apex = onset
    if offset is None or offset <= 0:
        offset = apex + (apex - onset)
    if offset < apex:
        return f"offset {offset} before apex {apex}"
    missing = [n for n in (onset, apex, offset) if n not in numbers]
    if missing:
        return f"frame {missing[0]} is not among the video's frame files"
    return SpottedInterval(video, numbers[onset], numbers[apex], numbers[offset], subject=subject, **kw)


def _video(name: str, subject: str, folder: Path, fps: float, rows: list[tuple], skipped: list[str]) -> LongVideo:
    frames = sorted_frames(folder)
    numbers = [frame_number(f.name) for f in frames]
    index = {n: i for i, n in enumerate(numbers)}
    intervals = []
    for where, cells, kw in rows:
        got = _interval(name, subject, index, *cells, **kw)
        if isinstance(got, str):
            skipped.append(f"{where}: {got}")
        else:
            intervals.append(got)
    return LongVideo(name, subject, tuple(frames), tuple(numbers), fps, tuple(intervals))


def _named_sheet(sheets: dict[str, list], path: Path, wanted: str, first_otherwise: bool = False) -> list[list]:
    """The rows of the sheet whose name holds ``wanted`` (letters and digits compared), else of the first sheet
    (``first_otherwise``) or a ValueError naming the workbook's sheets."""
    for name, rows in sheets.items():
        if norm_col(wanted) in norm_col(name):
            return rows
    if first_otherwise:
        return next(iter(sheets.values()))
    raise ValueError(f"sheet {path} has no {wanted!r} sheet (it has {', '.join(sheets)})")


def _frames_root(root: Path, name: str) -> Path:
    """``root/name``, or ``root`` itself when the frames' folder is what was given."""
    return root / name if (root / name).is_dir() else root


def read_casme_sq(root, sheet=None) -> LongVideoSet:
    """Every CAS(ME)² long video under ``root`` (its ``rawpic`` folder), with its coded expressions."""
    root = check_root("casme_sq", root, CASME_SQ_LAYOUT)
    path = resolve_sheet("casme_sq", root, sheet, ("CAS(ME)^2code_final.xlsx", "CAS(ME)^2code_final(Updated).xlsx"),
                         ("*code_final*.xls*", "*code_final*.csv"), CASME_SQ_LAYOUT)
    sheets = raw_sheets(path)
    code = _named_sheet(sheets, path, "code_final", first_otherwise=True)
    # naming rule1: subject folder number -> participant; naming rule2: expression name -> 4-digit video code
    participant_of = {}
    for row in _named_sheet(sheets, path, "naming rule1"):
        folder, participant = cell_int(row[0]), cell_int(row[2]) if len(row) > 2 else None
        if folder is not None and participant is not None:
            participant_of[folder] = participant
    video_code = {}
    for row in _named_sheet(sheets, path, "naming rule2"):
        number, name = cell_int(row[0]), cell_text(row[1]) if len(row) > 1 else ""
        if number is not None and name:
            video_code[name.lower()] = f"{number:04d}"
    coded: dict[tuple[int, str], list] = {}
    skipped = []
    for i, row in enumerate(code, start=1):
        if len(row) < 8 or cell_int(row[0]) is None:
            continue        # a title or blank row
        expression = cell_text(row[1])
        name = re.sub(r"_\d+$", "", expression).lower()
        if name not in video_code:
            skipped.append(f"{path.name} row {i}: expression {expression!r} is not in naming rule2")
            continue
        kind = "micro" if "micro" in cell_text(row[7]).lower() else "macro"
        number = cell_int(expression.rsplit("_", 1)[-1]) if "_" in expression else 1
        kw = {"kind": kind, "action_units": cell_text(row[5]), "emotion": cell_text(row[6]), "number": number or 1}
        coded.setdefault((cell_int(row[0]), video_code[name]), []).append((f"{path.name} row {i}", row[2:5], kw))
    frames_root = _frames_root(root, "rawpic")
    videos = []
    for subject_dir in sorted(p for p in frames_root.iterdir() if p.is_dir() and re.fullmatch(r"s\d+", p.name,
                                                                                                re.IGNORECASE)):
        folder_number = int(subject_dir.name[1:])
        participant = participant_of.get(folder_number)
        if participant is None:
            skipped.append(f"{subject_dir}: subject {folder_number} is not in naming rule1")
            continue
        for video_dir in sorted(p for p in subject_dir.iterdir() if p.is_dir()):
            match = re.match(r"(\d+)_(\d{4})", video_dir.name)
            if match is None:
                skipped.append(f"{video_dir}: not a <subject>_<code><name> video folder")
                continue
            rows = coded.pop((participant, match.group(2)), [])
            videos.append(_video(video_dir.name, subject_dir.name, video_dir, CASME_SQ_FPS, rows, skipped))
    skipped += [f"{where}: no frames folder for participant {p}, video {c}" for (p, c), rows in coded.items()
                for where, _, _ in rows]
    if not videos:
        raise FileNotFoundError(f"no CAS(ME)² video folders under {frames_root} (expected s15/15_0101.../img1.jpg)")
    return LongVideoSet(videos, skipped)


def read_samm_lv(root, sheet=None) -> LongVideoSet:
    """Every SAMM Long Videos video under ``root`` (its ``SAMM_longvideos`` folder), with its coded expressions."""
    root = check_root("samm_lv", root, SAMM_LV_LAYOUT)
    path = resolve_sheet("samm_lv", root, sheet, ("SAMM_LongVideos_V3_Release.xlsx", "SAMM_LongVideos_V2_Release.xlsx",
                                                  "SAMM_LongVideos_V1_Release.xlsx"),
                         ("SAMM_LongVideos*.xls*", "SAMM_LongVideos*.csv"), SAMM_LV_LAYOUT)
    rows, _ = read_table(path, "filename")
    require_columns(rows, path, ("subject", "filename", "onset", "apex", "offset", "type"))
    coded: dict[str, list] = {}
    for row in rows:
        name = cell_text(row["filename"])
        parts = name.split("_")
        if len(parts) < 3:
            continue
        video = "_".join(parts[:2])
        kind = "micro" if "micro" in cell_text(row["type"]).lower() else "macro"
        kw = {"kind": kind, "action_units": cell_text(row.get("actionunits")), "number": cell_int(parts[-1]) or 1}
        coded.setdefault(video, []).append((f"{path.name} row {row['_row']}",
                                            (row["onset"], row["apex"], row["offset"]), kw))
    frames_root = _frames_root(root, "SAMM_longvideos")
    videos, skipped = [], []
    for video_dir in sorted(p for p in frames_root.iterdir() if p.is_dir() and re.fullmatch(r"\d+_\d+", p.name)):
        subject = video_dir.name.split("_")[0]
        videos.append(_video(video_dir.name, subject, video_dir, SAMM_LV_FPS, coded.pop(video_dir.name, []), skipped))
    skipped += [f"{where}: no frames folder {video}" for video, rows in coded.items() for where, _, _ in rows]
    if not videos:
        raise FileNotFoundError(f"no SAMM Long Videos folders under {frames_root} (expected 006_1/006_1_0001.jpg)")
    return LongVideoSet(videos, skipped)


LONG_VIDEO_READERS = {"casme_sq": read_casme_sq, "samm_lv": read_samm_lv}


def read_long_videos(root, layout: str, sheet=None) -> LongVideoSet:
    """The videos of a long-video database at ``root`` in ``layout`` (``casme_sq`` | ``samm_lv``)."""
    if layout not in LONG_VIDEO_READERS:
        raise ValueError(f"spotting.layout={layout!r}: expected one of {', '.join(LONG_VIDEO_READERS)}")
    return LONG_VIDEO_READERS[layout](root, sheet)


__all__ = ["CASME_SQ_FPS", "LONG_VIDEO_READERS", "LongVideo", "LongVideoSet", "SAMM_LV_FPS", "read_casme_sq",
           "read_long_videos", "read_samm_lv"]
