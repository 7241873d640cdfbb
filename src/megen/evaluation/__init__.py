"""Scoring generation: against synthetic ground truth (``synthetic``) and on real pairs without it
(``real_pairs``: a real driving clip, a real target, the static copy, the flow-transfer baseline and
any published outputs side by side)."""
from megen.evaluation.synthetic import cross_identity, evaluate_checkpoint, metrics_markdown, reconstruction

__all__ = ["cross_identity", "evaluate_checkpoint", "metrics_markdown", "reconstruction"]
