"""Dense optical flow between two gray frames: every estimator megen uses, with its settings.

The one place that calls OpenCV's flow estimators: the flow-guided model's guide, the training-free
flow transfer, the real-pair and regional scorers and the recognition features all measure motion
here, so a scorer can name the estimator it uses and choose one the method under test does not.

Conventions: frames are (H, W) uint8 gray (other dtypes are rounded and clipped to it); the flow
``optical_flow(a, b)`` is *forward*, (H, W, 2) float32 [dx, dy] in pixels: the content at p in
``a`` is at p + flow(p) in ``b``. Taken from a frame to a reference it is the backward field that
warping the reference needs (pixel p of the frame shows the reference at p + flow(p)).
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from megen.ops.choices import FlowEstimator


def as_gray_uint8(frame: np.ndarray, name: str = "frame") -> np.ndarray:
    """(H, W) gray of any dtype -> (H, W) uint8 (rounded, clipped); other shapes are refused by ``name``."""
    frame = np.asarray(frame)
    if frame.ndim != 2:
        raise ValueError(f"{name} must be a (H, W) gray frame, got shape {frame.shape}")
    if frame.dtype != np.uint8:
        frame = np.clip(np.rint(frame.astype(np.float64)), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(frame)


@dataclass(frozen=True)
class Farneback:
    """OpenCV's Farnebäck polynomial-expansion flow with its parameters.

    The frames are mirror-padded by ``winsize + poly_n`` first: unpadded, Farnebäck reports up to a
    tenth of a pixel of motion along the image border even between identical frames, as large as a
    micro-expression.
    """

    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 15
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.2

    def __post_init__(self):
        if self.poly_n not in (5, 7):
            raise ValueError(f"poly_n must be 5 or 7 (OpenCV's Farnebäck), got {self.poly_n}")
        if not 0 < self.pyr_scale < 1:
            raise ValueError(f"pyr_scale must be in (0, 1), got {self.pyr_scale}")

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        pad = self.winsize + self.poly_n
        a, b = (cv2.copyMakeBorder(f, pad, pad, pad, pad, cv2.BORDER_REFLECT_101) for f in (a, b))
        flow = cv2.calcOpticalFlowFarneback(a, b, None, self.pyr_scale, self.levels, self.winsize, self.iterations,
                                            self.poly_n, self.poly_sigma, 0)
        return flow[pad:-pad, pad:-pad]


#: Farnebäck on a face crop of >= 256 px, where micro-motion is measured (the guide, the flow transfer,
#: the real-pair scorer)
FARNEBACK_FACE = Farneback(levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2)
#: Farnebäck on the model's small frames (32-128 px): few pyramid levels (coarse levels of a 64-px face carry
#: no detail) and a small window, so a moving brow does not bleed into the still eye below it
FARNEBACK_SMALL = Farneback(levels=2, winsize=9, iterations=5, poly_n=5, poly_sigma=1.1)


@dataclass(frozen=True)
class DIS:
    """OpenCV's dense inverse search flow at a preset (``fast`` | ``medium``), mirror-padded like Farnebäck."""

    preset: str = "fast"
    pad: int = 16

    def __post_init__(self):
        if self.preset not in _DIS_PRESETS:
            raise ValueError(f"DIS preset must be one of {', '.join(_DIS_PRESETS)}, got {self.preset!r}")

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        p = self.pad
        a, b = (cv2.copyMakeBorder(f, p, p, p, p, cv2.BORDER_REFLECT_101) for f in (a, b))
        # an estimator object keeps its buffers between calls (a tenth of a pair's time at 256 px), so idle ones
        # are reused, one per thread at a time; OpenCV rewrites an object's scales and patch size on frames too small
        # for them, so the preset's settings are put back before every pair
        idle = _DIS_IDLE[self.preset]
        try:
            dis = idle.get_nowait()
        except queue.Empty:
            dis = cv2.DISOpticalFlow_create(_DIS_PRESETS[self.preset])
        try:
            for name, value in _DIS_SETTINGS[self.preset].items():
                getattr(dis, "set" + name)(value)
            flow = dis.calc(a, b, None)
        finally:
            idle.put(dis)
        return flow[p:-p, p:-p]


