"""Dataset readers: one module per dataset, each ``read_<name>(root, sheet=None) -> (records, report)``.

Readers know one dataset's layout and sheet and nothing else; they never decode images.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from megen.data.readers.casme2 import read_casme2
from megen.data.readers.samm import read_samm
from megen.data.readers.smic import read_smic
from megen.data.records import ClipRecord, ReaderReport

READERS: dict[str, Callable[..., tuple[list[ClipRecord], ReaderReport]]] = {
    "casme2": read_casme2,
    "samm": read_samm,
    "smic": read_smic,
}
DATASET_NAMES = tuple(READERS)


class DrivingClip(NamedTuple):
    """A MEGC generation driving clip. ``subject`` is None where the protocol does not name it."""

    dataset: str
    subject: str | None
    clip: str
    emotion: str


#: The 9 MEGC2021/2022 driving clips (excluded from training in the paper).
MEGC_DRIVING_CLIPS: tuple[DrivingClip, ...] = (
    DrivingClip("casme2", "sub19", "EP01_01f", "Positive"),
    DrivingClip("casme2", None, "EP19_06f", "Negative"),
    DrivingClip("casme2", "sub17", "EP01_13", "Surprise"),
    DrivingClip("samm", "022", "022_3_3", "Positive"),
    DrivingClip("samm", "018", "018_3_1", "Negative"),
    DrivingClip("samm", "007", "007_7_1", "Surprise"),
    DrivingClip("smic", "s3", "s3_po_05", "Positive"),
    DrivingClip("smic", "s11", "s11_ne_02", "Negative"),
    DrivingClip("smic", "s20", "s20_sur_01", "Surprise"),
)


def is_driving_clip(dataset: str, subject: str, clip: str) -> bool:
    """Whether (dataset, subject, clip) is one of MEGC_DRIVING_CLIPS (subject ignored where unknown)."""
    return any(
        d.dataset == dataset and d.clip.lower() == str(clip).lower() and (d.subject is None or d.subject == subject)
        for d in MEGC_DRIVING_CLIPS
    )


def read_dataset(name: str, root, sheet=None, **options) -> tuple[list[ClipRecord], ReaderReport]:
    """Dispatch to ``read_<name>``; ``options`` go to the reader (casme2: tree=, smic: variant=)."""
    if name not in READERS:
        raise ValueError(f"no reader for dataset {name!r}; valid names: {', '.join(DATASET_NAMES)}")
    return READERS[name](root, sheet=sheet, **options)


__all__ = [
    "DATASET_NAMES",
    "MEGC_DRIVING_CLIPS",
    "READERS",
    "DrivingClip",
    "is_driving_clip",
    "read_casme2",
    "read_dataset",
    "read_samm",
    "read_smic",
]
