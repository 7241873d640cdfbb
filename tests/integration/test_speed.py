"""Speed work that must not change numbers, bf16 that must keep the motion in fp32, and what the benches print:
the public code's step beside megen's, the CPU's instruction-set level on every line, and no traceback
where the export extra is missing."""
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from helpers import compose_train, tiny_overrides
from hydra.utils import instantiate
from torch import nn

from megen.bench import main as bench_main
from megen.benchmarks.timing import cpu_capability
from megen.benchmarks.training import random_train_batch


def _system(tmp_path, *extra):
    cfg = compose_train(tmp_path, "loss.perceptual.allow_random=true", *extra)
    torch.manual_seed(0)
    return instantiate(cfg.system).train(), int(cfg.dataset.frame_size)


def _losses_and_grads(system, batch):
    system.zero_grad(set_to_none=True)
    torch.manual_seed(1)                               # the equivariance transform's draw
    losses, _ = system.generator_losses(dict(batch))
    sum(losses.values()).backward()
    return {k: float(v) for k, v in losses.items()}, [p.grad.clone() for p in system.model.parameters()
                                                        if p.grad is not None]


def test_in_place_relus_give_the_same_losses_and_gradients(tmp_path):
    inplace, size = _system(tmp_path)
    relus = [m for m in inplace.model.modules() if isinstance(m, nn.ReLU)]
    assert relus and all(m.inplace for m in relus)
    batch = random_train_batch(inplace, 2, size)
    a, grads_a = _losses_and_grads(inplace, batch)
    for m in relus:
        m.inplace = False
    b, grads_b = _losses_and_grads(inplace, batch)
    assert a == b
    for ga, gb in zip(grads_a, grads_b):
        torch.testing.assert_close(ga, gb, rtol=0, atol=0)


@pytest.mark.parametrize("cin,cout,size", [(1024, 1024, 2), (2048, 512, 4), (512, 1024, 1)])
def test_wide_convolution_on_a_tiny_map_as_one_matrix_product_equals_the_convolution(cin, cout, size):
    from megen.models.blocks import Conv2d

    torch.manual_seed(0)
    conv = Conv2d(cin, cout, 3, padding=1)
    x = torch.randn(3, cin, size, size, requires_grad=True)
    assert conv._as_matmul(x)
    y = conv(x)
    grads = torch.autograd.grad(y.square().sum(), (x, conv.weight, conv.bias))
    expected = F.conv2d(x, conv.weight, conv.bias, padding=1)
    grads_expected = torch.autograd.grad(expected.square().sum(), (x, conv.weight, conv.bias))
    assert y.shape == expected.shape and y.is_contiguous()
    torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()))
    for g, e in zip(grads, grads_expected):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5 * float(e.abs().max()))
    assert not conv._as_matmul(torch.randn(1, cin, 8, 8))                 # larger maps: oneDNN's convolution
    assert not Conv2d(256, 512, 3, padding=1)._as_matmul(torch.randn(1, 256, 2, 2))   # narrower layers too


@pytest.mark.parametrize("extra", [[], ["model=mraa"], ["model=tps"]])
def test_the_cpu_defaults_never_take_the_matrix_product_path(extra):
    """The pinned numbers (the default networks') are computed by oneDNN's convolutions as before."""
    from megen.config.compose import compose_train
    from megen.models.blocks import Conv2d

    cfg = compose_train("loss.perceptual.allow_random=true", *extra)
    torch.manual_seed(0)
    system = instantiate(cfg.system)
    taken = []
    for m in system.model.modules():
        if isinstance(m, Conv2d):
            m.register_forward_pre_hook(lambda mod, inp: taken.append(mod._as_matmul(inp[0])))
    batch = random_train_batch(system, 1, int(cfg.dataset.frame_size))
    with torch.no_grad():
        system(batch["source"], batch["driving"], batch["prior"], batch["keypoints"], batch["reference"])
    assert taken and not any(taken)


