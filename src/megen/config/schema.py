"""The commands' own options, declared once: each field's default, its kind, its valid values and the line
``--help`` prints for it. Registered in Hydra's ConfigStore (``conf/<command>.yaml`` lists the schema first
in its defaults), checked by ``megen.config.check`` and printed by the ``${megen_help:<command>}`` resolver.

Fields are typed ``Any`` on purpose: OmegaConf's own validation stops at the first bad value, inside Hydra,
with exit status 1; ``megen.config.check`` reports every bad value at once, one line each, exit status 2,
from the kinds and bounds declared here.
"""
from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from megen.config.choices import (
    Backend,
    Choice,
    ClassMode,
    Device,
    Family,
    GeneratePrecision,
    GenerationMethod,
    HeadMotion,
    PairMode,
    Render,
    Retarget,
)
from megen.data.megc_kit import PROTOCOLS

#: the guide's estimators (flow.estimator=): megen.ops.flow's, and the learned one (megen.models.microflow)
GUIDE_ESTIMATORS = ("farneback", "dis", "dis_fast", "deepflow", "tvl1", "learned")

#: what real pairs are scored with by default (megen.evaluation.real_pairs.DEFAULT_ESTIMATORS)
DEFAULT_REAL_ESTIMATORS = ("deepflow", "tvl1", "farneback")


def option(default: Any, doc: str, *, kind: str = "str", choices: type[Choice] | tuple | None = None,
           low: float | None = None, high: float | None = None, positive: bool = False, also: tuple = (),
           show: str | None = None, key: str | None = None) -> Any:
    """A field of a command's options. ``kind``: ``str``, ``bool``, ``whole``, ``number``, ``list`` or ``any``
    (checked by code, or not at all); ``default=list``: an empty list. ``choices``: a
    Choice (or a tuple of values) checked and listed in ``--help``; ``low``/``high``/``positive``: bounds;
    ``also``: values accepted beside the kind (``auto``); ``show``: the default as ``--help`` prints it;
    ``key``: the key ``--help`` names (a group's one setting). A default of None makes the option optional."""
    meta = {"doc": doc, "kind": kind, "choices": choices, "low": low, "high": high, "positive": positive,
            "also": also, "show": show, "key": key}
    if default is list or callable(default):
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


def wiring(value: Any) -> Any:
    """A value that connects the config's parts (an interpolation, a ``_target_``): not an option, not in ``--help``."""
    return option(value, "", kind="wiring")


def section(schema, doc: str) -> Any:
    """A nested group of options (``real.pairs=``, ``real.sheets=``), itself an options dataclass."""
    return field(default_factory=schema, metadata={"doc": doc, "kind": "section", "choices": None, "key": None,
                                                   "also": (), "show": None})


def group(key: str, doc: str, show: str | None = None) -> Any:
    """A config group the command composes (``conf/paths/``, ``conf/dataset/``), named in ``--help`` by ``key``."""
    return option(None, doc, kind="group", key=key, show=show)


def choice_values(spec) -> tuple:
    """The valid values of a field's ``choices`` (a Choice class or a tuple)."""
    return spec.values() if isinstance(spec, type) and issubclass(spec, Choice) else tuple(spec)


@dataclass
class TransferFlowOptions:
    """``flow.*`` of ``python -m megen.generate``: the estimator of ``method=flow_transfer``."""
    estimator: Any = option(None, "method=flow_transfer's estimator (default farneback; a model measures with the "
                                  "one it was trained with)", choices=GUIDE_ESTIMATORS)
    checkpoint: Any = option(None, "the learned estimator's checkpoint (flow.estimator=learned)")


