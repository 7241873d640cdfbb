"""Training: the LightningModule (one for every motion family), its callbacks (atomic checkpoints, the
per-epoch log line, gradient shares) and the diagnostics behind ``python -m megen.diagnose``."""
