"""``python -m megen.generate`` as a user meets it: fast, complete errors before the checkpoint is
loaded, progress in logs, one-line video errors, and the MEGC kit checked and documented."""
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import REPO, run_module, run_module_imports, write_megc_kit

from megen.data.megc_kit import MEGC_CLIPS, TEMPLATES, kit_markdown
from megen.runtime.video import contact_sheet, read_image
from megen.synthetic import embedded_photo_paths

DOCS = REPO / "docs"
PROGRESS_EVERY_BATCH = {**os.environ, "MEGEN_PROGRESS_INTERVAL": "0"}


@pytest.fixture(scope="module")
def ckpt(tiny_run):
    return tiny_run[0] / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def clip_frames(tiny_run):
    """The frames of a prepared synthetic clip (T, 64, 64) uint8, faces the detector finds when enlarged."""
    from megen.data.cache import PreparedSet

    prepared = PreparedSet.open(next(Path(tiny_run[1].paths.cache_dir).glob("synthetic-*")))
    return prepared.load(0)["frames"]


@pytest.fixture(scope="module")
def frame_folder(tmp_path_factory, clip_frames):
    folder = tmp_path_factory.mktemp("drv") / "clip"
    folder.mkdir()
    for i, f in enumerate(clip_frames[:5]):
        cv2.imwrite(str(folder / f"img{i + 1}.png"), cv2.resize(f, (256, 256)))
    return folder


def _error_line(out) -> str:
    assert out.returncode == 2, out.stderr[-2000:]
    lines = [x for x in out.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    return lines[0]


def test_missing_inputs_are_all_named_before_torch_is_imported(tmp_path):
    out, imported = run_module_imports("megen.generate", "ckpt=x.ckpt", "target=/missing.png", "driving=/missing",
                                       f"out={tmp_path / 'o'}", cwd=tmp_path)
    line = _error_line(out)
    assert "ckpt=x.ckpt (no such file)" in line and "target=/missing.png (no such file)" in line
    assert "driving=/missing (no such frame folder or video file" in line
    assert not imported, f"imported {imported} before reporting a missing file"
    assert not (tmp_path / "o").exists()


def test_inputs_are_decoded_and_faces_found_before_the_checkpoint_is_loaded(tmp_path, frame_folder):
    not_a_checkpoint = tmp_path / "model.ckpt"
    not_a_checkpoint.write_bytes(b"not a checkpoint")
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200), 128, np.uint8))
    out = run_module("megen.generate", f"ckpt={not_a_checkpoint}", f"target={blank}", f"driving={frame_folder}",
                     f"out={tmp_path / 'o'}", cwd=tmp_path)
    line = _error_line(out)
    assert "blank.png" in line and "crop=false" in line and "checkpoint" not in line
    corrupt = tmp_path / "face.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff not really a jpeg")
    out = run_module("megen.generate", f"ckpt={not_a_checkpoint}", f"target={corrupt}", f"driving={frame_folder}",
                     f"out={tmp_path / 'o'}", cwd=tmp_path)
    assert "cannot read image" in _error_line(out) and "face.jpg" in out.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("content", [b"not a video", b""])
def test_a_broken_video_is_one_line_without_the_ffmpeg_banner(tmp_path, ckpt, content):
    video = tmp_path / "talk.mp4"
    video.write_bytes(content)
    out = run_module("megen.generate", f"ckpt={ckpt}", f"target={embedded_photo_paths()[0]}", f"driving={video}",
                     f"out={tmp_path / 'o'}", cwd=tmp_path)
    line = _error_line(out)
    assert line.startswith(f"error: cannot read video {video}")
    assert "ffmpeg version" not in out.stderr and "configuration:" not in out.stderr and len(line) < 300