@dataclass
class GenerateOptions:
    """``python -m megen.generate``: one pair (``target=`` ``driving=``) or the MEGC protocol."""
    ckpt: Any = option(None, "the trained checkpoint (<run folder>/checkpoints/last.ckpt)")
    method: Any = option("model", "flow_transfer needs no checkpoint: the driver's optical flow, mapped into "
                                  "the target, warps it; au makes the motion from action units (basis=, aus= or "
                                  "emotion=), with no driving clip", choices=GenerationMethod)
    basis: Any = option(None, "method=au: an AU motion basis (python -m megen.aubasis fit ... writes one)")
    aus: Any = option(None, "method=au: the action units to make, e.g. [AU4,AU7] ([] is the still face)", kind="list")
    emotion: Any = option(None, "method=au: instead of aus=, the most frequent AU set of this emotion or class "
                                "(negative, positive, surprise, ...) in the basis's data")
    aus_gain: Any = option(None, "method=flow_transfer with a driving clip and basis=: scale its AUs, e.g. "
                                 "{AU12:0} removes AU12, {AU4:2} doubles AU4 (the rest of its motion kept)",
                           kind="any")
    intensity: Any = option(1.0, "method=au: each AU's intensity; 1 is the basis's (its clips' mean apex)",
                            kind="number", low=0, high=4)
    render: Any = option("native", "native is the target's own size and colour, decoder the model's frame size "
                                   "in gray (the paper's)", choices=Render)
    target: Any = option(None, "the face to animate: an image, any size, gray or colour; or a long video (a file "
                               "or a folder of frames) to insert micro-expressions into, with at=")
    driving: Any = option(None, "the motion: a folder of frames, a video file, or <dataset>:<clip> from the "
                                "prepared cache (with at=: one clip, or a list of one per time)")
    at: Any = option(None, "target=<video>: when each micro-expression starts, in seconds (2.5) or as a frame "
                           "(75f); a list inserts several, each in its own interval (method=flow_transfer)")
    target_fps: Any = option(None, "target=<video>: its frame rate (default the video file's; a folder of frames "
                                   "needs it)", kind="number", positive=True)
    out: Any = option("outputs/generate", "output folder; one sub-folder per clip")
    protocol: Any = option(None, "the MEGC generation task instead of one pair (needs megc_root=)",
                           choices=PROTOCOLS)
    megc_root: Any = option(None, "the MEGC test kit (source_samples/, target_template_face/; layout in "
                                  "docs/generation.md)")
    family: Any = option(None, "optional check that the checkpoint holds this model", choices=Family)
    relative: Any = option(True, "transfer the driving clip's motion relative to its first frame (false: "
                                 "absolute key points)", kind="bool")
    adapt_movement_scale: Any = option(False, "scale the motion by the ratio of target and driving face sizes "
                                              "(key-point hull)", kind="bool")
    head: Any = option("keep", "the driver's rigid head motion: keep it, or remove it and transfer the expression "
                               "only (flow-guided model, flow_transfer)", choices=HeadMotion)
    gain: Any = option(1.0, "scale of the expression motion, not the head's: 0 = the still target, 2 = twice "
                            "the driver's (flow-guided model, flow_transfer)", kind="number", low=0, high=4)
    regions: Any = option(None, "move only these regions' expression, the rest held still with a smooth falloff: "
                                "any of [brows,eyes,nose,mouth] (default the whole face)", kind="list")
    retarget: Any = option("similarity", "how the driver's motion is carried into the target's face: one similarity "
                                         "of the 68 landmarks, or bent through them (landmarks; flow-guided model, "
                                         "flow_transfer)", choices=Retarget)
    magnify: Any = option(1.0, "key-point models: the driver's motion magnified this many times by its measured "
                                "flow, the model's motion reduced as many (render=native)", kind="number", low=1,
                          high=64)
    find_best_frame: Any = option(False, "start from the driving frame whose pose is closest to the target's",
                                  kind="bool")
    crop: Any = option(True, "detect and crop the faces; false uses the images as they are, padded to square",
                       kind="bool")
    crop_target: Any = option(None, "crop the target or not (true / false), overriding crop= for it", kind="bool")
    crop_driving: Any = option(None, "crop the driving clip or not (true / false), overriding crop= for it",
                               kind="bool")
    alpha_background: Any = option(255, "gray level (0-255) that transparent pixels of an RGBA target are laid "
                                        "over", kind="number", low=0, high=255)
    out_size: Any = option(None, "render=native: the output size (default the target crop's own, at most 512); "
                                 "decoder: upscale the MP4 and GIF", kind="whole", positive=True)
    fps: Any = option(None, "the driving clip's capture rate (timing.json): default its video's or dataset's "
                            "(CASME II, SAMM 200, SMIC-HS 100), else 100", kind="number", positive=True)
    out_fps: Any = option(None, "the output's frame rate, its frames made by interpolating the driver's flow, not "
                                "by blending frames (default the driver's fps; flow-guided model, flow_transfer)",
                          kind="number", low=1, high=1000)
    duration_ms: Any = option(None, "stretch or shorten the expression to this duration; onset, apex and offset keep "
                                    "their places (default the driver's; flow-guided model, flow_transfer)",
                              kind="number", low=1, high=60000)
    playback_fps: Any = option(25, "the MP4 and the GIF play at this rate (<= 50); 25 shows a 1/5 s expression "
                                   "at 200 fps for 1.6 s", kind="number", positive=True)
    batch_size: Any = option("auto", "frames per forward pass: auto = 4 on CPU, 8 on GPU", kind="whole",
                             positive=True, also=("auto",))
    device: Any = option("auto", "cuda:N picks one GPU", choices=Device)
    backend: Any = option("torch", "onnxruntime runs FOMM's exported graph on the CPU (needs the export extra)", choices=Backend)
    precision: Any = option("fp32", "bf16 runs the networks' convolutions in bfloat16 (CPUs with AVX512-BF16 "
                                    "or AMX, GPUs)", choices=GeneratePrecision)
    progress: Any = option(True, "a bar in a terminal, a log line every 10 s otherwise (MEGEN_PROGRESS_INTERVAL)",
                           kind="bool")
    flow: Any = section(TransferFlowOptions, "the flow transfer's estimator")
    paths: Any = group("paths.cache_dir", "where <dataset>:<clip> driving clips are looked up (default data/cache)")


