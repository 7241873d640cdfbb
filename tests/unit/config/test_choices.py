"""Each option's set of values is declared once, in megen.config.choices."""
import ast
from pathlib import Path

import megen
from megen.config import choices
from megen.config.choices import Choice, Render

SRC = Path(megen.__file__).parent
ENUMS = [c for c in vars(choices).values() if isinstance(c, type) and issubclass(c, Choice) and c is not Choice]


def _string_tuples():
    """(file, line, values) of every tuple of string literals in the package."""
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Tuple) and node.elts and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
                yield path.relative_to(SRC), node.lineno, tuple(e.value for e in node.elts)


def test_no_choice_list_is_written_out_twice():
    declared = {c.values(): c.__name__ for c in ENUMS}
    copies = [(str(f), line, declared[values]) for f, line, values in _string_tuples() if values in declared]
    assert not copies, f"write <Choice>.values() instead of a copy: {copies}"


def test_choices_are_plain_strings_in_declaration_order():
    assert Render.NATIVE == "native" and Render("decoder") is Render.DECODER
    assert Render.values() == ("native", "decoder")
    assert all(len(set(c.values())) == len(c.values()) for c in ENUMS)


def test_model_families_are_the_declared_ones():
    from megen.config.choices import Family
    from megen.models.full import FAMILIES

    assert tuple(FAMILIES) == Family.values()


def test_the_check_names_the_declared_values():
    from omegaconf import OmegaConf

    from megen.config.check import Checker

    checker = Checker(OmegaConf.create({"render": "nativ"}))
    checker.choice("render", Render.values())
    assert checker.problems == ["render='nativ' is not valid; valid: native, decoder"]

