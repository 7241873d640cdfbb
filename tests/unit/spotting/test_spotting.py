"""Spotting data: a driver's expression inserted into a long video of another person, its intervals in the
long-video annotation layouts, and the MEGC spotting score."""
import cv2
import numpy as np
import pytest
from helpers import run_module

from megen.face.flow import pixel_grid, warp_backward
from megen.face.landmarks import detect_landmarks
from megen.runtime.video import frame_paths, read_image, write_gif, write_png
from megen.spotting.annotations import LAYOUTS, SpottedInterval, read_annotations, write_annotations
from megen.spotting.insertion import InsertionError, plan_windows, release_start, released, window_positions
from megen.spotting.scoring import interval_iou, spotting_scores
from megen.spotting.video_target import PlannedInsertion, at_frame, insert_into_video, plan_insertion
from megen.synthetic import embedded_photo_paths

DRIVER_FPS, VIDEO_FPS = 200.0, 30.0


def _bump(centre, vector, sd=14.0) -> np.ndarray:
    w = np.exp(-((pixel_grid(256, 256) - np.asarray(centre)) ** 2).sum(-1) / (2 * sd * sd))
    return (w[..., None] * np.asarray(vector, np.float32)).astype(np.float32)


@pytest.fixture(scope="module")
def driver_clip(face):
    """A 200-fps brow raise of 1.5 px on the canonical astronaut: 20 frames, apex at frame 8."""
    frame, lm = face
    field = _bump(lm[17:22].mean(0), (0.0, 1.5)) + _bump(lm[22:27].mean(0), (0.0, 1.5))
    curve = np.sin(np.pi * np.minimum(np.arange(20) / 16.0, 1.0)) * (np.arange(20) <= 16)
    return np.stack([warp_backward(frame, a * field) for a in curve]), lm


@pytest.fixture(scope="module")
def video():
    """A 30-fps colour video of another person, 40 frames, the head drifting 1 px to the right."""
    image = read_image(embedded_photo_paths()[1])[..., :3]
    h, w = image.shape[:2]
    frames = [cv2.warpAffine(image, np.float32([[1, 0, k / 40.0], [0, 1, 0]]), (w, h), flags=cv2.INTER_CUBIC,
                             borderMode=cv2.BORDER_REPLICATE) for k in range(40)]
    return frames


def _plan(driver_clip, flows_scale=1.0) -> PlannedInsertion:
    from megen.face.flow import driver_flows
    from megen.spotting.insertion import resampled_expression

    frames, lm = driver_clip
    driver = driver_flows(list(frames), lm)
    flows = resampled_expression(driver, DRIVER_FPS, VIDEO_FPS) * flows_scale
    return PlannedInsertion("brow.gif", flows, driver.landmarks, DRIVER_FPS, "fps=", len(frames), 1, {})


def test_the_driver_is_resampled_to_the_video_rate_and_lands_at_the_requested_frames():
    # 20 frames at 200 fps last 0.1 s: 3 frames at 30 fps, driver positions 0, 6.67, 13.3
    np.testing.assert_allclose(window_positions(20, DRIVER_FPS, VIDEO_FPS), [0, 20 / 3, 40 / 3])
    assert len(window_positions(40, DRIVER_FPS, VIDEO_FPS)) == 6
    assert at_frame("1.0", VIDEO_FPS) == 30 and at_frame("1s", VIDEO_FPS) == 30 and at_frame("75f", 30) == 75
    assert at_frame(0.5, 25.0) == 12 or at_frame(0.5, 25.0) == 13
    windows = plan_windows([30, 5], [6, 6], [2, 3], 40)
    assert [(w.start, w.apex, w.offset) for w in windows] == [(30, 32, 35), (5, 8, 10)]
    with pytest.raises(InsertionError, match="outside the video"):
        plan_windows([36], [6], [2], 40)
    with pytest.raises(InsertionError, match="overlap"):
        plan_windows([10, 14], [6, 6], [0, 0], 40)
    with pytest.raises(InsertionError, match="at=2x"):
        at_frame("2x", 30.0)


