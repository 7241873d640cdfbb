import json

import pytest
import yaml

from megen.report import collect, markdown_table, report


def _fake_run(folder, sigma, rmte, l1):
    folder.mkdir(parents=True)
    (folder / ".hydra").mkdir()
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"prior.sigma={sigma}", "trainer.max_epochs=1"]))
    (folder / "metrics.json").write_text(json.dumps({"metrics": {
        "test/rmte": rmte, "test/mte": 2.0, "test/l1": l1, "test/l1_static": 0.003,
        "test/epe": 0.5, "test/epe_zero": 0.6, "val/rmte": 9.0}}))


def test_report_over_a_fake_multirun(tmp_path):
    for i, (sigma, rmte) in enumerate([(16, 0.95), (2, 0.9), (8, 0.8)]):
        _fake_run(tmp_path / str(i), sigma, rmte, 0.01 * (i + 1))
    runs = collect(tmp_path)
    assert [r["overrides"]["prior.sigma"] for r in runs] == ["16", "2", "8"]
    assert runs[2]["metrics"] == {"rmte": 0.8, "rmte_static": 1.0, "mte": 2.0, "mte_static": 1.0,
                                  "l1": 0.03, "l1_static": 0.003, "epe": 0.5, "epe_static": 0.6}
    table = markdown_table(runs, "CPU-scale synthetic run")
    lines = table.splitlines()
    assert lines[0] == "CPU-scale synthetic run"
    assert lines[2].startswith("| run | prior.sigma | rmte (static)")      # only the swept key is a column
    assert "| 2 | 8 | 0.8000 (1.0000) |" in table
    md, png = report(tmp_path)
    assert md.read_text() == markdown_table(runs) and png.stat().st_size > 1000


def test_report_reads_evaluate_results_and_fails_clearly(tmp_path):
    run = tmp_path / "e"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"reconstruction": {"l1": {"model": 0.1, "static": 0.2}},
                                                  "motion_fidelity": {"corr": {"model": 0.5, "static": 0.0},
                                                                      "corr/brows": {"model": 1, "static": 0}}}))
    runs = collect(tmp_path)
    assert runs[0]["metrics"] == {"l1": 0.1, "l1_static": 0.2, "fid_corr": 0.5, "fid_corr_static": 0.0}
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no metrics.json"):
        collect(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        collect(tmp_path / "missing")