_DIS_PRESETS = {"fast": cv2.DISOPTICAL_FLOW_PRESET_FAST, "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
_DIS_IDLE = {preset: queue.SimpleQueue() for preset in _DIS_PRESETS}


def _preset_settings(code: int) -> dict:
    """What a DIS preset sets on a new object (OpenCV's ``DISOpticalFlow::create``), by setter name."""
    dis = cv2.DISOpticalFlow_create(code)
    return {name: getattr(dis, "get" + name)() for name in ("FinestScale", "PatchSize", "PatchStride",
                                                            "GradientDescentIterations", "VariationalRefinementIterations")}


_DIS_SETTINGS = {preset: _preset_settings(code) for preset, code in _DIS_PRESETS.items()}


@dataclass(frozen=True)
class DeepFlow:
    """DeepFlow (Weinzaepfel et al. 2013, opencv-contrib's ``optflow``) with its published defaults: dense
    matching plus a variational refinement; far less biased than Farnebäck on sub-pixel motion."""

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return cv2.optflow.createOptFlow_DeepFlow().calc(a, b, None)


@dataclass(frozen=True)
class TVL1:
    """Dual TV-L1 (Zach et al. 2007, opencv-contrib's ``optflow``) with OpenCV's defaults (5 scales, 5 warps):
    the most accurate classical estimator at sub-pixel scale here, and the slowest."""

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return cv2.optflow.DualTVL1OpticalFlow_create().calc(a, b, None)


#: the estimators by the name options use (``flow.estimator=``, ``real.estimators=``): face-scale settings
ESTIMATORS = {FlowEstimator.FARNEBACK: FARNEBACK_FACE, FlowEstimator.DIS: DIS("medium"),
              FlowEstimator.DIS_FAST: DIS("fast"), FlowEstimator.DEEPFLOW: DeepFlow(), FlowEstimator.TVL1: TVL1()}


def estimator(name: str):
    """The estimator called ``name`` (``ESTIMATORS``); a ValueError listing the valid names otherwise."""
    if name not in ESTIMATORS:
        raise ValueError(f"unknown flow estimator {name!r}; valid: {', '.join(FlowEstimator.classical())}")
    return ESTIMATORS[name]


def optical_flow(a: np.ndarray, b: np.ndarray, estimator=FARNEBACK_FACE) -> np.ndarray:
    """Forward flow (H, W, 2) float32 from gray frame ``a`` (H, W) to ``b`` (H, W) by ``estimator``."""
    a, b = as_gray_uint8(a, "first frame"), as_gray_uint8(b, "second frame")
    if a.shape != b.shape:
        raise ValueError(f"frames differ in size: {a.shape} and {b.shape}")
    return np.ascontiguousarray(estimator(a, b), dtype=np.float32)


def flow_workers() -> int:
    """Frame pairs measured at once: OpenCV's thread count (its estimators run one pair on about one core, and
    pairs are independent, so the result does not change)."""
    return max(1, _opencv_threads if _workers_running else int(cv2.getNumThreads()))


_threads_lock = threading.Lock()
_workers_running = 0
_opencv_threads = 1


@contextmanager
def _one_opencv_thread_per_worker():
    """OpenCV's own threads at 1 while pair workers run, restored after (also when pair measurements overlap):
    each worker already takes a core, and OpenCV's threads on top of them oversubscribe the cores (DIS: 3.3
    against 3.7 ms a 256-px pair on two). Every estimator here gives the same flow at any thread count."""
    global _workers_running, _opencv_threads
    with _threads_lock:
        if _workers_running == 0:
            _opencv_threads = int(cv2.getNumThreads())
            cv2.setNumThreads(1)
        _workers_running += 1
    try:
        yield
    finally:
        with _threads_lock:
            _workers_running -= 1
            if _workers_running == 0:
                cv2.setNumThreads(_opencv_threads)


def pair_flows(firsts, seconds, estimator=FARNEBACK_FACE, out: np.ndarray | None = None) -> np.ndarray:
    """Forward flows (N, H, W, 2) float32 of N gray frame pairs ``firsts[i]`` -> ``seconds[i]`` (H, W), measured
    ``flow_workers()`` pairs at a time (OpenCV releases the GIL); an estimator with a ``pairs(firsts, seconds)``
    method (a learned one) measures them all in one batch. ``out`` (N, H, W, 2) float32, or a list of N such
    (H, W, 2) views, receives them where given (no stacked copy)."""
    if hasattr(estimator, "pairs"):
        flows = np.asarray(estimator.pairs(list(firsts), list(seconds)), np.float32)
        if out is None:
            return flows
        for k, flow in enumerate(flows):
            out[k][...] = flow
        return out
    jobs = list(zip(firsts, seconds))
    if not jobs:
        return np.zeros((0, 0, 0, 2), np.float32) if out is None else out
    if out is None:
        out = np.empty((len(jobs), *np.shape(jobs[0][0])[:2], 2), np.float32)

    def measure(k: int) -> None:
        out[k][...] = optical_flow(*jobs[k], estimator)

    workers = min(flow_workers(), len(jobs))
    if workers == 1:
        for k in range(len(jobs)):
            measure(k)
        return out
    with _one_opencv_thread_per_worker(), ThreadPoolExecutor(workers) as pool:
        list(pool.map(measure, range(len(jobs))))
    return out


def _reference_flows(frames, reference: int, estimator, to_reference: bool) -> np.ndarray:
    """Flows (T, H, W, 2) float32 between frame ``reference`` and every frame (zero there): each frame's to it
    (``to_reference``) or its to each, written in place (a clip's flows are tens of MB)."""
    frames = [as_gray_uint8(f) for f in frames]
    out = np.zeros((len(frames), *frames[reference].shape, 2), np.float32)
    others = [k for k in range(len(frames)) if k != reference]
    if others:
        moving, still = [frames[k] for k in others], [frames[reference]] * len(others)
        pair_flows(*((moving, still) if to_reference else (still, moving)), estimator, out=[out[k] for k in others])
    return out


def flows_to_reference(frames, reference: int = 0, estimator=FARNEBACK_FACE) -> np.ndarray:
    """Backward flows (T, H, W, 2) float32 of every frame (T of (H, W)) to frame ``reference`` (zero there),
    measured pairs at a time (``pair_flows``)."""
    return _reference_flows(frames, reference, estimator, to_reference=True)


def flows_from_reference(frames, reference: int = 0, estimator=FARNEBACK_FACE) -> np.ndarray:
    """Forward flows (T, H, W, 2) float32 from frame ``reference`` to every frame (zero there)."""
    return _reference_flows(frames, reference, estimator, to_reference=False)


__all__ = ["DIS", "ESTIMATORS", "FARNEBACK_FACE", "FARNEBACK_SMALL", "TVL1", "DeepFlow", "Farneback", "as_gray_uint8",
           "estimator", "flow_workers", "flows_from_reference", "flows_to_reference", "optical_flow", "pair_flows"]
