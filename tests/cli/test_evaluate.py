import json
import math
import os
from pathlib import Path

from helpers import run_module, run_module_imports

from megen.evaluation import evaluate_checkpoint

KEYS = {"l1", "psnr", "ssim", "akd", "aed", "mte", "rmte", "epe"}


def test_evaluate_writes_every_metric_beside_the_static_baseline(tiny_run, tmp_path):
    run, cfg, _ = tiny_run
    folder = next(Path(cfg.paths.cache_dir).glob("synthetic-*"))
    results = evaluate_checkpoint(run / "checkpoints" / "last.ckpt", folder, {"val": 0.2, "test": 0.2, "seed": 0},
                                  tmp_path, face_every=8, max_pairs=2, show_progress=False)
    rec = results["reconstruction"]
    assert KEYS <= set(rec)
    for key in KEYS:
        assert set(rec[key]) >= {"model", "static"}
    assert rec["rmte"]["static"] == 1.0 and rec["mte"]["static"] == 1.0
    assert rec["l1"]["static"] > 0 and rec["epe"]["static"] > 0       # the clips move
    assert KEYS - {"epe"} <= set(results["cross_identity"])
    assert results["cross_identity"]["rmte"]["static"] == 1.0
    fid = results["motion_fidelity"]
    assert fid["ratio"]["static"] < 0.01 and math.isfinite(fid["ratio"]["model"])
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["reconstruction"]["l1"] == rec["l1"]
    md = (tmp_path / "metrics.md").read_text()
    assert "| rmte (lower is better) |" in md and "static baseline" in md


def test_evaluate_cli_prints_its_run_folder(tiny_run, tmp_path):
    run, cfg, _ = tiny_run
    args = [f"ckpt={run / 'checkpoints' / 'last.ckpt'}", f"paths.data_dir={Path(cfg.paths.data_dir)}",
            f"paths.output_root={tmp_path}", "dataset.n_subjects=4", "dataset.clips_per_subject=2",
            "dataset.frame_size=64", "face_metrics=false", "max_pairs=1", "progress=false",
            "dataset.split.val=0.2", "dataset.split.test=0.2"]
    out = run_module("megen.evaluate", *args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    folder = Path(out.stdout.split("run folder: ")[1].splitlines()[0])
    assert (folder / "metrics.json").is_file() and folder.parent == tmp_path / "evaluate"
    md = (folder / "metrics.md").read_text()
    # the static copy never moves: its correlation is not scored, and says so instead of 0.0000
    corr_row = next(x for x in md.splitlines() if x.startswith("| corr (higher is better) |"))
    assert corr_row.endswith("| n/a (motion below threshold) |") and "0.0000 |" not in corr_row
    defined = [x for x in md.split("## What the metrics measure")[1].splitlines() if x.startswith("- `")]
    shown = {x.split("|")[1].split()[0].split("/")[0] for x in md.splitlines() if x.startswith("| ")} - {"metric"}
    assert {x[3:].split("`")[0] for x in defined} >= shown
    assert "- `mte`: motion transfer error" in md and "ratio: 0 = perfect, 1 = a copy of the source" in md
    bad = run_module("megen.evaluate", *args[1:], cwd=tmp_path)
    assert bad.returncode == 2 and "ckpt=" in bad.stderr


def test_evaluate_checks_the_checkpoint_before_the_data_and_logs_progress(tiny_run, tmp_path):
    run, cfg, _ = tiny_run
    data = [f"paths.data_dir={Path(cfg.paths.data_dir)}", f"paths.output_root={tmp_path / 'out'}",
            "dataset.n_subjects=4", "dataset.clips_per_subject=2", "dataset.frame_size=64", "face_metrics=false",
            "max_pairs=2", "dataset.split.val=0.2", "dataset.split.test=0.2"]
    out, imported = run_module_imports("megen.evaluate", "ckpt=/no/such.ckpt", *data, cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.strip() == "error: checkpoint not found: ckpt=/no/such.ckpt"
    assert not imported and not (tmp_path / "out").exists()
    photo = tmp_path / "face.ckpt"
    photo.write_bytes(b"\x89PNG not a checkpoint")
    out = run_module("megen.evaluate", f"ckpt={photo}", *data, cwd=tmp_path)
    assert out.returncode == 2 and "face.ckpt" in out.stderr and "Traceback" not in out.stderr
    assert "preparing data" not in out.stdout and not (tmp_path / "out").exists()

    env = {**os.environ, "MEGEN_PROGRESS_INTERVAL": "0"}
    out = run_module("megen.evaluate", f"ckpt={run / 'checkpoints' / 'last.ckpt'}", *data, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert f"preparing data: dataset=synthetic into {Path(cfg.paths.data_dir) / 'cache'}" in lines
    assert any(x.startswith("synthetic clips: 8/8 clips (100%), done in") for x in lines)
    assert any(x.startswith("reconstruction: 0/") and x.endswith("clips (0%)") for x in lines)
    assert any(x.startswith("cross-identity: 2/2 pairs (100%), done in") for x in lines)


_CRASH_DURING_EVALUATION = """
import runpy, sys
import megen.animation, megen.data.preparation, megen.evaluation

def crash(cfg_dataset, cache_dir, **kwargs):
    raise {error}

megen.animation.Animator.from_checkpoint = classmethod(lambda cls, *a, **k: object())
megen.data.preparation.prepare_sources = crash
sys.argv = ["megen.evaluate", *{args!r}]
runpy.run_module("megen.evaluate", run_name="__main__", alter_sys=True)
"""


def test_a_crash_or_ctrl_c_during_evaluation_leaves_no_run_folder(tmp_path):
    import subprocess
    import sys

    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"")
    args = [f"ckpt={ckpt}", f"paths.output_root={tmp_path / 'out'}", "progress=false"]
    for error, status in [("ZeroDivisionError('a bug')", 1), ("KeyboardInterrupt()", None)]:
        out = subprocess.run([sys.executable, "-c", _CRASH_DURING_EVALUATION.format(error=error, args=args)],
                             cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert out.returncode != 0 and (status is None or out.returncode == status), out.stderr[-2000:]
        assert error.split("(")[0] in out.stderr        # the traceback of a real bug is kept
        assert "run folder: " in out.stdout and not (tmp_path / "out").exists()
