"""The commands' own options, declared once: each field's type, default, valid values and bounds, and the
line ``--help`` prints for it. Registered in Hydra's ConfigStore (``conf/<command>.yaml`` lists the schema first
in its defaults), checked by ``megen.config.check`` and printed by the ``${megen_help:<command>}`` resolver.

A field's type is its check: ``bool``, ``int`` (a whole number), ``float``, ``list``, ``str`` (free text),
a ``Choice`` (one of its values), ``X | None`` (may be left unset) or ``Any`` (checked by code, or not at
all); ``option_kind`` reads it. OmegaConf's own validation would stop at the first bad value, inside Hydra,
with exit status 1, so the ConfigStore holds an ``Any``-typed twin of each schema (``untyped``) and
``megen.config.check`` reports every bad value at once, one line each, exit status 2.
"""
from __future__ import annotations

import functools
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, make_dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from megen.config.choices import (
    AnnotationLayout,
    AugmentMethod,
    Backend,
    Choice,
    ClassMode,
    Device,
    EvaluateRender,
    Family,
    FlowEstimator,
    GeneratePrecision,
    GenerationMethod,
    HeadMotion,
    PairMode,
    Render,
    Retarget,
)
from megen.data.megc_kit import PROTOCOLS

#: what real pairs are scored with by default (megen.evaluation.real_pairs.DEFAULT_ESTIMATORS)
DEFAULT_REAL_ESTIMATORS = ("deepflow", "tvl1", "farneback")

#: a field's type -> the kind of check ``megen.config.check.check_options`` runs
_KINDS = {bool: "bool", int: "whole", float: "number", list: "list", str: "str", Any: "any"}


def option(default: Any, doc: str, *, choices: tuple | None = None, low: float | None = None,
           high: float | None = None, positive: bool = False, also: tuple = (), show: str | None = None,
           key: str | None = None, kind: str | None = None) -> Any:
    """A field of a command's options, checked by its type (``option_kind``). ``default=list``: an empty list;
    ``choices``: a tuple of valid values for a ``str`` field (a ``Choice`` type lists its own);
    ``low``/``high``/``positive``: bounds; ``also``: values accepted beside the type (``auto``); ``show``: the
    default as ``--help`` prints it; ``key``: the key ``--help`` names (a group's one setting); ``kind``: only
    for what is not an option (``group``, ``wiring``). A default of None makes the option optional."""
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


@functools.cache
def _hints(schema) -> dict:
    return typing.get_type_hints(schema)


def option_kind(schema, f) -> tuple[str, Any]:
    """``(kind, choices)`` of the field ``f`` of ``schema``: ``group``, ``wiring`` or ``section`` as declared,
    else from its type (``_KINDS``; a ``Choice`` is a ``str`` with its values; ``X | None`` is X's)."""
    if f.metadata.get("kind"):
        return f.metadata["kind"], None
    hint = _hints(schema)[f.name]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if isinstance(hint, type) and issubclass(hint, Choice):
        return "str", hint
    if hint not in _KINDS:
        raise TypeError(f"{schema.__name__}.{f.name}: type {hint!r} has no check; use one of {list(_KINDS)}")
    return _KINDS[hint], f.metadata.get("choices")


@functools.cache
def untyped(schema) -> type:
    """``schema`` with every field typed ``Any`` (sections' too), as the ConfigStore holds it: the checks are
    ``megen.config.check``'s, not OmegaConf's."""
    specs = []
    for f in fields(schema):
        if f.metadata.get("kind") == "section":
            default = field(default_factory=untyped(f.default_factory), metadata=f.metadata)
        elif f.default_factory is not MISSING:
            default = field(default_factory=f.default_factory, metadata=f.metadata)
        else:
            default = field(default=f.default, metadata=f.metadata)
        specs.append((f.name, Any, default))
    return make_dataclass(schema.__name__, specs)


def choice_values(spec) -> tuple:
    """The valid values of a field's ``choices`` (a Choice class or a tuple)."""
    return spec.values() if isinstance(spec, type) and issubclass(spec, Choice) else tuple(spec)