def test_frames_outside_the_windows_are_untouched_and_the_window_moves_the_brows(video, driver_clip):
    plan = _plan(driver_clip)
    out, intervals = insert_into_video(video, VIDEO_FPS, [plan, plan], [30, 4], video_name="talk")
    inside = set(range(4, 4 + len(plan.flows))) | set(range(30, 30 + len(plan.flows)))
    for k, (a, b) in enumerate(zip(video, out)):
        if k not in inside:
            assert b is a
    # intervals in time order, numbered, at the requested frames
    assert [(i.onset, i.apex, i.offset, i.number) for i in intervals] == [(4, 5, 6, 1), (30, 31, 32, 2)]
    # the apex frame moved the face (the brows), and the onset frame is the video's own
    assert np.array_equal(out[4], video[4])
    lm = detect_landmarks(cv2.cvtColor(video[5], cv2.COLOR_RGB2GRAY))
    changed = np.abs(out[5].astype(int) - video[5].astype(int)).max(-1) > 0
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 200
    # what changed lies on the face, around and above the brows, not in the background
    assert lm[:, 0].min() - 40 < xs.mean() < lm[:, 0].max() + 40
    assert ys.mean() < lm[30, 1]


def test_the_residual_at_the_last_frame_is_released_after_the_apex():
    flows = np.random.default_rng(0).normal(size=(6, 4, 4, 2)).astype(np.float32)
    out = released(flows, 2)
    np.testing.assert_array_equal(out[:3], flows[:3])
    np.testing.assert_allclose(out[-1], 0.0, atol=1e-7)
    np.testing.assert_allclose(out[4], flows[4] - 2 / 3 * flows[-1], rtol=1e-6)
    np.testing.assert_array_equal(released(flows, 5), flows)
    # a clip still moving at its end is released over at least a third of the window
    assert release_start(7, 6) == 4 and release_start(7, 2) == 2 and release_start(2, 1) == 0


def test_a_driver_without_motion_inserts_nothing(video, driver_clip):
    out, intervals = insert_into_video(video, VIDEO_FPS, [_plan(driver_clip, 0.0)], [10], video_name="talk")
    assert all(np.array_equal(a, b) for a, b in zip(video, out)) and len(intervals) == 1


def test_annotations_round_trip_in_both_layouts_and_score_with_the_megc_rule(tmp_path):
    intervals = [SpottedInterval("talk", 4, 5, 9, subject="s01", action_units="1+2", emotion="surprise",
                                 source="casme2:EP01_01f", number=1),
                 SpottedInterval("talk", 30, 33, 35, subject="s01", number=2)]
    for layout in LAYOUTS:
        path = write_annotations(tmp_path / f"{layout}.csv", intervals, layout)
        assert read_annotations(path) == intervals
    text = (tmp_path / "samm_lv.csv").read_text().splitlines()
    assert text[0].startswith("Subject,Filename,Inducement Code,Onset,Apex,Offset,Duration,Type")
    assert text[1].split(",")[:8] == ["s01", "talk_1", "casme2:EP01_01f", "5", "6", "10", "6", "Micro - 1/2"]
    assert (tmp_path / "casme_sq.csv").read_text().splitlines()[0].split(",")[:8] == \
        ["s01", "talk_1", "5", "6", "10", "1+2", "surprise", "micro-expression"]
    # the MEGC rule: IoU >= 0.5 with a ground-truth interval of the same video, each counted once
    assert interval_iou((4, 9), (4, 9)) == 1.0 and interval_iou((0, 3), (4, 9)) == 0.0
    assert interval_iou((4, 9), (7, 12)) == pytest.approx(3 / 9)
    assert spotting_scores(intervals, intervals)["f1"] == 1.0
    spotted = [("talk", 5, 9), ("talk", 5, 8), ("talk", 60, 70), ("other", 30, 35)]
    scores = spotting_scores(intervals, spotted)
    assert (scores["tp"], scores["spotted"], scores["truth"]) == (1, 4, 2)
    assert scores["f1"] == pytest.approx(2 / 6)
    bad = tmp_path / "bad.csv"
    bad.write_text("s01,talk_1,0,1,2,,,micro-expression\n")
    with pytest.raises(ValueError, match="bad.csv:1: onset 0: frames are numbered from 1"):
        read_annotations(bad)


