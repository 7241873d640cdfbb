"""The training step's speed-ups keep its numbers, one batch is one step, and ``bench train`` runs."""
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from helpers import compose_train, tiny_overrides
from hydra.utils import instantiate

from megen.bench import main as bench_main
from megen.benchmarks.training import random_train_batch, time_training_steps
from megen.models.blocks import AntiAliasInterpolation2d
from megen.models.losses import lsgan_discriminator
from megen.train import train


@pytest.mark.parametrize("scale,size", [(0.5, 32), (0.25, 64), (0.25, 30), (0.125, 64), (1 / 3, 33)])
def test_strided_anti_aliasing_equals_blurring_every_pixel_then_subsampling(scale, size):
    down = AntiAliasInterpolation2d(3, scale)
    x = torch.rand(2, 3, size, size)
    padded = F.pad(x, (down.pad,) * 4, mode="reflect")
    full = F.conv2d(padded, down.kernel, groups=3)[:, :, ::down.step, ::down.step]   # the former computation
    torch.testing.assert_close(down(x), full, rtol=1e-5, atol=1e-6)


def _system(cfg, channels_last: bool, dtype=torch.float32):
    torch.manual_seed(0)
    return instantiate(cfg.system, channels_last=channels_last).train().to(dtype)


def _as(batch: dict, dtype) -> dict:
    return {k: v.to(dtype) if torch.is_tensor(v) and v.is_floating_point() else v for k, v in batch.items()}


def _losses_and_grads(system, batch) -> tuple[dict, torch.Tensor]:
    """Every generator loss term and the generator's gradient, the equivariance draw seeded."""
    system.zero_grad(set_to_none=True)
    torch.manual_seed(1)                     # the equivariance transform's draw
    losses, _ = system.generator_losses(system.on_after_batch_transfer(dict(batch), 0))
    sum(losses.values()).backward()
    grad = torch.cat([p.grad.flatten().double() for p in system.model.generator.parameters()])
    return {k: float(v) for k, v in losses.items()}, grad


@pytest.mark.kernels
@pytest.mark.parametrize("extra", [[], ["experiment=fp_fomm_paper", "dataset.frame_size=128",
                                         "model.motion.num_blocks=3", "model.dense_motion.num_blocks=3"]])
def test_channels_last_keeps_every_loss_term(tmp_path, extra):
    """NHWC is as close to the float64 result as NCHW is.

    Both float32 layouts are compared with a float64 run of the same weights and batch, and the
    NHWC error is bounded by a multiple of the NCHW one: which kernels oneDNN picks (AVX2, AVX-512)
    changes both errors, so a bound on their plain difference measured on one CPU is not a property.
    """
    cfg = compose_train(tmp_path, *extra, "loss.perceptual.allow_random=true")
    size = int(cfg.dataset.frame_size)
    plain, nhwc = _system(cfg, False), _system(cfg, True)
    exact = _system(cfg, False, torch.float64)
    assert nhwc.model.generator.first.conv[0].weight.is_contiguous(memory_format=torch.channels_last)
    batch = random_train_batch(plain, 2, size)
    (a, grad_a), (b, grad_b) = _losses_and_grads(plain, batch), _losses_and_grads(nhwc, batch)
    ref, grad_ref = _losses_and_grads(exact, _as(batch, torch.float64))
    assert a.keys() == b.keys() == ref.keys() and {"perceptual", "generator_gan"} <= set(a)
    for term in a:
        # float32 rounding of these sums is ~1e-7 relative; 1e-5 leaves room for either kernel family
        floor = 1e-5 * abs(ref[term]) + 1e-7
        assert abs(b[term] - ref[term]) <= 4 * abs(a[term] - ref[term]) + floor, term
    # the generator's gradient, to rounding. (Not every head's: at initialisation the Jacobian head's is a
    # difference of nearly equal source and driving terms, tens of percent off float64's in either layout.)
    err_a = float((grad_a - grad_ref).norm() / grad_ref.norm())
    err_b = float((grad_b - grad_ref).norm() / grad_ref.norm())
    assert err_a < 1e-2 and err_b < 4 * err_a + 1e-5, (err_a, err_b)


def test_discriminator_update_from_the_kept_real_scores_equals_a_fresh_pass(tmp_path):
    """The generator pass keeps the discriminator's scores of the real frames; its update reuses them
    (the discriminator has not changed in between: no spectral norm in this configuration)."""
    cfg = compose_train(tmp_path, "loss.perceptual.allow_random=true")
    assert not cfg.model.discriminator.spectral_norm
    system = _system(cfg, True)
    batch = system.on_after_batch_transfer(random_train_batch(system, 2, int(cfg.dataset.frame_size)), 0)
    losses, out = system.generator_losses(batch)
    disc = system.discriminator
    # the generator's loss leaves no gradient on the discriminator
    sum(losses.values()).backward()
    assert all(p.grad is None for p in disc.parameters())
    grads = []
    for d_real in (out["discriminator_real"], disc(batch["driving"])):
        disc.zero_grad(set_to_none=True)
        loss = lsgan_discriminator(d_real, disc(out["prediction"].detach()))
        loss.backward()
        grads.append((float(loss), [p.grad.clone() for p in disc.parameters()]))
    assert grads[0][0] == grads[1][0]
    for kept, fresh in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(kept, fresh, rtol=0, atol=0)


def test_one_batch_is_one_step_with_three_optimisers(tmp_path):
    cfg = compose_train(tmp_path, "trainer.max_steps=4", "trainer.max_epochs=10", "trainer.limit_train_batches=2",
                        "data.repeats=2", "evaluate_at_end=false")
    assert cfg.loss.weights.generator_gan > 0          # generator, motion and discriminator optimisers
    result = train(cfg)
    assert result["global_step"] == 4                   # two epochs of two batches
    logged = pd.read_csv(tmp_path / "run" / "logs" / "metrics.csv")
    steps = logged.dropna(subset=["train/total_step"])["step"].tolist()
    assert steps == [0, 1, 2, 3]                        # the logged step is the batch too
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 4 and len(last["optimizer_states"]) == 3
    assert all(s["state"] for s in last["optimizer_states"]), "every optimiser stepped"
    samples = sorted(p.name for p in (tmp_path / "run" / "samples").glob("epoch*.png"))
    assert samples == ["epoch000-step000002.png", "epoch001-step000004.png"]


def test_time_training_steps_runs_a_tiny_case(tmp_path):
    cfg = compose_train(tmp_path, "loss.perceptual.allow_random=true")
    result = time_training_steps(cfg, 32, 2, steps=2, warmup=1, flops=True)
    assert len(result["step_s"]) == 2 and all(s > 0 for s in result["step_s"])
    assert result["gflop"] > 0


def test_bench_train_prints_a_line_per_case_and_the_prior_overhead(tmp_path, capsys):
    overrides = [o for o in tiny_overrides(tmp_path) if not o.startswith(("dataset.frame_size", "data.batch_size"))]
    bench_main(["train", *overrides, "bench.size=32", "bench.batch=2", "bench.steps=1", "bench.warmup=0",
                "bench.flops=false"])
    lines = capsys.readouterr().out.splitlines()
    cases = [line for line in lines if " step_s=" in line]
    assert len(cases) == 2 and "prior=none" in cases[1]
    assert all("samples_per_s=" in line for line in cases)
    assert any("prior_overhead=" in line for line in lines)


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
