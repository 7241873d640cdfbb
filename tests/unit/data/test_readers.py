"""Dataset readers against raw trees written from synthetic clips (layouts and quirks of the real releases)."""
import json
from pathlib import Path

import pytest

from megen.data.readers import (
    DATASET_NAMES,
    MEGC_DRIVING_CLIPS,
    is_driving_clip,
    read_casme2,
    read_dataset,
    read_samm,
    read_smic,
)
from megen.data.records import ClipRecord, DatasetRootError, ReaderReport, frame_number, sorted_frames
from megen.synthetic import SyntheticSpec, generate
from megen.testing.rawtree import TRUTH_FILE, write_raw_tree

CANVAS = (128, 144)   # readers never decode images: the smallest canvas is enough


@pytest.fixture(scope="module")
def clips():
    spec = SyntheticSpec(seed=11, frame_size=64, n_subjects=3, clips_per_subject=2,
                         duration_s=(0.04, 0.06), fps=100.0)
    return list(generate(spec))


@pytest.fixture(scope="module")
def trees(tmp_path_factory, clips):
    """layout -> (root, returned path, truth) for every layout, quirks on."""
    out = {}
    for layout in ("casme2", "casme2-raw", "casme2-cropped", "samm", "smic", "smic-cropped"):
        root = tmp_path_factory.mktemp(layout)
        result = write_raw_tree(clips, root, layout, canvas=CANVAS, quirks=True, seed=3)
        out[layout] = (root, result, json.loads((root / TRUTH_FILE).read_text()))
    return out


def _by_clip(records):
    return {r.clip: r for r in records}


def _with_quirk(truth, tag):
    hits = [c for c in truth["clips"] if tag in c["quirks"]]
    assert hits, f"no clip with quirk {tag}"
    return hits[0]


# --- records ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name,number", [
    ("img46.jpg", 46), ("reg_img46.jpg", 46), ("006_05562.jpg", 5562), ("006_9999.jpg", 9999),
    ("image000123.bmp", 123), ("s3_po_05_7.png", 7), ("img100.JPG", 100),
])
def test_frame_number(name, number):
    assert frame_number(name) == number


def test_frame_number_error_names_the_file():
    with pytest.raises(ValueError, match="cover.jpg"):
        frame_number("cover.jpg")


def test_sorted_frames_is_numeric(tmp_path):
    for name in ("img10.jpg", "img9.jpg", "img100.JPG", "img1.png", "img11.bmp", "notes.txt", ".img0.jpg"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in sorted_frames(tmp_path)] == ["img1.png", "img9.jpg", "img10.jpg", "img11.bmp", "img100.JPG"]


def test_clip_record_checks_indices():
    kw = {"dataset": "d", "subject": "s", "clip": "c", "frame_paths": ("a", "b", "c"), "frame_numbers": (1, 2, 3),
          "emotion": "x", "action_units": "", "fps": 200.0}
    ClipRecord(onset=0, apex=1, offset=2, **kw)
    with pytest.raises(ValueError, match="onset <= apex <= offset"):
        ClipRecord(onset=0, apex=2, offset=1, **kw)
    with pytest.raises(ValueError, match="at least 2 frames"):
        ClipRecord(**{**kw, "frame_paths": ("a",), "frame_numbers": (1,)}, onset=0, apex=0, offset=0)


def test_reader_report_collects_reasons():
    report = ReaderReport("casme2")
    report.skip("sub01/EP01", "no folder")
    report.flag("sub02/EP02", "apex '/'")
    assert report.reasons("sub01/EP01") == ["no folder"]
    assert "1 skipped, 1 flagged" in report.summary()
    assert report.as_dict()["flagged"] == [["sub02/EP02", "apex '/'"]]


# --- CASME II ---------------------------------------------------------------------------------

