"""``Choice``: a set of option values as a ``str`` Enum, the base of every package's option vocabulary.

``str`` Enums, since OmegaConf has no ``Literal``: a member equals its value (``Render.NATIVE == "native"``),
so configs keep plain strings. A package that reads an option declares its values beside the code that
reads them (``megen.models.choices``, ``megen.face.choices``, ``megen.data.choices``); ``megen.config.choices``
gathers them for the checks and ``--help``.
"""
from __future__ import annotations

from enum import Enum


class Choice(str, Enum):
    """A set of option values; ``values()`` is what error messages list as valid, in declaration order."""

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)

__all__ = ["Choice"]