def test_fused_adam_trains_like_the_plain_one(tmp_path):
    """Two updates by the fused and by the plain Adam leave the same losses. (Not the same parameters: the
    biases of convolutions followed by a BatchNorm have gradients of pure rounding noise, which Adam
    scales to steps of the learning rate either way; the BatchNorm cancels them.)"""
    system, size = _system(tmp_path)
    optimizers = system.configure_optimizers()[0]
    assert all(o.defaults["fused"] for o in optimizers)
    batch = random_train_batch(system, 2, size)
    groups = [g for o in optimizers for g in o.param_groups]
    params = [p for g in groups for p in g["params"]]
    start = [p.detach().clone() for p in params]
    results = []
    for fused in (True, False):
        with torch.no_grad():
            for p, s in zip(params, start):
                p.copy_(s)
        opts = [torch.optim.Adam(g["params"], lr=g["lr"], betas=g["betas"], fused=fused) for g in groups]
        for _ in range(2):
            _losses_and_grads(system, batch)
            for opt in opts:
                opt.step()
        results.append(_losses_and_grads(system, batch)[0])
    fused, plain = results
    assert fused.keys() == plain.keys()
    for term in fused:
        assert fused[term] == pytest.approx(plain[term], rel=1e-4, abs=1e-7), term


# -- bf16: convolutions in bfloat16, the motion maths in float32 ------------------------------------------

def test_motion_maths_stay_float32_under_bf16_autocast():
    from megen.models.motion import relative_motion, sparse_motions

    gen = torch.Generator().manual_seed(0)
    kp_s, kp_d = torch.rand(2, 5, 2, generator=gen) - 0.5, torch.rand(2, 5, 2, generator=gen) - 0.5
    jac_s = torch.eye(2) + 0.1 * torch.randn(2, 5, 2, 2, generator=gen)
    jac_d = torch.eye(2) + 0.1 * torch.randn(2, 5, 2, 2, generator=gen)
    exact = sparse_motions(kp_s, kp_d, jac_s, jac_d, (16, 16))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = sparse_motions(kp_s, kp_d, jac_s.bfloat16(), jac_d, (16, 16))
        kp, jac = relative_motion(kp_s, kp_d, kp_d, jac_s, jac_d, jac_d)
    assert mixed.dtype == kp.dtype == jac.dtype == torch.float32
    # bf16 inputs are rounded once; the arithmetic after is float32's (a bf16 einsum would be ~1e-2 off)
    torch.testing.assert_close(mixed, sparse_motions(kp_s, kp_d, jac_s.bfloat16().float(), jac_d, (16, 16)))
    assert float((mixed - exact).abs().max()) < 5e-3


def test_bf16_training_step_keeps_key_points_masks_and_frames_in_float32(tmp_path):
    system, size = _system(tmp_path, "prior=none")
    batch = random_train_batch(system, 2, size)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses, out = system.generator_losses(dict(batch))
    assert out["motion_driving"]["value"].dtype == torch.float32 and out["mask"].dtype == torch.float32
    assert out["deformation"].dtype == torch.float32 and out["prediction"].dtype == torch.float32
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()


def test_bf16_animation_is_close_to_fp32_and_refused_with_onnx(tmp_path):
    from megen.animation import FaceInput, animate
    system, size = _system(tmp_path)
    model = system.model.eval()
    setting = system.prior_setting
    gen = torch.Generator().manual_seed(0)
    # smooth frames, like faces: on pixel noise any difference in the motion is a large one in pixels
    smooth = lambda n: F.interpolate(torch.rand(n, 1, 4, 4, generator=gen), size=(size, size), mode="bilinear",  # noqa: E731
                                     align_corners=False).expand(-1, 3, -1, -1)
    target = FaceInput(smooth(1), torch.rand(1, setting.channels, setting.map_size, setting.map_size, generator=gen),
                       torch.rand(1, setting.num_keypoints, 2, generator=gen) - 0.5)
    driving = FaceInput(smooth(3), target.prior, target.keypoints)
    exact = animate(model, target, driving, batch_size=2)
    mixed = animate(model, target, driving, batch_size=2, precision="bf16")
    assert mixed.dtype == torch.float32 and mixed.shape == exact.shape
    assert float((mixed - exact).abs().max()) < 0.02
    with pytest.raises(ValueError, match="fp32, bf16"):
        animate(model, target, driving, precision="fp16")
    with pytest.raises(ValueError, match="backend=torch"):
        animate(model, target, driving, precision="bf16", engine=object())