def test_generate_inserts_into_a_frames_folder_and_writes_the_ground_truth(tmp_path, video, driver_clip):
    frames_dir = tmp_path / "talk"
    for k, f in enumerate(video[:24]):
        write_png(frames_dir / f"img{k + 1}.png", f)
    write_gif(tmp_path / "brow.gif", np.stack([np.repeat(f[..., None], 3, 2) for f in driver_clip[0]]), DRIVER_FPS)
    out = run_module("megen.generate", f"target={frames_dir}", f"driving={tmp_path / 'brow.gif'}", "at=[0.1,15f]",
                     "target_fps=30", "fps=200", "method=flow_transfer", f"out={tmp_path / 'out'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    folder = tmp_path / "out" / "talk"
    written = frame_paths(folder / "frames")
    assert len(written) == 24 and (folder / "talk.mp4").is_file()
    intervals = read_annotations(folder / "annotations_samm_lv.csv")
    assert [(i.onset, i.offset) for i in intervals] == [(3, 5), (15, 17)]
    assert read_annotations(folder / "annotations_casme_sq.csv") == intervals
    for k, path in enumerate(written):
        same = np.array_equal(read_image(path), video[k])
        # onsets are the video's own frames, and so are the offsets: the driver's residual is released by then
        assert same == (k not in (4, 16)), k
    # refusals, each naming its option, before anything is read
    image = tmp_path / "still.png"
    write_png(image, video[0])
    bad = run_module("megen.generate", f"target={image}", f"driving={tmp_path / 'brow.gif'}", "at=1.0",
                     "method=flow_transfer", f"out={tmp_path / 'out2'}", cwd=tmp_path)
    assert bad.returncode == 2 and "at=1.0" in bad.stderr and "video" in bad.stderr
    bad = run_module("megen.generate", f"target={frames_dir}", f"driving={tmp_path / 'brow.gif'}",
                     "method=flow_transfer", f"out={tmp_path / 'out3'}", cwd=tmp_path)
    assert bad.returncode == 2 and "pass at=" in bad.stderr


def test_a_prepared_clip_brings_its_labels(tmp_path, small_spec):
    from megen.data.preparation import prepare_synthetic

    folder, _ = prepare_synthetic(small_spec, tmp_path / "cache", progress=False)
    import csv

    row = next(csv.DictReader((folder / "manifest.csv").open()))
    plan = plan_insertion(f"synthetic:{row['clip']}", VIDEO_FPS, tmp_path / "cache", fps=DRIVER_FPS)
    assert plan.labels["emotion"] == row["emotion"] and plan.n_driver == int(row["offset"]) - int(row["onset"]) + 1
    assert 0 <= plan.apex_in_window < len(plan.flows)


def test_random_starts_are_seeded_spaced_and_inside():
    from megen.spotting.insertion import random_starts

    rng = np.random.default_rng(3)
    starts = random_starts(200, [6, 8, 5], rng, spacing=20, margin=10)
    assert starts == random_starts(200, [6, 8, 5], np.random.default_rng(3), spacing=20, margin=10)
    ends = [s + n - 1 for s, n in zip(starts, [6, 8, 5])]
    assert starts[0] >= 10 and ends[-1] <= 189
    assert all(b - a > 20 for a, b in zip(ends, starts[1:]))
    with pytest.raises(InsertionError, match="do not fit"):
        random_starts(50, [10, 10, 10], rng, spacing=20)


def test_the_baseline_spotter_finds_inserted_expressions(video, driver_clip):
    from megen.spotting.spotter import SpotterSettings, motion_signal, random_intervals, spot_intervals

    plan = _plan(driver_clip, 3.0)             # a 4.5-px brow raise at 256 px, 3 frames at 30 fps
    frames, truth = insert_into_video(video, VIDEO_FPS, [plan, plan], [8, 28], video_name="v")
    settings = SpotterSettings(k=1, threshold=0.5, smooth=1)
    signal = motion_signal(frames, settings)
    assert signal.shape == (40,) and signal[0] == 0.0
    # the still video, drifting 1 px, gives a flat signal; the insertions stand out at their windows
    quiet = motion_signal(video, settings)
    assert signal[[9, 10, 29, 30]].min() > 3 * quiet.max()
    spotted = spot_intervals(signal, settings)
    assert spotting_scores(truth, [("v", a, b) for a, b in spotted])["f1"] == 1.0
    chance = random_intervals(40, 2, 3, np.random.default_rng(0))
    assert len(chance) == 2 and all(b - a == 2 for a, b in chance)


def test_spotset_builds_a_seeded_dataset_with_one_annotation_file(tmp_path, video):
    talks = tmp_path / "talks"
    for name, frames in (("a", video[:36]), ("b", video[4:40])):
        for k, f in enumerate(frames):
            write_png(talks / name / f"{k + 1:03d}.png", f)
    data = ["dataset.n_subjects=2", "dataset.clips_per_subject=2", "dataset.frame_size=64",
            f"paths.data_dir={tmp_path / 'data'}"]
    runs = [run_module("megen.spotset", f"targets={talks}", f"out={tmp_path / out}", "spotset.target_fps=30",
                       "spotset.per_video=2", "spotset.gain=[1,2]", "spotset.spacing_s=0.2", "spotset.margin_s=0.1",
                       *data, cwd=tmp_path) for out in ("s1", "s2")]
    for run in runs:
        assert run.returncode == 0, run.stderr
    truth = read_annotations(tmp_path / "s1" / "annotations_samm_lv.csv")
    assert [i.video for i in truth] == ["a", "a", "b", "b"]
    assert all(3 <= i.onset and i.offset <= 32 for i in truth)
    assert all(b.onset - a.offset > 6 for a, b in zip(truth[::2], truth[1::2]))
    assert truth == read_annotations(tmp_path / "s2" / "annotations_samm_lv.csv")       # seeded
    assert read_annotations(tmp_path / "s1" / "annotations_casme_sq.csv") == truth
    assert len(frame_paths(tmp_path / "s1" / "a" / "frames")) == 36
    bad = run_module("megen.spotset", f"targets={talks}", f"out={tmp_path / 's3'}", "spotset.per_video=0",
                     "spotset.gain=[2,1]", *data, cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "spotset.per_video=0" in bad.stderr and "spotset.gain=[2, 1]" in bad.stderr


# -- real long-video databases: their layouts read, and the spotter run on them by evaluate ---------------------

def _write_frames(folder, frames, name):
    folder.mkdir(parents=True)
    for i, frame in enumerate(frames, start=1):
        cv2.imwrite(str(folder / name(i)), cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])


def _workbook(path, sheets: dict):
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)


