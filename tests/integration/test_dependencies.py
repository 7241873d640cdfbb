"""The declared dependencies (pyproject.toml) are the packages the code imports: nothing missing, nothing unused."""
import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import tomllib

import megen

SRC = Path(megen.__file__).parent
ROOT = SRC.parents[1]
#: distributions whose import name the installed metadata does not map
IMPORT_TO_DIST = {"dlib": "dlib-bin"}
#: declared but never imported by name, each for a reason
USED_INDIRECTLY = {
    "tensorboard": "Lightning's TensorBoardLogger (logger=tensorboard)",
    "wandb": "Lightning's WandbLogger (logger=wandb)",
    "setuptools": "pkg_resources, which face_recognition_models' __init__ imports",
    "imageio-ffmpeg": "imageio's FFMPEG plugin writes the MP4s",
    "xlrd": "pandas' engine for .xls annotation sheets (engine=\"xlrd\")",
    "face-recognition-models": "dlib's model files, located by importlib.util.find_spec (megen.face.landmarks)",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    name = lambda spec: _norm(re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0])  # noqa: E731
    runtime = {name(s) for s in project["dependencies"]}
    extras = {name(s) for group in project.get("optional-dependencies", {}).values() for s in group}
    return runtime, extras


def _optional(tree: ast.AST) -> set[int]:
    """ids of import nodes inside ``try: ... except ImportError`` (optional by design)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError") or
                isinstance(h.type, ast.Tuple) and any(getattr(e, "id", "") in ("ImportError", "ModuleNotFoundError")
                                                      for e in h.type.elts) for h in node.handlers):
            ids |= {id(n) for stmt in node.body for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return ids


def _imported() -> tuple[set[str], set[str]]:
    """Top-level third-party modules the package imports (required, and optional ones)."""
    required, optional = set(), set()
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        soft = _optional(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for n in names:
                top = n.split(".")[0]
                if top != "megen" and top not in sys.stdlib_module_names:
                    (optional if id(node) in soft else required).add(top)
    return required, optional


def _dist(module: str) -> str:
    dists = importlib.metadata.packages_distributions().get(module) or [IMPORT_TO_DIST.get(module, module)]
    return _norm(dists[0])


def test_every_imported_package_is_declared():
    runtime, extras = _declared()
    required, optional = _imported()
    missing = {m: _dist(m) for m in required if _dist(m) not in runtime | extras}
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
    assert {_dist(m) for m in optional} - runtime - extras <= {"threadpoolctl"}   # an optional speed-up only


def test_every_declared_package_is_imported_or_named_here_with_its_reason():
    runtime, _ = _declared()
    required, optional = _imported()
    imported = {_dist(m) for m in required | optional}
    unused = runtime - imported - set(USED_INDIRECTLY)
    assert not unused, f"declared in pyproject.toml but never imported: {sorted(unused)}"
    assert set(USED_INDIRECTLY) <= runtime
    assert 'engine="xlrd"' in (SRC / "data" / "readers" / "_common.py").read_text()
