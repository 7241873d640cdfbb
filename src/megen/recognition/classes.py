"""Which class a clip belongs to: the MEGC 2019 composite classes or the dataset's own emotions.

The composite protocol (MEGC 2019) pools CASME II, SAMM and SMIC-HS into three classes. Its
published sanity counts: 442 clips from 68 subjects, CASME II 145 (88 negative, 32 positive,
25 surprise), SAMM 133 (92 / 26 / 15), SMIC-HS 164 (70 / 51 / 43). Clips labelled "others" /
"other" belong to no class and are left out.
"""
from __future__ import annotations

from dataclasses import dataclass

from megen.config.choices import ClassMode

COMPOSITE_CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")
CLASS_MODES = ClassMode.values()

#: (dataset, emotion as the reader writes it (lower case), composite class or None = left out).
#: The synthetic set uses CASME II's emotion names and mapping.
COMPOSITE_TABLE: tuple[tuple[str, str, str | None], ...] = (
    ("casme2", "happiness", "positive"),
    ("casme2", "surprise", "surprise"),
    ("casme2", "disgust", "negative"),
    ("casme2", "repression", "negative"),
    ("casme2", "fear", "negative"),
    ("casme2", "sadness", "negative"),
    ("casme2", "others", None),
    ("samm", "happiness", "positive"),
    ("samm", "surprise", "surprise"),
    ("samm", "anger", "negative"),
    ("samm", "contempt", "negative"),
    ("samm", "disgust", "negative"),
    ("samm", "fear", "negative"),
    ("samm", "sadness", "negative"),
    ("samm", "other", None),
    ("smic", "positive", "positive"),
    ("smic", "negative", "negative"),
    ("smic", "surprise", "surprise"),
    ("synthetic", "happiness", "positive"),
    ("synthetic", "surprise", "surprise"),
    ("synthetic", "disgust", "negative"),
    ("synthetic", "repression", "negative"),
    ("synthetic", "fear", "negative"),
    ("synthetic", "sadness", "negative"),
    ("synthetic", "others", None),
)

_BY_DATASET: dict[str, dict[str, str | None]] = {}
for _dataset, _emotion, _class in COMPOSITE_TABLE:
    _BY_DATASET.setdefault(_dataset, {})[_emotion] = _class


def _by_emotion() -> dict[str, str | None]:
    """Emotion -> class where every dataset of the table that knows the emotion agrees."""
    seen: dict[str, set] = {}
    for _, emotion, cls in COMPOSITE_TABLE:
        seen.setdefault(emotion, set()).add(cls)
    return {e: next(iter(c)) for e, c in seen.items() if len(c) == 1}


_BY_EMOTION = _by_emotion()


def normalise_emotion(emotion) -> str:
    return str(emotion or "").strip().lower()


def composite_class(dataset: str, emotion: str) -> str | None:
    """The MEGC 2019 composite class of a clip, or None when it belongs to none.

    A dataset the table does not list (a generated set, a folder of your own) is mapped by the
    emotion alone wherever the listed datasets agree on it; an emotion nobody lists maps to None.
    """
    emotion = normalise_emotion(emotion)
    table = _BY_DATASET.get(str(dataset).lower())
    if table is not None:
        return table.get(emotion)
    return _BY_EMOTION.get(emotion)


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

    mode: str = "composite"
    classes: tuple[str, ...] | None = None
    exclude_emotions: tuple[str, ...] = ()

    def __post_init__(self):
        if self.mode not in CLASS_MODES:
            raise ValueError(f"classes={self.mode!r} is not a class mode; valid: {', '.join(CLASS_MODES)}")
        self.exclude_emotions = tuple(normalise_emotion(e) for e in self.exclude_emotions)
        if self.classes is None and self.mode == "composite":
            self.classes = COMPOSITE_CLASSES
        if self.classes is not None:
            self.classes = tuple(self.classes)

    def label_name(self, row: dict) -> str | None:
        emotion = normalise_emotion(row.get("emotion"))
        if not emotion or emotion in self.exclude_emotions:
            return None
        name = composite_class(row.get("dataset", ""), emotion) if self.mode == "composite" else emotion
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
