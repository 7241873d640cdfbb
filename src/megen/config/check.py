"""One validation pass over a composed config, before any folder is written or model built.

A misspelt value (``prior.kernel=gausian``, ``prior.sigma=abc``) should cost a second and one
line naming the key, the value and what is valid, not a 30-line traceback from inside training.

Three kinds of check:
- a command's own options against their declaration in ``megen.config.schema`` (kind, valid values
  from ``megen.config.choices``, bounds): ``check_options``;
- the groups against their dataclasses (``megen.config.groups``: loss, model, dataset) as the options are, the
  prior through ``PriorSetting``; only the trainer's files still serve as the schema for its types (Lightning
  owns its arguments);
- cross-field and file rules, as code (``playback_fps <= 50``, ``cuda:N``, checkpoints, dataset roots).

Every problem found is reported at once, separated by "; ". Heavy modules are imported inside
the checks that need them: generation validates before torch is imported.
"""
from __future__ import annotations

import numbers
from dataclasses import fields
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from megen.config.choices import (
    AugmentMethod,
    Device,
    FaceRegion,
    FlowEstimator,
    GeneratePrecision,
    GenerationMethod,
    MovedFrameRender,
    Retarget,
)
from megen.runtime.paths import conf_dir

_MISSING = object()
DEVICES = Device.values()
# Copies of what Lightning accepts: importing them would import Lightning, several seconds before a
# typo could be reported. tests/unit/config/test_config_check.py keeps them equal.
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
PRECISIONS = ("16-mixed", "bf16-mixed", "32-true", "64-true", "16-true", "bf16-true", "transformer-engine",
              "transformer-engine-float16", "64", "32", "16", "bf16", 64, 32, 16)


class ConfigError(ValueError):
    """Bad config values; the message names each key, its value and what is valid, on one line."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def _show(value) -> str:
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value, resolve=False)
    return repr(value)


class Checker:
    """Collects the problems of one config."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.problems: list[str] = []
        self._keys: set[str] = set()

    def get(self, key: str, default=_MISSING):
        try:
            value = OmegaConf.select(self.cfg, key, default=default, throw_on_missing=True)
        except Exception as err:  # noqa: BLE001  (a broken interpolation is a config problem too)
            self.problems.append(f"{key}: {str(err).splitlines()[0]}")
            return _MISSING
        return value

    def add(self, key: str, value, what: str) -> None:
        if key not in self._keys:      # one problem per key (several checks may look at one key)
            self._keys.add(key)
            self.problems.append(f"{key}={_show(value)} {what}")

    def choice(self, key: str, valid, optional: bool = False) -> None:
        value = self.get(key, None)
        if value is _MISSING or (value is None and optional):
            return
        if value not in tuple(valid):
            shown = list(dict.fromkeys(map(str, valid)))     # 32 and "32" read the same
            self.add(key, value, f"is not valid; valid: {', '.join(shown)}")

    def number(self, key: str, whole: bool = False, low: float | None = None, high: float | None = None,
               optional: bool = False, positive: bool = False) -> None:
        value = self.get(key, None)
        if value is _MISSING or (value is None and optional):
            return
        kind = "a whole number" if whole else "a number"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            self.add(key, value, f"must be {kind}")
        elif whole and int(value) != value:
            self.add(key, value, f"must be {kind}")
        elif positive and value <= 0:
            self.add(key, value, "must be > 0")
        elif low is not None and value < low:
            self.add(key, value, f"must be >= {low:g}")
        elif high is not None and value > high:
            self.add(key, value, f"must be <= {high:g}")

    def boolean(self, key: str) -> None:
        value = self.get(key, None)
        if value is not _MISSING and not isinstance(value, bool):
            self.add(key, value, "must be true or false")

    def like(self, key: str, example) -> None:
        """``key`` has the types of ``example`` (a config node loaded from the group's file)."""
        if isinstance(example, DictConfig):
            for name in example:
                if not OmegaConf.is_interpolation(example, name):
                    self.like(f"{key}.{name}" if key else str(name), example[name])
            return
        value = self.get(key, _MISSING)
        if value is _MISSING or value is None or example is None:
            return
        if isinstance(example, bool):
            self.boolean(key)
        elif isinstance(example, numbers.Real):
            self.number(key)
        elif isinstance(example, ListConfig) and not isinstance(value, ListConfig):
            self.add(key, value, "must be a list, e.g. [1, 2]")
        elif isinstance(example, ListConfig) and len(example) and all(
                isinstance(x, numbers.Real) and not isinstance(x, bool) for x in example):
            if not all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in value):
                self.add(key, value, "must be a list of numbers")

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)


