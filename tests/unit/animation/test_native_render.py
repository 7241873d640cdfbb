"""render=native (the target's own size and colour) and the flow-guided family."""
import numpy as np
import pytest
import torch

from megen.animation.native import render_native, to_tensor_frames, warp_pixels
from megen.config.compose import compose_train
from megen.face.flow import warp_backward
from megen.models.flow_guided import FlowGuidedDenseMotion, classical_backward_flow, flow_to_deformation, resize_flow
from megen.models.motion import coordinate_grid
from megen.runtime.video import read_image
from megen.synthetic import embedded_photo_paths


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A 256-px colour face crop (H, W, 3) uint8."""
    import cv2

    image = read_image(embedded_photo_paths()[0])
    return cv2.resize(image[:400, 50:450], (256, 256), interpolation=cv2.INTER_AREA)


def test_identity_motion_returns_the_target_at_its_own_size_and_colour(photo):
    native = to_tensor_frames(photo[None])                                   # (1, 3, 256, 256)
    identity = coordinate_grid(32, 32)[None].expand(2, -1, -1, -1)           # the model's grid is 32 px
    prediction = torch.rand(2, 3, 64, 64)                                    # what the decoder made: unused
    out = render_native(native, prediction, torch.ones(2, 1, 32, 32), identity)
    assert out.shape == (2, 3, 256, 256)
    torch.testing.assert_close(out, native.expand(2, -1, -1, -1), rtol=0, atol=1e-4)
    # where the occlusion map says the warp cannot show the target, the decoder's output fills in
    occlusion = torch.ones(1, 1, 32, 32)
    occlusion[..., :8, :8] = 0
    out = render_native(native, prediction[:1], occlusion, identity[:1])
    decoded = torch.nn.functional.interpolate(prediction[:1], size=(256, 256), mode="bilinear", align_corners=False)
    torch.testing.assert_close(out[..., :32, :32], decoded[..., :32, :32], rtol=0, atol=1e-5)
    torch.testing.assert_close(out[..., 128:, 128:], native[..., 128:, 128:], rtol=0, atol=1e-4)


@pytest.mark.parametrize("shift_px", [(0.7, -0.4), (0.25, 0.1)])
def test_a_known_deformation_moves_the_native_target_by_that_deformation(photo, shift_px):
    """A deformation predicted on a 32-px grid, rendered at 256 px, moves the pixels as OpenCV's warp by
    the same field in 256-px units does (to a tenth of the move's own size)."""
    native = to_tensor_frames(photo[None])
    shift = torch.tensor(shift_px)
    deformation = coordinate_grid(32, 32)[None] + shift * (2.0 / 256)        # [-1, 1] units of any grid
    out = render_native(native, torch.zeros(1, 3, 64, 64), torch.ones(1, 1, 32, 32), deformation)
    truth = warp_backward(photo.astype(np.float32) / 255, np.broadcast_to(np.float32(shift_px), (256, 256, 2)))
    got = out[0].permute(1, 2, 0).numpy()
    inner = (slice(8, -8), slice(8, -8))                                     # borders are replicated differently
    err = np.abs(got - truth)[inner].mean()
    moved = np.abs(photo.astype(np.float32) / 255 - truth)[inner].mean()
    assert err < 0.1 * moved, (err, moved)


def test_warp_pixels_of_zero_flow_is_the_image():
    image = torch.rand(1, 3, 20, 24)
    torch.testing.assert_close(warp_pixels(image, torch.zeros(1, 20, 24, 2)), image, rtol=0, atol=1e-5)


def test_flow_guided_motion_starts_as_its_guide():
    net = FlowGuidedDenseMotion(num_channels=3, prior_maps=1, block_expansion=8, num_blocks=2, max_features=16,
                                scale_factor=0.5)
    source = torch.rand(2, 3, 32, 32)
    guide = torch.randn(2, 64, 64, 2) * 0.5                                  # px of a 64-px grid over the source
    out = net(source, torch.rand(2, 1, 16, 16), guide)
    assert out["deformation"].shape == (2, 16, 16, 2) and out["occlusion"].shape == (2, 1, 16, 16)
    assert float(out["residual"].abs().max()) == 0.0 and float(out["occlusion"].min()) > 0.95
    torch.testing.assert_close(out["deformation"], flow_to_deformation(resize_flow(guide, (16, 16))))
    # a pixel shift is resolution-free in [-1, 1] units: 2 px at 64 is 0.5 px at 16
    torch.testing.assert_close(resize_flow(torch.full((1, 64, 64, 2), 2.0), (16, 16)), torch.full((1, 16, 16, 2), 0.5))


def test_classical_flow_measures_a_shift_between_frames(photo):
    import cv2

    gray = cv2.resize(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), (64, 64), interpolation=cv2.INTER_AREA)
    moved = warp_backward(gray, np.broadcast_to(np.float32([1.0, -0.5]), (64, 64, 2)))
    frames = lambda g: torch.from_numpy(g).float().div(255)[None, None].expand(1, 3, -1, -1)  # noqa: E731
    flow = classical_backward_flow(frames(moved), frames(gray))              # driving -> source
    assert flow.shape == (1, 64, 64, 2)
    np.testing.assert_allclose(flow[0, 16:48, 16:48].mean((0, 1)).numpy(), [1.0, -0.5], atol=0.15)


