"""The package's structure: the verbs at the top, the layers, no import cycles, one module for OpenCV's flow."""
import ast
from pathlib import Path

import megen

SRC = Path(megen.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """megen module -> the megen modules it imports (anywhere in the file, lazily too)."""
    graph = {}
    for path in SRC.rglob("*.py"):
        name, found = _module_name(path), set()
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                found.add(base)
                found |= {f"{base}.{a.name}" for a in node.names}
        graph[name] = {m for m in found if m.split(".")[0] == "megen"}
    modules = set(graph)
    return {k: {m for m in v if m in modules and m != k} for k, v in graph.items()}


def _commands() -> set[str]:
    return {_module_name(p) for p in SRC.glob("*.py") if 'if __name__ == "__main__"' in p.read_text()}


#: the ``python -m megen.<verb>`` commands: the only modules at the top of the package
VERBS = {"augment", "aubasis", "bench", "diagnose", "evaluate", "export", "generate", "prepare", "recognise", "report", "spotset",
         "train", "train_flow"}


def test_the_top_level_holds_only_the_verbs():
    top = {p.stem for p in SRC.glob("*.py")} - {"__init__", "__main__"}
    assert top == VERBS
    assert _commands() == {f"megen.{verb}" for verb in VERBS}


def test_verbs_are_short_mains():
    """A verb composes, validates and calls its library: the work lives in the packages."""
    long = {p.name: n for p in SRC.glob("*.py") if (n := len(p.read_text().splitlines())) > 130}
    assert not long


def test_every_package_says_what_it_holds():
    for init in SRC.glob("*/__init__.py"):
        assert ast.get_docstring(ast.parse(init.read_text())), init.parent.name


def test_no_library_module_imports_a_command():
    graph, commands = _imports(), _commands()
    offenders = {m: sorted(graph[m] & commands) for m in graph if m not in commands and graph[m] & commands}
    assert not offenders


def test_layers_models_and_face_stay_below_data():
    graph = _imports()
    for module, deps in graph.items():
        if module.startswith("megen.models"):
            assert not {d for d in deps if d.startswith(("megen.face", "megen.data"))}, module
        if module.startswith("megen.face"):
            assert not {d for d in deps if d.startswith("megen.data")}, module


def test_models_and_data_read_no_config():
    """The option values a layer reads are declared in that layer (``megen.models.choices``, ...); config/ gathers
    them, never the reverse."""
    graph = _imports()
    offenders = {m: sorted(d for d in deps if d.startswith("megen.config"))
                 for m, deps in graph.items() if m.startswith(("megen.models", "megen.data", "megen.face"))}
    assert not {m: d for m, d in offenders.items() if d}


def test_the_option_vocabularies_load_without_torch():
    """The config check reads every layer's choices before torch loads: the packages import their modules lazily."""
    import subprocess
    import sys

    code = ("import sys, megen.config.check, megen.config.schema, megen.models.choices, megen.face.choices; "
            "print(sorted(m for m in ('torch', 'pytorch_lightning') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


APPLICATIONS = ("megen.recognition", "megen.augmentation", "megen.evaluation", "megen.animation", "megen.training",
                "megen.studies", "megen.benchmarks")


def test_the_lower_layers_import_no_application_package():
    """ops is the bottom (numpy / OpenCV / torch, and the option values' base class, which imports nothing); face,
    ops and models serve every application and import none of them (optical flow lives in megen.ops.flow, not in
    recognition)."""
    graph = _imports()
    offenders = {m: sorted(d for d in deps if d.startswith(APPLICATIONS))
                 for m, deps in graph.items() if m.startswith(("megen.face", "megen.ops", "megen.models"))}
    assert not {m: d for m, d in offenders.items() if d}
    ops = {m: deps for m, deps in graph.items() if m.startswith("megen.ops")}
    assert ops and all(d.startswith("megen.ops") or d == "megen.runtime.choice" for deps in ops.values() for d in deps)
    assert not graph["megen.runtime.choice"]


def test_the_simulator_stands_below_the_data_layer():
    """megen.synthetic draws faces and their exact motion; megen.data prepares sets from it, never the reverse."""
    graph = _imports()
    synthetic = {m: deps for m, deps in graph.items() if m.startswith("megen.synthetic")}
    assert synthetic and not {m: d for m, d in synthetic.items() if any(x.startswith("megen.data") for x in d)}


def test_the_testing_helpers_serve_only_the_benchmarks():
    """megen.testing (raw trees written from synthetic clips) is for tests and benchmarks: no command or library
    module depends on it."""
    graph = _imports()
    users = {m for m, deps in graph.items() if any(d.startswith("megen.testing") for d in deps)
             and not m.startswith("megen.testing")}
    assert users and all(m.startswith("megen.benchmarks") for m in users), users


def test_only_the_flow_module_calls_opencvs_flow_estimators():
    calls = ("calcOpticalFlowFarneback", "DISOpticalFlow_create", "optflow.")
    users = {_module_name(p) for p in SRC.rglob("*.py") if any(c in p.read_text() for c in calls)}
    assert users == {"megen.ops.flow"}


def test_only_the_models_branch_on_a_models_family():
    """A capability a family has or lacks is the model's to say (``measures_flow``, ``onnx_refusal``): no code
    outside models/ compares a ``.family`` (the config's ``model.family`` picks the family, and may)."""
    found = []
    for path in SRC.rglob("*.py"):
        if path.relative_to(SRC).parts[0] in ("models", "config"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(
                    isinstance(side, ast.Attribute) and side.attr == "family" for side in (node.left, *node.comparators)):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not found, found


def test_no_import_cycles():
    graph = _imports()
    # a package's __init__ re-exporting its modules is not a cycle of the code's own dependencies
    edges = {m: {d for d in deps if not m.startswith(d + ".") and not d.startswith(m + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for d in edges.get(m, ()):
            if state.get(d) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(stack[stack.index(d):] + [d])}")
            if d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