# -- benches ---------------------------------------------------------------------------------------------

FAKE_PUBLIC = {
    # a stand-in for a first-order-model checkout: the same module and class names and call signatures,
    # tiny networks; model.py imports torchvision's VGG and the checkout's own sync_batchnorm package
    "sync_batchnorm/__init__.py": "from torch.nn import BatchNorm2d as SynchronizedBatchNorm2d  # noqa\n",
    "modules/__init__.py": "",
    "modules/keypoint_detector.py": """
        import torch
        from torch import nn

        class KPDetector(nn.Module):
            def __init__(self, num_kp, num_channels, block_expansion, **kw):
                super().__init__()
                self.conv = nn.Conv2d(num_channels, num_kp, 3, padding=1)

            def forward(self, x):
                heat = torch.softmax(self.conv(x).flatten(2), dim=2)
                return {"value": torch.stack([heat.sum(-1), heat.sum(-1)], dim=-1)}
        """,
    "modules/generator.py": """
        import torch
        from torch import nn
        from sync_batchnorm import SynchronizedBatchNorm2d

        class OcclusionAwareGenerator(nn.Module):
            def __init__(self, num_channels, num_kp, block_expansion, **kw):
                super().__init__()
                self.conv, self.norm = nn.Conv2d(num_channels, num_channels, 3, padding=1), SynchronizedBatchNorm2d(3)
                self.num_channels = num_channels

            def forward(self, source, kp_driving, kp_source):
                shift = (kp_driving["value"] - kp_source["value"]).mean()
                return {"prediction": torch.sigmoid(self.norm(self.conv(source)) + shift)}
        """,
    "modules/discriminator.py": """
        from torch import nn

        class MultiScaleDiscriminator(nn.Module):
            def __init__(self, scales=(), num_channels=3, **kw):
                super().__init__()
                self.scales = scales
                self.conv = nn.Conv2d(num_channels, 1, 3)

            def forward(self, x, kp=None):
                return {"prediction_map_1": self.conv(x["prediction_1"])}
        """,
    "modules/model.py": """
        import torch
        from torchvision import models

        class GeneratorFullModel(torch.nn.Module):
            def __init__(self, kp_extractor, generator, discriminator, train_params):
                super().__init__()
                self.kp_extractor, self.generator, self.discriminator = kp_extractor, generator, discriminator
                self.vgg = models.vgg19(pretrained=True).features[:2]
                self.train_params = train_params

            def forward(self, x):
                kp_s, kp_d = self.kp_extractor(x["source"]), self.kp_extractor(x["driving"])
                generated = self.generator(x["source"], kp_source=kp_s, kp_driving=kp_d)
                loss = (self.vgg(generated["prediction"]) - self.vgg(x["driving"]).detach()).abs().mean()
                return {"perceptual": loss * self.train_params["loss_weights"]["perceptual"][0]}, generated

        class DiscriminatorFullModel(torch.nn.Module):
            def __init__(self, kp_extractor, generator, discriminator, train_params):
                super().__init__()
                self.discriminator = discriminator

            def forward(self, x, generated):
                fake = self.discriminator({"prediction_1": generated["prediction"].detach()})["prediction_map_1"]
                return {"disc_gan": (fake ** 2).mean()}
        """,
    "config/vox-256.yaml": """
        model_params:
          common_params: {num_kp: 4, num_channels: 3, estimate_jacobian: true}
          kp_detector_params: {block_expansion: 4}
          generator_params: {block_expansion: 4}
          discriminator_params: {scales: [1]}
        train_params:
          lr_generator: 2.0e-4
          lr_discriminator: 2.0e-4
          lr_kp_detector: 2.0e-4
          loss_weights: {generator_gan: 0, perceptual: [10, 10, 10, 10, 10]}
        """,
}


def _fake_checkout(root):
    for name, text in FAKE_PUBLIC.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def _fields(line: str) -> dict:
    return dict(f.split("=", 1) for f in line.split() if "=" in f)


