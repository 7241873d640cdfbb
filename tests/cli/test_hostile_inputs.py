"""Generation's inputs as users bring them: odd, tiny and huge sizes, RGBA, 16-bit, CMYK and
EXIF-rotated images, two faces in one photo, a driving clip whose face leaves the frame, and
encoder failures, which are one line and leave nothing under the final name."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from megen.animation.driving import faceless_warning, frame_ranges
from megen.animation.outputs import write_outputs
from megen.animation.pair import find_face, load_target
from megen.runtime.video import VideoWriteError, read_image, read_video, write_video
from megen.synthetic import embedded_photo_paths
from megen.synthetic.identities import base_face


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    image = read_image(embedded_photo_paths()[0])
    return image[..., :3] if image.ndim == 3 else np.repeat(image[..., None], 3, -1)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(height=st.integers(63, 517), width=st.integers(63, 517), seed=st.integers(0, 2**16))
def test_any_output_size_encodes_and_the_frames_keep_it(tmp_path_factory, height, width, seed):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (2, height, width, 3), dtype=np.uint8)
    out = tmp_path_factory.mktemp("sizes")
    folder = write_outputs(out, "pair", frames[:1], frames, frames, fps=100.0)
    timing = json.loads((folder / "timing.json").read_text())
    assert timing["mp4_padding_px"] == [height % 2, width % 2]
    assert cv2.imread(str(folder / "frames" / "00001.png")).shape == (height, width, 3)
    video, _ = read_video(folder / "pair.mp4")
    assert video[0].shape == (height + height % 2, width + width % 2, 3)
    assert Image.open(folder / "pair.gif").size == (width, height)
    assert not list(out.glob("*.ffmpeg.log")) and not (folder / "ffmpeg.log").exists()


def test_the_padding_repeats_the_last_row_and_column(tmp_path):
    frames = np.zeros((3, 5, 7, 3), np.uint8)
    frames[:, -1, :] = 200      # a bright last row survives H.264 as a bright padded row
    write_video(tmp_path / "v.mp4", frames, 10)
    video, _ = read_video(tmp_path / "v.mp4")
    assert video[0].shape == (6, 8, 3)
    assert video[0][-1].mean() > 150 and video[0][0].mean() < 50


def test_an_encoder_failure_is_one_line_with_its_log_and_no_partial_file(tmp_path, monkeypatch):
    import imageio_ffmpeg

    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho 'banner line' >&2\necho '[libx264 @ 0x1] width not divisible by 2' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: str(fake))
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(VideoWriteError) as err:
        write_video(tmp_path / "v.mp4", frames, 10, log=tmp_path / "v.log")
    message = str(err.value)
    assert "\n" not in message and "width not divisible by 2" in message and str(tmp_path / "v.log") in message
    assert "banner line" in (tmp_path / "v.log").read_text()
    assert not (tmp_path / "v.mp4").exists() and not list(tmp_path.glob(".v.partial*"))
    # through the pair writer: the final folder never appears, the log stays in the output folder
    with pytest.raises(VideoWriteError):
        write_outputs(tmp_path / "out", "pair", frames[:1], frames, frames, fps=10.0)
    assert not (tmp_path / "out" / "pair").exists() and (tmp_path / "out" / "pair.ffmpeg.log").is_file()


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_rotated_jpegs_are_read_upright(tmp_path, photo, orientation):
    image = Image.fromarray(np.ascontiguousarray(photo[:90, :60]))
    exif = image.getexif()
    exif[0x0112] = orientation
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif, quality=95)
    upright = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)   # OpenCV applies EXIF here
    got = read_image(path)
    assert got.shape == upright.shape and np.array_equal(got, upright)
    assert got.shape[:2] == ((60, 90) if orientation in (6, 8) else (90, 60))


def test_rgba_16_bit_and_cmyk_targets_are_read_with_their_face(tmp_path, photo):
    rgba = np.concatenate([photo, np.full(photo.shape[:2] + (1,), 255, np.uint8)], -1)
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    cv2.imwrite(str(tmp_path / "deep.png"), cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257)
    Image.fromarray(photo).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    reference = find_face(photo, "photo")
    for name in ("rgba.png", "deep.png", "cmyk.jpg"):
        image, landmarks = load_target(tmp_path / name)
        assert image.shape[:2] == photo.shape[:2], name
        assert np.abs(landmarks - reference).mean() < 3.0, name


def test_two_faces_use_the_largest_and_say_so(photo, capsys):
    small = cv2.resize(photo, (photo.shape[1] * 2 // 3, photo.shape[0] * 2 // 3), interpolation=cv2.INTER_AREA)
    canvas = np.full((photo.shape[0], photo.shape[1] + small.shape[1], 3), 255, np.uint8)
    canvas[:, :photo.shape[1]] = photo
    canvas[:small.shape[0], photo.shape[1]:] = small
    landmarks = find_face(canvas, "two.png")
    said = capsys.readouterr().out
    assert "2 faces found in two.png; the largest" in said
    assert landmarks[:, 0].max() < photo.shape[1]       # the larger face, on the left


def test_a_driving_clip_whose_face_leaves_the_crop_names_the_frames():
    identity = base_face(str(embedded_photo_paths()[0]), 256)      # a face crop, as the driving clip's is
    gray = (identity.image * 255).round().astype(np.uint8)
    blank = np.full_like(gray, int(gray.mean()))
    clip = np.stack([gray] * 6 + [blank] * 4 + [gray] * 2)
    message = faceless_warning("walk_off", clip)
    assert message is not None and "frame(s) 6-9 of 12" in message and "walk_off" in message
    assert faceless_warning("still", np.stack([gray] * 4)) is None


def test_frame_ranges_are_compact():
    assert frame_ranges([0, 1, 2, 5, 7, 8]) == "0-2, 5, 7-8"
    assert frame_ranges([]) == ""


@pytest.mark.parametrize("side", [80, 2000])
def test_tiny_and_huge_targets_keep_a_face(tmp_path, photo, side):
    path = tmp_path / f"t{side}.png"
    cv2.imwrite(str(path), cv2.cvtColor(cv2.resize(photo, (side, side), interpolation=cv2.INTER_CUBIC
                                                   if side > photo.shape[0] else cv2.INTER_AREA), cv2.COLOR_RGB2BGR))
    image, landmarks = load_target(Path(path))
    assert image.shape[:2] == (side, side) and landmarks.shape == (68, 2)
    assert 0 <= landmarks.min() and landmarks.max() < side
