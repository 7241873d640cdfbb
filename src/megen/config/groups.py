"""The config groups a command composes, declared as dataclasses: the types, bounds and docs of their keys
(``conf/<group>/<option>.yaml`` holds the values). ``megen.config.check`` checks a composed group against
its dataclass as it checks a command's options (``megen.config.schema.option``: a field's type is its check).

The model and dataset groups are unions over their options: a key one family or dataset does not read is
declared with ``None`` for a default, and the chosen file gives every value.
"""
from __future__ import annotations

from dataclasses import MISSING, dataclass
from typing import Any

from megen.config.choices import BackgroundMode, Family, FlowEstimator, NonfinitePolicy, RegionShape
from megen.config.schema import option, section


@dataclass
class LossWeightOptions:
    """``loss.weights.*``: each training loss term's weight (0 switches it off)."""
    perceptual: list = option(lambda: [10, 10, 10, 10, 10], "VGG-19 feature L1 per layer, summed over the scales")
    l1: float = option(0.0, "pixel L1 of the decoder's frame", low=0)
    generator_gan: float = option(0.0, "the generator's least-squares GAN term", low=0)
    discriminator_gan: float = option(1.0, "the discriminator's", low=0)
    feature_matching: list = option(lambda: [10, 10, 10, 10], "discriminator feature matching per layer")
    equivariance_value: float = option(10.0, "key points follow a random warp (FOMM's equivariance)", low=0)
    equivariance_jacobian: float = option(10.0, "and so do their Jacobians", low=0)
    keypoint_flow: float = option(0.0, "key points follow the true flow (synthetic)", low=0)
    flow: float = option(100.0, "L1 of the dense deformation against the true flow, where the batch has it",
                         low=0)
    equivariance_flow: float = option(10.0, "the pair (driving -> T(driving)) against T's exact flow", low=0)
    warp: float = option(10.0, "TPSMM's warp loss on encoder features (model=tps)", low=0)
    background: float = option(0.0, "TPSMM's background cycle", low=0)


@dataclass
class EquivarianceOptions:
    """``loss.equivariance.*``: the random warps of the equivariance terms."""
    sigma_affine: float = option(0.05, "sd of the random affine's entries", low=0)
    sigma_tps: float = option(0.005, "sd of the random thin-plate spline's weights", low=0)
    points_tps: int = option(5, "its control grid's side", positive=True)


@dataclass
class PerceptualOptions:
    """``loss.perceptual.*``: the VGG-19 of the perceptual loss."""
    weights_path: str | None = option(None, "torchvision's vgg19-dcbb9e9d.pth (default: the torch hub cache)")
    allow_random: bool = option(False, "the seeded random-VGG fallback where no weights are found")


@dataclass
class LossOptions:
    """The ``loss`` group (conf/loss/<name>.yaml holds the values; this, their types and bounds):
    ``megen.training.system.MegenSystem`` reads it."""
    scales: list = option(lambda: [1, 0.5, 0.25], "the perceptual loss's image pyramid")
    weights: Any = section(LossWeightOptions, "each term's weight")
    flow_normalise: bool = option(True, "divide the flow losses by the motion present (zero flow then costs 1)")
    nonfinite: NonfinitePolicy = option("raise", "what a NaN or Inf loss does: raise (stop, naming the step and "
                                                 "terms) or skip (drop the batch)")
    equivariance: Any = section(EquivarianceOptions, "the equivariance terms' random warps")
    perceptual: Any = section(PerceptualOptions, "the perceptual loss's network")


@dataclass
class HourglassOptions:
    """The size of an hourglass network: the first fields of the key-point and dense motion networks' sections."""
    block_expansion: int | None = option(None, "channels of its first block", positive=True)
    max_features: int | None = option(None, "its widest block's channels", positive=True)
    num_blocks: int | None = option(None, "its hourglass's depth", positive=True)


@dataclass
class KeypointNetOptions(HourglassOptions):
    """``model.motion.*``: the key-point (or region) network."""
    temperature: float | None = option(None, "the heatmaps' softmax temperature", positive=True)
    scale_factor: float | None = option(None, "the frames' scale where key points are found", positive=True)
    estimate_jacobian: bool | None = option(None, "FOMM's local affine per key point")
    region_shape: RegionShape | None = option(None, "MRAA: region shapes from the onset frame or every frame")


