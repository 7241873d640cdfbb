import json
from pathlib import Path

import pytest
import yaml
from helpers import REPO

from megen.report import main
from megen.studies.report import aggregate, better, collect, markdown_table, report, variant_table


def _write_run(folder, overrides, metrics=None, **sections):
    folder.mkdir(parents=True)
    if overrides is not None:
        (folder / ".hydra").mkdir()
        (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    data = {"metrics": metrics} if metrics is not None else {}
    (folder / "metrics.json").write_text(json.dumps({**data, **sections}))


def _fake_run(folder, sigma, rmte, l1):
    _write_run(folder, [f"prior.sigma={sigma}", "trainer.max_epochs=1"], {
        "test/rmte": rmte, "test/mte": 2.0, "test/l1": l1, "test/l1_static": 0.003,
        "test/epe": 0.5, "test/epe_zero": 0.6, "val/rmte": 9.0})


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
    # no seed override: every run is a variant of n = 1, shown without sd and never marked
    variants = aggregate(runs)
    assert [v["runs"] for v in variants] == [["0"], ["1"], ["2"]]
    assert variants[2]["stats"]["rmte"] == {"mean": 0.8, "sd": None, "n": 1, "static": 1.0,
                                            "best": False, "differs": False}
    agg = variant_table(variants)
    assert agg.splitlines()[0] == ("| runs | prior.sigma | rmte | rmte static | mte | mte static | l1 | l1 static "
                                   "| epe | epe zero flow |")
    assert "| 2 | 8 | 0.8000 (1) | 1.0000 | 2.0000 (1) | 1.0000 | 0.03000 (1) | 0.00300 | 0.5000 (1) | 0.6000 |" in agg
    assert "*" not in agg.split("\n\n")[0] and "**" not in agg.split("\n\n")[0]
    md, png = report(tmp_path)
    assert md.read_text() == agg and png.stat().st_size > 1000


def _seed_sweep(root):
    """Hydra-style jobs: sigma 2, 4, 8 with seeds 0-2, job 9 crashed, sigma 16 with one seed as job 10."""
    rmte = {"2": [0.90, 0.92, 0.94], "4": [0.95, 0.97, 0.99], "8": [0.91, 0.94, 0.97], "16": [1.00]}
    job = 0
    for sigma, values in rmte.items():
        for seed, value in enumerate(values):
            job += job == 9
            _write_run(root / str(job), [f"prior.sigma={sigma}", f"seed={seed}", "trainer.max_epochs=1"], {
                "test/rmte": value, "test/mte": 1.5, "test/l1": 0.010 + 0.002 * seed,
                "test/l1_static": 0.003 + 0.001 * seed})
            job += 1


def test_seeds_aggregate_into_variants_with_spread_marks(tmp_path):
    _seed_sweep(tmp_path)
    variants = aggregate(collect(tmp_path))
    assert [v["runs"] for v in variants] == [["0", "1", "2"], ["3", "4", "5"], ["6", "7", "8"], ["10"]]
    assert [v["overrides"] for v in variants][0] == {"prior.sigma": "2", "trainer.max_epochs": "1"}
    s = [v["stats"]["rmte"] for v in variants]
    assert [x["mean"] for x in s] == pytest.approx([0.92, 0.97, 0.94, 1.0])
    assert [x["sd"] for x in s[:3]] == pytest.approx([0.02, 0.02, 0.03]) and s[3]["sd"] is None
    assert [x["n"] for x in s] == [3, 3, 3, 1]
    # sigma 2 is best; 4 is 0.05 away > 0.02 + 0.02; 8 is 0.02 away < 0.03 + 0.02; 16 has n = 1
    assert [x["best"] for x in s] == [True, False, False, False]
    assert [x["differs"] for x in s] == [False, True, False, False]
    l1 = variants[1]["stats"]["l1"]
    assert (l1["mean"], l1["sd"], l1["n"], l1["static"]) == pytest.approx((0.012, 0.002, 3, 0.004))

    table = variant_table(variants, "sigma x 3 seeds")
    lines = table.splitlines()
    assert lines[0] == "sigma x 3 seeds"
    assert lines[2] == "| runs | prior.sigma | rmte | rmte static | mte | mte static | l1 | l1 static |"
    # l1's lowest mean is sigma 16's single run: no spread to compare with, so no bold and no mark
    # mte is the same in every run: the tied variants share the bold and none differs
    assert lines[4] == ("| 0, 1, 2 | 2 | **0.9200** ± 0.0200 (3) | 1.0000 | **1.5000** ± 0.0000 (3) | 1.0000 "
                        "| 0.01200 ± 0.00200 (3) | 0.00400 |")
    assert lines[5].startswith("| 3, 4, 5 | 4 | 0.9700 ± 0.0200 (3) * | 1.0000 | **1.5000** ± 0.0000 (3) | ")
    assert lines[6].startswith("| 6, 7, 8 | 8 | 0.9400 ± 0.0300 (3) | 1.0000 |")
    assert lines[7] == ("| 10 | 16 | 1.0000 (1) | 1.0000 | 1.5000 (1) | 1.0000 | 0.01000 (1) | 0.00300 |")
    assert lines[8] == "" and lines[9].startswith("mean ± sample sd (n runs)") and "*: differs" in lines[9]
    assert sum(line.count(") *") for line in lines[4:8]) == 1

    main([str(tmp_path), "--runs"])
    text = (tmp_path / "report.md").read_text()
    assert text.startswith(variant_table(variants)) and text.endswith(markdown_table(collect(tmp_path), "Runs"))
    assert "| 10 | 16 | 0 | 1.0000 (1.0000) |" in text and (tmp_path / "report.png").stat().st_size > 1000


def test_no_marks_when_the_best_has_one_run_and_seed_only_sweeps(tmp_path):
    for i, (overrides, rmte) in enumerate([(["prior=none"], 0.5), (["prior=paper", "seed=0"], 0.9),
                                           (["prior=paper", "seed=1"], 1.1)]):
        _write_run(tmp_path / "a" / str(i), overrides, {"test/rmte": rmte})
    variants = aggregate(collect(tmp_path / "a"))
    assert [(v["overrides"], v["stats"]["rmte"]["n"]) for v in variants] == [({"prior": "none"}, 1),
                                                                            ({"prior": "paper"}, 2)]
    assert not any(v["stats"]["rmte"][k] for v in variants for k in ("best", "differs"))
    for seed, rmte in enumerate([1.0, 1.2, 1.1]):
        _write_run(tmp_path / "b" / str(seed), [f"seed={seed}"], {"test/rmte": rmte})
    (variant,) = aggregate(collect(tmp_path / "b"))
    assert variant_table([variant]).splitlines()[:3] == ["| runs | rmte | rmte static |", "|---|---|---|",
                                                         "| 0, 1, 2 | 1.1000 ± 0.1000 (3) | 1.0000 |"]


def test_directions_for_evaluate_metrics(tmp_path):
    assert [better(m) for m in ("rmte", "x_akd", "aed", "epe", "x_l1")] == ["lower"] * 5
    assert [better(m) for m in ("psnr", "x_ssim", "fid_corr")] == ["higher"] * 3
    assert better("fid_ratio") == 1.0 and better("something_new") is None
    for k, (model, psnr, ratio) in enumerate([("fomm", 30.0, 0.5), ("fomm", 31.0, 0.9), ("fomm", 33.0, 0.95),
                                              ("mraa", 35.0, 1.1), ("mraa", 37.0, 1.2)]):
        _write_run(tmp_path / str(k), [f"model={model}", f"seed={k}"],
                   reconstruction={"psnr": {"model": psnr, "static": 28.0}},
                   motion_fidelity={"ratio": {"model": ratio, "static": 0.0},
                                    "ratio/brows": {"model": 9.0, "static": 0.0}})
    fomm, mraa = aggregate(collect(tmp_path))
    # psnr, higher is better: mraa 36 ± 1.41 beats fomm 31.33 ± 1.53 by 4.67 > 2.94
    assert mraa["stats"]["psnr"]["best"] and fomm["stats"]["psnr"]["differs"]
    # ratio, nearest 1 is best: mraa 1.15 ± 0.07 over fomm 0.78 ± 0.25 (the lower one), 0.37 apart > 0.32
    assert fomm["stats"]["fid_ratio"]["mean"] == pytest.approx(0.78333, abs=1e-5)
    assert mraa["stats"]["fid_ratio"]["best"] and fomm["stats"]["fid_ratio"]["differs"]
    assert fomm["stats"]["fid_ratio"]["static"] == 0.0 and "fid_ratio/brows" not in fomm["stats"]
    assert "| 0, 1, 2 | fomm | 31.3333 ± 1.5275 (3) * | 28.0000 | 0.7833 ± 0.2466 (3) * | 0.0000 |" in \
        variant_table([fomm, mraa])


def test_report_reads_evaluate_results_and_fails_clearly(tmp_path):
    run = tmp_path / "e"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"reconstruction": {"l1": {"model": 0.1, "static": 0.2}},
                                                  "motion_fidelity": {"corr": {"model": 0.5, "static": 0.0},
                                                                      "corr/brows": {"model": 1, "static": 0}}}))
    runs = collect(tmp_path)
    assert runs[0]["metrics"] == {"l1": 0.1, "l1_static": 0.2, "fid_corr": 0.5, "fid_corr_static": 0.0}
    _write_run(tmp_path / "f", None, reconstruction={"l1": {"model": 0.3, "static": 0.2}})
    variants = aggregate(collect(tmp_path))      # no overrides at all: runs cannot be told apart, so kept apart
    assert [(v["runs"], v["stats"]["l1"]["n"]) for v in variants] == [(["e"], 1), (["f"], 1)]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no metrics.json"):
        collect(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        collect(tmp_path / "missing")


def test_a_diverged_seed_shows_nan_without_breaking_the_table(tmp_path):
    for job, (sigma, rmte) in enumerate([(2, float("nan")), (2, 1.0), (4, 0.5), (4, 0.6), (8, 0.9), (8, 0.9)]):
        _write_run(tmp_path / str(job), [f"prior.sigma={sigma}", f"seed={job % 2}"], {"test/rmte": rmte})
    table = variant_table(aggregate(collect(tmp_path)))
    assert "| 0, 1 | 2 | nan ± nan (2) | 1.0000 |" in table
    assert "| 2, 3 | 4 | **0.5500** ± 0.0707 (2) | 1.0000 |" in table
    assert "| 4, 5 | 8 | 0.9000 ± 0.0000 (2) * | 1.0000 |" in table


def test_placement_overrides_do_not_split_variants(tmp_path):
    """run_dir / paths.* / progress overrides differ per run but are not settings."""
    import json

    from megen.studies.report import aggregate, collect

    for seed in (0, 1):
        run = tmp_path / f"row/seed{seed}"
        (run / ".hydra").mkdir(parents=True)
        (run / ".hydra" / "overrides.yaml").write_text(
            f"- seed={seed}\n- run_dir={run}\n- paths.output_root=/x{seed}\n- callbacks.progress=null\n- prior.sigma=4\n")
        (run / "metrics.json").write_text(json.dumps({"metrics": {"test/rmte": 0.5 + 0.1 * seed}}))
    variants = aggregate(collect(tmp_path))
    assert len(variants) == 1 and variants[0]["overrides"] == {"prior.sigma": "4"}
    assert abs(variants[0]["stats"]["rmte"]["mean"] - 0.55) < 1e-9


def _evaluate_run(folder):
    section = {m: {"model": 0.5 + i / 10, "static": 1.0} for i, m in
               enumerate(("l1", "psnr", "ssim", "akd", "aed", "rmte", "mte", "epe"))}
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({
        "reconstruction": section, "cross_identity": {k: v for k, v in section.items() if k != "epe"},
        "motion_fidelity": {"corr": {"model": 0.4, "static": 0.0}, "ratio": {"model": 0.7, "static": 0.0}}}))


