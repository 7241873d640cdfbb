"""Action-unit codes as the datasets' coding sheets write them, read into ``{"AU12": intensity}``.

CASME II writes ``4+L10``, ``R12``; SAMM ``R12B+14``, ``4+7+43``; the synthetic set ``4+7``. A side prefix (L, R)
is dropped: the basis is fitted on the whole face and a unilateral AU adds to the same field. A FACS
intensity letter (A trace ... E maximum) becomes 0.2 ... 1.0; none is 1.
"""
from __future__ import annotations

import re

#: FACS intensity letters as a share of the maximum
INTENSITY_LETTERS = {"A": 0.2, "B": 0.4, "C": 0.6, "D": 0.8, "E": 1.0}
_TOKEN = re.compile(r"^(?:AU)?\s*([LRTB])?\s*(\d{1,2})\s*([A-E])?$", re.IGNORECASE)


def au_name(code) -> str:
    """``4``, ``"4"``, ``"au4"``, ``"AU 04"`` -> ``"AU4"``; anything else is a ValueError naming it."""
    text = str(code).strip()
    match = _TOKEN.match(text)
    if not match or match.group(1) or match.group(3):
        raise ValueError(f"{code!r} is not an action unit (expected AU<number>, e.g. AU4 or 12)")
    return f"AU{int(match.group(2))}"


def parse_action_units(text) -> tuple[dict[str, float], list[str]]:
    """A sheet's AU cell -> ({AU name: intensity in (0, 1]}, the tokens that are no AU code, kept for the report).

    An AU coded twice (``L12+R12``) keeps its larger intensity."""
    aus: dict[str, float] = {}
    unread: list[str] = []
    for token in re.split(r"[+,;/\s]+", str(text or "").replace("(", "").replace(")", "")):
        if not token:
            continue
        match = _TOKEN.match(token)
        if not match:
            unread.append(token)
            continue
        name = f"AU{int(match.group(2))}"
        level = INTENSITY_LETTERS[match.group(3).upper()] if match.group(3) else 1.0
        aus[name] = max(level, aus.get(name, 0.0))
    return aus, unread


__all__ = ["INTENSITY_LETTERS", "au_name", "parse_action_units"]
