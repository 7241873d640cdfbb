from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from helpers import run_module, write_megc_kit

from megen.animation import Animator, GenerationError, generate_pair, load_driving
from megen.animation.megc import run_protocol
from megen.runtime.video import read_image, read_video, write_video
from megen.synthetic import embedded_photo_paths


@pytest.fixture(scope="module")
def gen(tiny_run):
    run, _, _ = tiny_run
    return Animator.from_checkpoint(run / "checkpoints" / "last.ckpt")


@pytest.fixture(scope="module")
def driving_clip(tiny_run):
    """A prepared synthetic clip with visible motion (frames (T, 64, 64) uint8) and its id."""
    from megen.data.cache import PreparedSet

    _, cfg, _ = tiny_run
    folder = next(Path(cfg.paths.cache_dir).glob("synthetic-*"))
    prepared = PreparedSet.open(folder)
    moves = [np.abs(prepared.load(i)["frames"].astype(int) - prepared.load(i)["frames"][0]).max() for i in range(len(prepared))]
    i = int(np.argmax(moves))
    return prepared.load(i)["frames"], prepared.rows[i]["clip"]


@pytest.fixture(scope="module")
def frame_folder(tmp_path_factory, driving_clip):
    folder = tmp_path_factory.mktemp("drv") / "clip_ünïcode"
    folder.mkdir()
    for i, f in enumerate(driving_clip[0]):
        cv2.imwrite(str(folder / f"img{i + 1}.png"), f)          # img10 must sort after img9
    return folder


def _target():
    return embedded_photo_paths()[0]


def test_generate_from_a_frame_folder(gen, frame_folder, tmp_path, driving_clip):
    out = generate_pair(gen, _target(), str(frame_folder), tmp_path)
    frames = sorted((out / "frames").glob("*.png"))
    assert len(frames) == len(driving_clip[0])
    assert (out / f"{out.name}.mp4").stat().st_size > 0 and (out / f"{out.name}.gif").stat().st_size > 0
    sheet = read_image(out / "sheet.png")
    top = sheet.shape[0] - 4 * (64 + 2) - 2      # the title above the grid says what the frames are
    assert top > 0 and (sheet[:top] < 128).any()
    rows = np.split(sheet[top + 2:], 4, axis=0)
    # difference rows: the driving clip moves, so its difference row is non-zero; the generated row is rendered
    assert rows[2][:, 70:].max() > 0
    assert read_image(frames[0]).shape == (64, 64, 3)
    assert not list(tmp_path.glob(".*partial*"))


def test_generate_from_mp4_and_dataset_id(gen, frame_folder, tmp_path, driving_clip, tiny_run):
    frames = np.repeat(driving_clip[0][..., None], 3, axis=-1)
    video = tmp_path / "drive.mp4"
    write_video(video, frames, fps=200)
    decoded, fps = read_video(video)
    assert len(decoded) == len(frames) and fps == pytest.approx(200)
    out = generate_pair(gen, _target(), str(video), tmp_path / "mp4")
    assert len(list((out / "frames").glob("*.png"))) == len(frames)
    _, cfg, _ = tiny_run
    out2 = generate_pair(gen, _target(), f"synthetic:{driving_clip[1]}", tmp_path / "ds", cache_dir=cfg.paths.cache_dir,
                         find_best_frame=True, adapt_movement_scale=True)
    assert len(list((out2 / "frames").glob("*.png"))) == len(frames)


def test_relative_generation_of_the_onset_is_the_zero_motion_output(gen, driving_clip):
    from megen.animation import animate

    target = gen.face_input([read_image(_target())])
    still = np.repeat(driving_clip[0][:1], 3, axis=0)
    driving = gen.face_input(list(still), crop=False, landmarks=None)
    out = animate(gen.model, target, driving, batch_size=2)
    torch.testing.assert_close(out[0], out[1])
    torch.testing.assert_close(out[1], out[2])


def test_bad_inputs_are_named(gen, tmp_path, frame_folder):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((300, 300), 128, np.uint8))
    with pytest.raises(GenerationError, match="blank.png.*crop=false"):
        generate_pair(gen, blank, str(frame_folder), tmp_path)
    out = generate_pair(gen, blank, str(frame_folder), tmp_path, crop=False)   # as-is works
    assert out.is_dir()
    one = tmp_path / "one"
    one.mkdir()
    cv2.imwrite(str(one / "img1.png"), np.zeros((64, 64), np.uint8))
    with pytest.raises(GenerationError, match="at least 2"):
        load_driving(str(one))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    with pytest.raises(ValueError, match="broken.mp4"):
        load_driving(str(broken))
    with pytest.raises(GenerationError, match="not found in prepared caches"):
        load_driving("casme2:EP01_01f", str(tmp_path))


def test_checkpoint_checks(tiny_run, tmp_path):
    run, _, _ = tiny_run
    with pytest.raises(GenerationError, match="holds a 'fomm' model, not 'mraa'"):
        Animator.from_checkpoint(run / "checkpoints" / "last.ckpt", family="mraa")
    bogus = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}}, bogus)
    with pytest.raises(GenerationError, match="other.ckpt is not a megen"):
        Animator.from_checkpoint(bogus)


def test_cli_exits_non_zero_with_a_message(tiny_run, tmp_path):
    run, _, _ = tiny_run
    out = run_module("megen.generate", f"ckpt={run / 'checkpoints' / 'last.ckpt'}", f"target={tmp_path / 'no.png'}",
                     f"driving={tmp_path}", f"out={tmp_path / 'o'}", cwd=tmp_path)
    assert out.returncode == 2 and "no.png" in out.stderr


def test_megc2022_protocol_on_a_generated_kit(gen, tmp_path, driving_clip):
    write_megc_kit(tmp_path / "kit", "megc2022", driving_clip[0][:4])
    folders = run_protocol(gen, "megc2022", tmp_path / "kit", tmp_path / "out", batch_size=4)
    assert len(folders) == 36
    assert {"EP01_01f-Template_Male_Europe", "s20_sur_01-Template_Female_Asian"} <= {f.name for f in folders}
    assert (tmp_path / "out" / "megc2022-overview.png").is_file()
    with pytest.raises(FileNotFoundError, match="normalized_westernMale.jpg"):
        run_protocol(gen, "megc2021", tmp_path / "kit", tmp_path / "out21")


def test_magnify_generates_natively_and_refuses_the_decoder(gen, frame_folder, tmp_path, driving_clip):
    """magnify=4: the key-point model sees the driver's motion magnified, the target moves by its de-magnified
    motion at its own size; the decoder's frames (magnified motion) are refused by name."""
    out = generate_pair(gen, _target(), str(frame_folder), tmp_path / "mag", render="native", magnify=4.0)
    frames = sorted((out / "frames").glob("*.png"))
    assert len(frames) == len(driving_clip[0]) and read_image(frames[0]).shape[0] > 64
    with pytest.raises(ValueError, match="magnify=4 renders the target warped at its own size"):
        generate_pair(gen, _target(), str(frame_folder), tmp_path / "dec", render="decoder", magnify=4.0)