@dataclass
class RealPairsOptions:
    """``real.*`` of ``python -m megen.evaluate`` (and of ``train``, scored at the end of training)."""
    pairs: Any = option(None, "a CSV of real pairs (driving,target[,compare]): score them without ground truth "
                              "instead of the synthetic test split")
    sheets: Any = option(True, "a sheet per pair (driver, generated, baselines, published; amplified "
                               "differences)", kind="bool")
    estimators: Any = option(lambda: list(DEFAULT_REAL_ESTIMATORS), "optical-flow estimators the expression motion "
                             "is measured with (megen.ops.flow: farneback, dis, dis_fast, deepflow, tvl1); each one's "
                             "scores, their mean and spread are reported", kind="list",
                             show="[deepflow,tvl1,farneback]")
    motion_cache: Any = option("${paths.cache_dir}/real_motion", "where measured motions are kept by content, so "
                               "the driving clips, baselines and published outputs are measured once per study "
                               "(null: measure every time)", show="<paths.cache_dir>/real_motion")


@dataclass
class LongVideoSpottingOptions:
    """``spotting.*`` of ``python -m megen.evaluate``: the baseline spotter on a long-video database."""
    root: Any = option(None, "a CAS(ME)² or SAMM Long Videos folder: spot its long videos instead of scoring a "
                             "checkpoint (megen.data.readers.long_videos)")
    layout: Any = option("casme_sq", "the database's layout", choices=("casme_sq", "samm_lv"))
    sheet: Any = option(None, "its coding sheet (default: found under root)")
    kind: Any = option("micro", "the coded expressions scored against", choices=("micro", "macro", "all"))
    interval_ms: Any = option(300.0, "the expression length the spotter looks for (its k: half of it in frames)",
                              kind="number", positive=True)
    threshold: Any = option(0.5, "peaks above mean + p (max - mean) of the motion signal", kind="number", low=0,
                            high=1)
    flow: Any = option("dis_fast", "the optical-flow estimator (megen.ops.flow)", choices=GUIDE_ESTIMATORS[:-1])
    size: Any = option(128, "the aligned face's side (px) where flow is measured", kind="whole", positive=True)
    realign_s: Any = option(1.0, "find the face again every that many seconds (null: the first frame's only)",
                            kind="number", positive=True)
    max_videos: Any = option(None, "spot only the first n videos (quick looks)", kind="whole", positive=True)


