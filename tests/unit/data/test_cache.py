import pytest

from megen.data.cache import CacheError, PreparedSet, clip_uid, read_clip, read_manifest
from megen.data.preparation import prepare_synthetic
from megen.runtime.io import atomic_open

MANIFEST = ["dataset", "subject", "clip", "n_frames", "onset", "apex", "offset", "emotion", "action_units",
            "face_found", "fps", "file"]


def test_manifest_columns_and_rows(prepared, small_spec):
    header = (prepared / "manifest.csv").read_text().splitlines()[0].split(",")
    assert header == MANIFEST
    rows = read_manifest(prepared)
    assert len(rows) == small_spec.n_subjects * small_spec.clips_per_subject
    for r in rows:
        arrays = read_clip(prepared / "clips" / r["file"])
        assert arrays["frames"].shape == (r["n_frames"], 64, 64)
        assert arrays["keypoints"].shape == (18, 2) and arrays["gt_landmarks"].shape == (r["n_frames"], 68, 2)
        assert arrays["gt_flow"].shape == (r["n_frames"], 64, 64, 2)
        assert r["face_found"] is True and r["dataset"] == "synthetic"


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write(b"partial")
            raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_truncated_clip_is_detected_and_named(tmp_path, prepared):
    src = next((prepared / "clips").iterdir())
    bad = tmp_path / src.name
    bad.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(CacheError, match=src.name):
        read_clip(bad)


def test_flow_of_the_wrong_shape_is_detected_and_named(tmp_path, prepared):
    from megen.data.cache import write_clip

    arrays = read_clip(next((prepared / "clips").iterdir()))
    arrays["gt_flow"] = arrays["gt_flow"][:-1]
    bad = tmp_path / "short_flow.npz"
    write_clip(bad, arrays)
    with pytest.raises(CacheError, match="short_flow.npz.*gt_flow"):
        read_clip(bad)


def test_rerun_reuses_valid_clips_and_rebuilds_bad_ones(tmp_path, small_spec):
    folder, first = prepare_synthetic(small_spec, tmp_path, progress=False)
    assert first["built"] == first["clips"] and first["reused"] == 0
    files = sorted((folder / "clips").iterdir())
    before = files[1].read_bytes()
    files[0].write_bytes(files[0].read_bytes()[:100])        # truncated
    files[1].unlink()                                        # missing
    _, second = prepare_synthetic(small_spec, tmp_path, progress=False)
    assert second == {"clips": first["clips"], "built": 2, "reused": first["clips"] - 2}
    assert files[1].read_bytes() == before                   # rebuilt byte-identically
    assert not [p for p in folder.rglob("*.tmp")]


def test_missing_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(CacheError, match="megen.prepare"):
        PreparedSet.open(tmp_path)


def test_clip_uid_is_safe_and_unique():
    a = clip_uid("casme2", "sub01", "EP02/01f")
    b = clip_uid("casme2", "sub01", "EP02-01f")
    assert "/" not in a and a != b
