import subprocess
import sys
from pathlib import Path

from helpers import REPO

ROOT = REPO


def _run(*args, cwd):
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_prepare_cli_prints_folder_and_counts(tmp_path):
    args = ["megen.prepare", f"paths.data_dir={tmp_path}", "dataset.n_subjects=2", "dataset.clips_per_subject=1",
            "progress=false"]
    out = _run(*args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "prepared 2 clips (2 built, 0 reused)" in out.stdout
    folder = Path(out.stdout.strip().split("-> ")[-1])
    assert (folder / "manifest.csv").is_file() and folder.parent == tmp_path / "cache"
    again = _run(*args, cwd=tmp_path)
    assert "(0 built, 2 reused)" in again.stdout


def test_unknown_dataset_is_named(tmp_path):
    out = _run("megen.prepare", f"paths.data_dir={tmp_path}", "dataset.name=nope", cwd=tmp_path)
    assert out.returncode == 2 and "dataset.name='nope' is not valid; valid: synthetic, casme2" in out.stderr