@dataclass
class EvaluateOptions:
    """``python -m megen.evaluate``: a checkpoint against ground truth, or real pairs without it."""
    ckpt: Any = option(None, "the trained checkpoint (optional with real.pairs=: the baselines alone)")
    render: Any = option("native", "real pairs and synthetic clips: one row / folder each with both",
                         choices=(*Render.values(), "both"))
    face_metrics: Any = option(True, "AKD / AED with dlib (CPU, frame by frame)", kind="bool")
    face_every: Any = option(4, "score every n-th frame with the face models", kind="whole", positive=True)
    batch_size: Any = option(8, "frames per forward pass", kind="whole", positive=True)
    max_clips: Any = option(None, "limit the test clips (quick looks)", kind="whole", positive=True)
    max_pairs: Any = option(16, "cross-identity pairs on synthetic data", kind="whole", positive=True)
    progress: Any = option(True, "a line per scored clip or pair", kind="bool")
    run_dir: Any = option("${hydra:runtime.output_dir}", "the run folder (metrics.json, sheets)",
                          show="<paths.output_root>/evaluate/<time>")
    real: Any = section(RealPairsOptions, "real pairs")
    spotting: Any = section(LongVideoSpottingOptions, "the baseline spotter on long videos")
    dataset: Any = group("dataset", "the set whose test split is scored (conf/dataset/)", show="synthetic")
    paths: Any = group("paths.output_root", "where run folders go (default outputs)")


@dataclass
class ExportOptions:
    """``python -m megen.export``: the per-frame graph of a checkpoint."""
    ckpt: Any = option(None, "the trained checkpoint")
    format: Any = option("onnx", "the per-frame graph (driving frame -> key points -> dense motion -> decode)",
                         choices=("onnx",))
    out: Any = option(None, "the file written (default <paths.output_root>/export/<checkpoint name>.onnx)")
    check: Any = option(True, "run the graph through ONNX Runtime and compare it with torch on random inputs",
                        kind="bool")
    paths: Any = group("paths.output_root", "where out= defaults to (default outputs)")