def test_report_of_one_evaluate_run_is_readable(tmp_path):
    from helpers import run_module

    from megen.studies.report import figure

    run = tmp_path / "2026-01-01_10-00-00"
    _evaluate_run(run)
    out = run_module("megen.report", str(run), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Warning" not in out.stderr and "tight" not in out.stderr, out.stderr
    first, second = (run / "report.md").read_text().split("\nMore metrics: reconstruction\n")
    header = first.splitlines()[0]
    # the metrics that matter first, the run named by its folder, not "."
    assert header == ("| runs | rmte | rmte static | mte | mte static | l1 | l1 static | epe | epe zero flow "
                      "| fid_corr | fid_corr static |")
    assert first.splitlines()[2].startswith("| 2026-01-01_10-00-00 | 1.0000 (1) | 1.0000 |")
    assert "| psnr | psnr static |" in second and "fid_ratio" in second
    assert "\nMore metrics: cross-identity (x_)\n" in second and "| x_rmte | x_rmte static |" in second
    assert all(len(x.split("|")) - 2 <= 16 for x in (first + second).splitlines() if x.startswith("|"))
    assert second.rstrip().splitlines()[-1].startswith("mean ± sample sd")

    fig = figure(__import__("megen.studies.report", fromlist=["collect"]).collect(run))
    fig.canvas.draw()
    renderer, box = fig.canvas.get_renderer(), fig.bbox
    for ax in fig.axes:
        static = [line for line in ax.get_lines() if line.get_label().startswith(("static", "zero flow"))]
        assert static and static[0].get_marker() == "x" and len(static[0].get_xdata()) == 1   # one run, visible
        assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"model (mean ± sd)"}
        for text in [ax.xaxis.label, ax.title, *ax.get_xticklabels()]:
            ext = text.get_window_extent(renderer)
            assert ext.x0 >= box.x0 - 1 and ext.y0 >= box.y0 - 1 and ext.x1 <= box.x1 + 1 and ext.y1 <= box.y1 + 1