def _example(*parts: str):
    path = conf_dir().joinpath(*parts)
    return OmegaConf.load(path) if path.is_file() else None


# -- groups shared by several commands -------------------------------------------------------------

def check_dataset(c: Checker, key: str = "dataset", cache_dir=None, data_dir=None) -> None:
    """dataset.name, the types of conf/dataset/<name>.yaml, a mix's sources, a real dataset's root."""
    from megen.config.groups import DatasetOptions
    from megen.data.preparation import PREPARED_DATASETS, source_configs
    from megen.data.prepare_real import COLOR_MODES, REAL_DATASETS, dataset_root
    from megen.synthetic.styles import STYLES

    node = c.get(key, None)
    if not isinstance(node, DictConfig):
        return
    name = node.get("name")
    valid = (*PREPARED_DATASETS, "mix")
    if name not in valid:
        c.add(f"{key}.name", name, f"is not valid; valid: {', '.join(valid)}")
        return
    check_options(c, DatasetOptions, prefix=f"{key}.")
    c.number(f"{key}.frame_size", whole=True, positive=True, optional=True)
    c.choice(f"{key}.color", COLOR_MODES, optional=True)
    c.number(f"{key}.workers", whole=True, positive=True, optional=True)
    c.number(f"{key}.margin", low=0, optional=True)
    if name == "synthetic":
        for field in ("n_subjects", "clips_per_subject"):
            c.number(f"{key}.{field}", whole=True, positive=True)
        c.number(f"{key}.fps", positive=True)
        c.choice(f"{key}.style", tuple(STYLES), optional=True)
    sources = [(key, node)]
    if name == "mix":
        try:
            sources = [(f"{key}.roots.{sub['name']}", sub) for sub in source_configs(node)]
        except ValueError as err:
            c.problems.append(str(err).splitlines()[0])
            sources = []
    for where, sub in sources:
        sub_name = sub.get("name")
        if where != key and sub.get("style") not in (None, *STYLES):
            c.add(f"{key}.sources", f"{sub_name}:{sub.get('style')}", f"has no such style; valid: {', '.join(STYLES)}")
        if sub_name == "generated" and not (sub.get("path") or sub.get("root")):
            c.add(f"{key}.path" if where == key else where, None,
                  "is required: the out= folder of `python -m megen.augment`")
        if sub_name == "generated" and where == key and sub.get("frame_size") is None:
            c.add(f"{key}.frame_size", None, "is required for dataset=generated: the frame size of its clips")
        if sub_name in REAL_DATASETS and cache_dir is not None:
            root = dataset_root(sub_name, sub, cache_dir, data_dir)
            if not root.is_dir():
                c.add(f"{where}.root" if where == key else where, str(root),
                      f"is not a folder; put {sub_name} there (layout: docs/data.md, 'Real datasets') "
                      f"or set the root (dataset.root=, paths.data_dir= or MEGEN_DATA_DIR)")