@dataclass
class AugmentOptions:
    """``python -m megen.augment``: a checkpoint's generated clips as a prepared training set."""
    ckpt: Any = option(None, "a megen training checkpoint (required)")
    out: Any = option(None, "the folder written (required); re-running with the same settings resumes")
    family: Any = option(None, "optional check that the checkpoint holds this model", choices=Family)
    targets: Any = option("subjects", "subjects (of the driving data) | [dataset/subject, ...] | a folder of "
                                      "face photos", kind="any")
    per_clip: Any = option(2, "target identities per driving clip (never the driving subject itself)",
                           kind="whole", positive=True)
    holdout: Any = option(list, "the evaluation fold, [dataset/subject or subject, ...]: never driving, never "
                                "a target", kind="list", show="[]")
    exclude_clips: Any = option(list, "driving clip ids left out (dataset.exclude is not applied)", kind="list",
                                show="[]")
    seed: Any = option(0, "which targets each clip draws", kind="whole")
    name: Any = option("generated", "the manifest's dataset column")
    relative: Any = option(True, "motion relative to the driving onset (the paper)", kind="bool")
    adapt_movement_scale: Any = option(False, "scale the motion by the ratio of target and driving face sizes",
                                       kind="bool")
    crop: Any = option(True, "photo targets: detect and crop the face like the training data", kind="bool")
    head: Any = option("keep", "the driver's rigid head motion: keep or remove (flow-guided model)", choices=HeadMotion)
    gain: Any = option(1.0, "the expression's scale, or a range [low, high] each clip draws from (0-4; the "
                            "manifest's gain column; flow-guided model)", kind="any")
    regions: Any = option(None, "move only these regions' expression: any of [brows,eyes,nose,mouth] (flow-guided "
                                "model)", kind="list")
    retarget: Any = option("similarity", "how the driver's motion is carried into the target's face: similarity "
                                         "| landmarks (flow-guided model)", choices=Retarget)
    out_fps: Any = option(None, "resample every clip to this frame rate by interpolating the driver's flow (the "
                                "manifest's n_frames, onset, apex, offset and fps follow; flow-guided model)",
                          kind="number", low=1, high=1000)
    stretch: Any = option(1.0, "lengthen each clip by this factor, or a range [low, high] each clip draws from "
                               "(0.25-4; the manifest's stretch column; flow-guided model)", kind="any")
    render: Any = option("native", "native: the target's crop warped by the motion, the decoder filling what the "
                                   "occlusion hides | decoder: the model's output (both at its frame size)",
                         choices=Render)
    batch_size: Any = option("auto", "frames per forward pass: auto = 4 on CPU, 8 on GPU", kind="whole",
                             positive=True, also=("auto",))
    device: Any = option("auto", "cuda:N picks one GPU", choices=Device)
    overwrite: Any = option(False, "replace a set made with other settings in out=", kind="bool")
    progress: Any = option(True, "a bar in a terminal, a log line every 10 s otherwise", kind="bool")
    dataset: Any = group("dataset", "the driving clips (conf/dataset/)", show="synthetic")
    trainer: Any = group("trainer", "where the pairs are generated: cpu (one device=), ddp (trainer.devices, "
                                    "trainer.num_nodes share them out)", show="cpu")
    paths: Any = group("paths.cache_dir", "where prepared sets are cached (default data/cache)")


@dataclass
class TrainRealOptions:
    """``real.*`` of ``python -m megen.train``: the best checkpoint scored on real pairs at the end."""
    pairs: Any = option(None, "a CSV of real pairs (driving,target[,compare]): the best checkpoint is scored on "
                              "them at the end (real_pairs.json)")
    render: Any = option("native", "how they are rendered", choices=Render)
    estimators: Any = option(lambda: list(DEFAULT_REAL_ESTIMATORS), "optical-flow estimators the expression motion "
                             "is measured with (megen.ops.flow: farneback, dis, dis_fast, deepflow, tvl1); each one's "
                             "scores, their mean and spread are reported", kind="list",
                             show="[deepflow,tvl1,farneback]")
    motion_cache: Any = option("${paths.cache_dir}/real_motion", "where measured motions are kept by content, so "
                               "the driving clips, baselines and published outputs are measured once per study "
                               "(null: measure every time)", show="<paths.cache_dir>/real_motion")


@dataclass
class FlowOptions:
    """``flow.*``: what measures the driver's optical flow for the flow-guided model, at generation and in the
    synthetic set's training guides (one estimator for both, kept in the checkpoint)."""
    estimator: Any = option("farneback", "the guide's estimator (megen.ops.flow; learned: a python -m "
                                         "megen.train_flow network, flow.checkpoint=)", choices=GUIDE_ESTIMATORS)
    checkpoint: Any = option(None, "the learned estimator's checkpoint (flow.estimator=learned; null: the one megen "
                                   "ships, megen/models/weights/microflow.ckpt)")


