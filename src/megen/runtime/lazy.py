"""A package's public names imported on first use (PEP 562), so that importing one light module of the package
(its option values, ``<package>.choices``) does not import every heavy one: the config check reads those values
before torch loads."""
from __future__ import annotations

import importlib


def lazy_exports(package: str, exports: dict[str, str]):
    """``(__getattr__, __dir__)`` for the package ``package`` whose names ``exports`` maps to the modules defining
    them; a name is imported on first access and then kept in the package's namespace."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(list(namespace) + list(exports))

    return __getattr__, __dir__


__all__ = ["lazy_exports"]