def test_generation_logs_progress_and_never_imports_lightning(tmp_path, ckpt, frame_folder):
    out, imported = run_module_imports("megen.generate", f"ckpt={ckpt}", f"target={embedded_photo_paths()[0]}",
                                       f"driving={frame_folder}", f"out={tmp_path / 'o'}", "batch_size=2",
                                       cwd=tmp_path, env=PROGRESS_EVERY_BATCH)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "pytorch_lightning" not in imported
    name = f"clip-{Path(embedded_photo_paths()[0]).stem}"
    lines = out.stdout.splitlines()
    assert f"generating {name}: 0/5 frames (0%)" in lines
    assert any(x.startswith(f"generating {name}: 2/5 frames (40%), ") and "frames/s, ETA" in x for x in lines)
    assert any(x.startswith(f"generating {name}: 5/5 frames (100%), done in") for x in lines)
    assert (tmp_path / "o" / name / f"{name}.mp4").is_file()


def test_the_whole_kit_is_checked_before_the_checkpoint(tmp_path, clip_frames):
    write_megc_kit(tmp_path / "kit", "megc2021", clip_frames[:3], skip={"EP01_13", "s3_po_05", "normalized_asianFemale.jpg"})
    not_a_checkpoint = tmp_path / "model.ckpt"
    not_a_checkpoint.write_bytes(b"x")
    out, imported = run_module_imports("megen.generate", f"ckpt={not_a_checkpoint}", "protocol=megc2021",
                                       f"megc_root={tmp_path / 'kit'}", f"out={tmp_path / 'o'}", cwd=tmp_path)
    line = _error_line(out)
    assert "missing 3 of 11" in line
    for item in ("target_template_face/normalized_asianFemale.jpg", "casme2_challenge/Surprise_EP01_13/",
                 "Smic_challenge/Positive_s3_po_05/"):
        assert item in line
    assert "docs/generation.md" in line and not imported


def test_protocol_logs_pairs_and_labels_the_overview(tmp_path, ckpt, clip_frames):
    write_megc_kit(tmp_path / "kit", "megc2021", clip_frames[:3])
    out = run_module("megen.generate", f"ckpt={ckpt}", "protocol=megc2021", f"megc_root={tmp_path / 'kit'}",
                     f"out={tmp_path / 'o'}", "batch_size=3", cwd=tmp_path, env=PROGRESS_EVERY_BATCH)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert "megc2021 pairs: 0/18 pairs (0%)" in lines
    assert any(x.startswith("megc2021 pairs: 9/18 pairs (50%), ") and "ETA" in x for x in lines)
    assert any(x.startswith("megc2021 pairs: 18/18 pairs (100%), done in") for x in lines)
    assert len(list((tmp_path / "o").glob("*/frames"))) == 18
    sheet = read_image(tmp_path / "o" / "megc2021-overview.png")
    plain = contact_sheet([np.zeros((6, 3, 64, 64))] * 9)
    # the labels add a left margin (clip ids) and a header (templates) around the 9 x 6 grid
    assert sheet.shape[0] > plain.shape[0] and sheet.shape[1] > plain.shape[1]
    left, top = sheet.shape[1] - plain.shape[1], sheet.shape[0] - plain.shape[0]
    assert (sheet[top:, :left] < 128).any() and (sheet[:top] < 128).any()
    # the kit's frame folders record no rate: each clip takes its dataset's, the videos play at 25 fps
    for folder, rate, source in [("EP01_01f-normalized_westernMale", 200, "casme2"),
                                 ("s3_po_05-normalized_westernMale", 100, "smic")]:
        timing = json.loads((tmp_path / "o" / folder / "timing.json").read_text())
        assert timing["capture_fps"] == rate and timing["capture_fps_source"] == f"{source} frame rate"
        assert timing["playback_fps"] == 25 and timing["playback_duration_s"] == timing["frames"] / 25