@pytest.fixture(scope="module")
def inserted(video, driver_clip):
    """The 30-fps video with the brow raise inserted twice: (frames, truth intervals)."""
    plan = _plan(driver_clip, 3.0)
    return insert_into_video(video, VIDEO_FPS, [plan, plan], [8, 28], video_name="v")


def _casme_sq_tree(root, frames, truth):
    root.mkdir(parents=True, exist_ok=True)
    rows = [[1, f"disgust1_{n}", t.onset + 1, t.apex + 1, t.offset + 1, "4", "negative", "micro-expression",
             "disgust"] for n, t in enumerate(truth, start=1)]
    rows += [[1, "disgust1_3", 36, 37, 0, "12", "positive", "macro-expression", "happy"],     # offset 0: uncoded
             [1, "anger9_1", 3, 4, 5, "4", "negative", "micro-expression", "anger"]]          # not in naming rule2
    _workbook(root / "CAS(ME)^2code_final.xlsx", {
        "CASFEcode_final": rows, "naming rule1": [[15, "s15", 1]], "naming rule2": [[101, "disgust1"], [102, "anger1"]]})
    _write_frames(root / "rawpic" / "s15" / "15_0101disgustingteeth", frames, lambda i: f"img{i}.jpg")
    _write_frames(root / "rawpic" / "s15" / "15_0102angerbag", frames[:12], lambda i: f"img{i}.jpg")


