"""The project's own errors that the commands turn into one ``error:`` line (no torch: the commands catch
them before the slow imports). Each message names the file or setting and what to do."""


class GenerationError(RuntimeError):
    """Bad generation input; the message names the file or setting."""


class ExportError(RuntimeError):
    """A model or setting the ONNX export does not cover; the message says what to use instead."""