@dataclass
class DenseMotionOptions(HourglassOptions):
    """``model.dense_motion.*``: the dense motion network."""
    scale_factor: float | None = option(None, "the frames' scale it works at", positive=True)
    kp_variance: float | None = option(None, "the key points' Gaussians' variance", positive=True)
    estimate_occlusion: bool | None = option(None, "predict an occlusion map")
    mask_prior: bool | None = option(None, "masks start as Gaussians around the driving key points")
    mask_prior_variance: float | None = option(None, "of those Gaussians, [-1, 1] units", positive=True)
    background_level: float | None = option(None, "the background's weight against a key point's", low=0)
    learn_masks: bool | None = option(None, "FOMM/MRAA: false holds the masks at the prior's Gaussians")
    displacement_input: bool | None = option(None, "each key point's displacement is an input")
    multi_mask: bool | None = option(None, "TPS: one occlusion head per generator scale")
    max_residual_px: float | None = option(None, "flow: the correction's bound, pixels", positive=True)
    guide_gain: float | None = option(None, "flow: the guide's scale at the network's input", positive=True)


@dataclass
class GeneratorOptions:
    """``model.generator.*``: the occlusion-aware generator (decoder)."""
    block_expansion: int | None = option(None, "channels of its first block", positive=True)
    max_features: int | None = option(None, "its widest block's channels", positive=True)
    num_down_blocks: int | None = option(None, "down-sampling blocks", positive=True)
    num_bottleneck_blocks: int | None = option(None, "residual blocks in the bottleneck", low=0)
    blend_warped_source: bool | None = option(None, "blend the warped source into the output where visible")


@dataclass
class DiscriminatorOptions:
    """``model.discriminator.*``: the multi-scale discriminator."""
    enabled: bool | None = option(None, "train with the GAN terms' discriminator")
    scales: list | None = option(None, "the image scales it judges")
    block_expansion: int | None = option(None, "channels of its first block", positive=True)
    num_blocks: int | None = option(None, "its blocks", positive=True)
    max_features: int | None = option(None, "its widest block's channels", positive=True)
    spectral_norm: bool | None = option(None, "spectral normalisation of its convolutions")


@dataclass
class BackgroundNetOptions:
    """``model.background_net.*``: the background (camera) motion's network."""
    block_expansion: int | None = option(None, "channels of its first block", positive=True)
    num_blocks: int | None = option(None, "its blocks", positive=True)
    max_features: int | None = option(None, "its widest block's channels", positive=True)


@dataclass
class TpsDropoutOptions:
    """``model.dropout.*`` (TPS): dropout of whole transforms early in training."""
    until_epoch: int | None = option(None, "the epoch it stops", low=0)
    start_p: float | None = option(None, "its first probability", low=0, high=1)
    max_p: float | None = option(None, "its largest", low=0, high=1)
    ramp_epochs: int | None = option(None, "epochs from start_p to max_p", low=0)


@dataclass
class ModelOptions:
    """The ``model`` group (conf/model/<family>.yaml): every family's keys; a family's file sets those it reads."""
    family: Family = option(MISSING, "the motion family (required)")
    num_kp: int | None = option(None, "key points (learned mode)", positive=True)
    num_tps: int | None = option(None, "TPS transforms (learned mode)", positive=True)
    num_channels: int | None = option(None, "image channels", positive=True)
    background: BackgroundMode | None = option(None, "the camera motion beside the key points'")
    background_start: int | None = option(None, "TPS: the epoch the background transform joins", low=0)
    tps_regularisation: float | None = option(None, "TPS: the spline kernel's diagonal", low=0)
    guide_estimator: FlowEstimator | None = option(None, "flow: the guide's estimator")
    guide_checkpoint: str | None = option(None, "flow: the learned guide's checkpoint")
    motion: Any = section(KeypointNetOptions, "the key-point network")
    dense_motion: Any = section(DenseMotionOptions, "the dense motion network")
    generator: Any = section(GeneratorOptions, "the generator")
    discriminator: Any = section(DiscriminatorOptions, "the discriminator")
    background_net: Any = section(BackgroundNetOptions, "the background motion's network")
    dropout: Any = section(TpsDropoutOptions, "TPS dropout")


