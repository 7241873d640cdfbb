"""Synthetic micro-expression data: real embedded faces, AU templates, smooth warps, ground truth."""
from megen.data.synthetic.action_units import (
    ACTION_UNITS,
    AU_TEMPLATES,
    EMOTION_AUS,
    expression_template,
    intensity_curve,
)
from megen.data.synthetic.clips import (
    ExpressionProgram,
    SyntheticClip,
    clip_landmarks,
    motion_between,
    render_clip,
)
from megen.data.synthetic.generator import SyntheticSpec, generate, make_identities, render
from megen.data.synthetic.identities import Identity, base_face, embedded_photo_paths, make_identity

__all__ = [
    "ACTION_UNITS", "AU_TEMPLATES", "EMOTION_AUS", "ExpressionProgram", "Identity", "SyntheticClip", "SyntheticSpec",
    "base_face", "clip_landmarks", "embedded_photo_paths", "expression_template", "generate", "intensity_curve",
    "make_identities", "make_identity", "motion_between", "render", "render_clip",
]