@dataclass
class DataOptions:
    """``data.*``: the data module's settings (megen.data.datamodule.MicroExpressionDataModule)."""
    _target_: Any = wiring("megen.data.datamodule.MicroExpressionDataModule")
    dataset: Any = wiring("${dataset}")
    cache_dir: Any = wiring("${paths.cache_dir}")
    data_dir: Any = wiring("${paths.data_dir}")
    prior: Any = wiring("${prior}")
    # the prior map is read at the key-point detector's resolution
    scale_factor: Any = wiring("${model.motion.scale_factor}")
    split: Any = wiring("${dataset.split}")
    exclude: Any = wiring("${oc.select:dataset.exclude,[]}")
    weights: Any = wiring("${oc.select:dataset.weights,null}")
    progress: Any = option(True, "a bar (or log lines) while the data is prepared", kind="bool")
    batch_size: Any = option(8, "pairs per training batch", kind="whole", positive=True)
    num_workers: Any = option(0, "data loader worker processes", kind="whole", low=0)
    repeats: Any = option(8, "pairs drawn per training clip per epoch", kind="whole", positive=True)
    flip_prob: Any = option(0.5, "probability of mirroring a training pair", kind="number", low=0, high=1)
    pairs: Any = option("onset", "training pairs: the clip's onset as source (as animation uses it), random "
                                 "frames (FOMM) or onset -> apex", choices=PairMode)
    val_pairs: Any = option("apex", "validation and test pairs", choices=PairMode)


@dataclass
class OptimOptions:
    """``optim.*``: Adam for each network, the rate cut by ``gamma`` at each of ``milestones``."""
    lr_motion: Any = option(2.0e-4, "the key-point / region network's learning rate", kind="number", positive=True)
    lr_generator: Any = option(5.0e-4, "the dense motion network's and the generator's", kind="number",
                               positive=True)
    lr_discriminator: Any = option(2.0e-4, "the discriminator's", kind="number", positive=True)
    betas: Any = option(lambda: [0.5, 0.999], "Adam's betas", kind="list", show="[0.5,0.999]")
    milestones: Any = option(lambda: [6], "epochs at which the rates are cut (the 8-epoch CPU default ends at a "
                                          "tenth; public recipes: [60, 90])", kind="list", show="[6]")
    gamma: Any = option(0.1, "the factor of each cut", kind="number", positive=True)
    weight_decay: Any = option(0.0, "Adam's weight decay", kind="number", low=0)
    clip_grad_inf: Any = option(None, "cap each motion network's largest gradient entry at this (TPSMM's "
                                      "clip_grad_norm_ with norm_type=inf)", kind="number", positive=True)


@dataclass
class TrainOptions:
    """``python -m megen.train``: train, validate each epoch, score the test split (and real pairs) at the end."""
    seed: Any = option(0, "seeds torch, numpy and the data order", kind="whole")
    ckpt_path: Any = option(None, "resume from a checkpoint file, or `last` for the newest last.ckpt under "
                                  "outputs/train")
    run_dir: Any = option("${hydra:runtime.output_dir}", "the run folder (checkpoints, metrics.json, the log)",
                          show="<paths.output_root>/train/<time>")
    evaluate_at_end: Any = option(True, "score the best checkpoint on the test split at the end (metrics.json)",
                                  kind="bool")
    real: Any = section(TrainRealOptions, "real pairs")
    flow: Any = section(FlowOptions, "the flow-guided model's guide")
    data: Any = section(DataOptions, "the data module")
    optim: Any = section(OptimOptions, "the optimisers")
    system: Any = wiring(None)       # the LightningModule's arguments (conf/train.yaml)
    study: Any = wiring(None)        # a study's extra rows (conf/experiment/<study>.yaml; megen.studies.rows)
    paths: Any = group("paths.output_root", "where run folders go (default outputs; paths.data_dir=, MEGEN_DATA_DIR)")
    dataset: Any = group("dataset", "the training data (conf/dataset/)", show="synthetic")
    model: Any = group("model", "the motion model (conf/model/)", show="flow")
    prior: Any = group("prior", "the facial prior (conf/prior/)", show="paper")
    loss: Any = group("loss", "loss weights and settings (conf/loss/)", show="default")
    trainer: Any = group("trainer", "Lightning's Trainer (conf/trainer/: cpu, gpu, ddp)", show="cpu")
    logger: Any = group("logger", "conf/logger/", show="csv")
    callbacks: Any = group("callbacks", "checkpointing and the per-epoch line (conf/callbacks/)", show="default")
    experiment: Any = group("experiment", "a whole configuration applied last (conf/experiment/)")