def test_the_casme_sq_layout_is_read_with_its_naming_rules(tmp_path, inserted):
    from megen.data.readers.long_videos import read_long_videos

    frames, truth = inserted
    _casme_sq_tree(tmp_path, frames, truth)
    got = read_long_videos(tmp_path, "casme_sq")
    assert [v.name for v in got.videos] == ["15_0101disgustingteeth", "15_0102angerbag"]
    disgust, anger = got.videos
    assert len(disgust.frames) == 40 and disgust.numbers[:3] == (1, 2, 3) and disgust.fps == 30.0
    assert [(t.onset, t.apex, t.offset, t.kind) for t in disgust.intervals] == [
        *((t.onset, t.apex, t.offset, "micro") for t in truth), (35, 36, 37, "macro")]    # apex + (apex - onset)
    assert disgust.intervals[0].action_units == "4" and disgust.intervals[0].number == 1
    assert not anger.intervals and len(anger.frames) == 12
    assert len(got.skipped) == 1 and "anger9_1" in got.skipped[0] and "naming rule2" in got.skipped[0]
    with pytest.raises(ValueError, match="spotting.layout='casme'"):
        read_long_videos(tmp_path, "casme")


def test_the_samm_long_videos_layout_is_read_from_below_its_notes(tmp_path, inserted):
    from megen.data.readers.long_videos import read_long_videos

    frames, truth = inserted
    header = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type", "Action Units",
              "Notes"]
    rows = [["SAMM Long Videos"], ["notes"], [], header]
    rows += [[6, f"006_1_{n}", 1, 1001 + t.onset, 1001 + t.apex, 1001 + t.offset, t.offset - t.onset + 1,
              "Micro - 1/2", "R12", ""] for n, t in enumerate(truth, start=1)]
    rows += [[6, "006_1_3", 1, 1035, 1037, 1080, 46, "Macro", "R12", ""]]        # past the video's last frame
    _workbook(tmp_path / "SAMM_LongVideos_V3_Release.xlsx", {"Sheet1": rows})
    _write_frames(tmp_path / "SAMM_longvideos" / "006_1", frames, lambda i: f"006_1_{1000 + i:05d}.jpg")
    got = read_long_videos(tmp_path, "samm_lv")
    (video,) = got.videos
    assert video.name == "006_1" and video.subject == "006" and video.fps == 200.0 and video.numbers[0] == 1001
    assert [(t.onset, t.apex, t.offset) for t in video.intervals] == [(t.onset, t.apex, t.offset) for t in truth]
    assert len(got.skipped) == 1 and "1080 is not among the video's frame files" in got.skipped[0]