def check_trainer(c: Checker) -> None:
    """The basics researchers override: accelerator, devices, precision, epochs, batch limits."""
    for option in ("cpu", "gpu", "ddp"):
        example = _example("trainer", f"{option}.yaml")
        if example is not None:
            example.pop("devices", None)   # a count, -1, auto or a list: checked below
            c.like("trainer", example)
    c.choice("trainer.accelerator", ACCELERATORS)
    c.choice("trainer.precision", PRECISIONS)
    devices = c.get("trainer.devices", None)
    if devices is not _MISSING and devices is not None and not (
            devices == "auto" or isinstance(devices, ListConfig)
            or (isinstance(devices, int) and not isinstance(devices, bool) and devices >= -1 and devices != 0)
            or (isinstance(devices, str) and devices.replace(",", "").strip().isdigit())):
        c.add("trainer.devices", devices, "is not valid; valid: a count >= 1, -1 (all), auto, or a list of indices")
    c.number("trainer.max_epochs", whole=True, low=-1, optional=True)
    c.number("trainer.num_nodes", whole=True, positive=True, optional=True)
    c.number("trainer.log_every_n_steps", whole=True, positive=True, optional=True)
    for limit in ("limit_train_batches", "limit_val_batches", "limit_test_batches"):
        value = c.get(f"trainer.{limit}", None)
        if value is _MISSING or value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0 or (
                isinstance(value, float) and value > 1):
            c.add(f"trainer.{limit}", value, "is not valid; valid: a batch count, a fraction in [0, 1], or null")


# -- per command ------------------------------------------------------------------------------------

def check_estimators(c: Checker) -> None:
    """``real.estimators``: a non-empty list of megen.ops.flow's estimator names."""
    valid = FlowEstimator.classical()
    names = c.get("real.estimators", None)
    if names in (None, _MISSING):
        return
    names = list(names) if not isinstance(names, str) else [names]
    unknown = [n for n in names if n not in valid]
    if not names or unknown:
        c.add("real.estimators", names, f"is not valid; valid: a list of {', '.join(valid)}")


def check_flow(c: Checker) -> None:
    """``flow.checkpoint``: a file where given (``flow.estimator=learned`` without it uses the packaged estimator)."""
    path = c.get("flow.checkpoint", None)
    if path not in (None, _MISSING) and not Path(str(path)).is_file():
        c.add("flow.checkpoint", path, "is not a file (a python -m megen.train_flow checkpoint)")


def validate_train(cfg) -> None:
    """Everything ``python -m megen.train`` reads; raises ConfigError listing every problem."""
    from megen.config.groups import LossOptions, ModelOptions
    from megen.config.schema import TrainOptions
    from megen.face.prior import PriorSetting
    from megen.models.perceptual import VGG19_FILE, hub_weights_path
    from megen.runtime.checkpoints import resolve_ckpt_path

    c = Checker(cfg)
    c.number("seed", whole=True)
    prior = c.get("prior", None)
    if isinstance(prior, DictConfig):
        for field in fields(PriorSetting):     # one at a time, so every bad prior value is named
            if field.name in prior:
                try:
                    PriorSetting(**{field.name: prior[field.name]})
                except (TypeError, ValueError) as err:
                    c.problems.append(str(err))
    check_options(c, ModelOptions, prefix="model.")     # model.family is required: a missing one is named too
    if isinstance(c.get("loss", None), DictConfig):
        check_options(c, LossOptions, prefix="loss.")
    # the perceptual loss's rule (megen.models.perceptual.Vgg19), checked before the data is prepared
    weights, allow_random = c.get("loss.perceptual.weights_path", None), c.get("loss.perceptual.allow_random", False)
    if weights is not _MISSING and allow_random is not True:
        path = Path(str(weights)).expanduser() if weights else hub_weights_path()
        if not path.is_file():
            c.add("loss.perceptual.weights_path", weights,
                  f"has no VGG-19 ImageNet weights: none at {path}; copy torchvision's {VGG19_FILE} there (or set "
                  f"loss.perceptual.weights_path=<file>), or allow the random-feature fallback with "
                  f"loss.perceptual.allow_random=true")
    check_options(c, TrainOptions)
    check_estimators(c)
    check_flow(c)
    check_trainer(c)
    # the moving average of the weights (megen.training.averaging.WeightAverage's rule): 0 is off, 1 would never move
    c.number("callbacks.weight_average.decay", low=0)
    decay = c.get("callbacks.weight_average.decay", None)
    if isinstance(decay, numbers.Real) and not isinstance(decay, bool) and decay >= 1:
        c.add("callbacks.weight_average.decay", decay, "must be < 1")
    c.number("callbacks.weight_average.start_step", whole=True, low=0)
    c.boolean("callbacks.weight_average.bias_correction")
    check_dataset(c, cache_dir=c.get("paths.cache_dir", None), data_dir=c.get("paths.data_dir", None))
    pairs = c.get("real.pairs", None)
    if pairs not in (None, _MISSING) and not Path(str(pairs)).is_file():
        c.add("real.pairs", pairs, "is not a file (a CSV with the columns driving,target[,compare])")
    ckpt = c.get("ckpt_path", None)
    if ckpt not in (None, _MISSING):
        try:
            resolve_ckpt_path(ckpt, Path(str(c.get("paths.output_root", "outputs"))))
        except FileNotFoundError as err:
            c.problems.append(str(err))
    c.raise_if_any()


