"""Generation precision: ``fp32``, or ``bf16`` (bfloat16 autocast: the networks' convolutions in bf16).

bf16 pays where the CPU has bf16 instructions (AVX512-BF16, AMX; ``torch.backends.cpu.get_cpu_capability()``
says which level torch runs): elsewhere it is emulated and slower than fp32. The motion maths (key-point
coordinates, Jacobians, sparse motions, masks) stay in fp32 either way (``megen.models.motion.full_precision``):
bf16's 8-bit mantissa would round coordinates by a quarter pixel, more than a micro-expression moves.
Frames come out as fp32. ``python -m megen.bench generate precision=bf16`` times both and prints the
largest pixel difference.
"""
from __future__ import annotations

import contextlib
import functools

import torch

from megen.config.choices import GeneratePrecision

#: ``precision=`` of generation (conf/generate.yaml)
PRECISIONS = GeneratePrecision.values()


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not valid; valid: {', '.join(PRECISIONS)}")
    return precision


def autocast(device, precision: str = "fp32"):
    """The autocast context of ``precision`` on ``device`` (a no-op for fp32)."""
    if check_precision(precision) == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


def with_precision(fn):
    """Give an animation function (model first) a ``precision=`` keyword, run under :func:`autocast`."""

    @functools.wraps(fn)
    def wrapper(model, *args, precision: str = "fp32", **kwargs):
        if check_precision(precision) != "fp32" and kwargs.get("engine") is not None:
            raise ValueError("precision=bf16 runs in torch: the ONNX Runtime backend is fp32 (use backend=torch)")
        with autocast(next(model.parameters()).device, precision):
            return fn(model, *args, **kwargs)

    return wrapper
