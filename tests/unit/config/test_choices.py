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



#: comparisons with a literal that happens to spell a Choice value but compares something else: Lightning's
#: ``trainer.accelerator`` / ``devices``, torch's device types (``x.device.type``) and a batch's keys
NOT_OPTIONS = {("train.py", "cpu"), ("models/blocks.py", "cpu"), ("benchmarks/generation.py", "cpu"),
               ("training/system.py", "cpu"), ("training/system.py", "cuda"), ("config/check.py", "auto"),
               ("training/system.py", "flow")}


def _compared_literals():
    """(file, line, literal) of every string literal compared by ``==`` / ``!=``, or listed in the tuple, list
    or set that ``in`` / ``not in`` tests (a key looked up in a mapping, ``"flow" in batch``, is not compared)."""
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            lefts = [node.left, *node.comparators[:-1]]
            for left, op, right in zip(lefts, node.ops, node.comparators):
                if isinstance(op, (ast.Eq, ast.NotEq)):
                    items = [left, right]
                elif isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, (ast.Tuple, ast.List, ast.Set)):
                    items = right.elts
                else:
                    continue
                for item in items:
                    if isinstance(item, ast.Constant) and isinstance(item.value, str):
                        yield str(path.relative_to(SRC)), node.lineno, item.value


def test_the_code_compares_option_members_not_their_strings():
    values = {v for c in ENUMS for v in c.values()}
    found = [(f, line, v) for f, line, v in _compared_literals()
             if v in values and (f, v) not in NOT_OPTIONS and f != "runtime/choice.py"]
    assert not found, f"compare with the option's Choice member (Render.NATIVE), not its string: {found}"


def test_parse_turns_an_option_string_into_its_member_and_names_a_bad_one():
    import pytest

    assert Render.parse("native") is Render.NATIVE and Render.parse(Render.DECODER) is Render.DECODER
    assert f"{Render.NATIVE}" == "native" and str(Render.DECODER) == "decoder"
    with pytest.raises(ValueError, match=r"^render='nativ' is not valid; valid: native, decoder$"):
        Render.parse("nativ", "render")
    with pytest.raises(ValueError, match=r"^Render=None is not valid"):
        Render.parse(None)


def test_the_code_that_reads_an_option_holds_its_member():
    from megen.config.choices import HeadMotion, KeypointMode, PriorFusion, PriorInputMode, PriorKernel, Retarget
    from megen.config.compose import compose_config
    from megen.face.controls import MotionControls
    from megen.face.prior import PriorSetting
    from megen.models.prior_input import PriorInput

    setting = PriorSetting(kernel="paper", fusion="separate", input="none", keypoint_mode="landmarks")
    assert (setting.kernel, setting.fusion, setting.input, setting.keypoint_mode) == (
        PriorKernel.PAPER, PriorFusion.SEPARATE, PriorInputMode.NONE, KeypointMode.LANDMARKS)
    assert all(type(v) is str for v in setting.as_dict().values() if isinstance(v, str))   # files hold plain strings
    controls = MotionControls.of(compose_config("generate", "head=remove", "retarget=landmarks"))
    assert controls.head is HeadMotion.REMOVE and controls.retarget is Retarget.LANDMARKS
    assert PriorInput("learned", 3).mode is PriorInputMode.LEARNED