@dataclass
class FlowPairsOptions:
    """``pairs.*`` of ``python -m megen.train_flow`` (megen.data.flow_pairs.FlowPairsDataModule)."""
    _target_: Any = wiring("megen.data.flow_pairs.FlowPairsDataModule")
    seed: Any = wiring("${seed}")
    size: Any = option(256, "pair size, px (micro-motion is measured on >= 256-px face crops)", kind="whole",
                       positive=True)
    identities: Any = option(16, "training identities (the synthetic set's, seed 0 on)", kind="whole", positive=True)
    val_identities: Any = option(4, "validation identities (seed 500 on; bench flow's are seed 1000 on)",
                                 kind="whole", positive=True)
    train_pairs: Any = option(28800, "training pairs per epoch, each drawn once from its own seed (a third of them: "
                                     "the earlier recipe, EPE 1.4x)", kind="whole", positive=True)
    val_pairs: Any = option(64, "validation pairs", kind="whole", positive=True)
    batch_size: Any = option(8, "pairs per batch", kind="whole", positive=True)
    motion_px: Any = option(lambda: [0.05, 3.0], "the non-rigid motion's peak, log-uniform in this range (px)",
                            kind="list", show="[0.05,3.0]")
    nuisance: Any = option(None, "the camera's nuisance levels (megen.synthetic.nuisance.Nuisance): training "
                                 "draws each up to its level", kind="any")
    num_workers: Any = option(0, "data loader worker processes", kind="whole", low=0)


@dataclass
class TrainFlowOptions:
    """``python -m megen.train_flow``: train the learned micro-motion estimator (flow.estimator=learned)."""
    seed: Any = option(0, "seeds torch and the pairs' order", kind="whole")
    run_dir: Any = option("${hydra:runtime.output_dir}", "the run folder (checkpoints/last.ckpt: flow.checkpoint=)",
                          show="<paths.output_root>/train_flow/<time>")
    lr: Any = option(3.0e-3, "the one-cycle schedule's peak learning rate", kind="number", positive=True)
    net: Any = option(None, "the network's arguments (megen.models.microflow.MicroFlowNet: channels, dilations, "
                            "damping, windows, warp)", kind="any")
    region_loss: Any = option(0.0, "weight of the region loss: the relative error of both flows blurred over 16 px, "
                                   "which charges an estimator for shrinking faint motion", kind="number", low=0)
    init: Any = option(None, "start from this estimator's weights (a train_flow checkpoint, or 'packaged'): train "
                             "it on; its network arguments replace net", show="null")
    pairs: Any = section(FlowPairsOptions, "the training pairs")
    system: Any = wiring(None)       # the LightningModule's arguments (conf/train_flow.yaml)
    paths: Any = group("paths.output_root", "where run folders go (default outputs)")
    trainer: Any = group("trainer", "Lightning's Trainer (conf/trainer/: cpu, gpu, ddp)", show="cpu")
    logger: Any = group("logger", "conf/logger/", show="csv")


