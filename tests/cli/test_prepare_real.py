"""Real-data preparation end to end on raw trees written from synthetic clips."""
import dataclasses
import json

import numpy as np
import pytest

from megen.data.cache import MANIFEST_COLUMNS, PreparedSet, is_valid_clip, read_clip, read_manifest
from megen.data.preparation import PREPARED_DATASETS, prepare_dataset
from megen.data.prepare_real import ImageReadError, cache_key, prepare_records, read_gray
from megen.data.readers import read_dataset
from megen.data.records import DatasetRootError
from megen.face.keypoints import default_keypoints
from megen.synthetic import SyntheticSpec, generate
from megen.testing.rawtree import TRUTH_FILE, write_raw_tree

CANVAS = (288, 352)   # a face of 256 px fits; small enough for the CNN fallback on the blank clip
SIZE = 96


@pytest.fixture(scope="module")
def clips():
    spec = SyntheticSpec(seed=4, frame_size=64, n_subjects=3, clips_per_subject=2,
                         duration_s=(0.04, 0.06), fps=100.0)
    return list(generate(spec))


@pytest.fixture(scope="module")
def casme2(tmp_path_factory, clips):
    root = tmp_path_factory.mktemp("casme2")
    write_raw_tree(clips, root, "casme2", canvas=CANVAS, quirks=True, seed=1)
    records, report = read_dataset("casme2", root)
    truth = json.loads((root / TRUTH_FILE).read_text())
    return root, records, report, truth


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, casme2):
    _, records, _, _ = casme2
    folder = tmp_path_factory.mktemp("cache") / "casme2-test"
    summary = prepare_records(records, "casme2", folder, frame_size=SIZE, progress=False)
    return folder, summary


def test_prepare_records_end_to_end(casme2, prepared):
    _, records, _, truth = casme2
    folder, summary = prepared
    assert summary["clips"] == 6 and summary["built"] == 6 and summary["reused"] == 0
    assert summary["face_not_found"] == 1 and summary["skipped"] == []
    rows = read_manifest(folder)
    with open(folder / "manifest.csv") as fh:
        assert fh.readline().strip().split(",") == list(MANIFEST_COLUMNS)
    assert [(r["subject"], r["clip"]) for r in rows] == [(r.subject, r.clip) for r in records]
    blank = [c["clip"] for c in truth["clips"] if "blank" in c["quirks"]]
    for row, rec in zip(rows, records):
        assert (row["n_frames"], row["onset"], row["apex"], row["offset"]) == (rec.n_frames, rec.onset, rec.apex,
                                                                              rec.offset)
        assert row["face_found"] == (rec.clip not in blank)
        assert row["fps"] == 200.0 and row["dataset"] == "casme2" and row["emotion"] == rec.emotion
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["frame_size"] == SIZE and meta["face_not_found"] == 1 and meta["color"] == "gray"


def test_prepared_arrays(casme2, prepared):
    _, _records, _, _ = casme2
    folder, _ = prepared
    ds = PreparedSet.open(folder)
    for i, row in enumerate(ds.rows):
        arrays = ds.load(i)
        frames = arrays["frames"]
        assert frames.dtype == np.uint8 and frames.shape == (row["n_frames"], SIZE, SIZE)
        assert arrays["keypoints"].shape == (18, 2) and arrays["landmarks"].shape == (68, 2)
        if row["face_found"]:
            lm = arrays["landmarks"]
            # one crop box from the onset face: the face fills the frame and stays inside it
            assert lm.min() > 0 and lm.max() < SIZE
            assert lm[:, 0].max() - lm[:, 0].min() > 0.4 * SIZE
            assert frames.std() > 10
        else:
            np.testing.assert_allclose(arrays["keypoints"], default_keypoints(SIZE))
            assert np.isfinite(arrays["landmarks"]).all()
            assert frames.std() < 10          # the blank canvas