@dataclass
class TransferFlowOptions:
    """``flow.*`` of ``python -m megen.generate``: the estimator of ``method=flow_transfer``."""
    estimator: FlowEstimator | None = option(None, "method=flow_transfer's estimator (default farneback; a model measures "
                                                   "with the one it was trained with)")
    checkpoint: str | None = option(None, "the learned estimator's checkpoint (flow.estimator=learned)")


@dataclass
class GenerateOptions:
    """``python -m megen.generate``: one pair (``target=`` ``driving=``) or the MEGC protocol."""
    ckpt: str | None = option(None, "the trained checkpoint (<run folder>/checkpoints/last.ckpt)")
    method: GenerationMethod = option("model", "flow_transfer needs no checkpoint: the driver's optical flow, mapped into "
                                               "the target, warps it; au makes the motion from action units (basis=, aus= or "
                                               "emotion=), with no driving clip")
    basis: str | None = option(None, "method=au: an AU motion basis (python -m megen.aubasis fit ... writes one)")
    aus: list | None = option(None, "method=au: the action units to make, e.g. [AU4,AU7] ([] is the still face)")
    emotion: str | None = option(None, "method=au: instead of aus=, the most frequent AU set of this emotion or class "
                                       "(negative, positive, surprise, ...) in the basis's data")
    aus_gain: Any = option(None, "method=flow_transfer with a driving clip and basis=: scale its AUs, e.g. "
                                 "{AU12:0} removes AU12, {AU4:2} doubles AU4 (the rest of its motion kept)")
    intensity: float = option(1.0, "method=au: each AU's intensity; 1 is the basis's (its clips' mean apex)", low=0, high=4)
    apex_px: float | None = option(None, "method=au: the apex's largest landmark displacement at intensity 1, px of a "
                                         "256-px face (default: the basis's fields summed)", positive=True, high=16)
    render: Render = option("native", "native is the target's own size and colour, decoder the model's frame size "
                                      "in gray (the paper's)")
    target: str | None = option(None, "the face to animate: an image, any size, gray or colour; or a long video (a file "
                                      "or a folder of frames) to insert micro-expressions into, with at=")
    driving: Any = option(None, "the motion: a folder of frames, a video file, or <dataset>:<clip> from the "
                                "prepared cache (with at=: one clip, or a list of one per time)")
    at: Any = option(None, "target=<video>: when each micro-expression starts, in seconds (2.5) or as a frame "
                           "(75f); a list inserts several, each in its own interval (method=flow_transfer)")
    target_fps: float | None = option(None, "target=<video>: its frame rate (default the video file's; a folder of frames "
                                            "needs it)", positive=True)
    out: str = option("outputs/generate", "output folder; one sub-folder per clip")
    protocol: str | None = option(None, "the MEGC generation task instead of one pair (needs megc_root=)",
                                  choices=PROTOCOLS)
    megc_root: str | None = option(None, "the MEGC test kit (source_samples/, target_template_face/; layout in "
                                         "docs/generation.md)")
    family: Family | None = option(None, "optional check that the checkpoint holds this model")
    relative: bool = option(True, "transfer the driving clip's motion relative to its first frame (false: "
                                  "absolute key points)")
    adapt_movement_scale: bool = option(False, "scale the motion by the ratio of target and driving face sizes "
                                               "(key-point hull)")
    head: HeadMotion = option("keep", "the driver's rigid head motion: keep it, or remove it and transfer the expression "
                                      "only (flow-guided model, flow_transfer)")
    gain: float = option(1.0, "scale of the expression motion, not the head's: 0 = the still target, 2 = twice "
                              "the driver's (flow-guided model, flow_transfer)", low=0, high=4)
    regions: list | None = option(None, "move only these regions' expression, the rest held still with a smooth falloff: "
                                        "any of [brows,eyes,nose,mouth] (default the whole face)")
    retarget: Retarget = option("similarity", "how the driver's motion is carried into the target's face: one similarity "
                                              "of the 68 landmarks, or bent through them (landmarks; flow-guided model, "
                                              "flow_transfer)")
    magnify: float = option(1.0, "key-point models: the driver's motion magnified this many times by its measured "
                                  "flow, the model's motion reduced as many (render=native)", low=1,
                            high=64)
    find_best_frame: bool = option(False, "start from the driving frame whose pose is closest to the target's")
    crop: bool = option(True, "detect and crop the faces; false uses the images as they are, padded to square")
    crop_target: bool | None = option(None, "crop the target or not (true / false), overriding crop= for it")
    crop_driving: bool | None = option(None, "crop the driving clip or not (true / false), overriding crop= for it")
    alpha_background: float = option(255, "gray level (0-255) that transparent pixels of an RGBA target are laid "
                                          "over", low=0, high=255)
    out_size: int | None = option(None, "render=native: the output size (default the target crop's own, at most 512); "
                                        "decoder: upscale the MP4 and GIF", positive=True)
    fps: float | None = option(None, "the driving clip's capture rate (timing.json): default its video's or dataset's "
                                     "(CASME II, SAMM 200, SMIC-HS 100), else 100", positive=True)
    out_fps: float | None = option(None, "the output's frame rate, its frames made by interpolating the driver's flow, not "
                                         "by blending frames (default the driver's fps; flow-guided model, flow_transfer)",
                                   low=1, high=1000)
    duration_ms: float | None = option(None, "stretch or shorten the expression to this duration; onset, apex and offset keep "
                                             "their places (default the driver's; flow-guided model, flow_transfer)",
                                       low=1, high=60000)
    playback_fps: float = option(25, "the MP4 and the GIF play at this rate (<= 50); 25 shows a 1/5 s expression "
                                     "at 200 fps for 1.6 s", positive=True)
    batch_size: int = option("auto", "frames per forward pass: auto = 4 on CPU, 8 on GPU",
                             positive=True, also=("auto",))
    device: Device = option("auto", "cuda:N picks one GPU")
    backend: Backend = option("torch", "onnxruntime runs FOMM's exported graph on the CPU (needs the export extra)")
    precision: GeneratePrecision = option("fp32", "bf16 runs the networks' convolutions in bfloat16 (CPUs with AVX512-BF16 "
                                                  "or AMX, GPUs)")
    progress: bool = option(True, "a bar in a terminal, a log line every 10 s otherwise (MEGEN_PROGRESS_INTERVAL)")
    flow: Any = section(TransferFlowOptions, "the flow transfer's estimator")
    paths: Any = group("paths.cache_dir", "where <dataset>:<clip> driving clips are looked up (default data/cache)")