def test_labelled_contact_sheet_puts_text_where_it_says():
    rows = [np.ones((4, 3, 32, 32))] * 2
    sheet = contact_sheet(rows, row_labels=["EP01_01f\ncasme2 Positive", "s3_po_05"],
                          column_labels=["normalized_westernMale", "normalized_asianFemale"], title="megc2021")
    plain = contact_sheet(rows)
    left, top = sheet.shape[1] - plain.shape[1], sheet.shape[0] - plain.shape[0]
    assert left > 40 and top > 20
    for r in range(2):                          # each row label sits beside its row
        y = top + 2 + r * 34
        assert (sheet[y:y + 32, :left] < 128).any()
    for g in range(2):                          # each template label spans its group of columns
        x = left + 2 + g * 2 * 34
        assert (sheet[:top, x:x + 68] < 128).any()
    with pytest.raises(ValueError, match="3 column labels"):
        contact_sheet(rows, column_labels=["a", "b", "c"])


def test_the_generation_page_documents_the_kit_as_the_code_reads_it():
    text = (DOCS / "generation.md").read_text()
    assert kit_markdown() in text
    for names in TEMPLATES.values():
        assert all(name in text for name in names)
    assert all(clip in text for clip in MEGC_CLIPS) and len(MEGC_CLIPS) == 9



class _NotATensor:
    pass


def test_a_file_that_is_not_a_checkpoint_is_named_without_the_unsafe_advice(tmp_path):
    import torch

    target = embedded_photo_paths()[0]
    driving = tmp_path / "drv"
    driving.mkdir()
    for i in range(2):
        (driving / f"img{i + 1}.png").write_bytes(Path(embedded_photo_paths()[1]).read_bytes())
    photo = tmp_path / "face.jpg"
    photo.write_bytes(Path(target).read_bytes())
    out = run_module("megen.generate", f"ckpt={photo}", f"target={target}", f"driving={driving}",
                     f"out={tmp_path / 'o'}", cwd=tmp_path)
    line = _error_line(out)
    assert line == (f"error: {photo} is not a megen checkpoint (not a file written by torch.save; "
                    f"training writes them to <run folder>/checkpoints/*.ckpt)")
    assert "MEGEN_ALLOW_UNSAFE_CHECKPOINTS" not in out.stderr

    pickled = tmp_path / "pickled.ckpt"
    torch.save({"state_dict": {}, "payload": _NotATensor()}, pickled)
    out = run_module("megen.generate", f"ckpt={pickled}", f"target={target}", f"driving={driving}",
                     f"out={tmp_path / 'o'}", cwd=tmp_path)
    line = _error_line(out)
    assert line.startswith(f"error: cannot load checkpoint {pickled} safely: it holds Python objects besides tensors")
    assert "_NotATensor is not allowed" in line and line.endswith("set MEGEN_ALLOW_UNSAFE_CHECKPOINTS=1.")
    page = (DOCS / "troubleshooting.md").read_text()
    assert "is not a megen checkpoint" in page and "it holds Python objects besides tensors" in page


def _fail_after_writing_started(error):
    def generate_pair(animator, target, driving, out, **kwargs):
        (Path(out) / ".clip-x.partial" / "frames").mkdir(parents=True)
        (Path(out) / "empty" / "nested").mkdir(parents=True)
        raise error
    return generate_pair


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt(),
                                   RuntimeError("a torch failure")])
def test_a_failed_generation_leaves_no_empty_output_folders(tmp_path, monkeypatch, error):
    """A user-facing failure (disk full) is one line and exit 2, Ctrl-C and a crash keep their own exception
    (a torch failure keeps its traceback); none of them leaves an empty output folder."""
    from hydra import compose, initialize_config_dir

    import megen.animation
    import megen.animation.pair
    from megen.generate import main
    from megen.runtime.paths import conf_dir

    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"")
    driving = tmp_path / "drv"
    driving.mkdir()
    for i in range(2):
        (driving / f"img{i + 1}.png").write_bytes(Path(embedded_photo_paths()[1]).read_bytes())
    monkeypatch.setattr(megen.animation.Animator, "from_checkpoint", classmethod(lambda cls, *a, **k: object()))
    monkeypatch.setattr(megen.animation.pair, "generate_pair", _fail_after_writing_started(error))
    monkeypatch.chdir(tmp_path)
    for out, kept in [(tmp_path / "new" / "run", None), (tmp_path / "old", tmp_path / "old" / "clip-a" / "a.mp4")]:
        if kept:
            kept.parent.mkdir(parents=True)
            kept.write_bytes(b"an earlier result")
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = compose("generate", overrides=[f"ckpt={ckpt}", f"target={embedded_photo_paths()[0]}",
                                                 f"driving={driving}", f"out={out}", "progress=false"])
        with pytest.raises((SystemExit, KeyboardInterrupt, RuntimeError)) as raised:
            main.__wrapped__(cfg)    # the Hydra main's body: user errors, folder clean-up, run
        if isinstance(error, OSError):
            assert raised.value.code == 2
        if isinstance(error, RuntimeError):
            assert raised.value is error
        if kept:
            assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["clip-a", "clip-a/a.mp4"]
        else:
            assert not (tmp_path / "new").exists()


