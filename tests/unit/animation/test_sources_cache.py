"""A driving clip animating several targets is measured once (megen.animation.sources.measured_driver)."""
import numpy as np

from megen.animation import sources
from megen.ops.flow import estimator


class Counting:
    """A classical estimator that counts its calls."""

    def __init__(self, name="farneback"):
        self.inner, self.calls = estimator(name), 0

    def __call__(self, a, b):
        self.calls += 1
        return self.inner(a, b)


def test_the_same_clip_is_measured_once_per_estimator_and_a_changed_frame_is_measured_again(face):
    gray, lm = face
    rng = np.random.default_rng(0)
    frames = np.stack([gray, np.roll(gray, 1, axis=1), gray]).astype(np.uint8)
    sources._MEASURED.clear()
    counting = Counting()
    first = sources.measured_driver(frames, lm, 0, counting)
    calls = counting.calls
    assert calls >= 2
    again = sources.measured_driver(frames.copy(), lm.copy(), 0, counting)
    assert counting.calls == calls and again is first
    other = Counting()
    sources.measured_driver(frames, lm, 0, other)
    assert other.calls == calls                               # another estimator measures for itself
    changed = frames.copy()
    changed[2] = np.clip(changed[2].astype(int) + rng.integers(-3, 4, changed[2].shape), 0, 255).astype(np.uint8)
    sources.measured_driver(changed, lm, 0, counting)
    assert counting.calls == 2 * calls
    for k in range(sources.MEASURED_KEPT + 2):                   # bounded: the oldest clips are dropped
        sources.measured_driver(np.roll(frames, k + 1, axis=2), lm, 0, counting)
    assert len(sources._MEASURED) == sources.MEASURED_KEPT
