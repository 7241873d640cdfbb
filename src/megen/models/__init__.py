"""Networks as plain nn.Modules: motion families, dense motion, generator, discriminator, losses; the values
of the options they read (``choices``)."""
from __future__ import annotations

from megen.runtime.lazy import lazy_exports

# names -> the module that defines them, imported on first use: ``megen.models.choices`` is read by the config
# check before torch loads, and importing it must not import every network
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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