def check_options(c: Checker, schema, prefix: str = "", skip: tuple[str, ...] = ()) -> None:
    """Each field of a command's options schema (``megen.config.schema``) against its declared kind, valid
    values and bounds; an option whose default is None may be left unset."""
    from megen.config.schema import choice_values, option_kind

    for f in fields(schema):
        key, meta = f"{prefix}{f.name}", f.metadata
        kind, choices = option_kind(schema, f)
        if f.name in skip or kind in ("group", "any", "wiring") or (kind == "str" and choices is None):
            continue     # groups have checks of their own; free text, paths and "any" have none here
        if kind == "section":
            if isinstance(c.get(key, None), DictConfig):
                check_options(c, f.default_factory, f"{key}.")
            continue
        value = c.get(key, None)
        if value is _MISSING or (not isinstance(value, (DictConfig, ListConfig)) and value in meta["also"]):
            continue
        optional = f.default is None
        if kind == "list":
            if not isinstance(value, ListConfig) and not (optional and value is None):
                c.add(key, value, "must be a list, e.g. [a, b]")
            continue
        if choices is not None:
            c.choice(key, choice_values(choices), optional=optional)
        elif kind == "bool":
            if not (optional and c.get(key, None) is None):
                c.boolean(key)
        elif kind in ("whole", "number"):
            c.number(key, whole=kind == "whole", low=meta["low"], high=meta["high"],
                     positive=meta["positive"], optional=optional)


def check_device(c: Checker) -> None:
    """``device=``: one of the devices, or cuda:N for one GPU."""
    device = c.get("device", "auto")
    if device is not _MISSING and not (isinstance(device, str) and device.split(":")[0] in DEVICES):
        c.add("device", device, f"is not valid; valid: {', '.join(DEVICES)} (cuda:N for one GPU)")


def validate_train_flow(cfg) -> None:
    """Everything ``python -m megen.train_flow`` reads; raises ConfigError listing every problem."""
    from megen.config.schema import TrainFlowOptions

    c = Checker(cfg)
    check_options(c, TrainFlowOptions)
    check_trainer(c)
    size = c.get("pairs.size", None)
    if isinstance(size, int) and size % 4:
        c.add("pairs.size", size, "is not valid; valid: a multiple of 4 (the estimator's cell)")
    init = c.get("init", None)
    if init not in (None, _MISSING, "packaged") and not Path(str(init)).is_file():
        c.add("init", init, "is not a file (a python -m megen.train_flow checkpoint, or packaged)")
    if c.get("freeze_init", False) is True and init in (None, _MISSING):
        c.add("freeze_init", True, "needs init= (the estimator whose weights stay fixed)")
    c.raise_if_any()


def validate_generate(cfg) -> None:
    """The values ``python -m megen.generate`` reads (no torch: this runs before the slow imports)."""
    from megen.config.schema import GenerateOptions

    c = Checker(cfg)
    check_options(c, GenerateOptions, skip=("device",))
    playback = c.get("playback_fps", None)
    if isinstance(playback, numbers.Real) and not isinstance(playback, bool) and playback > 50:
        c.add("playback_fps", playback, "must be <= 50 (GIF viewers show frames shorter than 20 ms at 100 ms)")
    name = c.get("flow.estimator", None)
    if name not in (None, _MISSING) and c.get("method", GenerationMethod.MODEL) != GenerationMethod.FLOW_TRANSFER:
        c.add("flow.estimator", name, "is for method=flow_transfer: a model measures with the estimator it was "
                                      "trained with (python -m megen.train flow.estimator=)")
    check_flow(c)
    check_controls(c)
    check_action_units(c)
    check_insertion(c)
    check_device(c)
    c.raise_if_any()


