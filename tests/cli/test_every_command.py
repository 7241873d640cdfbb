"""Every command end to end with a checkpoint of each motion family (the flow-guided default, FOMM, MRAA,
TPS), each trained for two steps: augment, generate (an odd-sized face), the MEGC protocol, evaluate on
the synthetic set and on real-style pairs, and export. Commands run in this process through their
``run(cfg)`` (what their Hydra main calls), so the file stays fast."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import TINY, write_megc_kit, write_real_pairs

from megen.config.compose import compose_config, compose_train
from megen.data.cache import PreparedSet
from megen.runtime.video import read_image, read_video, write_png
from megen.synthetic import embedded_photo_paths
from megen.synthetic.identities import base_face

FAMILIES = ("flow", "fomm", "mraa", "tps")
# one synthetic set for every family: with the measured guides the flow-guided family reads (the others ignore them)
DATA = ["dataset.n_subjects=4", "dataset.clips_per_subject=2", "dataset.frame_size=32", "dataset.guides=true"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("every_command_data")


@pytest.fixture(scope="module", params=FAMILIES)
def trained(request, data_dir, tmp_path_factory):
    """(family, checkpoint, the dataset overrides its commands use) for a model trained two steps."""
    from megen.train import train

    family = request.param
    tmp = tmp_path_factory.mktemp(f"every_command_{family}")
    tiny = [t for t in TINY if not (family == "flow" and t.startswith("model.motion."))]
    paths = [f"paths.data_dir={data_dir}", f"paths.output_root={tmp / 'out'}"]
    train(compose_train(*DATA, f"model={family}", *tiny, *paths, run_dir=str(tmp / "run")))
    return family, tmp / "run" / "checkpoints" / "last.ckpt", [*DATA, *paths]


@pytest.fixture(scope="module")
def prepared(trained, data_dir):
    return PreparedSet.open(next((data_dir / "cache").glob("synthetic-*")))


def _odd_target(folder: Path, side: int = 301) -> Path:
    """A colour photo of odd size whose face crop is odd too (out_size picks it)."""
    photo = read_image(embedded_photo_paths()[0])
    photo = photo if photo.ndim == 3 else np.repeat(photo[..., None], 3, -1)
    path = folder / "odd.png"
    write_png(path, cv2.resize(photo[..., :3], (side, side), interpolation=cv2.INTER_AREA))
    return path


def test_augment(trained, prepared, tmp_path):
    from megen import augment

    family, ckpt, data = trained
    cfg = compose_config("augment", f"ckpt={ckpt}", f"out={tmp_path / 'aug'}", "per_clip=1", "progress=false", *data)
    result = augment.run(cfg)
    assert result.clips == len(prepared) and result.built == len(prepared)
    generated = PreparedSet.open(tmp_path / "aug")
    moved = 0.0
    for i in range(len(generated)):
        frames = generated.load(i)["frames"]
        assert frames.shape == (int(generated.rows[i]["n_frames"]), 32, 32) and frames.dtype == np.uint8
        moved = max(moved, float(np.abs(frames.astype(float) - frames[:1]).max()))
    assert moved > 0          # the driving clips' motion reached the targets
    assert json.loads((tmp_path / "aug" / "meta.json").read_text())["family"] == family


def test_generate_an_odd_sized_face(trained, prepared, tmp_path):
    from megen import generate

    family, ckpt, data = trained
    paths = [d for d in data if d.startswith("paths.")]
    cfg = compose_config("generate", f"ckpt={ckpt}", f"target={_odd_target(tmp_path)}",
                         f"driving=synthetic:{prepared.rows[0]['clip']}", f"out={tmp_path / 'gen'}", "out_size=151",
                         "progress=false", *paths)
    [folder] = generate.run(cfg)
    timing = json.loads((folder / "timing.json").read_text())
    assert timing["frame_size"] == 151 and timing["mp4_padding_px"] == [1, 1] and timing["render"] == "native"
    assert cv2.imread(str(folder / "frames" / "00000.png")).shape == (151, 151, 3)
    video, _ = read_video(folder / f"{folder.name}.mp4")
    assert len(video) == timing["frames"] and video[0].shape == (152, 152, 3)
    assert not (folder.parent / f"{folder.name}.ffmpeg.log").exists()


def test_megc_protocol(trained, tmp_path):
    from megen import generate

    family, ckpt, data = trained
    face = (base_face(str(embedded_photo_paths()[0]), 256).image * 255).round().astype(np.uint8)
    raised = cv2.warpAffine(face, np.float32([[1, 0, 0], [0, 1, -0.5]]), (256, 256), borderMode=cv2.BORDER_REPLICATE)
    write_megc_kit(tmp_path / "kit", "megc2021", np.stack([face, raised]))     # crisp faces: found by HOG at once
    cfg = compose_config("generate", f"ckpt={ckpt}", "protocol=megc2021", f"megc_root={tmp_path / 'kit'}",
                         f"out={tmp_path / 'megc'}", "progress=false", *([] if family == "flow" else ["out_size=64"]))
    folders = generate.run(cfg)
    assert len(folders) == 18 and (tmp_path / "megc" / "megc2021-overview.png").is_file()
    timing = json.loads((folders[0] / "timing.json").read_text())
    # the challenge entries' size by default
    assert timing["frame_size"] == (256 if family == "flow" else 64) and timing["frames"] == 2


def test_evaluate_synthetic(trained, tmp_path):
    from megen import evaluate

    family, ckpt, data = trained
    cfg = compose_config("evaluate", f"ckpt={ckpt}", f"run_dir={tmp_path / 'ev'}", "face_metrics=false",
                         "progress=false", "max_pairs=2", *data)
    results = evaluate.run(cfg)
    rmte = results["cross_identity"]["rmte"]
    assert rmte["static"] == pytest.approx(1.0) and np.isfinite(rmte["model"])
    assert (tmp_path / "ev" / "metrics.md").is_file()


@pytest.fixture(scope="module")
def real_pairs(tmp_path_factory, face):
    return write_real_pairs(tmp_path_factory.mktemp("real_pairs"), face)


def test_evaluate_real_pairs(trained, real_pairs, tmp_path):
    from megen import evaluate

    family, ckpt, data = trained
    cfg = compose_config("evaluate", f"ckpt={ckpt}", f"real.pairs={real_pairs}", f"run_dir={tmp_path / 'ev'}",
                         "face_metrics=false", "progress=false", "real.estimators=[farneback]")
    results = evaluate.run(cfg)
    scores = results["mean"]
    model = [name for name in scores if name not in ("static", "flow_transfer", "copy")]
    assert len(model) == 1 and np.isfinite(scores[model[0]]["cosine"])
    assert scores["static"]["amplitude"] == 0.0


def test_export(trained, tmp_path):
    from megen import export
    from megen.animation.onnx_backend import ExportError

    family, ckpt, _ = trained
    cfg = compose_config("export", f"ckpt={ckpt}", f"out={tmp_path / 'frame.onnx'}", "check=false")
    if family == "fomm":
        assert export.run(cfg).is_file()
    else:     # refused, saying why and what to use instead
        with pytest.raises(ExportError, match=f"this checkpoint is '{family}'.*backend=torch"):
            export.run(cfg)