@dataclass
class RealPairsOptions:
    """``real.*`` of ``python -m megen.evaluate`` (and of ``train``, scored at the end of training)."""
    pairs: str | None = option(None, "a CSV of real pairs (driving,target[,compare]): score them without ground truth "
                                     "instead of the synthetic test split")
    sheets: bool = option(True, "a sheet per pair (driver, generated, baselines, published; amplified "
                                "differences)")
    estimators: list = option(lambda: list(DEFAULT_REAL_ESTIMATORS), "optical-flow estimators the expression motion "
                              "is measured with (megen.ops.flow: farneback, dis, dis_fast, deepflow, tvl1); each one's "
                              "scores, their mean and spread are reported",
                              show="[deepflow,tvl1,farneback]")
    motion_cache: str = option("${paths.cache_dir}/real_motion", "where measured motions are kept by content, so "
                               "the driving clips, baselines and published outputs are measured once per study "
                               "(null: measure every time)", show="<paths.cache_dir>/real_motion")


@dataclass
class LongVideoSpottingOptions:
    """``spotting.*`` of ``python -m megen.evaluate``: the baseline spotter on a long-video database."""
    root: str | None = option(None, "a CAS(ME)² or SAMM Long Videos folder: spot its long videos instead of scoring a "
                                    "checkpoint (megen.data.readers.long_videos)")
    layout: AnnotationLayout = option("casme_sq", "the database's layout")
    sheet: str | None = option(None, "its coding sheet (default: found under root)")
    kind: str = option("micro", "the coded expressions scored against", choices=("micro", "macro", "all"))
    interval_ms: float = option(300.0, "the expression length the spotter looks for (its k: half of it in frames)", positive=True)
    threshold: float = option(0.5, "peaks above mean + p (max - mean) of the motion signal", low=0,
                              high=1)
    flow: str = option("dis_fast", "the optical-flow estimator (megen.ops.flow)", choices=FlowEstimator.classical())
    size: int = option(128, "the aligned face's side (px) where flow is measured", positive=True)
    realign_s: float = option(1.0, "find the face again every that many seconds (null: the first frame's only)", positive=True)
    max_videos: int | None = option(None, "spot only the first n videos (quick looks)", positive=True)