def test_evaluate_spots_the_long_videos_of_a_casme_sq_tree(tmp_path, inserted):
    frames, truth = inserted
    _casme_sq_tree(tmp_path / "casme_sq", frames, truth)
    run = run_module("megen.evaluate", f"spotting.root={tmp_path / 'casme_sq'}", "spotting.interval_ms=70",
                     f"hydra.run.dir={tmp_path / 'run'}", "progress=false", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "micro expressions: F1 " in run.stdout and "random intervals F1" in run.stdout
    import json

    result = json.loads((tmp_path / "run" / "spotting.json").read_text())
    # both insertions found; the uncoded video's peaks are false positives of the relative threshold
    assert result["truth"] == 2 and result["tp"] == 2 and result["videos"] == 2 and result["random_f1"] < 0.5
    assert [(v["k"], v["f1"]) for v in result["per_video"]][0] == (1, 1.0) and result["per_video"][1]["tp"] == 0
    assert "k" not in result["spotter"]
    spotted = read_annotations(tmp_path / "run" / "spotted_casme_sq.csv")
    assert spotting_scores([("15_0101disgustingteeth", t.onset, t.offset) for t in truth],
                           [s for s in spotted if s.video == "15_0101disgustingteeth"])["f1"] == 1.0
    bad = run_module("megen.evaluate", f"spotting.root={tmp_path / 'casme_sq'}", "spotting.kind=tiny",
                     "spotting.threshold=2", f"hydra.run.dir={tmp_path / 'bad'}", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "spotting.kind" in bad.stderr and "spotting.threshold" in bad.stderr


def test_the_inserted_field_moves_with_the_head_and_adds_no_motion_of_its_own(video, driver_clip):
    """``window_fields``: the same expression on a face moved by (5, 3) px is the same field moved by (5, 3) px,
    so the insertion adds to the video's head motion only the expression's own."""
    from megen.spotting.insertion import window_fields

    plan = _plan(driver_clip)
    lm = detect_landmarks(cv2.cvtColor(video[0], cv2.COLOR_RGB2GRAY)).astype(np.float64)
    apex = plan.flows[1:2]
    shape = video[0].shape[:2]
    still, moved = (window_fields(shape, lm[None] + shift, apex, plan.driver_landmarks)[0]
                    for shift in (np.zeros(2), np.array([5.0, 3.0])))
    assert np.abs(still).max() > 0.5                                      # the brows move
    np.testing.assert_allclose(moved[3:, 5:], still[:-3, :-5], atol=2e-3)


def test_the_face_is_tracked_on_the_images_and_a_missed_detection_does_not_move_it():
    """``track_face``: a face 127 px wide turning by up to 1 degree, growing by up to 4 % and moving by up to
    (2.5, -1.5) px is followed within 0.15 px at its landmarks (measured: 0.04), although one frame's detection is
    off by 20 px at the jaw and another frame has none."""
    from megen.spotting.insertion import InsertionError, track_face

    photo = read_image(embedded_photo_paths()[0])[..., :3]
    around = detect_landmarks(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)).astype(np.float64)
    (x, y), side = around.mean(0), int(2.0 * np.ptp(around, axis=0).max())
    face = photo[int(y) - side // 2:int(y) + side // 2, int(x) - side // 2:int(x) + side // 2]
    image = cv2.resize(face, (256, 256), interpolation=cv2.INTER_AREA)
    landmarks = detect_landmarks(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)).astype(np.float64)
    motions = []
    for k in range(6):
        m = cv2.getRotationMatrix2D((128.0, 128.0), 0.2 * k, 1.0 + 0.008 * k)
        m[:, 2] += (0.5 * k, -0.3 * k)
        motions.append(m)
    frames = [cv2.warpAffine(image, m, (256, 256), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
              for m in motions]
    truth = np.stack([landmarks @ m[:, :2].T + m[:, 2] for m in motions])
    detected = [t.copy() for t in truth]
    detected[2][:17] += 20.0                    # a miss: the jaw line 20 px off
    detected[4] = None                          # no face found
    tracked = track_face(frames, detected)
    assert tracked.shape == (6, 68, 2)
    assert np.linalg.norm(tracked - truth, axis=-1).max() < 0.15
    with pytest.raises(InsertionError, match="no face"):
        track_face(frames[:2], [None, None])
