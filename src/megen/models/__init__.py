"""Networks as plain nn.Modules: motion families, dense motion, generator, discriminator, losses."""
from megen.models.dense_motion import DenseMotionNetwork
from megen.models.discriminator import MultiScaleDiscriminator
from megen.models.full import MotionTransferModel, build_model
from megen.models.generator import OcclusionAwareGenerator
from megen.models.motion_networks import BackgroundMotionPredictor, KeypointDetector, RegionPredictor
from megen.models.perceptual import ImagePyramid, Vgg19

__all__ = [
    "BackgroundMotionPredictor", "DenseMotionNetwork", "ImagePyramid", "KeypointDetector", "MotionTransferModel",
    "MultiScaleDiscriminator", "OcclusionAwareGenerator", "RegionPredictor", "Vgg19", "build_model",
]
