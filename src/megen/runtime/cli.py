"""What every command does with a user's mistake: one line on stderr, exit status 2, and no run
folder left behind for a run that never started.

Hydra creates the run folder (with ``.hydra/`` and the job log) before a command's main runs,
so a config checked inside main would leave an empty-looking run behind; ``fail`` removes that
folder when it holds nothing but Hydra's own files.
"""
from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path


def discard_run_folder() -> None:
    """Remove this job's Hydra run folder (and an emptied multirun folder) if only Hydra wrote there."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
    except (ImportError, ValueError):    # not inside a Hydra main
        return
    out = Path(hc.runtime.output_dir)
    own = {n for n in (hc.output_subdir, f"{hc.job.name}.log") if n}
    if not out.is_dir() or out.resolve() == Path.cwd().resolve() or not own:
        return
    if any(p.name not in own and not _empty_tree(p) for p in out.iterdir()):
        return
    shutil.rmtree(out, ignore_errors=True)
    if hc.mode == RunMode.MULTIRUN:
        sweep = Path(hc.sweep.dir)
        if sweep.is_dir() and sweep.resolve() != Path.cwd().resolve() and all(
                p.name == "multirun.yaml" for p in sweep.iterdir()):
            shutil.rmtree(sweep, ignore_errors=True)
        out = sweep
    for parent in list(out.parents)[:2]:   # outputs/train/ and outputs/, when this run made them and left them empty
        if parent.resolve() == Path.cwd().resolve():
            break
        try:
            parent.rmdir()
        except OSError:   # not empty (other runs), or gone
            break


def _empty_tree(path: Path) -> bool:
    """A folder holding nothing but (possibly nested) empty folders."""
    return path.is_dir() and not path.is_symlink() and all(_empty_tree(p) for p in path.iterdir())


@contextlib.contextmanager
def no_empty_folders_on_failure(out):
    """If the block fails (any exception, Ctrl-C included), remove the folders it created under and
    above ``out`` that hold no file, and its hidden ``.*.partial`` folders; results a failed run did
    finish stay, and so does every folder that existed before."""
    out = Path(out).absolute()
    top = out
    while not top.parent.exists():
        top = top.parent
    before = {top, *(p for p in top.rglob("*") if p.is_dir())} if top.exists() else set()
    try:
        yield
    except BaseException:
        if top.is_dir():
            for folder in sorted((p for p in top.rglob("*") if p.is_dir() and p not in before),
                                 key=lambda p: len(p.parts), reverse=True):
                if folder.name.startswith(".") and folder.name.endswith(".partial"):
                    shutil.rmtree(folder, ignore_errors=True)
                elif _empty_tree(folder):
                    shutil.rmtree(folder, ignore_errors=True)
            if top not in before and _empty_tree(top):
                shutil.rmtree(top, ignore_errors=True)
        raise


def fail(err: BaseException | str) -> None:
    """Print ``error: <message>`` on stderr, remove an unused run folder, exit with status 2."""
    print(f"error: {err}", file=sys.stderr)
    discard_run_folder()
    sys.exit(2)


@contextlib.contextmanager
def user_errors(*types: type[BaseException]):
    """Turn the given exception types (bad input, bad config) into ``fail``; others keep their
    traceback (and an unused run folder is removed for them too)."""
    try:
        yield
    except types as err:
        fail(err)
    except BaseException:
        discard_run_folder()   # a crash or Ctrl-C before the run wrote anything leaves no folder either
        raise
