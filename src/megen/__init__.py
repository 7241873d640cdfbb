"""megen: facial micro-expression generation."""
__version__ = "0.1.0"