@dataclass
class EvaluateOptions:
    """``python -m megen.evaluate``: a checkpoint against ground truth, or real pairs without it."""
    ckpt: str | None = option(None, "the trained checkpoint (optional with real.pairs=: the baselines alone)")
    render: EvaluateRender = option("native", "real pairs and synthetic clips: one row / folder each with both")
    face_metrics: bool = option(True, "AKD / AED with dlib (CPU, frame by frame)")
    face_every: int = option(4, "score every n-th frame with the face models", positive=True)
    batch_size: int = option(8, "frames per forward pass", positive=True)
    max_clips: int | None = option(None, "limit the test clips (quick looks)", positive=True)
    max_pairs: int = option(16, "cross-identity pairs on synthetic data", positive=True)
    progress: bool = option(True, "a line per scored clip or pair")
    run_dir: str = option("${hydra:runtime.output_dir}", "the run folder (metrics.json, sheets)",
                          show="<paths.output_root>/evaluate/<time>")
    real: Any = section(RealPairsOptions, "real pairs")
    spotting: Any = section(LongVideoSpottingOptions, "the baseline spotter on long videos")
    dataset: Any = group("dataset", "the set whose test split is scored (conf/dataset/)", show="synthetic")
    paths: Any = group("paths.output_root", "where run folders go (default outputs)")


@dataclass
class ExportOptions:
    """``python -m megen.export``: the per-frame graph of a checkpoint."""
    ckpt: str | None = option(None, "the trained checkpoint")
    format: str = option("onnx", "the per-frame graph (driving frame -> key points -> dense motion -> decode)",
                         choices=("onnx",))
    out: str | None = option(None, "the file written (default <paths.output_root>/export/<checkpoint name>.onnx)")
    check: bool = option(True, "run the graph through ONNX Runtime and compare it with torch on random inputs")
    paths: Any = group("paths.output_root", "where out= defaults to (default outputs)")