def check_insertion(c: Checker) -> None:
    """``at=`` inserts into a long video: it needs ``target=<video or frames folder>``, ``method=flow_transfer``,
    and takes no ``out_fps=`` (the video's rate decides) or protocol; a video target needs ``at=``."""
    from megen.runtime.video import is_video_source

    at, target = c.get("at", None), c.get("target", None)
    given = at not in (None, _MISSING)
    video = target not in (None, _MISSING) and is_video_source(target)
    if video and not given and c.get("method", GenerationMethod.MODEL) != GenerationMethod.AU:
        c.add("target", target, "is a video: pass at=<seconds or frame>f (when to insert the driver's micro-"
                                "expression); a still target is an image")
    if not given:
        if c.get("target_fps", None) not in (None, _MISSING):
            c.add("target_fps", c.get("target_fps"), "is for target=<video> with at=")
        return
    if not video:
        c.add("at", at, "inserts into a long video: target= must be a video file or a folder of frames")
    if c.get("method", GenerationMethod.MODEL) != GenerationMethod.FLOW_TRANSFER:
        c.add("method", c.get("method", GenerationMethod.MODEL), "at= inserts the driver's measured expression: use "
                                                  "method=flow_transfer")
    for key in ("out_fps", "protocol"):
        if c.get(key, None) not in (None, _MISSING):
            c.add(key, c.get(key), "is not used with at= (the video's own frame rate decides the timing)")
    times = list(at) if isinstance(at, ListConfig) else [at]
    driving = c.get("driving", None)
    clips = list(driving) if isinstance(driving, ListConfig) else [driving]
    if len(clips) not in (1, len(times)):
        c.add("driving", clips, f"give one driving clip, or one per time of at= ({len(times)})")
    if video and not Path(str(target)).exists():
        c.add("target", target, "no such video file or frames folder")
    for clip in clips:
        if clip not in (None, _MISSING) and not Path(str(clip)).exists() and ":" not in str(clip):
            c.add("driving", clip, "no such frame folder or video file, and not <dataset>:<clip>")


def check_action_units(c: Checker) -> None:
    """``method=au`` takes ``basis=`` and one of ``aus=`` / ``emotion=``, each AU spelt as one; the others take
    none of them."""
    from megen.expression.action_units import au_name

    au = c.get("method", GenerationMethod.MODEL) == GenerationMethod.AU
    given = [k for k in ("basis", "aus", "emotion", "apex_px") if c.get(k, None) not in (None, _MISSING)]
    gains = c.get("aus_gain", None)
    if gains not in (None, _MISSING):
        check_aus_gain(c, gains, given)
        return
    if not au:
        for key in given:
            c.add(key, c.get(key), "is for method=au (motion made from action units)"
                  + ("" if key == "apex_px" else ", or with aus_gain="))
        return
    if "basis" not in given:
        c.add("basis", None, "method=au needs basis=<file written by python -m megen.aubasis fit>")
    if c.get("driving", None) not in (None, _MISSING) or c.get("target", None) in (None, _MISSING):
        c.add("driving", c.get("driving", None), "method=au needs target=<image> and no driving= (the motion is "
                                                 "made from action units)")
    missing = [k for k in ("target", "basis") if k in given + ["target"] and c.get(k, None) not in (None, _MISSING)
               and not Path(str(c.get(k))).is_file()]
    for key in missing:
        c.add(key, c.get(key), "no such file")
    if ("aus" in given) == ("emotion" in given):
        c.add("aus", c.get("aus", None), "method=au needs aus=[AU...] or emotion=<class>, one of them")
    aus = c.get("aus", None)
    if isinstance(aus, ListConfig):
        for code in aus:
            try:
                au_name(code)
            except ValueError as err:
                c.add("aus", list(aus), str(err))