def test_runs_linked_from_another_study_are_collected_once(tmp_path):
    other = tmp_path / "sweep_sigma" / "runs"
    _fake_run(other / "sigma8" / "seed0", 8, 0.8, 0.01)
    study = tmp_path / "sweep_mode" / "runs"
    _fake_run(study / "learned" / "seed0", 8, 0.9, 0.02)
    (study / "landmarks").symlink_to(other / "sigma8", target_is_directory=True)
    (study / "learned" / "loop").symlink_to(study, target_is_directory=True)   # a cycle is walked once
    runs = collect(study)
    assert sorted(r["run"] for r in runs) == ["landmarks/seed0", "learned/seed0"]
    assert {r["run"]: r["metrics"]["rmte"] for r in runs} == {"landmarks/seed0": 0.8, "learned/seed0": 0.9}


def test_rows_of_a_study_stay_apart_when_their_overrides_agree(tmp_path):
    for row, rmte in (("mraa_paper", 0.9), ("mraa_paper_frame_shape", 1.1)):
        for seed in (0, 1):
            _write_run(tmp_path / row / f"seed{seed}", ["model=mraa", f"seed={seed}"],
                       {"test/rmte": rmte + 0.01 * seed})
    variants = aggregate(collect(tmp_path))
    assert [v["runs"] for v in variants] == [["mraa_paper/seed0", "mraa_paper/seed1"],
                                             ["mraa_paper_frame_shape/seed0", "mraa_paper_frame_shape/seed1"]]
    assert [round(v["stats"]["rmte"]["mean"], 3) for v in variants] == [0.905, 1.105]


