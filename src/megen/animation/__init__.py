"""Animation as a library: a trained model (``Animator``) drives target faces with driving clips.

``python -m megen.generate`` and ``megen.evaluation`` are its users; nothing here imports a command.
"""
from megen.animation.animate import FaceInput, animate, animate_from_best_frame, best_frame, default_batch_size
from megen.animation.animator import Animator, GenerationError
from megen.animation.driving import load_driving
from megen.animation.outputs import write_outputs
from megen.animation.pair import DEFAULT_FPS, PairInputs, generate_pair, load_pair_inputs, render_pair

__all__ = [
    "DEFAULT_FPS",
    "Animator",
    "FaceInput",
    "GenerationError",
    "PairInputs",
    "animate",
    "animate_from_best_frame",
    "best_frame",
    "default_batch_size",
    "generate_pair",
    "load_driving",
    "load_pair_inputs",
    "render_pair",
    "write_outputs",
]
