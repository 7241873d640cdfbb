"""The datasets' emotion labels and the MEGC 2019 composite classes they pool into.

The composite protocol (MEGC 2019) pools CASME II, SAMM and SMIC-HS into three classes. Its
published sanity counts: 442 clips from 68 subjects, CASME II 145 (88 negative, 32 positive,
25 surprise), SAMM 133 (92 / 26 / 15), SMIC-HS 164 (70 / 51 / 43). Clips labelled "others" /
"other" belong to no class and are left out.
"""
from __future__ import annotations

COMPOSITE_CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")

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


__all__ = ["COMPOSITE_CLASSES", "COMPOSITE_TABLE", "composite_class", "normalise_emotion"]
