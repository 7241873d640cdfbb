"""Generation's errors, defined in ``megen.runtime.errors`` (importable without torch) and named here too."""
from megen.runtime.errors import ExportError, GenerationError

__all__ = ["ExportError", "GenerationError"]