def check_aus_gain(c: Checker, gains, given: list[str]) -> None:
    """``aus_gain={AU12: 0}`` edits a driving clip's AUs: ``method=flow_transfer`` with ``driving=`` and
    ``basis=``, each key an AU, each gain in [0, 4]; ``aus=`` / ``emotion=`` are method=au's."""
    from megen.expression.action_units import au_name

    if c.get("method", GenerationMethod.MODEL) != GenerationMethod.FLOW_TRANSFER or c.get("driving", None) in (None, _MISSING):
        c.add("aus_gain", gains, "edits a driving clip's AUs: use it with method=flow_transfer and driving=")
    if "basis" not in given:
        c.add("basis", None, "aus_gain= needs basis=<file written by python -m megen.aubasis fit>")
    elif not Path(str(c.get("basis"))).is_file():
        c.add("basis", c.get("basis"), "no such file")
    for key in ("aus", "emotion", "apex_px"):
        if key in given:
            c.add(key, c.get(key), "is for method=au; with a driving clip, aus_gain={AU: gain} edits its AUs")
    if not isinstance(gains, DictConfig) or not len(gains):
        c.add("aus_gain", gains, "must map AUs to gains, e.g. aus_gain={AU12:0,AU4:2}")
        return
    for code, gain in gains.items():
        try:
            au_name(code)
        except ValueError as err:
            c.add("aus_gain", dict(gains), str(err))
        if not (isinstance(gain, numbers.Real) and not isinstance(gain, bool) and 0 <= gain <= 4):
            c.add("aus_gain", dict(gains), f"{code}: {gain} is not a gain in [0, 4]")


def check_controls(c: Checker) -> None:
    """``regions=``: names of ``FaceRegion``, at least one (null: the whole face)."""
    regions, valid = c.get("regions", None), FaceRegion.values()
    if isinstance(regions, ListConfig):
        unknown = [str(r) for r in regions if r not in valid]
        if unknown or not len(regions):
            c.add("regions", list(regions), f"must name at least one of {', '.join(valid)}"
                  + (f" (unknown: {', '.join(unknown)})" if unknown else ""))


def validate_evaluate(cfg) -> None:
    """The values ``python -m megen.evaluate`` reads."""
    from megen.config.schema import EvaluateOptions

    c = Checker(cfg)
    check_options(c, EvaluateOptions)
    check_estimators(c)
    check_dataset(c, cache_dir=c.get("paths.cache_dir", None), data_dir=c.get("paths.data_dir", None))
    c.raise_if_any()


def validate_spotting_evaluation(cfg) -> None:
    """The values ``python -m megen.evaluate spotting.root=<folder>`` reads (no checkpoint, no dataset)."""
    from megen.config.schema import EvaluateOptions

    c = Checker(cfg)
    check_options(c, EvaluateOptions)
    c.raise_if_any()


def validate_export(cfg) -> None:
    """The values ``python -m megen.export`` reads."""
    from megen.config.schema import ExportOptions

    c = Checker(cfg)
    check_options(c, ExportOptions)
    c.raise_if_any()


def validate_augment(cfg) -> None:
    """The values ``python -m megen.augment`` reads, and its dataset group."""
    from megen.config.schema import AugmentOptions

    c = Checker(cfg)
    check_options(c, AugmentOptions, skip=("device",))
    if c.get("method", AugmentMethod.MODEL) == AugmentMethod.AU:
        basis = c.get("basis", None)
        if basis in (None, _MISSING):
            c.add("basis", None, "is required with method=au: a file of python -m megen.aubasis fit")
        elif not Path(str(basis)).expanduser().is_file():
            c.add("basis", basis, "is not a file (python -m megen.aubasis fit writes one)")
        check_range(c, "intensity", 0, 4)
    else:
        for key in ("basis", "fill"):
            if c.get(key, None) not in (None, _MISSING):
                c.add(key, c.get(key), "is for method=au (clips made from action units); method=model drives "
                                       "targets with the data's clips")
    check_controls(c)
    check_range(c, "gain", 0, 4)
    check_range(c, "stretch", 0.25, 4)
    check_device(c)
    check_dataset(c, cache_dir=c.get("paths.cache_dir", None), data_dir=c.get("paths.data_dir", None))
    c.raise_if_any()


