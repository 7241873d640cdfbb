"""megen.training.averaging.WeightAverage: the moving average's formula, where it is used, and a run with it."""
import pytest
import torch
from helpers import compose_train

from megen.runtime.checkpoints import load_checkpoint
from megen.training.averaging import TRAINING_KEY, WeightAverage


class _Trainer:
    def __init__(self):
        self.global_step = 0
        self.sanity_checking = False


class _System(torch.nn.Module):
    """A LightningModule's shape as the callback sees it: ``.model`` (a parameter and a buffer), ``.trainer``."""

    def __init__(self):
        super().__init__()
        self.model = torch.nn.Linear(3, 2)
        self.model.register_buffer("running", torch.zeros(2))
        self.other = torch.nn.Linear(2, 2)          # not averaged (the discriminator, the VGG)
        self.trainer = _Trainer()

    @property
    def device(self):
        return torch.device("cpu")


def _train(callback, system, weights, start=1):
    """Set the model's weight to each of ``weights`` in turn, one training batch each."""
    for step, w in enumerate(weights, start=start):
        with torch.no_grad():
            system.model.weight.fill_(w)
            system.model.running.fill_(2 * w)
        system.trainer.global_step = step
        callback.on_train_batch_end(system.trainer, system, None, None, step - 1)


def test_the_average_is_the_exponential_moving_average_of_the_batches():
    torch.manual_seed(0)
    decay, weights = 0.8, [float(w) for w in torch.randn(7)]
    callback, system = WeightAverage(decay=decay, start_step=2), _System()
    callback.setup(system.trainer, system, "fit")
    callback.on_fit_start(system.trainer, system)
    _train(callback, system, weights)
    expected = weights[2]                        # the first batch counted copies the weights
    for w in weights[3:]:
        expected = decay * expected + (1 - decay) * w
    average = callback.average.module
    assert float(average.weight[0, 0]) == pytest.approx(expected, abs=1e-6)
    assert float(average.running[0]) == pytest.approx(2 * expected, abs=1e-6)      # buffers too
    assert float(system.model.weight[0, 0]) == pytest.approx(weights[-1])           # training goes on unaveraged
    # the same step seen twice (a skipped batch does not advance global_step) is counted once
    callback.on_train_batch_end(system.trainer, system, None, None, 99)
    assert float(average.weight[0, 0]) == pytest.approx(expected, abs=1e-6)


def test_validation_sees_the_average_and_training_resumes_with_its_own_weights():
    callback, system = WeightAverage(decay=0.5), _System()
    callback.setup(system.trainer, system, "fit")
    _train(callback, system, [1.0, 3.0])                          # average 2.0, model 3.0
    callback.on_validation_epoch_start(system.trainer, system)
    assert float(system.model.weight[0, 0]) == 2.0
    callback.on_validation_epoch_end(system.trainer, system)
    assert float(system.model.weight[0, 0]) == 3.0

    checkpoint = {"state_dict": {f"model.{k}": v.clone() for k, v in system.model.state_dict().items()}
                  | {"other.weight": system.other.weight.detach().clone()}}
    callback.on_save_checkpoint(system.trainer, system, checkpoint)
    assert float(checkpoint["state_dict"]["model.weight"][0, 0]) == 2.0                # what generation loads
    assert float(checkpoint[TRAINING_KEY]["model.weight"][0, 0]) == 3.0
    assert set(checkpoint[TRAINING_KEY]) == {"model.weight", "model.bias", "model.running"}

    resumed, fresh = WeightAverage(decay=0.5), _System()
    resumed.setup(fresh.trainer, fresh, "fit")
    fresh.model.load_state_dict({k[6:]: v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")})
    resumed.on_load_checkpoint(fresh.trainer, fresh, checkpoint)
    assert float(fresh.model.weight[0, 0]) == 3.0 and float(resumed.average.module.weight[0, 0]) == 2.0
    assert int(resumed.average.n_averaged) == 2
    _train(resumed, fresh, [5.0], start=3)
    assert float(resumed.average.module.weight[0, 0]) == pytest.approx(3.5)


def test_off_by_default_and_bad_settings_name_themselves():
    callback, system = WeightAverage(), _System()
    callback.setup(system.trainer, system, "fit")
    assert callback.average is None
    checkpoint = {"state_dict": {"model.weight": torch.ones(2, 3)}}
    callback.on_save_checkpoint(system.trainer, system, checkpoint)
    assert set(checkpoint) == {"state_dict"}
    with pytest.raises(ValueError, match="callbacks.weight_average.decay"):
        WeightAverage(decay=1.0)
    with pytest.raises(ValueError, match="callbacks.weight_average.start_step"):
        WeightAverage(decay=0.5, start_step=-1)


def test_a_run_with_it_saves_and_tests_the_average(tmp_path):
    from megen.animation import Animator
    from megen.train import train

    cfg = compose_train(tmp_path, "callbacks.weight_average.decay=0.5")
    result = train(cfg)
    last = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    averaged, trained = last["state_dict"], last[TRAINING_KEY]
    assert set(trained) == {k for k in averaged if k.startswith("model.")}
    assert any(not torch.equal(averaged[k], trained[k]) for k in trained if averaged[k].is_floating_point())
    assert last["global_step"] >= 2
    assert last["weight_average"] == {"decay": 0.5, "bias_correction": False, "n_averaged": last["global_step"]}
    assert not any(k.startswith("vgg.") for k in list(averaged) + list(trained))
    assert result["metrics"]["test/rmte"] == result["metrics"]["test/rmte"]    # scored (not NaN)
    animator = Animator.from_checkpoint(str(tmp_path / "run" / "checkpoints" / "last.ckpt"))
    loaded = animator.model.state_dict()
    assert all(torch.equal(loaded[k[len("model."):]], averaged[k]) for k in trained)   # generation uses the average


def test_the_bias_corrected_average_weights_each_batch_by_its_age_alone():
    torch.manual_seed(1)
    decay, weights = 0.7, [float(w) for w in torch.randn(6)]
    callback, system = WeightAverage(decay=decay, bias_correction=True), _System()
    callback.setup(system.trainer, system, "fit")
    for n in range(1, len(weights) + 1):
        _train(callback, system, weights[n - 1:n], start=n)
        ages = torch.arange(n - 1, -1, -1, dtype=torch.float64)
        expected = float((decay ** ages * torch.tensor(weights[:n], dtype=torch.float64)).sum()
                         / (decay ** ages).sum())
        assert float(callback.average.module.weight[0, 0]) == pytest.approx(expected, abs=1e-6)
        assert float(callback.average.module.running[0]) == pytest.approx(2 * expected, abs=1e-6)
    # the uncorrected average keeps decay**(n-1) of the first batch: after 6 at 0.7 it differs
    plain, other = WeightAverage(decay=decay), _System()
    plain.setup(other.trainer, other, "fit")
    _train(plain, other, weights)
    assert abs(float(plain.average.module.weight[0, 0]) - expected) > 1e-3
