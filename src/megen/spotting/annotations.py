"""Spotting ground truth in the layouts of the two long-video databases, and its reader.

Both list one expression per row with its video, onset, apex and offset frames (numbered from 1, as the
databases' image files are), its action units and its type:

* ``casme_sq`` (CAS(ME)², ``CAS(ME)^2code_final.xlsx`` as CSV): no header; participant, video name and
  expression number (``<video>_<k>``), onset, apex, offset, AUs (``4+7``), estimated emotion, expression type
  (``micro-expression``), self-reported emotion;
* ``samm_lv`` (SAMM Long Videos, ``SAMM_LongVideos_V2_Release.xlsx`` as CSV): the header ``Subject, Filename,
  Inducement Code, Onset, Apex, Offset, Duration, Type, Action Units, Notes``; Filename ``<video>_<k>``,
  Duration the frame count, Type ``Micro - 1/2``.

The driver's dataset and clip, which neither layout has a column for, go in ``Inducement Code`` / ``Notes``
(SAMM-LV) and in the self-reported column (CAS(ME)²).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from megen.data.choices import AnnotationLayout
from megen.data.records import SpottedInterval
from megen.runtime.io import atomic_write_text

LAYOUTS = tuple(AnnotationLayout)
SAMM_LV_HEADER = ("Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type",
                  "Action Units", "Notes")
MICRO = {AnnotationLayout.CASME_SQ: "micro-expression", AnnotationLayout.SAMM_LV: "Micro - 1/2"}


class AnnotationError(ValueError):
    """An annotation file that cannot be read; the message names the file and line."""


def annotation_rows(intervals: list[SpottedInterval], layout: str) -> list[list[str]]:
    """The rows (header first for ``samm_lv``) of ``intervals`` in ``layout`` (``LAYOUTS``)."""
    layout = AnnotationLayout.parse(layout, "annotation layout")
    rows = [list(SAMM_LV_HEADER)] if layout == AnnotationLayout.SAMM_LV else []
    for it in intervals:
        name = f"{it.video}_{it.number}"
        frames = [str(it.onset + 1), str(it.apex + 1), str(it.offset + 1)]
        kind = MICRO[layout] if it.kind == "micro" else ("macro-expression" if layout == AnnotationLayout.CASME_SQ else "Macro")
        if layout == AnnotationLayout.SAMM_LV:
            rows.append([it.subject or it.video, name, it.source, *frames, str(it.offset - it.onset + 1), kind,
                         it.action_units, f"emotion: {it.emotion}" if it.emotion else ""])
        else:
            rows.append([it.subject or it.video, name, *frames, it.action_units, it.emotion, kind, it.source])
    return rows


def write_annotations(path, intervals: list[SpottedInterval], layout: str) -> Path:
    """Write ``intervals`` to ``path`` as CSV in ``layout``, atomically."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(annotation_rows(intervals, layout))
    atomic_write_text(path, buf.getvalue())
    return Path(path)


def _frame(value: str, path: Path, line: int, column: str) -> int:
    try:
        number = int(float(value))
    except ValueError:
        raise AnnotationError(f"{path}:{line}: {column} {value!r} is not a frame number") from None
    if number < 1:
        raise AnnotationError(f"{path}:{line}: {column} {number}: frames are numbered from 1")
    return number - 1


def read_annotations(path) -> list[SpottedInterval]:
    """The intervals of a ``casme_sq`` or ``samm_lv`` CSV (the layout told by its first row), 0-based."""
    path = Path(path)
    try:
        rows = [r for r in csv.reader(io.StringIO(path.read_text())) if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError) as err:
        raise AnnotationError(f"{path}: cannot be read ({err})") from None
    if not rows:
        return []
    samm = [c.strip() for c in rows[0][:len(SAMM_LV_HEADER)]] == list(SAMM_LV_HEADER)
    out = []
    for line, row in enumerate(rows[1:] if samm else rows, start=2 if samm else 1):
        if len(row) < (9 if samm else 8):
            raise AnnotationError(f"{path}:{line}: {len(row)} columns, expected the {'samm_lv' if samm else 'casme_sq'}"
                                  " layout's")
        if samm:
            subject, name, source, onset, apex, offset, _, kind, aus, notes = (row + [""])[:10]
            emotion = notes.removeprefix("emotion: ") if notes.startswith("emotion: ") else ""
        else:
            subject, name, onset, apex, offset, aus, emotion, kind = row[:8]
            source = row[8] if len(row) > 8 else ""
        video, _, number = name.rpartition("_")
        frames = [_frame(v, path, line, c) for v, c in ((onset, "onset"), (apex, "apex"), (offset, "offset"))]
        try:
            out.append(SpottedInterval(video or name, *frames, subject=subject,
                                       kind="micro" if "micro" in kind.lower() else "macro", action_units=aus,
                                       emotion=emotion, source=source, number=int(number) if number.isdigit() else 1))
        except ValueError as err:
            raise AnnotationError(f"{path}:{line}: {err}") from None
    return out


__all__ = ["AnnotationError", "AnnotationLayout", "LAYOUTS", "SAMM_LV_HEADER", "SpottedInterval", "annotation_rows",
           "read_annotations", "write_annotations"]