def test_casme2_selected_tree(trees):
    root, sheet, truth = trees["casme2"]
    assert sheet == root / "CASME2-coding-20140508.xlsx"
    records, report = read_casme2(root)
    assert report.source["tree_kind"] == "selected"
    assert len(records) == len(truth["clips"]) == 6
    got = _by_clip(records)
    for entry in truth["clips"]:
        rec = got[entry["clip"]]
        assert rec.dataset == "casme2" and rec.subject == entry["subject"] and rec.fps == 200.0
        assert rec.emotion == entry["emotion"] and rec.action_units == entry["action_units"]
        assert rec.onset == 0 and rec.offset == rec.n_frames - 1
        assert list(rec.frame_numbers) == sorted(rec.frame_numbers)
        assert [frame_number(Path(p).name) for p in rec.frame_paths] == list(rec.frame_numbers)
        assert all(Path(p).is_file() for p in rec.frame_paths)
    # numeric sort: img7 .. img16, img10 after img9
    trap = got[_with_quirk(truth, "numeric_sort")["clip"]]
    assert trap.frame_numbers[:4] == (7, 8, 9, 10)
    assert Path(trap.frame_paths[2]).name == "img9.jpg" and Path(trap.frame_paths[3]).name == "img10.jpg"
    # an exact apex maps to its index
    normal = next(c for c in truth["clips"] if not c["quirks"])
    rec = got[normal["clip"]]
    assert rec.frame_numbers[rec.apex] == normal["apex"]


def test_casme2_quirks_are_flagged_or_skipped(trees):
    root, _, truth = trees["casme2"]
    records, report = read_casme2(root)
    got = _by_clip(records)
    slash = _with_quirk(truth, "apex_slash")
    key = f"{slash['subject']}/{slash['clip']}"
    rec = got[slash["clip"]]
    assert rec.frame_numbers[rec.apex] == (slash["onset"] + slash["offset"]) // 2
    assert any("apex not annotated" in r and "'/'" in r for r in report.reasons(key))
    assert any("apex not annotated" in n for n in rec.notes)

    past = _with_quirk(truth, "offset_past_end")
    rec = got[past["clip"]]
    assert rec.frame_numbers[-1] == past["frame_numbers"][-1]
    assert any("past the last frame" in r for r in report.reasons(f"{past['subject']}/{past['clip']}"))

    gap = _with_quirk(truth, "missing_frame")
    rec = got[gap["clip"]]
    assert rec.n_frames == len(gap["frame_numbers"]) == gap["offset"] - gap["onset"]
    assert any("missing inside" in r for r in report.reasons(f"{gap['subject']}/{gap['clip']}"))

    skipped = dict(report.skipped)
    assert "not found" in skipped[truth["extra"]["sheet_row_without_folder"]]
    assert skipped[truth["extra"]["folder_not_in_sheet"]] == "folder not in the sheet"
    assert len(report.flagged) == 3 and len(report.skipped) == 2


def test_casme2_raw_tree_is_cut_to_onset_offset(trees):
    root, _, truth = trees["casme2-raw"]
    records, report = read_dataset("casme2", root)
    assert report.source["tree_kind"] == "raw"
    got = _by_clip(records)
    normal = next(c for c in truth["clips"] if not c["quirks"])
    rec = got[normal["clip"]]
    assert rec.frame_numbers == tuple(range(normal["onset"], normal["offset"] + 1))
    assert len(normal["frame_numbers"]) == rec.n_frames + 4    # two extra frames written on each side


def test_casme2_nested_cropped_tree(trees):
    root, sheet, _truth = trees["casme2-cropped"]
    records, report = read_casme2(root, sheet=sheet, tree="cropped")
    assert Path(report.source["tree"]) == root / "Cropped" / "Cropped"
    assert len(records) == 6
    assert all(Path(p).name.startswith("reg_img") for r in records for p in r.frame_paths)
    with pytest.raises(DatasetRootError, match="no selected frames tree"):
        read_casme2(root, tree="selected")


# --- SAMM -------------------------------------------------------------------------------------

def test_samm_tree(trees):
    root, sheet, truth = trees["samm"]
    assert sheet.name == "SAMM_Micro_FACS_Codes_v2.xlsx"
    records, report = read_samm(root)
    assert report.source["header_row"] == 14 == truth["header_row"]
    assert len(records) == 6
    got = _by_clip(records)
    for entry in truth["clips"]:
        rec = got[entry["clip"]]
        assert rec.subject == entry["subject"] and len(rec.subject) == 3
        assert rec.emotion == entry["emotion"] and rec.action_units == entry["action_units"]
        assert rec.frame_numbers == tuple(range(entry["onset"], entry["offset"] + 1))
    # 4-digit padding crossing 9999 -> 10000 still sorts numerically; other subjects use 5 digits
    trap = got[_with_quirk(truth, "numeric_sort")["clip"]]
    names = [Path(p).name for p in trap.frame_paths]
    assert "006_9999.jpg" in names and names.index("006_9999.jpg") + 1 == names.index("006_10000.jpg")
    five = next(r for r in records if r.subject != "006")
    assert len(Path(five.frame_paths[0]).stem.split("_")[-1]) == 5
    assert any("or" in r.action_units for r in records)


