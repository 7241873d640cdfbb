"""Speed measurements behind ``python -m megen.bench`` (never asserted in tests): generation fps
(``generation``), training steps beside the public code's (``training``, ``reference``),
preparation throughput (``preparation``), and how each is timed and printed (``timing``)."""
