"""The package's structure, and pins of outputs that moved between modules.

The pinned numbers were computed by the code before generation became a library, the prior one
object and the splits a pure function; the new code must give the same numbers on the same inputs.
"""
import ast
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import compose_train
from omegaconf import OmegaConf

import megen
from megen.animation import Animator, FaceInput, animate
from megen.data.cache import PreparedSet
from megen.data.priors import clip_keypoints
from megen.data.splits import select_splits
from megen.evaluation import reconstruction
from megen.face.prior import PriorSetting, prior_map
from megen.models.full import build_model

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


APPLICATIONS = ("megen.recognition", "megen.augmentation", "megen.evaluation", "megen.animation", "megen.training",
                "megen.studies", "megen.benchmarks")


def test_the_lower_layers_import_no_application_package():
    """ops is the bottom (numpy / OpenCV / torch only); face, ops and models serve every application and
    import none of them (optical flow lives in megen.ops.flow, not in recognition)."""
    graph = _imports()
    offenders = {m: sorted(d for d in deps if d.startswith(APPLICATIONS))
                 for m, deps in graph.items() if m.startswith(("megen.face", "megen.ops", "megen.models"))}
    assert not {m: d for m, d in offenders.items() if d}
    ops = {m: deps for m, deps in graph.items() if m.startswith("megen.ops")}
    assert ops and all(d.startswith("megen.ops") for deps in ops.values() for d in deps)


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


# -- pins: old vs new output on fixed inputs -------------------------------------------------------------

SPLIT_PINS = {
    "fractions": ({"val": 0.2, "test": 0.2, "seed": 0},
                  {"test": ["s05_01", "s05_02"], "val": ["s03_01", "s03_02"],
                   "train": ["s01_01", "s01_02", "s02_01", "s02_02", "s04_01", "s04_02"]}),
    "loso1": ({"loso": 1}, {"test": ["s02_01", "s02_02"], "val": [],
                            "train": ["s01_01", "s01_02", "s03_01", "s03_02", "s04_01", "s04_02", "s05_01", "s05_02"]}),
}


@pytest.mark.parametrize("name", sorted(SPLIT_PINS))
def test_select_splits_matches_the_data_modules_former_splits(prepared, name):
    split, expected = SPLIT_PINS[name]
    rows = PreparedSet.open(prepared).rows
    selected, excluded = select_splits(rows, split, exclude=["megc"])
    assert {k: sorted(rows[i]["clip"] for i in v) for k, v in selected.items()} == expected
    assert excluded == []


def test_select_splits_excludes_before_splitting(prepared):
    rows = PreparedSet.open(prepared).rows
    selected, excluded = select_splits(rows, {"loso": 0}, exclude=["s01_01"])
    assert [rows[i]["clip"] for i in excluded] == ["s01_01"]
    assert all(rows[i]["clip"] != "s01_01" for v in selected.values() for i in v)


def test_prior_setting_maps_equal_prior_map():
    pts = np.random.default_rng(0).uniform(5, 59, size=(2, 18, 2))
    for kernel, fusion in (("gaussian", "sum"), ("reference", "separate"), ("paper", "sum")):
        s = PriorSetting(sigma=4.0, kernel=kernel, fusion=fusion, map_size=32)
        torch.testing.assert_close(s.maps(pts, 64), prior_map(pts, 32, 4.0, kernel=kernel, fusion=fusion, frame_size=64))
        assert s.maps(pts, 64).shape[1] == s.channels


def test_prior_setting_names_the_bad_setting():
    with pytest.raises(ValueError, match=r"prior\.kernel='gausian'.*gaussian"):
        PriorSetting(kernel="gausian")
    with pytest.raises(ValueError, match=r"prior\.keypoints='au25'.*au24"):
        PriorSetting(keypoints="au25")
    with pytest.raises(ValueError, match=r"prior\.sigma='abc' is not a number"):
        PriorSetting(sigma="abc")
    assert PriorSetting.from_config({"sigma": 8}, frame_size=64, scale_factor=0.5).map_size == 32


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, prepared):
    cfg = compose_train(tmp_path_factory.mktemp("pins"), "dataset.frame_size=64")
    setting = PriorSetting.from_config(cfg.prior, 64, cfg.model.motion.scale_factor)
    torch.manual_seed(0)
    model = build_model(OmegaConf.to_container(cfg.model, resolve=True), setting.model_args()).eval()
    return Animator(model, setting, 64, "fomm"), PreparedSet.open(prepared)


def test_face_input_and_animation_match_the_pinned_numbers(seeded):
    animator, prepared = seeded
    arrays, arrays1 = prepared.load(0), prepared.load(3)
    face = FaceInput.build(arrays["frames"], clip_keypoints(arrays, animator.prior.keypoints), animator.prior,
                           arrays["landmarks"])
    assert list(face.prior.shape) == [1, 1, 32, 32]
    assert float(face.prior.double().sum()) == pytest.approx(282.0599999238184, rel=1e-6)
    assert float(face.keypoints.double().sum()) == pytest.approx(0.6907845735549927, rel=1e-6)
    target = FaceInput.build(arrays1["frames"][:1], clip_keypoints(arrays1, animator.prior.keypoints),
                             animator.prior, arrays1["landmarks"])
    out = animate(animator.model, target, face, relative=True, batch_size=4)
    assert float(out.double().sum()) == pytest.approx(133219.83188052475, rel=1e-5)
    assert float((out - target.frames[:1]).abs().double().sum()) == pytest.approx(28276.533804431558, rel=1e-4)


def test_reconstruction_scores_match_the_pinned_numbers(seeded):
    animator, prepared = seeded
    rec = reconstruction(animator, prepared, [0, 1, 2], face_metrics=False, batch_size=4)
    pinned = {"l1": (0.09800575607877171, 0.000983563609700866), "psnr": (18.726173105465065, 54.01263043821089),
              "ssim": (0.8189542081503292, 0.998095266417039), "rmte": (0.9820555666172158, 1.0),
              "mte": (99.64353612938007, 1.0), "epe": (0.010188458134462789, 0.01320684769610879)}
    for key, (model, static) in pinned.items():
        assert rec[key]["model"] == pytest.approx(model, rel=1e-4), key
        assert rec[key]["static"] == pytest.approx(static, rel=1e-4), key


def test_test_step_scores_what_validating_on_the_test_split_scored(tiny_run):
    """``trainer.test`` replaced ``trainer.validate`` on the test loader: the same numbers."""
    import pytorch_lightning as pl
    from hydra.utils import instantiate

    from megen.training.system import MotionTransferSystem

    run, cfg, result = tiny_run
    system = MotionTransferSystem.load_from_checkpoint(result["best_checkpoint"] or run / "checkpoints" / "last.ckpt",
                                                       map_location="cpu")
    dm = instantiate(cfg.data, progress=False)
    dm.setup()
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=str(run))
    validated = trainer.validate(system, dataloaders=dm.test_dataloader(), verbose=False)[0]
    tested = trainer.test(system, datamodule=dm, verbose=False)[0]
    assert {k.replace("val/", "test/") for k in validated} == set(tested)
    for key, value in validated.items():
        assert tested[key.replace("val/", "test/")] == pytest.approx(value, rel=1e-5), key
    for key in ("test/rmte", "test/epe", "test/epe_zero"):
        assert result["metrics"][key] == pytest.approx(tested[key], rel=1e-5)
