"""Datasets: readers of each corpus's layout, preparation into caches (the synthetic set drawn by megen.synthetic),
splits, priors and the Lightning data module; the MEGC test kit's layout (``megc_kit``)."""
