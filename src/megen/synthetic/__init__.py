"""Synthetic micro-expression data: real embedded faces, AU templates, smooth warps, ground truth."""
from megen.synthetic.action_units import (
    ACTION_UNITS,
    AU_TEMPLATES,
    EMOTION_AUS,
    expression_template,
    intensity_curve,
)
from megen.synthetic.clips import (
    ExpressionProgram,
    SyntheticClip,
    clip_landmarks,
    motion_between,
    motion_model,
    render_clip,
    render_with_flow,
)
from megen.synthetic.generator import SyntheticSpec, generate, make_identities, render
from megen.synthetic.identities import Identity, at_frame_size, base_face, embedded_photo_paths, make_identity

__all__ = [
    "ACTION_UNITS", "AU_TEMPLATES", "EMOTION_AUS", "ExpressionProgram", "Identity", "SyntheticClip", "SyntheticSpec",
    "at_frame_size", "base_face", "clip_landmarks", "embedded_photo_paths", "expression_template", "generate",
    "intensity_curve", "make_identities", "make_identity", "motion_between", "motion_model", "render", "render_clip",
    "render_with_flow",
]
