"""A report's own numbers beside ours: carried on the parent run, each compared under its own rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from report_store import Trial, log_study, make_variants_spec, open_store

from orchestrator.cli import main
from orchestrator.report import leaderboard
from orchestrator.report.study_report import write_report
from orchestrator.tracking.names import REPORTED_FILE
from orchestrator.tracking.reader import latest_sweep, read_json_artifact

ATTENTION = "model.attention"
# Per seed, (best-epoch top-1, final-epoch top-1): the final epoch is always below the best, so a
# comparison made under the wrong rule gives another number.
RUNS = {"eca": [(72.0, 65.0), (73.0, 66.0), (74.0, 67.0)], "none": [(51.0, 40.0), (52.0, 41.0), (53.0, 42.0)]}
REPORTED = {"source": "seed 003, table 1", "basis": "best_epoch",
            "rows": {"eca": {"best_epoch": 70.0, "final_epoch": 60.0, "note": "batch 1024"}, "none": 50.0}}


@pytest.fixture(scope="module")
def seed_study(store_folder: Path) -> str:
    uri = open_store(store_folder / "reported")
    spec = make_variants_spec("seedtable", {"eca": {}, "none": {ATTENTION: None}})
    trials = [Trial(label, {} if label == "eca" else {ATTENTION: None}, seed, final, best_top1=best)
              for label, values in RUNS.items() for seed, (best, final) in enumerate(values)]
    log_study(uri, {**spec, "reported": REPORTED}, trials)
    return uri


def test_the_parent_run_carries_the_reported_section(seed_study: str) -> None:
    run_id, spec = latest_sweep("seedtable", uri=seed_study)
    assert read_json_artifact(run_id, REPORTED_FILE, uri=seed_study) == REPORTED


def test_each_reported_number_sits_beside_ours_of_the_same_rule(seed_study: str) -> None:
    board = leaderboard("seedtable", uri=seed_study).set_index("label")
    # eca: best-epoch mean 73 beside the best-epoch 70; final-epoch mean 66 beside the final 60.
    assert board.loc["eca", ["reported_best_epoch", "ours_best_epoch", "delta_best_epoch"]].tolist() == \
        pytest.approx([70.0, 73.0, 3.0])
    assert board.loc["eca", ["reported_final_epoch", "ours_final_epoch", "delta_final_epoch"]].tolist() == \
        pytest.approx([60.0, 66.0, 6.0])
    # none: a plain number read with the section's basis (best epoch): 52 - 50, never 41 - 50.
    assert board.loc["none", ["reported_best_epoch", "ours_best_epoch", "delta_best_epoch"]].tolist() == \
        pytest.approx([50.0, 52.0, 2.0])
    assert board.loc["none", ["reported_final_epoch", "ours_final_epoch"]].isna().all()


def test_leaderboard_command_shows_the_numbers_and_the_rule(seed_study: str) -> None:
    result = CliRunner().invoke(main, ["leaderboard", "seedtable", "--tracking-uri", seed_study])
    assert result.exit_code == 0, result.output
    assert "reported best-epoch (%)" in result.output and "Δ final-epoch" in result.output
    assert "+3.00" in result.output and "+6.00" in result.output
    assert ("Reported (seed 003, table 1): best-epoch numbers beside our val split, best epoch (optimistic) "
            "mean; final-epoch numbers beside our val split, final epoch mean") in result.output


def test_report_writes_one_line_per_reported_number(seed_study: str, tmp_path: Path) -> None:
    report = write_report("seedtable", tmp_path, uri=seed_study, log=False)
    assert tmp_path / "reported.md" in report.files
    text = (tmp_path / "reported.md").read_text()
    lines = [line for line in text.splitlines() if line.startswith("| eca") or line.startswith("| none")]
    assert lines == [
        "| eca | best-epoch (ours: val split, best epoch (optimistic)) | 70.00 | 73.00 ± 1.00 | 3 | +3.00 | batch 1024 |",
        "| eca | final-epoch (ours: val split, final epoch) | 60.00 | 66.00 ± 1.00 | 3 | +6.00 | batch 1024 |",
        "| none | best-epoch (ours: val split, best epoch (optimistic)) | 50.00 | 52.00 ± 1.00 | 3 | +2.00 |  |",
    ]
    assert "best-epoch numbers beside our val split, best epoch (optimistic) mean" in text


def test_a_study_without_reported_numbers_has_no_such_columns(seed_study: str) -> None:
    log_study(seed_study, make_variants_spec("plain", {"eca": {}}), [Trial("eca", {}, 0, 70.0)])
    board = leaderboard("plain", uri=seed_study)
    assert not [c for c in board.columns if c.startswith(("reported_", "ours_", "delta_"))]
    assert board.attrs["reported"] == []


@pytest.mark.parametrize("reported, message", [
    ({"source": "s", "basis": "best_epoch", "rows": {"resnet": 1.0}},
     "reported.rows.resnet: not a row of this study (rows: eca, none)"),
    ({"source": "s", "rows": {"eca": 1.0}}, "reported.rows.eca: a plain number needs reported.basis"),
    ({"source": "s", "rows": {"eca": {"best": 1.0}}}, "reported.rows.eca.best: unknown key"),
])
def test_bad_reported_sections_are_refused_with_one_line(tmp_path: Path, reported: dict, message: str) -> None:
    spec = make_variants_spec("bad", {"eca": {}, "none": {ATTENTION: None}}) | {"reported": reported}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = CliRunner().invoke(main, ["sweep", str(path), "--dry-run"])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
