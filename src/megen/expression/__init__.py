"""Micro-expressions from action units: a motion basis of one flow field per AU, fitted from a dataset's coded
clips in one canonical face (``fit``), stored in one versioned file (``basis``), and composed into a clip's
motion for any face with no driving clip (``compose``)."""
from megen.expression.action_units import au_name, parse_action_units
from megen.expression.basis import AUBasis, BasisError, load_basis, save_basis

# compose (au_motion) is imported from its module: it needs the face layer, which command checks run before
__all__ = ["AUBasis", "BasisError", "au_name", "load_basis", "parse_action_units", "save_basis"]