@dataclass
class AugmentOptions:
    """``python -m megen.augment``: a checkpoint's generated clips as a prepared training set."""
    method: AugmentMethod = option("model", "model: the checkpoint animates targets with every driving clip; au: "
                                            "every emotion of the data filled up to fill= clips made from action "
                                            "units (basis=), no checkpoint")
    ckpt: str | None = option(None, "a megen training checkpoint (required with method=model)")
    basis: str | None = option(None, "method=au: an AU motion basis (python -m megen.aubasis fit; fit it on other "
                                     "clips than those a recogniser is scored on)")
    fill: int | None = option(None, "method=au: clips per emotion after filling (default: the largest class's "
                                    "count)", positive=True)
    intensity: Any = option(lambda: [0.67, 1.33], "method=au: each clip's AU intensity, or a range [low, high] "
                                                   "it draws from (0-4; the manifest's gain column)",
                            show="[0.67,1.33]")
    out: str | None = option(None, "the folder written (required); re-running with the same settings resumes")
    family: Family | None = option(None, "optional check that the checkpoint holds this model")
    targets: Any = option("subjects", "subjects (of the driving data) | [dataset/subject, ...] | a folder of "
                                      "face photos")
    per_clip: int = option(2, "target identities per driving clip (never the driving subject itself)", positive=True)
    holdout: list = option(list, "the evaluation fold, [dataset/subject or subject, ...]: never driving, never "
                                 "a target", show="[]")
    exclude_clips: list = option(list, "driving clip ids left out (dataset.exclude is not applied)",
                                 show="[]")
    seed: int = option(0, "which targets each clip draws")
    name: str = option("generated", "the manifest's dataset column")
    relative: bool = option(True, "motion relative to the driving onset (the paper)")
    adapt_movement_scale: bool = option(False, "scale the motion by the ratio of target and driving face sizes")
    crop: bool = option(True, "photo targets: detect and crop the face like the training data")
    head: HeadMotion = option("keep", "the driver's rigid head motion: keep or remove (flow-guided model)")
    gain: Any = option(1.0, "the expression's scale, or a range [low, high] each clip draws from (0-4; the "
                            "manifest's gain column; flow-guided model)")
    regions: list | None = option(None, "move only these regions' expression: any of [brows,eyes,nose,mouth] (flow-guided "
                                        "model)")
    retarget: Retarget = option("similarity", "how the driver's motion is carried into the target's face: similarity "
                                              "| landmarks (flow-guided model)")
    out_fps: float | None = option(None, "resample every clip to this frame rate by interpolating the driver's flow (the "
                                         "manifest's n_frames, onset, apex, offset and fps follow; flow-guided model)",
                                   low=1, high=1000)
    stretch: Any = option(1.0, "lengthen each clip by this factor, or a range [low, high] each clip draws from "
                               "(0.25-4; the manifest's stretch column; flow-guided model)")
    render: Render = option("native", "native: the target's crop warped by the motion, the decoder filling what the "
                                      "occlusion hides | decoder: the model's output (both at its frame size)")
    batch_size: int = option("auto", "frames per forward pass: auto = 4 on CPU, 8 on GPU",
                             positive=True, also=("auto",))
    device: Device = option("auto", "cuda:N picks one GPU")
    overwrite: bool = option(False, "replace a set made with other settings in out=")
    progress: bool = option(True, "a bar in a terminal, a log line every 10 s otherwise")
    dataset: Any = group("dataset", "the driving clips (conf/dataset/)", show="synthetic")
    trainer: Any = group("trainer", "where the pairs are generated: cpu (one device=), ddp (trainer.devices, "
                                    "trainer.num_nodes share them out)", show="cpu")
    paths: Any = group("paths.cache_dir", "where prepared sets are cached (default data/cache)")


@dataclass
class TrainRealOptions:
    """``real.*`` of ``python -m megen.train``: the best checkpoint scored on real pairs at the end."""
    pairs: str | None = option(None, "a CSV of real pairs (driving,target[,compare]): the best checkpoint is scored on "
                                     "them at the end (real_pairs.json)")
    render: Render = option("native", "how they are rendered")
    estimators: list = option(lambda: list(DEFAULT_REAL_ESTIMATORS), "optical-flow estimators the expression motion "
                              "is measured with (megen.ops.flow: farneback, dis, dis_fast, deepflow, tvl1); each one's "
                              "scores, their mean and spread are reported",
                              show="[deepflow,tvl1,farneback]")
    motion_cache: str = option("${paths.cache_dir}/real_motion", "where measured motions are kept by content, so "
                               "the driving clips, baselines and published outputs are measured once per study "
                               "(null: measure every time)", show="<paths.cache_dir>/real_motion")