def test_the_flow_family_trains_and_generates_natively(tmp_path):
    from megen.animation import Animator, generate_pair
    from megen.train import train

    overrides = ["model=flow", "dataset.n_subjects=4", "dataset.clips_per_subject=2", "dataset.frame_size=32",
                 "model.dense_motion.block_expansion=8", "model.dense_motion.max_features=16",
                 "model.dense_motion.num_blocks=2", "model.generator.block_expansion=8",
                 "model.generator.max_features=16", "model.generator.num_bottleneck_blocks=1",
                 "data.batch_size=2", "data.repeats=1", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
                 "trainer.limit_val_batches=1", "trainer.enable_model_summary=false", "evaluate_at_end=false",
                 "trainer.log_every_n_steps=1",   # the diagnostics callback runs on the first step
                 f"paths.data_dir={tmp_path / 'data'}", f"paths.output_root={tmp_path / 'out'}"]
    cfg = compose_train(*overrides, run_dir=str(tmp_path / "run"))
    train(cfg)
    ckpt = next((tmp_path / "run" / "checkpoints").glob("last.ckpt"))
    gen = Animator.from_checkpoint(ckpt)
    assert gen.family == "flow"
    assert gen.trained_motion_px == pytest.approx(4.0 * 32 / 64)     # apex up to 4 px of a 64-px frame, at 32
    photo, driver = embedded_photo_paths()
    import json

    clip = str(_driving_clip(tmp_path, driver))
    folder = generate_pair(gen, photo, clip, tmp_path / "gen", render="native")

    timing = json.loads((folder / "timing.json").read_text())
    assert timing["render"] == "native" and timing["color"] == "rgb" and timing["frame_size"] > 100
    assert len(list((folder / "frames").glob("*.png"))) == 4
    # retimed to twice the rate: the shared times are the same frames, the others in between
    from megen.face.controls import MotionControls

    retimed = generate_pair(gen, photo, clip, tmp_path / "retimed", render="native", fps=100,
                            controls=MotionControls(out_fps=200.0))
    again = json.loads((retimed / "timing.json").read_text())
    assert again["frames"] == 8 and again["capture_fps"] == 200 and again["capture_fps_source"] == "out_fps="
    assert again["resampled_from"]["frames"] == 4 and again["resampled_from"]["capture_fps"] == 100
    frames = lambda f, n: read_image(f / "frames" / f"{n:05d}.png").astype(int)  # noqa: E731
    assert all(np.abs(frames(retimed, 2 * k) - frames(folder, k)).max() <= 1 for k in range(4))
    # the synthetic evaluation of the flow-guided family, in both renders (the driver's frames are its own
    # full-resolution crops there), scored against the same truth
    from megen.evaluation import evaluate_checkpoint

    cache = next((tmp_path / "data" / "cache").glob("synthetic-*"))
    l1 = {}
    for render in ("native", "decoder"):
        results = evaluate_checkpoint(ckpt, cache, {"val": 0.25, "test": 0.25, "seed": 0}, tmp_path / render,
                                      face_metrics=False, max_pairs=1, show_progress=False, gen=gen, render=render)
        assert results["render"] == render
        l1[render] = results["cross_identity"]["l1"]
        assert np.isfinite(l1[render]["model"]) and l1[render]["static"] > 0
        assert np.isfinite(results["reconstruction"]["epe"]["model"])
    assert l1["native"]["static"] == l1["decoder"]["static"] and l1["native"]["model"] != l1["decoder"]["model"]
    # augment with controls: each clip draws its gain from the range, and with no gain and no head the target
    # stays still
    from megen.augmentation import augment
    from megen.data.cache import PreparedSet

    ranged = augment(gen, [cache], tmp_path / "ranged", per_clip=1, checkpoint=str(ckpt), batch_size=8,
                     progress=False, gain=[0.5, 1.5], head="remove")
    gains = [float(r["gain"]) for r in PreparedSet.open(ranged.folder).rows]
    assert all(0.5 <= g <= 1.5 for g in gains) and len(set(gains)) == len(gains) > 1
    assert ranged.meta["settings"]["controls"] == {"head": "remove", "gain": [0.5, 1.5], "regions": None}
    still = PreparedSet.open(augment(gen, [cache], tmp_path / "still", per_clip=1, checkpoint=str(ckpt),
                                     batch_size=8, progress=False, gain=0.0, head="remove").folder)
    moving = PreparedSet.open(augment(gen, [cache], tmp_path / "moving", per_clip=1, checkpoint=str(ckpt),
                                      batch_size=8, progress=False).folder)
    change = [np.abs(s.load(i)["frames"].astype(int) - s.load(i)["frames"][:1]).max() for s in (still, moving)
              for i in range(len(s))]
    assert max(change[:len(still)]) <= 1 < max(change[len(still):])
    # augment's timing: every clip at 100 fps and stretched by its own draw; the manifest says the generated
    # clip's frames, rate and apex
    timed = augment(gen, [cache], tmp_path / "timed", per_clip=1, checkpoint=str(ckpt), batch_size=8,
                    progress=False, out_fps=100.0, stretch=[1.5, 2.0])
    timed_set, source = PreparedSet.open(timed.folder), PreparedSet.open(cache)
    drivers = {f"{r['dataset']}/{r['subject']}/{r['clip']}": r for r in source.rows}
    for i, row in enumerate(timed_set.rows):
        driver, stretch = drivers[row["generated_from"]], float(row["stretch"])
        assert 1.5 <= stretch <= 2.0 and float(row["fps"]) == 100.0
        assert len(timed_set.load(i)["frames"]) == int(row["n_frames"]) == round(
            int(driver["n_frames"]) * stretch * 100.0 / float(driver["fps"]))
        assert int(row["apex"]) == round(int(driver["apex"]) * stretch * 100.0 / float(driver["fps"]))
    assert len({r["stretch"] for r in timed_set.rows}) == len(timed_set.rows) > 1


