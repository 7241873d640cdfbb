"""megen.data.splits: the splits a pure function of the prepared rows, pinned to the numbers the data modules
gave before it was one."""
import pytest

from megen.data.cache import PreparedSet
from megen.data.splits import select_splits

SPLIT_PINS = {
    "fractions": ({"val": 0.2, "test": 0.2, "seed": 0},
                  {"test": ["s05_01", "s05_02"], "val": ["s03_01", "s03_02"],
                   "train": ["s01_01", "s01_02", "s02_01", "s02_02", "s04_01", "s04_02"]}),
    "loso1": ({"loso": 1}, {"test": ["s02_01", "s02_02"], "val": [],
                            "train": ["s01_01", "s01_02", "s03_01", "s03_02", "s04_01", "s04_02", "s05_01", "s05_02"]}),
}


@pytest.mark.parametrize("name", sorted(SPLIT_PINS))
def test_select_splits_matches_the_data_modules_former_splits(prepared, name):
    split, expected = SPLIT_PINS[name]
    rows = PreparedSet.open(prepared).rows
    selected, excluded = select_splits(rows, split, exclude=["megc"])
    assert {k: sorted(rows[i]["clip"] for i in v) for k, v in selected.items()} == expected
    assert excluded == []


def test_select_splits_excludes_before_splitting(prepared):
    rows = PreparedSet.open(prepared).rows
    selected, excluded = select_splits(rows, {"loso": 0}, exclude=["s01_01"])
    assert [rows[i]["clip"] for i in excluded] == ["s01_01"]
    assert all(rows[i]["clip"] != "s01_01" for v in selected.values() for i in v)
