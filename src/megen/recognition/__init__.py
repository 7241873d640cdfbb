"""Micro-expression recognition baseline: onset -> apex flow features, a shallow CNN, LOSO, UF1 / UAR.

The library entry points (``python -m megen.recognise`` is a thin Hydra main over them)::

    from megen.recognition import run_loso, FlowSettings, TrainSettings
    result = run_loso([prepared_folder, ...], extra=[generated_folder], classes="composite", seed=0)
    result.summary["overall"]["model"]["uf1"], result.predictions, result.as_dict()

``load_recognition_set`` + ``run_loso_on_sets`` do the same with features loaded once (seed sweeps).
"""
from megen.recognition.classes import COMPOSITE_CLASSES, COMPOSITE_TABLE, ClassMapping, composite_class
from megen.recognition.features import folder_features
from megen.recognition.flow import FlowSettings, farneback_flow, flow_features, onset_apex_features, optical_strain
from megen.recognition.loso import LosoResult, TrainSettings, loso_folds, run_loso, run_loso_on_sets, score_predictions
from megen.recognition.metrics import random_baseline, uf1_uar
from megen.recognition.samples import RecognitionSet, identity_keys, load_recognition_set

__all__ = [
    "COMPOSITE_CLASSES", "COMPOSITE_TABLE", "ClassMapping", "composite_class", "folder_features", "FlowSettings",
    "farneback_flow", "flow_features", "onset_apex_features", "optical_strain", "LosoResult", "TrainSettings",
    "loso_folds", "run_loso", "run_loso_on_sets", "score_predictions", "random_baseline", "uf1_uar",
    "RecognitionSet", "identity_keys", "load_recognition_set",
]
