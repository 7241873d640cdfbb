"""``Choice``: a set of option values as a ``str`` Enum, the base of every package's option vocabulary.

``str`` Enums, since OmegaConf has no ``Literal``: a member equals, prints and serialises as its value
(``Render.NATIVE == "native"``, ``f"{Render.NATIVE}"`` is ``native``),
so configs keep plain strings; the code that reads an option turns its string into a member once (``parse``),
and compares members. A package that reads an option declares its values beside the code that
reads them (``megen.models.choices``, ``megen.face.choices``, ``megen.data.choices``); ``megen.config.choices``
gathers them for the checks and ``--help``.
"""
from __future__ import annotations

from enum import StrEnum


class Choice(StrEnum):
    """A set of option values; ``values()`` is what error messages list as valid, in declaration order."""

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)

    @classmethod
    def parse(cls, value, setting: str | None = None):
        """``value`` (a member or its string) as a member of ``cls``: the one conversion from a config's strings
        to members, where an option enters the code that reads it. A ValueError names ``setting`` (default: the
        class) and the valid values otherwise."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"{setting or cls.__name__}={value!r} is not valid; valid: {', '.join(cls.values())}") from None

__all__ = ["Choice"]