def check_range(c: Checker, key: str, low: float, high: float, scalar: bool = True) -> None:
    """``key`` is a range [lo, hi] with low <= lo <= hi <= high, or (``scalar``) one number there (unset: 1.0)."""
    value = c.get(key, 1.0)
    values = list(value) if isinstance(value, ListConfig) else [value, value] if scalar else []
    if value is not _MISSING and not (len(values) == 2 and all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                                                               for v in values) and low <= values[0] <= values[1] <= high):
        shape = "a number or a range [low, high]" if scalar else "a range [low, high]"
        c.add(key, value, f"must be {shape} with {low:g} <= low <= high <= {high:g}")


def validate_bench(cfg) -> None:
    """``python -m megen.bench``'s ``bench.*`` values (the train config's are checked where a case trains)."""
    c = Checker(cfg)
    c.choice("bench.precision", GeneratePrecision.values())
    c.choice("bench.device", ("auto", "cpu", "cuda"))
    c.choice("bench.flow_render", MovedFrameRender.values())
    for key in ("size", "batch", "steps", "frames", "clips", "clip_frames", "workers", "per_clip",
                "identities"):
        c.number(f"bench.{key}", whole=True, positive=True)
    c.number("bench.warmup", whole=True, low=0)
    c.number("bench.flow_blink", low=0)
    for key in ("threads", "frames_per_pass"):
        c.number(f"bench.{key}", whole=True, positive=True, optional=True)
    for key in ("flops", "native", "onnx"):
        c.boolean(f"bench.{key}")
    for key in ("experiments", "native_models"):
        if not isinstance(c.get(f"bench.{key}", None), ListConfig):
            c.add(f"bench.{key}", c.get(f"bench.{key}", None), "must be a list, e.g. [fomm_vox256]")
    for key, optional in (("native_sizes", False), ("native_batches", True)):
        value = c.get(f"bench.{key}", None)
        if value is None and optional:
            continue
        if not isinstance(value, ListConfig) or not value or not all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
            c.add(f"bench.{key}", value, "must be a list of positive whole numbers, e.g. [1, 8]")
    c.raise_if_any()


def validate_diagnose(cfg) -> None:
    """``python -m megen.diagnose``'s ``fit.*`` values."""
    c = Checker(cfg)
    for key in ("steps", "report_every", "pairs"):
        c.number(f"fit.{key}", whole=True, positive=True)
    c.raise_if_any()


def validate_dataset_command(cfg, schema=None) -> None:
    """``python -m megen.prepare`` and ``megen.recognise``: their options (``schema``), the dataset group."""
    from megen.config.schema import PrepareOptions

    c = Checker(cfg)
    check_options(c, schema or PrepareOptions)
    check_dataset(c, cache_dir=c.get("paths.cache_dir", None), data_dir=c.get("paths.data_dir", None))
    c.raise_if_any()


def check_spotset(cfg) -> None:
    """``python -m megen.spotset``'s ``spotset.*`` values: every bad one named at once (ConfigError)."""
    c = Checker(cfg)
    for key, what in (("targets", "videos or folder"), ("out", "folder")):
        if not c.get(f"spotset.{key}", None):
            c.add(f"spotset.{key}", None, f"is required ({key}=<{what}>)")
    c.number("spotset.per_video", whole=True, low=1)
    c.number("spotset.spacing_s", low=0)
    c.number("spotset.margin_s", low=0)
    c.number("spotset.seed", whole=True)
    c.number("spotset.duration_ms", low=1, high=60000, optional=True)
    c.number("spotset.target_fps", positive=True, optional=True)
    check_range(c, "spotset.gain", 0, 4, scalar=False)
    c.choice("spotset.estimator", FlowEstimator.classical())
    c.choice("spotset.retarget", Retarget.values())
    c.raise_if_any()