def test_help_lists_every_generation_option_on_one_line_and_no_training_group(tmp_path):
    from dataclasses import fields

    from megen.config.schema import GenerateOptions

    out = run_module("megen.generate", "--help", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    keys = [key for f in fields(GenerateOptions) for key in (
        [f"{f.name}.{g.name}" for g in fields(f.default_factory)] if f.metadata["kind"] == "section"
        else [f.metadata.get("key") or f.name])]
    assert {"ckpt", "render", "method", "precision", "paths.cache_dir"} <= set(keys)
    assert "render=native          native | decoder: native is the target's own size" in out.stdout
    for key in keys:
        found = [x for x in lines if x.startswith(f"{key}=")]
        assert len(found) == 1, f"{key}= has no line of its own in --help"
        assert len(found[0].split(maxsplit=1)) == 2, f"{key}= has no description"
    assert "Configuration groups" not in out.stdout
    for training_only in ("model", "prior", "trainer", "loss", "experiment", "dataset", "callbacks", "logger"):
        assert not any(x.startswith((f"{training_only}:", f"{training_only}=")) for x in lines), training_only


def test_videos_carry_the_true_capture_rate_and_play_slowly_with_equal_durations(tmp_path, ckpt, clip_frames):
    from PIL import Image

    from megen.runtime.video import gif_delays, read_video, write_video

    video = tmp_path / "casme.mp4"
    frames = np.stack([cv2.cvtColor(cv2.resize(f, (256, 256)), cv2.COLOR_GRAY2RGB) for f in clip_frames[:6]])
    write_video(video, frames, fps=200)
    out = run_module("megen.generate", f"ckpt={ckpt}", f"target={embedded_photo_paths()[0]}", f"driving={video}",
                     f"out={tmp_path / 'o'}", "progress=false", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    folder = tmp_path / "o" / f"casme-{Path(embedded_photo_paths()[0]).stem}"
    timing = json.loads((folder / "timing.json").read_text())
    # the default render: the colour photo's face crop at its own size
    side = timing["frame_size"]
    assert side > 64 and cv2.imread(str(folder / "frames" / "00000.png")).shape[:2] == (side, side)
    assert timing == {"frames": 6, "capture_fps": 200.0, "capture_fps_source": "driving clip",
                      "capture_duration_s": 0.03, "playback_fps": 25.0, "playback_duration_s": 0.24,
                      "slow_motion": 8.0, "frame_size": side, "video_size": side, "color": "rgb",
                      "render": "native", "mp4_padding_px": [side % 2, side % 2]}
    assert f"colour frames at {side} px, the target's own size (render=native)" in out.stdout
    assert "  6 frames captured at 200 fps (0.03 s), played at 25 fps (0.24 s, 8x slow motion)" in out.stdout
    decoded, mp4_fps = read_video(folder / f"{folder.name}.mp4")
    gif = Image.open(folder / f"{folder.name}.gif")
    gif_ms = 0
    for i in range(gif.n_frames):
        gif.seek(i)
        gif_ms += gif.info["duration"]
    assert mp4_fps == pytest.approx(25) and len(decoded) == 6 and gif_ms == 240
    # a rate GIF's 10 ms steps cannot hold still lasts as long as the MP4
    assert sum(gif_delays(7, 30)) == round(7 / 30 * 100) * 10 and min(gif_delays(7, 30)) >= 20

    bad = run_module("megen.generate", f"ckpt={ckpt}", f"target={embedded_photo_paths()[0]}", f"driving={video}",
                     f"out={tmp_path / 'o2'}", "playback_fps=200", cwd=tmp_path)
    assert bad.returncode == 2 and "playback_fps=200 must be <= 50" in bad.stderr and not (tmp_path / "o2").exists()


def test_outputs_say_they_are_gray_at_the_model_size_and_rgba_targets_lie_on_white(tmp_path, ckpt, frame_folder):
    from megen.animation.pair import load_target
    from megen.runtime.video import read_video

    photo = cv2.imread(str(embedded_photo_paths()[0]))
    rgba = cv2.cvtColor(photo, cv2.COLOR_BGR2BGRA)
    rgba[:, : rgba.shape[1] // 8] = 0                       # a transparent strip whose colour is black
    target = tmp_path / "face.png"
    cv2.imwrite(str(target), rgba)
    image, _ = load_target(target, crop=False)
    assert image.shape[2] == 3 and (image[:, : rgba.shape[1] // 8] == 255).all()

    out = run_module("megen.generate", f"ckpt={ckpt}", f"target={target}", f"driving={frame_folder}",
                     f"out={tmp_path / 'o'}", "out_size=128", "render=decoder", "progress=false", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    folder = tmp_path / "o" / "clip-face"
    assert (f"wrote {folder}: gray frames at the model's frame size, 64 px, video upscaled to 128 px (render=decoder)"
            in out.stdout)
    timing = json.loads((folder / "timing.json").read_text())
    assert (timing["frame_size"], timing["video_size"], timing["color"]) == (64, 128, "gray")
    decoded, _ = read_video(folder / "clip-face.mp4")
    assert decoded[0].shape[:2] == (128, 128)
    assert cv2.imread(str(folder / "frames" / "00000.png")).shape[:2] == (64, 64)
    sheet = read_image(folder / "sheet.png")
    assert sheet.shape[0] > 4 * (64 + 2) + 2                # the title saying "gray 64x64 px" sits above the grid
    bad = run_module("megen.generate", f"ckpt={ckpt}", f"target={target}", f"driving={frame_folder}",
                     f"out={tmp_path / 'o2'}", "out_size=-1", "alpha_background=300", cwd=tmp_path)
    assert bad.returncode == 2 and "out_size=-1" in bad.stderr and "alpha_background=300" in bad.stderr


def test_crop_target_and_crop_driving_are_separate_and_uncropped_images_are_padded_not_squashed(
        tmp_path, ckpt, frame_folder):
    wide = np.full((100, 200), 60, np.uint8)
    cv2.circle(wide, (100, 50), 40, 230, -1)
    target = tmp_path / "logo.png"
    cv2.imwrite(str(target), wide)
    out = run_module("megen.generate", f"ckpt={ckpt}", f"target={target}", f"driving={frame_folder}",
                     f"out={tmp_path / 'o'}", "crop_target=false", "render=decoder", "progress=false", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]     # the driving clip is still cropped, the target is not
    sheet = read_image(tmp_path / "o" / "clip-logo" / "sheet.png")
    top = sheet.shape[0] - 4 * (64 + 2) - 2
    cell = sheet[top + 2:top + 66, 2:66, 0]
    ys, xs = np.nonzero(cell > 150)
    width, height = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    assert abs(width - height) <= 2 and 22 <= width <= 30, (width, height)   # round, 80/200 of 64 px

    out = run_module("megen.generate", f"ckpt={ckpt}", f"target={target}", f"driving={frame_folder}",
                     f"out={tmp_path / 'o2'}", "crop_driving=false", cwd=tmp_path)
    assert out.returncode == 2 and "logo.png" in out.stderr and not (tmp_path / "o2").exists()