@dataclass
class NuisanceOptions:
    """``dataset.nuisance.*`` (synthetic): the camera's nuisances on every frame (megen.synthetic.nuisance)."""
    noise: float | None = option(None, "sensor noise sd, gray levels", low=0)
    levels: int | None = option(None, "gray levels kept (null: all 256)", positive=True)
    dither: bool | None = option(None, "reach the levels by error diffusion, as GIF renditions do")
    shading: float | None = option(None, "sd of a smooth per-frame gain field (light on a turning face)", low=0)
    jpeg_quality: int | None = option(None, "JPEG quality of each frame (null: none)", low=1, high=100)
    flicker: float | None = option(None, "sd of the per-frame illumination gain", low=0)
    head_px: float | None = option(None, "rigid head translation's sd by the clip's end, px at 256", low=0)


@dataclass
class SplitOptions:
    """``dataset.split.*``: the subject-wise validation and test shares."""
    val: float | None = option(None, "validation share of the subjects", low=0, high=1)
    test: float | None = option(None, "test share of the subjects", low=0, high=1)
    seed: int | None = option(None, "which subjects fall where")


@dataclass
class DatasetOptions:
    """The ``dataset`` group (conf/dataset/<name>.yaml): every dataset's keys; a dataset's file sets those it reads
    (the name, the colour mode, a synthetic style and a real dataset's root are checked by code)."""
    name: str | None = option(None, "the dataset")
    frame_size: int | None = option(None, "prepared frames' side, px", positive=True)
    split: Any = section(SplitOptions, "the subject-wise split")
    exclude: list | None = option(None, "clips left out of every split (megc: the MEGC driving clips)")
    random_vgg_ok: bool | None = option(None, "the random-VGG fallback is acceptable for this set")
    # real datasets and their mix
    root: str | None = option(None, "the dataset's folder (default <paths.data_dir>/<name>)")
    sheet: str | None = option(None, "its coding sheet")
    tree: str | None = option(None, "CASME II: selected | raw | cropped")
    variant: str | None = option(None, "SAMM / SMIC: raw | cropped")
    margin: float | None = option(None, "the face crop's margin around the landmarks", low=0)
    color: str | None = option(None, "gray | rgb frames")
    workers: int | None = option(None, "preparation processes", positive=True)
    sources: list | None = option(None, "mix: the datasets mixed")
    weights: Any = option(None, "mix: sampling weight per source")
    roots: Any = option(None, "mix: per-source data roots")
    overrides: Any = option(None, "mix: per-source settings")
    # the synthetic set
    seed: int | None = option(None, "synthetic: which identities and programs")
    n_subjects: int | None = option(None, "synthetic: identities", positive=True)
    clips_per_subject: int | None = option(None, "synthetic: clips each", positive=True)
    apex_px: list | None = option(None, "synthetic: apex landmark displacement range, px of an apex_px_at frame")
    apex_px_at: int | None = option(None, "synthetic: the frame size apex_px is in", positive=True)
    duration_s: list | None = option(None, "synthetic: clip duration range, s")
    fps: float | None = option(None, "synthetic: frame rate", positive=True)
    nuisance: Any = section(NuisanceOptions, "synthetic: the camera's nuisances")
    variation: float | None = option(None, "synthetic: identity variation (0: the embedded photos)", low=0)
    identity_dir: str | None = option(None, "synthetic: a folder of your own face photos")
    emotions: Any = option(None, "synthetic: emotion -> sampling weight")
    style: str | None = option(None, "synthetic: casme2 | samm | smic")
    guides: bool | None = option(None, "synthetic: store measured guides (model=flow)")
    guide_estimator: FlowEstimator | None = option(None, "synthetic: what measures them")
    guide_checkpoint: str | None = option(None, "synthetic: the learned guide's checkpoint")
    exact_guides: bool | None = option(None, "synthetic: the guides are the true flows (a perfect estimator's: the "
                                             "ceiling of any guide)")
    # a generated set
    path: str | None = option(None, "generated: the augment run's out= folder")


__all__ = ["BackgroundNetOptions", "DatasetOptions", "DenseMotionOptions", "DiscriminatorOptions",
           "EquivarianceOptions", "GeneratorOptions", "KeypointNetOptions", "LossOptions", "LossWeightOptions",
           "ModelOptions", "NuisanceOptions", "PerceptualOptions", "SplitOptions", "TpsDropoutOptions"]