def test_bench_train_times_the_public_code_interleaved_and_imports_nothing_for_good(tmp_path, capsys):
    checkout = _fake_checkout(tmp_path / "first-order-model")
    modules_before = {name for name in sys.modules if name.split(".")[0] in ("modules", "sync_batchnorm", "torchvision")}
    overrides = [o for o in tiny_overrides(tmp_path) if not o.startswith(("dataset.frame_size", "data.batch_size"))]
    bench_main(["train", *overrides, "prior=none", "bench.size=32", "bench.batch=2", "bench.steps=2",
                "bench.warmup=1", f"bench.reference={checkout}"])
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.endswith(f"cpu={cpu_capability()}") for line in lines)
    ours = [line for line in lines if " step_s=" in line and not line.startswith("reference")]
    public = [line for line in lines if line.startswith("reference first-order-model")]
    ratio = [line for line in lines if "megen_over_reference=" in line]
    assert len(ours) == len(public) == len(ratio) == 1
    step, ref = _fields(ours[0]), _fields(public[0])
    assert len(ref["steps_s"].strip("[]").split(",")) == 2 and "gflops" in ref
    assert float(_fields(ratio[0])["megen_over_reference"]) == pytest.approx(
        float(step["step_s"]) / float(ref["step_s"]), rel=0.01)
    # the public code's modules (and the VGG stand-in) were importable only while it was loaded
    left = {name for name in sys.modules if name.split(".")[0] in ("modules", "sync_batchnorm", "torchvision")}
    assert left == modules_before
    with pytest.raises(SystemExit, match="not a first-order-model checkout"):
        bench_main(["train", *overrides, f"bench.reference={tmp_path}"])


def test_bench_train_times_bf16_beside_fp32(tmp_path, capsys):
    overrides = [o for o in tiny_overrides(tmp_path) if not o.startswith(("dataset.frame_size", "data.batch_size"))]
    bench_main(["train", *overrides, "prior=none", "trainer.precision=bf16-mixed", "bench.size=32", "bench.batch=2",
                "bench.steps=1", "bench.warmup=0", "bench.flops=false"])
    lines = capsys.readouterr().out.splitlines()
    cases = [line for line in lines if " step_s=" in line]
    assert len(cases) == 2 and "trainer.precision=32-true" in cases[1]
    assert any("bf16-mixed_over_32-true=" in line for line in lines)


# the native lines have their own test below
SMALL_GENERATE = ["generate", "bench.experiments=[fomm_vox256]", "bench.frames=2", "dataset.frame_size=64",
                  "model.motion.num_blocks=3", "model.dense_motion.num_blocks=3", "bench.native=false"]


