"""The error of bad generation input (no torch: the commands raise it before the slow imports)."""


class GenerationError(RuntimeError):
    """Bad generation input; the message names the file or setting."""
