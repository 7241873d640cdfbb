"""Micro-expressions from action units: a motion basis of one flow field per AU, fitted from a dataset's coded
clips in one canonical face (``fit``), stored in one versioned file (``basis``), and composed into a clip's
motion for any face with no driving clip (``compose``)."""
from megen.expression.action_units import au_name, parse_action_units
from megen.expression.basis import AUBasis, BasisError, load_basis, save_basis
from megen.expression.compose import AUMotion, au_motion

__all__ = ["AUBasis", "AUMotion", "BasisError", "au_motion", "au_name", "load_basis", "parse_action_units",
           "save_basis"]
