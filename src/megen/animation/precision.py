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


def autocast(device, precision: GeneratePrecision = GeneratePrecision.FP32):
    """The autocast context of ``precision`` on ``device`` (a no-op for fp32)."""
    if GeneratePrecision.parse(precision, "precision") == GeneratePrecision.FP32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


def with_precision(fn):
    """Give an animation function (model first) a ``precision=`` keyword, run under :func:`autocast`."""

    @functools.wraps(fn)
    def wrapper(model, *args, precision: GeneratePrecision = GeneratePrecision.FP32, **kwargs):
        precision = GeneratePrecision.parse(precision, "precision")
        if precision != GeneratePrecision.FP32 and kwargs.get("engine") is not None:
            raise ValueError("precision=bf16 runs in torch: the ONNX Runtime backend is fp32 (use backend=torch)")
        with autocast(next(model.parameters()).device, precision):
            return fn(model, *args, **kwargs)

    return wrapper
