"""Networks as plain nn.Modules: motion families, dense motion, generator, discriminator, losses; the values
of the options they read (``choices``)."""
from __future__ import annotations

import importlib

# names -> the module that defines them, imported on first use (PEP 562): ``megen.models.choices``
# is read by the config check before torch loads, and importing it must not import every network
_EXPORTS = {
    "BackgroundMotionPredictor": "megen.models.motion_networks",
    "DenseMotionNetwork": "megen.models.dense_motion",
    "ImagePyramid": "megen.models.perceptual",
    "KeypointDetector": "megen.models.motion_networks",
    "MotionTransferModel": "megen.models.full",
    "MultiScaleDiscriminator": "megen.models.discriminator",
    "RegionPredictor": "megen.models.motion_networks",
    "Vgg19": "megen.models.perceptual",
    "build_model": "megen.models.full",
}


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))


__all__ = sorted(_EXPORTS)