def _driving_clip(tmp_path, photo_path):
    """Four frames of a face whose brow region slides down a little."""
    from megen.runtime.video import write_png

    image = read_image(photo_path)
    folder = tmp_path / "drive"
    folder.mkdir()
    for k in range(4):
        field = np.zeros((*image.shape[:2], 2), np.float32)
        field[: image.shape[0] // 2, :, 1] = -0.5 * k
        frame = warp_backward(image, field)
        write_png(folder / f"{k}.png", frame if frame.ndim == 3 else np.repeat(frame[..., None], 3, -1))
    return folder


def test_a_driver_far_beyond_the_training_motion_gets_one_warning_line(photo):
    import cv2

    from megen.animation.amplitude import out_of_range_warning

    gray = cv2.resize(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), (64, 64), interpolation=cv2.INTER_AREA)

    def clip(px):   # the whole face slides by up to px
        frames = [warp_backward(gray, np.broadcast_to(np.float32([px * k / 5, 0]), (64, 64, 2))) for k in range(6)]
        return torch.from_numpy(np.stack(frames)).float().div(255)[:, None].expand(-1, 3, -1, -1)

    assert out_of_range_warning(clip(1.0), trained_px=4.0, frame_size=64) is None
    line = out_of_range_warning(clip(12.0), trained_px=4.0, frame_size=64)
    assert line is not None and "\n" not in line
    measured = float(line.split(" moves ")[1].split(" px")[0])
    assert 7.0 < measured < 13.0 and "beyond the 4.0 px it was trained on" in line
    # without a recorded range, the real-data bound (4 px of a 256-px face: 1 px at 64)
    assert "beyond the 1.0 px" in out_of_range_warning(clip(3.0), trained_px=None, frame_size=64)


def test_rendering_natively_tracks_key_points_on_the_driving_clips_full_resolution_crop(photo):
    """The landmarks-mode key points of a key-point model are tracked on the driver's 256-px crop when one is
    given (render=native), and handed to the model in [-1, 1] units; without it, on the model's frames."""
    from omegaconf import OmegaConf

    from megen.animation import FaceInput, animate
    from megen.face.prior import PriorSetting
    from megen.models.full import build_model

    cfg = compose_train("model=fomm", "prior.keypoint_mode=landmarks")
    prior = PriorSetting.from_config(cfg.prior, 64, cfg.model.motion.scale_factor)
    model = build_model(OmegaConf.to_container(cfg.model, resolve=True), prior.model_args()).eval()
    assert model.tracks_landmarks
    seen = []
    forward = model.motion_net.forward
    model.motion_net.forward = lambda *a, tracked=None, **kw: seen.append(tracked) or forward(*a, tracked=tracked, **kw)
    gray = photo.mean(-1).astype(np.uint8)
    shift = np.float32([0.3, -0.2])                          # px of the 256 crop: under 0.1 px at 64
    native = to_tensor_frames(np.stack([gray, warp_backward(gray, np.broadcast_to(-shift, (256, 256, 2)))]))
    small = torch.nn.functional.avg_pool2d(native, 4).expand(-1, 3, -1, -1)
    maps = torch.rand(1, prior.channels, prior.map_size, prior.map_size)
    kp = torch.rand(1, prior.num_keypoints, 2, generator=torch.Generator().manual_seed(0)) * 0.8 - 0.4
    target = FaceInput(small[:1], maps, kp, None, True, native[:1], None)
    animate(model, target, FaceInput(small, maps, kp, None, True, native, None), render="native")
    tracked = seen[-1] * 128                                  # px of the 256 crop
    assert tracked.shape == (2, prior.num_keypoints, 2) and tracked[0].abs().max() == 0
    assert (tracked[1] - torch.from_numpy(shift)).norm(dim=-1).median() < 0.05
    seen.clear()
    animate(model, target, FaceInput(small, maps, kp, None, True, None, None), render="native")
    assert all(t is None for t in seen)