@dataclass
class FlowOptions:
    """``flow.*``: what measures the driver's optical flow for the flow-guided model, at generation and in the
    synthetic set's training guides (one estimator for both, kept in the checkpoint)."""
    estimator: FlowEstimator = option("dis", "the guide's estimator (megen.ops.flow; learned: a python -m "
                                             "megen.train_flow network, flow.checkpoint=)")
    checkpoint: str | None = option(None, "the learned estimator's checkpoint (flow.estimator=learned; null: the one megen "
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
    progress: bool = option(True, "a bar (or log lines) while the data is prepared")
    batch_size: int = option(8, "pairs per training batch", positive=True)
    num_workers: int = option(0, "data loader worker processes", low=0)
    repeats: int = option(8, "pairs drawn per training clip per epoch", positive=True)
    flip_prob: float = option(0.5, "probability of mirroring a training pair", low=0, high=1)
    pairs: PairMode = option("onset", "training pairs: the clip's onset as source (as animation uses it), random "
                                      "frames (FOMM) or onset -> apex")
    val_pairs: PairMode = option("apex", "validation and test pairs")


@dataclass
class OptimOptions:
    """``optim.*``: Adam for each network, the rate cut by ``gamma`` at each of ``milestones``."""
    lr_motion: float = option(2.0e-4, "the key-point / region network's learning rate", positive=True)
    lr_generator: float = option(5.0e-4, "the dense motion network's and the generator's",
                                 positive=True)
    lr_discriminator: float = option(2.0e-4, "the discriminator's", positive=True)
    betas: list = option(lambda: [0.5, 0.999], "Adam's betas", show="[0.5,0.999]")
    milestones: list = option(lambda: [6], "epochs at which the rates are cut (the 8-epoch CPU default ends at a "
                                           "tenth; public recipes: [60, 90])", show="[6]")
    gamma: float = option(0.1, "the factor of each cut", positive=True)
    weight_decay: float = option(0.0, "Adam's weight decay", low=0)
    clip_grad_inf: float | None = option(None, "cap each motion network's largest gradient entry at this (TPSMM's "
                                               "clip_grad_norm_ with norm_type=inf)", positive=True)


@dataclass
class TrainOptions:
    """``python -m megen.train``: train, validate each epoch, score the test split (and real pairs) at the end."""
    seed: int = option(0, "seeds torch, numpy and the data order")
    ckpt_path: str | None = option(None, "resume from a checkpoint file, or `last` for the newest last.ckpt under "
                                         "outputs/train")
    run_dir: str = option("${hydra:runtime.output_dir}", "the run folder (checkpoints, metrics.json, the log)",
                          show="<paths.output_root>/train/<time>")
    evaluate_at_end: bool = option(True, "score the best checkpoint on the test split at the end (metrics.json)")
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
    size: int = option(256, "pair size, px (micro-motion is measured on >= 256-px face crops)",
                       positive=True)
    identities: int = option(16, "training identities (the synthetic set's, seed 0 on)", positive=True)
    val_identities: int = option(4, "validation identities (seed 500 on; bench flow's are seed 1000 on)", positive=True)
    train_pairs: int = option(28800, "training pairs per epoch, each drawn once from its own seed (a third of them: "
                                     "the earlier recipe, EPE 1.4x)", positive=True)
    val_pairs: int = option(64, "validation pairs", positive=True)
    batch_size: int = option(8, "pairs per batch", positive=True)
    motion_px: list = option(lambda: [0.05, 3.0], "the non-rigid motion's peak, log-uniform in this range (px)",
                             show="[0.05,3.0]")
    nuisance: Any = option(None, "the camera's nuisance levels (megen.synthetic.nuisance.Nuisance): training "
                                 "draws each up to its level")
    occlusion: float = option(0.0, "share of moving pairs whose eyelids also close a little, covering part of the "
                                   "eye (megen.synthetic.eyelids)", low=0, high=1)
    num_workers: int = option(0, "data loader worker processes", low=0)


@dataclass
class TrainFlowOptions:
    """``python -m megen.train_flow``: train the learned micro-motion estimator (flow.estimator=learned)."""
    seed: int = option(0, "seeds torch and the pairs' order")
    run_dir: str = option("${hydra:runtime.output_dir}", "the run folder (checkpoints/last.ckpt: flow.checkpoint=)",
                          show="<paths.output_root>/train_flow/<time>")
    lr: float = option(3.0e-3, "the one-cycle schedule's peak learning rate", positive=True)
    net: Any = option(None, "the network's arguments (megen.models.microflow.MicroFlowNet: channels, dilations, "
                            "damping, windows, warp, refinements, relight, relight_tolerance)")
    region_loss: float = option(0.0, "weight of the region loss: the relative error of both flows blurred over 16 px, "
                                     "which charges an estimator for shrinking faint motion", low=0)
    init: str | None = option(None, "start from this estimator's weights (a train_flow checkpoint, or 'packaged'): train "
                                    "it on; its network arguments replace net's, but for net.refinements (passes "
                                    "it lacks are added) and net.relight*", show="null")
    freeze_init: bool = option(False, "with init=: train only the refinement passes it lacks, its own weights fixed")
    pairs: Any = section(FlowPairsOptions, "the training pairs")
    system: Any = wiring(None)       # the LightningModule's arguments (conf/train_flow.yaml)
    paths: Any = group("paths.output_root", "where run folders go (default outputs)")
    trainer: Any = group("trainer", "Lightning's Trainer (conf/trainer/: cpu, gpu, ddp)", show="cpu")
    logger: Any = group("logger", "conf/logger/", show="csv")


@dataclass
class RecogniseOptions:
    """``python -m megen.recognise``: LOSO recognition on prepared clips, beside the baselines."""
    seed: int = option(0, "seeds the folds' training and the random baseline")
    classes: ClassMode = option("composite", "composite is MEGC 2019's negative / positive / surprise, emotions each "
                                             "dataset's own labels")
    exclude_emotions: list = option(list, "labels left out in either mode, e.g. [others, other] with "
                                          "classes=emotions", show="[]")
    exclude_clips: list = option(list, "clip ids left out; dataset.exclude is ignored (the MEGC protocol scores "
                                       "every clip)", show="[]")
    extra: list = option(list, "prepared folders added to every fold's training set only (e.g. megen.augment "
                               "output)", show="[]")
    apex_jitter: list = option(list, "temporal jitter, e.g. [-1, 1]: training copies of the real clips with the "
                                     "apex moved by k frames", show="[]")
    random_draws: int = option(100, "draws of the uniform random baseline", positive=True)
    progress: bool = option(True, "a bar in a terminal, a log line every 10 s otherwise")
    run_dir: str = option("${hydra:runtime.output_dir}", "the run folder (results.json, config.yaml)",
                          show="<paths.output_root>/recognise/<time>")
    features: Any = option(None, "OpenCV Farnebäck onset -> apex: size, pyr_scale, levels, winsize, iterations, "
                                 "poly_n, poly_sigma (megen.recognition.flow.FlowSettings)",
                           key="features.<key>", show="...")
    train: Any = option(None, "the shallow CNN per fold: epochs, batch_size, lr, weight_decay, class_weights "
                              "(balanced | none), channels, dropout, flip_prob, rotate_deg "
                              "(megen.recognition.loso.TrainSettings)", key="train.<key>", show="...")
    trainer: Any = option(None, "passed to pl.Trainer for every fold (accelerator, devices, precision, "
                                "deterministic)", key="trainer.<key>", show="...")
    dataset: Any = group("dataset", "the clips recognised (conf/dataset/)", show="synthetic")
    paths: Any = group("paths.output_root", "where run folders go (default outputs; paths.cache_dir=)")


@dataclass
class PrepareOptions:
    """``python -m megen.prepare``: a dataset into the prepared-clip cache."""
    progress: bool = option(True, "a bar in a terminal, a log line every 10 s otherwise")
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
        choices = option_kind(schema, f)[1]
        if choices is not None:
            doc = f"{' | '.join(choice_values(choices))}: {doc}"
        name = f"{prefix}{f.metadata.get('key') or f.name}={_shown(f)}"
        lines.append(f"{name:<{width}} {doc}")
    return "\n".join(lines)


def register() -> None:
    """The schemas in Hydra's ConfigStore, and the ``megen_help`` resolver of the commands' ``--help``."""
    store = ConfigStore.instance()
    for command, schema in SCHEMAS.items():
        store.store(name=f"{command}_options", node=untyped(schema))
    if not OmegaConf.has_resolver("megen_help"):
        OmegaConf.register_new_resolver("megen_help", lambda command: options_help(SCHEMAS[str(command)]))