def test_bench_generate_without_the_export_extra_skips_only_the_onnx_line(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)          # `import onnx` fails, as where it is not installed
    bench_main([*SMALL_GENERATE, "bench.precision=bf16"])
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert all(line.endswith(f"cpu={cpu_capability()}") for line in lines)
    names = [line.split()[0] for line in lines if line.startswith("fomm_vox256-")]
    assert names == ["fomm_vox256-reference-loop", "fomm_vox256-megen", "fomm_vox256-megen-bf16",
                     "fomm_vox256-onnxruntime"]
    skipped = lines[-1]
    assert "skipped" in skipped and "pip install -e '.[export]'" in skipped and "onnx" in skipped
    assert "Traceback" not in captured.out + captured.err
    assert float(_fields([x for x in lines if x.startswith("fomm_vox256-megen-bf16")][0])["max_abs_diff"]) < 0.05
    with pytest.raises(SystemExit) as stopped:
        bench_main([*SMALL_GENERATE, "bench.precision=fp16", "bench.frames=0"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip() == ("error: bench.precision='fp16' is not valid; valid: fp32, bf16; "
                                               "bench.frames=0 must be > 0")
    with pytest.raises(SystemExit):
        bench_main([*SMALL_GENERATE, "bench.frame=2"])
    assert capsys.readouterr().err.strip() == "error: Could not override 'bench.frame'."


# -- batching and stage timing ---------------------------------------------------------------------------

def _native_inputs(prior, size, out=256, n_frames=5, seed=0):
    """Random target and driving clip with the native crops every source needs (the guide: >= 256 px)."""
    import numpy as np

    from megen.animation import FaceInput
    from megen.animation.native import to_tensor_frames

    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    lm_out = rng.uniform(0.3 * out, 0.7 * out, (68, 2))
    lm = (lm_out + 0.5) * size / out - 0.5
    maps = torch.rand(1, prior.channels, prior.map_size, prior.map_size, generator=gen)
    kp = torch.rand(1, prior.num_keypoints, 2, generator=gen) * 2 - 1
    # the native target smooth at its scale, as a face is (a warp of pixel noise turns float rounding of the
    # motion into 1e-5 of intensity)
    smooth = F.interpolate(torch.rand(1, 3, out // 8, out // 8, generator=gen), size=(out, out), mode="bilinear",
                           align_corners=False)
    target = FaceInput(torch.rand(1, 3, size, size, generator=gen), maps, kp, lm, True, smooth, lm_out)
    driving = FaceInput(torch.rand(n_frames, 3, size, size, generator=gen), maps, kp, lm, True,
                        to_tensor_frames(rng.integers(0, 256, (n_frames, out, out), dtype=np.uint8)), lm_out)
    return target, driving


@pytest.mark.parametrize("family", ["flow", "fomm", "mraa", "tps"])
def test_batched_generation_equals_one_frame_per_pass(family):
    from megen.animation import animate
    from megen.benchmarks.generation import untrained_model
    from megen.config.compose import compose_train as compose

    torch.manual_seed(0)
    model, prior, size = untrained_model(compose(f"model={family}"))
    target, driving = _native_inputs(prior, size)
    for render in ("decoder", "native"):
        one = animate(model, target, driving, batch_size=1, render=render)
        batched = animate(model, target, driving, batch_size=4, render=render)      # passes of 4 and 1
        assert one.shape == batched.shape == (5, 3, 256 if render == "native" else size, 256 if render == "native"
                                              else size)
        torch.testing.assert_close(batched, one, rtol=0, atol=1e-5)


def test_stage_clock_times_only_marked_work_and_only_while_running():
    import time

    from megen.runtime.stages import StageClock, stage

    with stage("guide"):        # no clock: nothing is recorded anywhere
        pass
    with StageClock() as clock:
        with stage("guide"):
            time.sleep(0.02)
        with stage("warp"):
            time.sleep(0.01)
        with stage("guide"):
            time.sleep(0.02)
    with stage("guide"):
        time.sleep(0.01)
    assert list(clock.seconds) == ["guide", "warp"]
    assert 0.04 <= clock.seconds["guide"] < 0.2 and 0.01 <= clock.seconds["warp"] < 0.1
    shares = clock.shares()
    assert sum(shares.values()) == pytest.approx(1.0) and shares["guide"] > shares["warp"]
    assert clock.shares(total=2 * sum(clock.seconds.values()))["guide"] == pytest.approx(shares["guide"] / 2)


def test_bench_generate_reports_each_size_batch_and_the_stage_shares(capsys):
    bench_main(["generate", "bench.experiments=[]", "bench.frames=3", "bench.native_models=[flow]",
                "bench.native_sizes=[256]", "bench.native_batches=[1,3]"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("default-flow-native")]
    assert [_fields(line)["batch_size"] for line in lines] == ["1", "3"]
    for line in lines:
        fields = _fields(line)
        assert fields["out_px"] == "256" and float(fields["fps"]) > 0
        shares = dict(part.split(":") for part in fields["stages"].split(","))
        assert set(shares) == {"guide", "encode", "motion", "decode", "warp", "other"}
        assert sum(map(float, shares.values())) == pytest.approx(1.0, abs=0.02)
    with pytest.raises(SystemExit):
        bench_main(["generate", "bench.native_sizes=[0]", "bench.native_batches=[]"])
    err = capsys.readouterr().err
    assert "bench.native_sizes=[0] must be a list of positive whole numbers" in err and "bench.native_batches=[]" in err