@dataclass
class RecogniseOptions:
    """``python -m megen.recognise``: LOSO recognition on prepared clips, beside the baselines."""
    seed: Any = option(0, "seeds the folds' training and the random baseline", kind="whole")
    classes: Any = option("composite", "composite is MEGC 2019's negative / positive / surprise, emotions each "
                                       "dataset's own labels", choices=ClassMode)
    exclude_emotions: Any = option(list, "labels left out in either mode, e.g. [others, other] with "
                                         "classes=emotions", kind="list", show="[]")
    exclude_clips: Any = option(list, "clip ids left out; dataset.exclude is ignored (the MEGC protocol scores "
                                      "every clip)", kind="list", show="[]")
    extra: Any = option(list, "prepared folders added to every fold's training set only (e.g. megen.augment "
                              "output)", kind="list", show="[]")
    apex_jitter: Any = option(list, "temporal jitter, e.g. [-1, 1]: training copies of the real clips with the "
                                    "apex moved by k frames", kind="list", show="[]")
    random_draws: Any = option(100, "draws of the uniform random baseline", kind="whole", positive=True)
    progress: Any = option(True, "a bar in a terminal, a log line every 10 s otherwise", kind="bool")
    run_dir: Any = option("${hydra:runtime.output_dir}", "the run folder (results.json, config.yaml)",
                          show="<paths.output_root>/recognise/<time>")
    features: Any = option(None, "OpenCV Farnebäck onset -> apex: size, pyr_scale, levels, winsize, iterations, "
                                 "poly_n, poly_sigma (megen.recognition.flow.FlowSettings)", kind="any",
                           key="features.<key>", show="...")
    train: Any = option(None, "the shallow CNN per fold: epochs, batch_size, lr, weight_decay, class_weights "
                              "(balanced | none), channels, dropout, flip_prob, rotate_deg "
                              "(megen.recognition.loso.TrainSettings)", kind="any", key="train.<key>", show="...")
    trainer: Any = option(None, "passed to pl.Trainer for every fold (accelerator, devices, precision, "
                                "deterministic)", kind="any", key="trainer.<key>", show="...")
    dataset: Any = group("dataset", "the clips recognised (conf/dataset/)", show="synthetic")
    paths: Any = group("paths.output_root", "where run folders go (default outputs; paths.cache_dir=)")


@dataclass
class PrepareOptions:
    """``python -m megen.prepare``: a dataset into the prepared-clip cache."""
    progress: Any = option(True, "a bar in a terminal, a log line every 10 s otherwise", kind="bool")
    dataset: Any = group("dataset", "the dataset prepared (conf/dataset/: synthetic, casme2, samm, smic, mix)",
                         show="synthetic")
    paths: Any = group("paths.cache_dir", "where prepared sets are cached (default data/cache; paths.data_dir=, "
                                          "MEGEN_DATA_DIR)")


#: command -> its options' schema (the ConfigStore entry is ``<command>_options``)
SCHEMAS = {"train": TrainOptions, "train_flow": TrainFlowOptions, "generate": GenerateOptions, "evaluate": EvaluateOptions,
           "export": ExportOptions,
           "augment": AugmentOptions, "recognise": RecogniseOptions, "prepare": PrepareOptions}


def _shown(f) -> str:
    if f.metadata.get("show") is not None:
        return f.metadata["show"]
    if f.default is None or f.default is MISSING:
        return ""
    return str(f.default).lower() if isinstance(f.default, bool) else str(f.default)


def options_help(schema, width: int = 22, prefix: str = "") -> str:
    """One line per option: ``key=<default>  [a | b:] doc``, the valid values first where there is a set;
    a section's options as ``<section>.<key>=``."""
    lines = []
    for f in fields(schema):
        if f.metadata["kind"] == "section":
            lines.append(options_help(f.default_factory, width, f"{prefix}{f.name}."))
            continue
        if f.metadata["kind"] == "wiring":
            continue
        doc = f.metadata["doc"]
        if f.metadata.get("choices") is not None:
            doc = f"{' | '.join(choice_values(f.metadata['choices']))}: {doc}"
        name = f"{prefix}{f.metadata.get('key') or f.name}={_shown(f)}"
        lines.append(f"{name:<{width}} {doc}")
    return "\n".join(lines)


def register() -> None:
    """The schemas in Hydra's ConfigStore, and the ``megen_help`` resolver of the commands' ``--help``."""
    store = ConfigStore.instance()
    for command, schema in SCHEMAS.items():
        store.store(name=f"{command}_options", node=schema)
    if not OmegaConf.has_resolver("megen_help"):
        OmegaConf.register_new_resolver("megen_help", lambda command: options_help(SCHEMAS[str(command)]))

