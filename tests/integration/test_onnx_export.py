"""The per-frame graph exported to ONNX gives torch's frames (max abs difference <= 1e-3 on [0, 1])."""
import numpy as np
import pytest
import torch
from helpers import compose_train, run_module
from omegaconf import OmegaConf

from megen.animation import Animator, FaceInput, animate, generate_pair
from megen.animation.onnx_backend import (
    ExportError,
    FrameGraph,
    OnnxFrameEngine,
    export_onnx,
    max_difference,
)
from megen.face.prior import PriorSetting
from megen.models.full import build_model
from megen.models.motion import inverse_2x2
from megen.runtime.video import read_image
from megen.synthetic import embedded_photo_paths

ort = pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.kernels

TOLERANCE = 1e-3


def _model(tmp_path, *overrides):
    cfg = compose_train(tmp_path, *overrides)
    size = int(cfg.dataset.frame_size)
    prior = PriorSetting.from_config(cfg.prior, size, cfg.model.motion.scale_factor)
    torch.manual_seed(0)
    model = build_model(OmegaConf.to_container(cfg.model, resolve=True), prior.model_args()).eval()
    # trained-looking statistics and non-trivial heads, so that every path carries signal
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        for p in model.parameters():
            if p.abs().sum() == 0:
                p.normal_(0, 0.01)
    return model, size, prior


def test_closed_form_inverse_equals_torch():
    m = torch.eye(2) + 0.3 * torch.randn(5, 7, 2, 2)
    torch.testing.assert_close(inverse_2x2(m), torch.inverse(m), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("overrides", [
    [],                                                                  # the default: landmarks mode, prior map
    ["prior=none"],                                                      # plain FOMM: learned key points
    ["prior.keypoint_mode=reference", "model.dense_motion.mask_prior=false"],   # the paper's public code
    ["prior.keypoint_mode=anchored", "prior.input=learned", "prior.fusion=separate"],
])
def test_exported_graph_matches_torch_on_random_inputs(tmp_path, overrides):
    model, size, prior = _model(tmp_path, *overrides)
    path = export_onnx(model, tmp_path / "frame.onnx", size, prior.channels, prior.map_size)
    engine = OnnxFrameEngine(path, threads=1)
    for frames in (1, 3):                                            # the batch of driving frames is dynamic
        assert max_difference(model, engine, size, prior.channels, prior.map_size, frames=frames) <= TOLERANCE


@pytest.mark.parametrize("relative,adapt", [(True, False), (True, True), (False, False)])
def test_animation_through_onnxruntime_equals_torch(tmp_path, relative, adapt):
    model, size, prior = _model(tmp_path)
    engine = OnnxFrameEngine.from_model(model, size, prior.channels, prior.map_size, folder=tmp_path)
    gen = torch.Generator().manual_seed(3)
    kp = torch.rand(1, prior.num_keypoints, 2, generator=gen) * 1.2 - 0.6
    maps = torch.rand(1, prior.channels, prior.map_size, prior.map_size, generator=gen)
    target = FaceInput(torch.rand(1, 3, size, size, generator=gen), maps, kp)
    base = torch.rand(1, 3, size, size, generator=gen)
    driving = FaceInput((base + 0.05 * torch.rand(5, 3, size, size, generator=gen)).clamp(0, 1), maps, kp * 0.95)
    kw = {"relative": relative, "adapt_movement_scale": adapt}
    expected = animate(model, target, driving, batch_size=2, **kw)
    for batch in (1, 2):
        got = animate(model, target, driving, batch_size=batch, engine=engine, **kw)
        assert got.shape == expected.shape
        assert float((got - expected).abs().max()) <= TOLERANCE


def test_mraa_and_tps_are_refused_with_the_alternative(tmp_path):
    for family in ("mraa", "tps"):
        model, _, _ = _model(tmp_path, f"model={family}")
        with pytest.raises(ExportError, match="backend=torch"):
            FrameGraph(model)


def test_generate_backend_onnxruntime_writes_torch_frames(tiny_run, tmp_path):
    run, _, _ = tiny_run
    ckpt = run / "checkpoints" / "last.ckpt"
    target = embedded_photo_paths()[0]
    frames_dir = tmp_path / "driving"
    frames_dir.mkdir()
    photo = read_image(embedded_photo_paths()[1])
    import cv2

    for i in range(4):   # a still photo shifted by a pixel per frame
        cv2.imwrite(str(frames_dir / f"img{i + 1}.png"), np.roll(photo, i, axis=1))
    folders = {}
    for backend in ("torch", "onnxruntime"):
        gen = Animator.from_checkpoint(ckpt, backend=backend)
        assert (gen.engine is not None) == (backend == "onnxruntime")
        folders[backend] = generate_pair(gen, target, str(frames_dir), tmp_path / backend)
    written = {k: [read_image(p).astype(int) for p in sorted((v / "frames").glob("*.png"))] for k, v in folders.items()}
    assert len(written["torch"]) == len(written["onnxruntime"]) == 4
    for a, b in zip(written["torch"], written["onnxruntime"]):
        assert np.abs(a - b).max() <= 1                                # one gray level: 8-bit rounding of <= 1e-3


def test_export_command_writes_a_checked_graph(tiny_run, tmp_path):
    run, _, _ = tiny_run
    out = tmp_path / "model.onnx"
    result = run_module("megen.export", f"ckpt={run / 'checkpoints' / 'last.ckpt'}", "format=onnx", f"out={out}",
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.stat().st_size > 0 and "max abs difference" in result.stdout
    bad = run_module("megen.export", f"ckpt={run / 'checkpoints' / 'last.ckpt'}", "format=tflite", f"out={out}",
                     cwd=tmp_path)
    assert bad.returncode == 2 and "valid: onnx" in bad.stderr


def test_bench_generate_prints_fps_work_per_frame_and_the_exported_difference(capsys):
    from megen.bench import main as bench_main

    bench_main(["generate", "bench.experiments=[fomm_vox256]", "bench.frames=2", "dataset.frame_size=64",
                "model.motion.num_blocks=3", "model.dense_motion.num_blocks=3", "bench.native=false"])
    lines = {line.split()[0]: dict(f.split("=") for f in line.split()[1:])
             for line in capsys.readouterr().out.splitlines() if line.startswith("fomm_vox256-")}
    loop, clip, exported = (lines[f"fomm_vox256-{k}"] for k in ("reference-loop", "megen", "onnxruntime"))
    assert all(float(case["fps"]) > 0 for case in (loop, clip, exported))
    # the loop re-encodes the target and recomputes its key points for every frame; the clip path does not
    assert 0 < float(clip["gflop_per_frame"]) < float(loop["gflop_per_frame"])
    assert float(exported["max_abs_diff"]) <= TOLERANCE
