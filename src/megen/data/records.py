"""Clip records: what a dataset reader returns (paths and annotations, never pixels).

A :class:`ClipRecord` lists the frame files of one expression, numerically sorted and cut to
the annotated onset..offset range, with onset/apex/offset given as 0-based INDICES into
``frame_paths`` (the original frame numbers stay in ``frame_numbers``). Everything a reader
had to decide or repair about a clip is written into ``notes`` and into the
:class:`ReaderReport` it returns beside the records.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from megen.runtime.video import is_image

_TRAILING_DIGITS = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class ClipRecord:
    """One annotated clip of a dataset.

    ``onset``, ``apex`` and ``offset`` index ``frame_paths`` (0-based) after the reader's
    policy was applied; ``frame_numbers`` are the absolute frame numbers of those files.
    """

    dataset: str
    subject: str
    clip: str
    frame_paths: tuple[str, ...]
    frame_numbers: tuple[int, ...]
    onset: int
    apex: int
    offset: int
    emotion: str
    action_units: str
    fps: float
    notes: tuple[str, ...] = ()

    def __post_init__(self):
        n = len(self.frame_paths)
        if n != len(self.frame_numbers):
            raise ValueError(f"{self.key}: {n} frame paths but {len(self.frame_numbers)} frame numbers")
        if n < 2:
            raise ValueError(f"{self.key}: a clip needs at least 2 frames, got {n}")
        if not 0 <= self.onset <= self.apex <= self.offset < n:
            raise ValueError(
                f"{self.key}: need 0 <= onset <= apex <= offset < {n}, "
                f"got onset={self.onset} apex={self.apex} offset={self.offset}"
            )

    @property
    def key(self) -> str:
        """``dataset/subject/clip``, for messages and reports."""
        return f"{self.dataset}/{self.subject}/{self.clip}"

    @property
    def n_frames(self) -> int:
        return len(self.frame_paths)


def frame_number(name: str | Path) -> int:
    """The absolute frame number in a frame file name.

    The digits after the last ``_`` of the stem when that part is all digits
    (``006_05562.jpg`` -> 5562), otherwise the trailing digits of the stem
    (``img46.jpg``, ``reg_img46.jpg`` -> 46). Raises ValueError naming the file otherwise.
    """
    stem = Path(name).stem
    last = stem.rsplit("_", 1)[-1]
    if last.isdigit():
        return int(last)
    match = _TRAILING_DIGITS.search(stem)
    if match is None:
        raise ValueError(f"no frame number in file name {str(name)!r} (expected digits at the end of the name)")
    return int(match.group(1))


def sorted_frames(folder: str | Path) -> list[Path]:
    """Image files of ``folder`` sorted NUMERICALLY by :func:`frame_number` (img9 before img10).

    Hidden files and non-images are ignored; an image without a number raises ValueError naming it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"frame folder not found: {folder}")
    images = [p for p in folder.iterdir() if is_image(p)]
    return sorted(images, key=lambda p: (frame_number(p.name), p.name))


@dataclass
class ReaderReport:
    """What a reader skipped (no record) and flagged (record kept, annotation repaired)."""

    dataset: str
    root: str = ""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    flagged: list[tuple[str, str]] = field(default_factory=list)
    source: dict = field(default_factory=dict)     # which tree / sheet the records came from

    def skip(self, clip: str, reason: str) -> None:
        self.skipped.append((clip, reason))

    def flag(self, clip: str, reason: str) -> None:
        self.flagged.append((clip, reason))

    def reasons(self, clip: str) -> list[str]:
        """Every skip or flag reason recorded for ``clip``."""
        return [r for c, r in self.skipped + self.flagged if c == clip]

    def summary(self) -> str:
        lines = [f"{self.dataset}: {len(self.skipped)} skipped, {len(self.flagged)} flagged"]
        lines += [f"  skipped {c}: {r}" for c, r in self.skipped]
        lines += [f"  flagged {c}: {r}" for c, r in self.flagged]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "dataset": self.dataset, "root": self.root, "source": dict(self.source),
            "skipped": [list(x) for x in self.skipped], "flagged": [list(x) for x in self.flagged],
        }


class DatasetRootError(FileNotFoundError):
    """A dataset root is missing or does not look like the dataset; the message shows the layout."""

    def __init__(self, dataset: str, root: str | Path, problem: str, layout: str):
        self.dataset, self.root, self.problem, self.layout = dataset, str(root), problem, layout
        super().__init__(
            f"{dataset} data not usable at {root}: {problem}\n"
            f"expected layout under the dataset root:\n{layout.rstrip()}\n"
            f"(set dataset.root=... or put the data under <paths.data_dir>/{dataset})"
        )

    def __reduce__(self):
        return (type(self), (self.dataset, self.root, self.problem, self.layout))


@dataclass(frozen=True)
class SpottedInterval:
    """One expression in a long video: frames ``onset`` <= ``apex`` <= ``offset``, 0-based (written 1-based)."""

    video: str
    onset: int
    apex: int
    offset: int
    subject: str = ""
    kind: str = "micro"
    action_units: str = ""
    emotion: str = ""
    source: str = ""                # the driver: <dataset>:<clip> or its file name
    number: int = 1                 # the expression's number within its video
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        if not 0 <= self.onset <= self.apex <= self.offset:
            raise ValueError(f"{self.video}: onset {self.onset} <= apex {self.apex} <= offset {self.offset} expected")

