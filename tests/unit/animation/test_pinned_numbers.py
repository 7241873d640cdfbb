"""Generation as a library gives the numbers pinned before it was one: the face input, the animation and the
reconstruction scores of a seeded untrained model on fixed clips."""
import pytest
import torch
from helpers import compose_train
from omegaconf import OmegaConf

from megen.animation import Animator, FaceInput, animate
from megen.data.cache import PreparedSet
from megen.data.priors import clip_keypoints
from megen.evaluation import reconstruction
from megen.face.prior import PriorSetting
from megen.models.full import build_model


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, prepared):
    cfg = compose_train(tmp_path_factory.mktemp("pins"), "dataset.frame_size=64")
    setting = PriorSetting.from_config(cfg.prior, 64, cfg.model.motion.scale_factor)
    torch.manual_seed(0)
    model = build_model(OmegaConf.to_container(cfg.model, resolve=True), setting.model_args()).eval()
    return Animator(model, setting, 64, "fomm"), PreparedSet.open(prepared)


def test_face_input_and_animation_match_the_pinned_numbers(seeded):
    animator, prepared = seeded
    arrays, arrays1 = prepared.load(0), prepared.load(3)
    face = FaceInput.build(arrays["frames"], clip_keypoints(arrays, animator.prior.keypoints), animator.prior,
                           arrays["landmarks"])
    assert list(face.prior.shape) == [1, 1, 32, 32]
    assert float(face.prior.double().sum()) == pytest.approx(282.0599999238184, rel=1e-6)
    assert float(face.keypoints.double().sum()) == pytest.approx(0.6907845735549927, rel=1e-6)
    target = FaceInput.build(arrays1["frames"][:1], clip_keypoints(arrays1, animator.prior.keypoints),
                             animator.prior, arrays1["landmarks"])
    out = animate(animator.model, target, face, relative=True, batch_size=4)
    assert float(out.double().sum()) == pytest.approx(133219.83188052475, rel=1e-5)
    assert float((out - target.frames[:1]).abs().double().sum()) == pytest.approx(28276.533804431558, rel=1e-4)


def test_reconstruction_scores_match_the_pinned_numbers(seeded):
    animator, prepared = seeded
    rec = reconstruction(animator, prepared, [0, 1, 2], face_metrics=False, batch_size=4)
    pinned = {"l1": (0.09800575607877171, 0.000983563609700866), "psnr": (18.726173105465065, 54.01263043821089),
              "ssim": (0.8189542081503292, 0.998095266417039), "rmte": (0.9820555666172158, 1.0),
              "mte": (99.64353612938007, 1.0), "epe": (0.010188458134462789, 0.01320684769610879)}
    for key, (model, static) in pinned.items():
        assert rec[key]["model"] == pytest.approx(model, rel=1e-4), key
        assert rec[key]["static"] == pytest.approx(static, rel=1e-4), key
