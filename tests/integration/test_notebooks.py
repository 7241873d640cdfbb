"""Execute the notebooks end to end (the results notebook on a small fake study)."""
import json

import nbformat
import yaml
from helpers import REPO
from nbclient import NotebookClient

NOTEBOOKS = REPO / "notebooks"


def _execute(name, tmp_path, monkeypatch, **env):
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def test_facial_prior_notebook(tmp_path, monkeypatch):
    nb = _execute("facial_prior.ipynb", tmp_path, monkeypatch)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)


def test_results_notebook_on_a_fake_study(tmp_path, monkeypatch):
    for i, (prior, rmte) in enumerate([("none", 1.02), ("paper", 0.97)]):
        run = tmp_path / "runs" / str(i)
        (run / ".hydra").mkdir(parents=True)
        (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"prior={prior}"]))
        (run / "metrics.json").write_text(json.dumps({"metrics": {"test/rmte": rmte, "test/l1": 0.01,
                                                                  "test/l1_static": 0.003}}))
    nb = _execute("results.ipynb", tmp_path, monkeypatch, MEGEN_RUNS=tmp_path / "runs",
                  MEGEN_PLOT=tmp_path / "plot.png")
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "| 1 | paper | 0.9700 (1.0000)" in text
    assert (tmp_path / "plot.png").is_file()
