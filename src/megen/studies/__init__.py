"""Studies over many runs: collecting their metrics and overrides, one row per variant (mean ± sd over
seeds) beside its baselines, and the figure (``report``)."""