def test_real_pair_scores_are_columns_beside_the_flow_transfer_baseline(tmp_path):
    for seed, cos in enumerate([0.8, 0.9]):
        run = tmp_path / f"seed{seed}"
        _write_run(run, ["model=flow", f"seed={seed}"], {"test/rmte": 0.7, "test/epe": 0.1, "test/epe_zero": 0.2})
        scores = lambda c, a: {"cosine": c, "amplitude": a, "identity": 0.08, "sharpness": 1.0, "pairs": 3}  # noqa: E731
        (run / "real_pairs.json").write_text(json.dumps({"pairs": [], "mean": {
            "static": scores(0.0, 0.0), "flow_transfer": scores(0.9, 1.0), "megen (native)": scores(cos, 0.5)}}))
    _write_run(tmp_path / "none", ["model=fomm"], {"test/rmte": 0.8})       # a run never scored on real pairs
    runs = collect(tmp_path)
    assert runs[1]["metrics"]["real_cosine"] == 0.8 and runs[1]["metrics"]["real_cosine_static"] == 0.9
    assert "real_cosine" not in runs[0]["metrics"]
    variants = aggregate(runs)
    flow = next(v for v in variants if v["overrides"].get("model") == "flow")
    assert flow["stats"]["real_cosine"]["mean"] == pytest.approx(0.85) and flow["stats"]["real_cosine"]["n"] == 2
    assert flow["stats"]["real_amplitude"]["static"] == 1.0
    table = variant_table(variants)
    assert "real_cosine flow transfer" in table.splitlines()[0] and "real_amplitude flow transfer" in table.splitlines()[0]
    assert better("real_cosine") == "higher" and better("real_amplitude") == 1.0 and better("real_identity") == "lower"


