"""``orchestrate report``: the files it writes, the images' sizes, and what it logs to the sweep."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from report_store import Trial, log_oat, log_study, make_variants_spec, oat_spec, oat_trial
from PIL import Image

from orchestrator.cli import main
from orchestrator.report.basis import BASIS_COLUMN, FINAL
from orchestrator.report.plots import SIZE_PIXELS
from orchestrator.report.study_report import write_report
from orchestrator.tracking.reader import latest_sweep
from orchestrator.tracking.writer import StudyTracker

PER_CLASS = {f"class_{i}": 0.5 + i / 40 for i in range(20)}
TABLES = ["leaderboard", "ablation_model_attention_kwargs_k_size"]
FIGURES = ["top1_intervals.png", "accuracy_vs_params.png", "val_top1_curves.png",
           "ablation_model_attention_kwargs_k_size_forest.png"]


@pytest.fixture(scope="module")
def reported(store: str, tmp_path_factory: pytest.TempPathFactory):
    log_oat(store, "reported", per_class=PER_CLASS)
    out = tmp_path_factory.mktemp("report")
    return store, write_report("reported", out, uri=store, group_by=["model.attention"])


def test_writes_every_table_in_three_formats_and_every_figure(reported):
    _, report = reported
    names = {path.name for path in report.files}
    for stem in [*TABLES, "groups_model_attention"]:
        assert {f"{stem}.csv", f"{stem}.md", f"{stem}.tex"} <= names
    assert {*FIGURES, "per_class.png", "index.md"} <= names
    assert all(path.exists() and path.stat().st_size > 0 for path in report.files)
    assert report.notes == []


@pytest.mark.parametrize("name", [*FIGURES, "per_class.png"])
def test_figures_are_png_images_of_the_report_size(reported, name):
    _, report = reported
    with Image.open(report.out / name) as image:
        assert image.format == "PNG" and image.size == SIZE_PIXELS
        assert len(set(image.convert("L").getdata())) > 10  # something is drawn, not a blank canvas


def test_tables_hold_the_leaderboard_numbers(reported):
    _, report = reported
    board = pd.read_csv(report.out / "leaderboard.csv")
    assert board["label"].tolist()[0] == "k_size=3" and board["n_pruned"].sum() == 1
    markdown = (report.out / "leaderboard.md").read_text()
    assert "72.50 ± 0.56" in markdown and "1 pruned" in markdown and "1 failed" in markdown
    tex = (report.out / "ablation_model_attention_kwargs_k_size.tex").read_text()
    assert r"\pm" in tex and r"model.attention\_kwargs.k\_size" in tex


def test_every_table_says_its_split_and_epoch_rule(reported):
    _, report = reported
    for stem in [*TABLES, "groups_model_attention"]:
        assert (pd.read_csv(report.out / f"{stem}.csv")[BASIS_COLUMN] == FINAL.label).all(), stem
        markdown = (report.out / f"{stem}.md").read_text()
        assert markdown.split("\n\n")[2].strip() == FINAL.caption, stem  # the line under the table
        assert "val split, final epoch" in (report.out / f"{stem}.tex").read_text(), stem


def test_report_is_logged_to_the_latest_sweep_run(reported):
    store, report = reported
    run_id, _ = latest_sweep("reported", uri=store)
    assert report.logged_to == run_id
    client = StudyTracker("reported", store).client
    logged = {Path(item.path).name for item in client.list_artifacts(run_id, "report")}
    assert {path.name for path in report.files} <= logged


def test_missing_per_class_file_is_a_note_and_no_figure(oat, tmp_path):
    report = write_report("oat", tmp_path, uri=oat, log=False)
    assert not (tmp_path / "per_class.png").exists()
    assert report.notes == ["per-class plot skipped: the best configuration's runs have no per_class_accuracy.csv"]
    assert "per-class plot skipped" in (tmp_path / "index.md").read_text()
    assert report.logged_to is None


def test_cli_report(oat, tmp_path):
    result = CliRunner().invoke(main, ["report", "oat", "--out", str(tmp_path), "--no-log", "--min-effect", "0.5",
                                       "--tracking-uri", oat])
    assert result.exit_code == 0, result.output
    assert "read 13 runs of oat" in result.output and f"to {tmp_path}" in result.output
    assert "note: per-class plot skipped" in result.output
    assert (tmp_path / "leaderboard.tex").exists() and (tmp_path / "top1_intervals.png").exists()
    table = (tmp_path / "ablation_model_attention_kwargs_k_size.md").read_text()
    assert "seeds, 80% power (Δ=±0.5, ref.)" in table and "not informative (2 seeds)" in table


@pytest.mark.parametrize(("args", "message"), [
    (["--group-by", "model.atention"], "--group-by model.atention: no run of oat has this config option or tag"),
    (["--min-effect", "-0.5"], "Invalid value for '--min-effect': -0.5 is not in the range x>0."),
])
def test_a_group_no_run_has_or_an_effect_not_above_0_is_refused_and_nothing_written(oat, tmp_path, args, message):
    """A mistyped group key wrote an empty group table among the files; a negative effect was taken."""
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["report", "oat", "--out", str(out), "--no-log", "--tracking-uri", oat, *args])
    assert (result.exit_code, result.output.count("\n")) == (2, 1), result.output
    assert result.output.startswith(f"error: {message}")
    assert not out.exists()


def test_one_model_size_gets_a_note_not_a_params_axis(store, tmp_path):
    trials = [oat_trial(label, seed, params=269_720.0 + 30 * i, per_class=None)
              for i, label in enumerate(["baseline", "k_size=3", "k_size=5"]) for seed in range(3)]
    log_study(store, oat_spec("one_size"), trials)
    report = write_report("one_size", tmp_path, uri=store, log=False)
    assert not (tmp_path / "accuracy_vs_params.png").exists()
    assert "accuracy-vs-params skipped: parameter counts span only 0.26972-0.26978 M (less than 5% apart)" in report.notes


def test_a_variants_study_gets_its_comparison_table_and_forest(store, tmp_path):
    variants = {"resnet20": {}, "resnet32": {"model.name": "resnet32"}}
    trials = [Trial(label, factors, seed, 70.0 + seed + 2 * (label == "resnet32"), params=270e3 * (1 + i))
              for i, (label, factors) in enumerate(variants.items()) for seed in range(3)]
    log_study(store, make_variants_spec("rows", variants, reference="resnet32"), trials)
    report = write_report("rows", tmp_path, uri=store, log=False)
    assert {"ablation_variants.csv", "ablation_variants.md", "ablation_variants_forest.png"} <= {
        path.name for path in report.files}
    assert not any("no ablation tables" in note for note in report.notes)
    table = pd.read_csv(tmp_path / "ablation_variants.csv")
    assert table["level"].tolist() == ["resnet32", "resnet20"] and table["delta"].iloc[1] == pytest.approx(-2.0)
    assert "rows: 2 variants against resnet32" in (tmp_path / "ablation_variants.md").read_text()