def test_rerun_reuses_and_corrupt_file_is_rebuilt(casme2, prepared):
    _, records, _, _ = casme2
    folder, _ = prepared
    again = prepare_records(records, "casme2", folder, frame_size=SIZE, progress=False)
    assert again["built"] == 0 and again["reused"] == 6
    victim = min((folder / "clips").glob("*.npz"))
    before = read_clip(victim)["frames"]
    victim.write_bytes(victim.read_bytes()[:200])
    assert not is_valid_clip(victim)
    fixed = prepare_records(records, "casme2", folder, frame_size=SIZE, progress=False)
    assert fixed["built"] == 1 and fixed["reused"] == 5 and fixed["clips"] == 6
    np.testing.assert_array_equal(read_clip(victim)["frames"], before)


def test_unreadable_frame_is_reported(tmp_path, casme2):
    _, records, _, _ = casme2
    rec = next(r for r in records if not r.notes)
    bad = tmp_path / "img999.jpg"
    bad.write_bytes(b"not a jpeg")
    paths = list(rec.frame_paths)
    paths[-1] = str(bad)
    broken = dataclasses.replace(rec, clip=rec.clip + "x", frame_paths=tuple(paths))
    with pytest.raises(ImageReadError, match="img999.jpg"):
        read_gray(bad)
    summary = prepare_records([broken], "casme2", tmp_path / "out", frame_size=SIZE, progress=False)
    assert summary["clips"] == 0 and summary["built"] == 0
    (key, reason), = summary["skipped"]
    assert key == f"{rec.subject}/{rec.clip}x" and "img999.jpg" in reason
    assert read_manifest(tmp_path / "out") == []
    assert json.loads((tmp_path / "out" / "meta.json").read_text())["skipped"] == [[key, reason]]


def test_parallel_matches_serial(tmp_path, casme2, prepared):
    _, records, _, _ = casme2
    folder, _ = prepared
    subset = [r for r in records if not r.notes][:2]
    summary = prepare_records(subset, "casme2", tmp_path / "par", frame_size=SIZE, workers=2, progress=False)
    assert summary["built"] == 2
    serial = {r["clip"]: r["file"] for r in read_manifest(folder)}
    for row in read_manifest(tmp_path / "par"):
        a = read_clip(tmp_path / "par" / "clips" / row["file"])
        b = read_clip(folder / "clips" / serial[row["clip"]])
        np.testing.assert_array_equal(a["frames"], b["frames"])
        np.testing.assert_allclose(a["landmarks"], b["landmarks"])


def test_prepare_dataset_dispatch(tmp_path, clips):
    assert {"synthetic", "casme2", "samm", "smic"} <= set(PREPARED_DATASETS)
    data_dir = tmp_path / "data"
    write_raw_tree(clips[:3], data_dir / "smic", "smic", canvas=CANVAS, quirks=False, seed=2)
    cache = tmp_path / "cache"
    cfg = {"name": "smic", "frame_size": 64}
    folder, summary = prepare_dataset(cfg, cache, progress=False, data_dir=data_dir)
    key = cache_key(data_dir / "smic", 64, 0.35, "gray")
    assert folder.parent == cache and folder.name.startswith("smic-") and len(folder.name) == len("smic-") + 12
    assert key != cache_key(data_dir / "smic", 128, 0.35, "gray")
    assert summary["clips"] == 3 and summary["face_not_found"] == 0
    rows = read_manifest(folder)
    assert {r["emotion"] for r in rows} <= {"positive", "negative", "surprise"}
    # the same config with an explicit root reuses every clip
    folder2, again = prepare_dataset({**cfg, "root": str(data_dir / "smic")}, cache, progress=False)
    assert folder2 == folder and again["reused"] == 3 and again["built"] == 0


def test_prepare_dataset_missing_root(tmp_path):
    with pytest.raises(DatasetRootError, match="expected layout"):
        prepare_dataset({"name": "samm"}, tmp_path / "cache", progress=False, data_dir=tmp_path)
    with pytest.raises(ValueError, match="unsupported color"):
        prepare_records([], "samm", tmp_path / "x", color="rgb", progress=False)