def test_real_pair_scores_per_driving_clip_on_request(tmp_path):
    """``--by-driver``: each driving clip's mean over the pairs it drives, the model's beside the flow transfer's."""
    scores = lambda c, a: {"cosine": c, "amplitude": a, "identity": 0.08}  # noqa: E731
    pairs = [{"driving": "driving/casme2_a.gif", "systems": {"flow_transfer": scores(0.9, 1.0), "megen": scores(0.7, 0.4)}},
             {"driving": "driving/casme2_a.gif", "systems": {"flow_transfer": scores(0.8, 1.2), "megen": scores(0.5, 0.6)}},
             {"driving": "driving/smic_b.gif", "systems": {"flow_transfer": scores(0.6, 1.4), "megen": scores(0.3, 0.2)}}]
    run = tmp_path / "seed0"
    _write_run(run, ["model=fomm", "seed=0"], {"test/rmte": 0.8})
    (run / "real_pairs.json").write_text(json.dumps({"pairs": pairs, "mean": {
        "flow_transfer": scores(0.77, 1.2), "megen": scores(0.5, 0.4)}}))
    assert not any("@" in k for k in collect(tmp_path)[0]["metrics"])
    metrics = collect(tmp_path, by_driver=True)[0]["metrics"]
    assert metrics["real_cosine@casme2_a"] == pytest.approx(0.6) and metrics["real_amplitude@smic_b"] == pytest.approx(0.2)
    assert metrics["real_cosine@casme2_a_static"] == pytest.approx(0.85) and metrics["real_cosine"] == 0.5
    assert better("real_cosine@smic_b") == "higher" and better("real_amplitude@casme2_a") == 1.0
    main([str(tmp_path), "--by-driver"])
    assert "real_cosine@smic_b" in (tmp_path / "report.md").read_text()


def test_real_pair_scores_per_estimator_on_request(tmp_path):
    """``--by-estimator``: the cosine and amplitude under each scorer, the model's beside the flow transfer's."""
    def scores(c, a):
        return {"cosine": sum(c) / 2, "amplitude": sum(a) / 2, "identity": 0.08, "cosine/deepflow": c[0],
                "cosine/tvl1": c[1], "amplitude/deepflow": a[0], "amplitude/tvl1": a[1]}
    for seed, shift in enumerate([0.0, 0.02]):
        run = tmp_path / f"seed{seed}"
        _write_run(run, ["model=fomm", f"seed={seed}"], {"test/rmte": 0.8})
        (run / "real_pairs.json").write_text(json.dumps({"estimators": ["deepflow", "tvl1"], "pairs": [], "mean": {
            "flow_transfer": scores((0.92, 0.88), (1.0, 0.87)), "megen (native)": scores((0.7 + shift, 0.6), (0.6, 0.5))}}))
    assert not any("/" in k for k in collect(tmp_path)[0]["metrics"])
    metrics = collect(tmp_path, by_estimator=True)[1]["metrics"]
    assert metrics["real_cosine/deepflow"] == pytest.approx(0.72) and metrics["real_amplitude/tvl1"] == 0.5
    assert metrics["real_cosine/tvl1_static"] == 0.88 and metrics["real_cosine"] == pytest.approx(0.66)
    assert better("real_cosine/tvl1") == "higher" and better("real_amplitude/deepflow") == 1.0
    stats = aggregate(collect(tmp_path, by_estimator=True))[0]["stats"]
    assert stats["real_cosine/deepflow"]["mean"] == pytest.approx(0.71) and stats["real_cosine/deepflow"]["n"] == 2
    main([str(tmp_path), "--by-estimator"])
    text = (tmp_path / "report.md").read_text()
    assert "| real_cosine/deepflow | real_cosine/deepflow flow transfer |" in text and "0.7100 ± 0.0141 (2)" in text


def test_the_share_of_converged_seeds_is_a_column(tmp_path):
    for seed, verdict in enumerate([True, False, None]):
        run = tmp_path / "fomm" / f"seed{seed}"
        _write_run(run, ["model=fomm", f"seed={seed}"], {"test/rmte": 0.8}, convergence={"converged": verdict})
    runs = collect(tmp_path)
    assert [r["metrics"].get("converged") for r in runs] == [1.0, 0.0, None]      # None: too short to judge
    stats = aggregate(runs)[0]["stats"]["converged"]
    assert stats["mean"] == 0.5 and stats["n"] == 2
    assert "| converged | converged static |" in variant_table(aggregate(runs)).splitlines()[0]


def test_committed_study_runs_keep_only_what_rebuilds_their_tables():
    import subprocess

    root = REPO
    try:
        listed = subprocess.run(["git", "ls-files", "experiments"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    keep = {"metrics.json", "real_pairs.json", "overrides.yaml", "report.md", "report.png"}
    runs = [f for f in listed if "/runs" in f and not (root / f).is_symlink()]
    assert runs, "no committed study runs found"
    assert [f for f in runs if Path(f).name not in keep] == []
