"""Shared test settings: a tiny configuration that trains in seconds."""
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from megen.config.compose import compose_train as megen_compose_train
from megen.data.megc_kit import KIT_FOLDERS, MEGC_CLIPS, TEMPLATES
from megen.face.flow import pixel_grid, warp_backward
from megen.runtime.paths import conf_dir
from megen.runtime.video import write_gif, write_png
from megen.synthetic import embedded_photo_paths

#: the repository root (docs, notebooks, experiments)
REPO = Path(__file__).resolve().parents[1]

TINY_SYNTHETIC = ["dataset.n_subjects=4", "dataset.clips_per_subject=2", "dataset.frame_size=32"]
TINY = [
    "model.motion.block_expansion=8", "model.motion.max_features=32", "model.motion.num_blocks=2",
    "model.dense_motion.block_expansion=8", "model.dense_motion.max_features=32", "model.dense_motion.num_blocks=2",
    "model.generator.block_expansion=8", "model.generator.max_features=32", "model.generator.num_bottleneck_blocks=1",
    "model.discriminator.block_expansion=8", "model.discriminator.max_features=32", "model.discriminator.num_blocks=2",
    "data.batch_size=2", "data.repeats=1", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1", "trainer.enable_model_summary=false", "trainer.log_every_n_steps=1",
    "loss.weights.generator_gan=1",   # the tiny runs exercise the whole GAN path (off in the CPU default)
]


def _chooses(override: str, group: str) -> bool:
    """Whether ``override`` chooses the config ``group``'s option: ``<group>=...``, or ``experiment=<name>`` with an
    ``override /<group>`` in its defaults."""
    if override.startswith(f"{group}="):
        return True
    if not override.startswith("experiment="):
        return False
    path = conf_dir() / "experiment" / f"{override.split('=', 1)[1]}.yaml"
    return path.is_file() and f"override /{group}" in path.read_text()


def tiny_overrides(tmp: Path, *extra: str) -> list[str]:
    data = [] if any(_chooses(e, "dataset") for e in extra) else TINY_SYNTHETIC
    tiny = TINY
    if "model=flow" in extra:   # the flow-guided family has no key-point network to shrink
        tiny = [t for t in TINY if not t.startswith("model.motion.")]
    else:
        if not any(_chooses(e, "model") for e in extra):
            # the tests of the key-point machinery name their family: the training default is model=flow
            tiny = ["model=fomm", *tiny]
        if data:     # only the flow-guided family reads the measured guides: skip measuring them
            data = [*data, "dataset.guides=false"]
    return [*data, *tiny, f"paths.data_dir={tmp / 'data'}", f"paths.output_root={tmp / 'out'}", *extra]


def compose_train(tmp: Path, *extra: str):
    """The train config of a tiny run in ``tmp`` (``megen.config.compose.compose_train`` with ``tiny_overrides``)."""
    return megen_compose_train(*tiny_overrides(tmp, *extra), run_dir=str(tmp / "run"))


def run_module(module: str, *args: str, cwd: Path, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def run_module_imports(module: str, *args: str, cwd: Path, watch=("torch", "pytorch_lightning"), env=None,
                       timeout=600):
    """Run ``python -m module args`` in a subprocess and report which of ``watch`` it imported.

    Returns (completed process, set of imported names); the command's exit status is kept.
    """
    code = (
        "import runpy, sys\n"
        f"sys.argv = [{module!r}, *{list(args)!r}]\n"
        "status = 0\n"
        "try:\n"
        f"    runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exit:\n"
        "    status = exit.code or 0\n"
        f"print('IMPORTED:' + ','.join(m for m in {list(watch)!r} if m in sys.modules), file=sys.stderr)\n"
        "sys.exit(status)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                         env=env)
    line = [x for x in out.stderr.splitlines() if x.startswith("IMPORTED:")][-1]
    out.stderr = "\n".join(x for x in out.stderr.splitlines() if not x.startswith("IMPORTED:"))
    return out, {m for m in line[len("IMPORTED:"):].split(",") if m}


def missing_devices(marker, have: int | None = None) -> str | None:
    """Why a test marked ``gpu(count=N)`` cannot run here (None: it can, or it is not marked); ``have``: the
    CUDA devices present (default: this machine's)."""
    if marker is None:
        return None
    need = int(marker.kwargs.get("count", 1))
    if have is None:
        import torch

        have = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return f"needs {need} CUDA device(s), this machine has {have}" if have < need else None


# synthetic real-pair inputs (tests of the real-pair scorer and of evaluate)
AMPLITUDES = (0.0, 0.2, 0.5, 1.0, 0.6, 0.3)   # an onset -> apex -> offset intensity curve


def bump_field(centre, vector, sd=14.0) -> np.ndarray:
    """(256, 256, 2) backward field: ``vector`` px at ``centre``, a Gaussian of ``sd`` px around it."""
    w = np.exp(-((pixel_grid(256, 256) - np.asarray(centre)) ** 2).sum(-1) / (2 * sd * sd))
    return (w[..., None] * np.asarray(vector, np.float32)).astype(np.float32)


def regional_field(lm) -> np.ndarray:
    """A brow raise and a mouth corner pulled sideways, in px of the canonical face."""
    return bump_field(lm[17:22].mean(0), (0.0, 1.0)) + bump_field(lm[48], (-0.8, 0.0))


def moved_clip(frame, field) -> np.ndarray:
    return np.stack([warp_backward(frame, a * field) for a in AMPLITUDES])


def write_real_pairs(tmp_path, face, driving_frames=None):
    frame, lm = face
    clip = moved_clip(frame, regional_field(lm)) if driving_frames is None else driving_frames
    write_gif(tmp_path / "drive.gif", np.repeat(clip[..., None], 3, -1), 25)
    write_png(tmp_path / "target.png", np.repeat(frame[..., None], 3, -1))
    (tmp_path / "pairs.csv").write_text("driving,target,compare\ndrive.gif,target.png,copy=drive.gif\n")
    return tmp_path / "pairs.csv"


def write_megc_kit(root: Path, protocol: str, frames: np.ndarray, skip=()) -> None:
    """A MEGC test kit under ``root`` for ``protocol``: each driving clip the given ``frames``, each template the
    embedded photo; names in ``skip`` are left out."""
    for clip, (dataset, emotion) in MEGC_CLIPS.items():
        if clip in skip:
            continue
        folder = root / "source_samples" / KIT_FOLDERS[dataset] / f"{emotion}_{clip}"
        folder.mkdir(parents=True)
        for i, f in enumerate(frames):
            cv2.imwrite(str(folder / f"{i + 1}.jpg"), cv2.resize(f, (256, 256)))
    faces = root / "target_template_face"
    faces.mkdir(parents=True)
    photo = cv2.imread(str(embedded_photo_paths()[0]))
    for name in TEMPLATES[protocol]:
        if name not in skip:
            cv2.imwrite(str(faces / name), photo)


#: training's per-epoch line (tests/unit/training/test_training_log.py; tests/cli/test_train.py reads the CLI's stdout
#: with it)
EPOCH_LINE = re.compile(
    r"^epoch (?P<epoch>\d+)/(?P<total>\d+), step (?P<step>\d+), (?P<seconds>\d+\.\d) s/epoch, ETA [^:]+: "
    r"loss (?P<loss>\S+) \(perceptual \S+, .*\); val rMTE (?P<rmte>\S+), EPE (?P<epe>\S+) \(zero flow (?P<zero>\S+)\)$")
