"""Progress of long steps: plain log lines when stdout is not a terminal, through the commands."""
import io
import os

from helpers import run_module

from megen.runtime.progress import Progress


def test_plain_lines_at_start_interval_and_end(monkeypatch):
    monkeypatch.setenv("MEGEN_PROGRESS_INTERVAL", "0")
    out = io.StringIO()
    with Progress(stream=out) as bar:
        task = bar.add_task("synthetic clips", total=4, unit="clips")
        for _ in range(4):
            bar.advance(task)
    lines = out.getvalue().splitlines()
    assert lines[0] == "synthetic clips: 0/4 clips (0%)"
    assert lines[1].startswith("synthetic clips: 1/4 clips (25%), ") and "clips/s, ETA" in lines[1]
    assert lines[-1].startswith("synthetic clips: 4/4 clips (100%), done in ")
    assert len(lines) == 5


def test_interval_limits_the_lines_and_reused_work_is_one_line(monkeypatch):
    monkeypatch.setenv("MEGEN_PROGRESS_INTERVAL", "3600")
    out = io.StringIO()
    with Progress(stream=out) as bar:
        task = bar.add_task("frames", total=100, unit="frames")
        for _ in range(100):
            bar.advance(task)
        bar.add_task("casme2 clips", total=5, completed=5, unit="clips")
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and lines[1].startswith("frames: 100/100 frames (100%), done in")
    assert lines[2].startswith("casme2 clips: 5/5 clips (100%), done in")


def test_disabled_prints_nothing():
    out = io.StringIO()
    with Progress(False, stream=out) as bar:
        bar.advance(bar.add_task("x", total=2))
    assert out.getvalue() == ""


def test_prepare_piped_to_a_log_prints_progress_lines(tmp_path):
    env = {**os.environ, "MEGEN_PROGRESS_INTERVAL": "0"}
    out = run_module("megen.prepare", f"paths.data_dir={tmp_path}", "dataset.n_subjects=2",
                     "dataset.clips_per_subject=2", "dataset.frame_size=32", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "synthetic clips: 0/4 clips (0%)" in lines
    assert any(x.startswith("synthetic clips: 2/4 clips (50%), ") and "ETA" in x for x in lines)
    assert any(x.startswith("synthetic clips: 4/4 clips (100%), done in") for x in lines)
    assert "\r" not in out.stdout and "\x1b" not in out.stdout      # no terminal control codes in a log
    assert not (tmp_path / "outputs").exists()                    # prepare writes to the cache only