def test_samm_quirks(trees):
    root, _, truth = trees["samm"]
    records, report = read_samm(root)
    got = _by_clip(records)
    for tag, text in (("apex_outside", "outside onset..offset"), ("apex_missing", "apex not annotated")):
        entry = _with_quirk(truth, tag)
        rec = got[entry["clip"]]
        assert rec.frame_numbers[rec.apex] == (entry["onset"] + entry["offset"]) // 2
        assert any(text in r for r in report.reasons(f"{entry['subject']}/{entry['clip']}"))
    numeric = _with_quirk(truth, "numeric_filename")
    assert numeric["clip"] in got
    assert any("Filename cell" in r for r in report.reasons(f"{numeric['subject']}/{numeric['clip']}"))
    assert report.skipped == []


def test_samm_without_notes_block(tmp_path, clips):
    write_raw_tree(clips[:3], tmp_path, "samm", canvas=CANVAS, quirks=False)
    records, report = read_dataset("samm", tmp_path)
    assert report.source["header_row"] == 1
    assert len(records) == 3 and report.flagged == [] and report.skipped == []


# --- SMIC-HS ----------------------------------------------------------------------------------

@pytest.mark.parametrize("layout,suffix", [("smic", ".jpg"), ("smic-cropped", ".bmp")])
def test_smic_trees(trees, layout, suffix):
    root, result, truth = trees[layout]
    assert result == root
    records, report = read_smic(root)
    assert report.source["variant"] == ("cropped" if "cropped" in layout else "raw")
    assert len(records) == 6
    got = _by_clip(records)
    for entry in truth["clips"]:
        rec = got[entry["clip"]]
        assert rec.emotion == entry["emotion"] in ("positive", "negative", "surprise")
        assert rec.subject == entry["subject"] and rec.fps == 100.0
        assert rec.frame_numbers == tuple(entry["frame_numbers"])
        assert (rec.onset, rec.apex, rec.offset) == (0, (rec.n_frames - 1) // 2, rec.n_frames - 1)
        assert all(p.endswith(suffix) for p in rec.frame_paths)
    trap = got[_with_quirk(truth, "numeric_sort")["clip"]]
    assert trap.frame_numbers[:4] == (97, 98, 99, 100)
    # non_micro clips are excluded and reported
    skipped = dict(report.skipped)
    assert sorted(truth["extra"]["non_micro"]) == sorted(k for k, v in skipped.items() if "non_micro" in v)
    assert not any("non_micro" in p for r in records for p in r.frame_paths)


def test_smic_variant_choice(trees):
    root, _, _ = trees["smic"]
    with pytest.raises(DatasetRootError, match="no cropped HS frames tree"):
        read_smic(root, variant="cropped")


# --- dispatcher, errors, MEGC -----------------------------------------------------------------

def test_read_dataset_unknown_name():
    with pytest.raises(ValueError, match="casme2, samm, smic"):
        read_dataset("casme3", "/nowhere")
    assert DATASET_NAMES == ("casme2", "samm", "smic")


@pytest.mark.parametrize("name", ["casme2", "samm", "smic"])
def test_missing_root_shows_layout(tmp_path, name):
    with pytest.raises(DatasetRootError) as err:
        read_dataset(name, tmp_path / "absent")
    assert isinstance(err.value, FileNotFoundError)
    assert "does not exist" in str(err.value) and "expected layout" in str(err.value)


def test_missing_sheet_and_tree(tmp_path, trees):
    (tmp_path / "sub01").mkdir()
    with pytest.raises(DatasetRootError, match="no coding sheet"):
        read_casme2(tmp_path)
    _, sheet, _ = trees["casme2"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetRootError, match="no frames tree"):
        read_casme2(empty, sheet=sheet)


def test_megc_driving_clips():
    assert len(MEGC_DRIVING_CLIPS) == 9
    for name in ("casme2", "samm", "smic"):
        assert sum(d.dataset == name for d in MEGC_DRIVING_CLIPS) == 3
    assert is_driving_clip("casme2", "sub19", "EP01_01f")
    assert not is_driving_clip("casme2", "sub01", "EP01_01f")
    assert is_driving_clip("casme2", "sub05", "EP19_06f")      # subject not named by the protocol
    assert is_driving_clip("smic", "s20", "s20_sur_01") and is_driving_clip("samm", "007", "007_7_1")
