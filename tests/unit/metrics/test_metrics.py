import math

import cv2
import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from megen.face import crop_and_resize, crop_box, detect_landmarks
from megen.metrics import (
    PSNR,
    REGIONS,
    SSIM,
    AverageEuclideanDistance,
    AverageKeypointDistance,
    FlowEndPointError,
    L1Error,
    MotionTransferError,
    RegionalMotionFidelity,
    region_curves,
    static_baseline,
    zero_flow_epe,
)
from megen.metrics.motion_transfer import clip_rmte
from megen.metrics.regional import pearson
from megen.synthetic import SyntheticSpec, embedded_photo_paths, generate


def smooth_frames(b, c=3, h=40, w=48, seed=0):
    """Random but spatially correlated frames in [0, 1] (SSIM on white noise is degenerate)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, c, h // 4, w // 4, generator=g)
    x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    return (0.8 * x + 0.1 * torch.rand(b, c, h, w, generator=g)).clamp(0, 1)


def tensor_frame(img: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0


# ---------------------------------------------------------------- reconstruction

def test_identical_frames_are_perfect():
    x = smooth_frames(3)
    l1, psnr, ssim = L1Error(), PSNR(), SSIM()
    for m in (l1, psnr, ssim):
        m.update(x, x.clone())
    assert l1.compute().item() == 0.0
    assert psnr.compute().item() == 100.0          # capped, documented default
    assert ssim.compute().item() == pytest.approx(1.0, abs=1e-12)
    uncapped = PSNR(max_db=None)
    uncapped.update(x, x)
    assert math.isinf(uncapped.compute().item())


def test_psnr_of_a_constant_offset_is_20db():
    target = smooth_frames(4, c=1) * 0.8
    m = PSNR()
    m.update(target + 0.1, target)
    assert m.compute().item() == pytest.approx(20.0, abs=1e-5)
    l1 = L1Error()
    l1.update(target + 0.1, target)
    assert l1.compute().item() == pytest.approx(0.1, abs=1e-6)


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_skimage(channels):
    a = smooth_frames(3, c=channels, seed=1)
    b = (a + 0.15 * (smooth_frames(3, c=channels, seed=2) - 0.5)).clamp(0, 1)
    m = SSIM()
    m.update(a, b)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    gray = (lambda t: t[:, 0]) if channels == 1 else (lambda t: (t * luma).sum(1))
    ref = np.mean([
        structural_similarity(x.double().numpy(), y.double().numpy(), gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False, data_range=1.0)
        for x, y in zip(gray(a), gray(b))
    ])
    assert 0.3 < ref < 0.99
    assert m.compute().item() == pytest.approx(ref, abs=1e-3)


def test_two_updates_accumulate_merge_and_reset():
    a, b = smooth_frames(4, seed=3), smooth_frames(4, seed=4)
    for cls in (L1Error, PSNR, SSIM):
        whole, parts = cls(), cls()
        whole.update(a, b)
        parts.update(a[:1], b[:1])
        parts.update(a[1:], b[1:])
        assert parts.compute().item() == pytest.approx(whole.compute().item(), rel=1e-12)
        # what DDP does: the states of two workers are summed
        w1, w2 = cls(), cls()
        w1.update(a[:3], b[:3])
        w2.update(a[3:], b[3:])
        w1.merge_state(w2)
        assert w1.compute().item() == pytest.approx(whole.compute().item(), rel=1e-12)
        assert all(fx is torch.sum or getattr(fx, "__name__", "") == "dim_zero_sum"
                   for fx in whole._reductions.values())
        parts.reset()
        assert math.isnan(parts.compute().item())


# ---------------------------------------------------------------- motion transfer

@pytest.fixture(scope="module")
def moving_clip():
    """(T, C, H, W) ground truth whose first frame is the source S."""
    gt = smooth_frames(6, seed=5)
    return gt, gt[:1]


@pytest.mark.parametrize("relative", [True, False])
def test_mte_known_answers(moving_clip, relative):
    gt, src = moving_clip

    def score(generated):
        m = MotionTransferError(relative=relative)
        if relative:
            m.update(generated, gt, generated[:1], gt[:1])
        else:
            m.update(generated, gt, src)
        return m.compute().item()

    assert score(static_baseline(src, gt)) == 1.0          # exactly
    assert score(gt.clone()) == 0.0
    assert score(src + 0.5 * (gt - src)) == pytest.approx(0.5, abs=1e-6)


def test_rmte_ignores_the_generator_reconstruction_bias(moving_clip):
    gt, src = moving_clip
    generated = gt + 0.05       # right motion, wrong brightness: only the plain MTE charges it
    rel, plain = MotionTransferError(relative=True), MotionTransferError(relative=False)
    rel.update(generated, gt, generated[:1], gt[:1])
    plain.update(generated, gt, src)
    assert rel.compute().item() == pytest.approx(0.0, abs=1e-6)
    assert plain.compute().item() > 0.1


def test_clip_rmte_of_uint8_clips_is_zero_for_the_truth_one_for_the_static_copy_and_linear_between():
    truth = np.stack([np.full((16, 16), 100 + 8 * k, np.uint8) for k in range(5)])
    half = np.stack([np.full((16, 16), 100 + 4 * k, np.uint8) for k in range(5)])
    assert clip_rmte(truth, truth) == 0.0
    assert clip_rmte(np.repeat(truth[:1], 5, axis=0), truth) == 1.0
    assert clip_rmte(half, truth) == pytest.approx(0.5, abs=1e-6)
    assert clip_rmte(half + 20, truth) == pytest.approx(0.5, abs=1e-6)     # each clip against its own onset


def test_mte_reference_arguments_are_checked(moving_clip):
    gt, src = moving_clip
    with pytest.raises(ValueError, match="onset"):
        MotionTransferError(relative=True).update(gt, gt, src)
    with pytest.raises(ValueError, match="source"):
        MotionTransferError(relative=False).update(gt, gt, src, src)
    m = MotionTransferError()
    assert math.isnan(m.compute().item())


def test_flow_epe_of_a_constant_shift():
    true = torch.zeros(2, 8, 10, 2)
    true[..., 0], true[..., 1] = 3.0, 4.0
    assert zero_flow_epe(true).item() == pytest.approx(5.0)
    m = FlowEndPointError()
    m.update(torch.zeros_like(true), true)
    assert m.compute().item() == pytest.approx(5.0)
    m.reset()
    pred = true.clone()
    pred[..., 1] = 0.0                            # the y component missed: error 4 px
    m.update(pred, true)
    assert m.compute().item() == pytest.approx(4.0)
    # a mask restricts the mean to its pixels
    pred[:, :4] = true[:, :4]
    mask = torch.zeros(2, 8, 10, dtype=torch.bool)
    mask[:, :4] = True
    m.reset()
    m.update(pred, true, mask)
    assert m.compute().item() == pytest.approx(0.0)
    assert zero_flow_epe(true, mask).item() == pytest.approx(5.0)


def test_static_baseline_shapes():
    src = torch.rand(3, 8, 8)
    assert static_baseline(src, torch.zeros(5, 3, 8, 8)).shape == (5, 3, 8, 8)
    batch = static_baseline(torch.rand(2, 3, 8, 8), torch.zeros(2, 5, 3, 8, 8))
    assert batch.shape == (2, 5, 3, 8, 8) and torch.equal(batch[1, 4], batch[1, 0])


# ---------------------------------------------------------------- face models

@pytest.fixture(scope="module")
def faces():
    """The two embedded photos (different people), cropped to the face at 128 px, (1, 3, 128, 128)."""
    out = []
    for path in embedded_photo_paths():
        img = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        box = crop_box(detect_landmarks(img), img.shape[:2])
        out.append(crop_and_resize(img, box, 128))
    return out


def test_akd_zero_on_identical_and_the_shift_on_a_shifted_face(faces):
    img = faces[0]
    shifted = cv2.warpAffine(img, np.float32([[1, 0, 3], [0, 1, 0]]), (128, 128), borderMode=cv2.BORDER_REPLICATE)
    m = AverageKeypointDistance()
    m.update(tensor_frame(img), tensor_frame(img))
    assert m.compute().item() == 0.0
    m.reset()
    m.update(tensor_frame(shifted), tensor_frame(img))
    assert m.compute().item() == pytest.approx(3.0, abs=1.0)
    assert m.skipped.item() == 0


def test_akd_counts_frames_without_a_face(faces):
    face = tensor_frame(faces[0])
    blank = torch.full_like(face, 0.5)
    m = AverageKeypointDistance()
    m.update(torch.cat([face, blank]), torch.cat([face, face]))
    assert (m.n.item(), m.skipped.item()) == (1, 1)
    assert m.compute().item() == 0.0
    m.reset()
    m.update(blank, face)
    assert m.skipped.item() == 1 and math.isnan(m.compute().item())


def test_aed_identity_distance(faces):
    a, b = tensor_frame(faces[0]), tensor_frame(faces[1])
    m = AverageEuclideanDistance()
    m.update(a, a)
    assert m.compute().item() == pytest.approx(0.0, abs=1e-6)
    m.reset()
    m.update(torch.cat([a, torch.zeros_like(a)]), torch.cat([b, b]))
    assert m.compute().item() > 0.3          # different people (dlib's same-person threshold: 0.6)
    assert m.skipped.item() == 1


def test_face_metrics_work_on_small_gray_frames(faces):
    gray = cv2.cvtColor(cv2.resize(faces[0], (64, 64), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    x = torch.from_numpy(gray)[None, None].float() / 255.0
    m = AverageKeypointDistance()
    m.update(x, x)
    assert (m.n.item(), m.skipped.item()) == (1, 0)


# ---------------------------------------------------------------- regional motion fidelity

@pytest.fixture(scope="module")
def synthetic_clips():
    spec = SyntheticSpec(frame_size=64, n_subjects=2, clips_per_subject=1, apex_px=(8, 12))
    return list(generate(spec))


def as_tensor_clip(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames)[:, None].float() / 255.0


def test_region_curves_follow_the_true_landmark_motion(synthetic_clips):
    clip = synthetic_clips[0]
    curves = region_curves(clip.frames, clip.landmarks[0])
    assert set(curves) == set(REGIONS)
    # same answer from the (T, C, H, W) tensor form
    tcurves = region_curves(as_tensor_clip(clip.frames), clip.landmarks[0])
    for name, idx in REGIONS.items():
        assert curves[name].shape == (len(clip.frames),) and curves[name][0] == 0.0
        np.testing.assert_allclose(tcurves[name], curves[name])
        true = np.linalg.norm(clip.landmarks[:, list(idx)] - clip.landmarks[0, list(idx)], axis=-1).mean(1)
        if true.max() > 0.1:
            assert pearson(curves[name], true) > 0.9


def test_regional_fidelity_self_and_static(synthetic_clips):
    same, static = RegionalMotionFidelity(), RegionalMotionFidelity()
    for clip in synthetic_clips:
        x = as_tensor_clip(clip.frames)
        same.update(x, x, clip.landmarks[0], clip.landmarks[0])
        static.update(x, static_baseline(x[0], x), clip.landmarks[0])
    s, z = same.compute(), static.compute()
    assert s["corr"].item() == pytest.approx(1.0, abs=1e-6)
    assert s["ratio"].item() == pytest.approx(1.0, abs=1e-6)
    assert s["corr/mouth"].item() == pytest.approx(1.0, abs=1e-6)
    assert z["ratio"].item() < 0.01 and z["corr"].item() == 0.0
    assert {f"{k}/{r}" for k in ("corr", "ratio") for r in REGIONS} | {"corr", "ratio"} == set(s)
    same.reset()
    assert math.isnan(same.compute()["corr"].item())
