"""Helpers for tests and benchmarks, not used by any command: raw dataset trees in the real releases' layouts,
written from synthetic clips (``rawtree``)."""
