"""Which class a clip belongs to: the MEGC 2019 composite classes (``megen.data.emotions``) or the dataset's own
emotions."""
from __future__ import annotations

from dataclasses import dataclass

from megen.config.choices import ClassMode
from megen.data.emotions import COMPOSITE_CLASSES, COMPOSITE_TABLE, composite_class, normalise_emotion

__all__ = ["COMPOSITE_CLASSES", "COMPOSITE_TABLE", "ClassMapping", "composite_class",
           "normalise_emotion"]


@dataclass
class ClassMapping:
    """Turns manifest rows into class indices (None for a clip that belongs to no class).

    Args:
        mode: ``composite`` (negative / positive / surprise) or ``emotions`` (the rows' own
            lower-cased emotion labels).
        classes: a fixed class list (e.g. the real data's, so training-only extra clips share it);
            default: COMPOSITE_CLASSES, or for ``emotions`` the sorted labels :meth:`fit` finds.
        exclude_emotions: emotion labels to leave out in either mode (e.g. ``others``).
    """

    mode: ClassMode = ClassMode.COMPOSITE
    classes: tuple[str, ...] | None = None
    exclude_emotions: tuple[str, ...] = ()

    def __post_init__(self):
        self.mode = ClassMode.parse(self.mode, "classes")
        self.exclude_emotions = tuple(normalise_emotion(e) for e in self.exclude_emotions)
        if self.classes is None and self.mode == ClassMode.COMPOSITE:
            self.classes = COMPOSITE_CLASSES
        if self.classes is not None:
            self.classes = tuple(self.classes)

    def label_name(self, row: dict) -> str | None:
        emotion = normalise_emotion(row.get("emotion"))
        if not emotion or emotion in self.exclude_emotions:
            return None
        name = composite_class(row.get("dataset", ""), emotion) if self.mode == ClassMode.COMPOSITE else emotion
        if name is not None and self.classes is not None and name not in self.classes:
            return None
        return name

    def fit(self, rows) -> "ClassMapping":
        """Fix the class list from ``rows`` (``emotions`` mode without a given list); returns self."""
        if self.classes is None:
            names = {normalise_emotion(r.get("emotion")) for r in rows} - {""} - set(self.exclude_emotions)
            if not names:
                raise ValueError("no emotion labels in the chosen clips; cannot build classes=emotions")
            self.classes = tuple(sorted(names))
        return self

    def label(self, row: dict) -> int | None:
        """The class index of ``row``, or None where it belongs to no class."""
        if self.classes is None:
            raise RuntimeError("ClassMapping.fit(rows) must run before label() in emotions mode")
        name = self.label_name(row)
        return None if name is None else self.classes.index(name)
