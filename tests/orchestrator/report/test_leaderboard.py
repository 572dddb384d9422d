"""Every number of the leaderboard against values computed here from the logged trials."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from report_store import ATTENTION, OAT_VALUES, Trial, log_oat, log_study, logit_interval, make_spec, oat_spec, oat_trial
from scipy import stats

from orchestrator.cli import main
from orchestrator.errors import OrchestrateError
from orchestrator.report import leaderboard
from orchestrator.report.basis import BASIS_COLUMN, SELECTED
from orchestrator.report.groups import group_summary
from orchestrator.report.runs import load_runs


def expected(label: str) -> dict[str, float]:
    """The row of ``label`` from its finished trials alone, computed with numpy and scipy."""
    done = [t for t in (oat_trial(label, s) for s in range(3)) if t.outcome == "finished"]
    top1 = np.array([t.top1 for t in done])
    low, high = logit_interval(top1)
    params_m = np.mean([t.params for t in done]) / 1e6
    return {
        "n_seeds": len(done), "top1_mean": top1.mean(), "top1_std": top1.std(ddof=1),
        "top1_ci_low": low, "top1_ci_high": high, "top1_ci_informative": len(done) >= 3,
        "top5_mean": np.mean([t.top5 for t in done]), "best_epoch": np.mean([t.best_epoch for t in done]),
        "params_m": params_m, "train_hours": np.mean([t.train_seconds for t in done]) / 3600,
        "efficiency": top1.mean() / params_m,
    }


@pytest.mark.parametrize("label", list(OAT_VALUES))
def test_every_number_of_a_row(oat, label):
    board = leaderboard("oat", uri=oat)
    row = board.set_index("label").loc[label]
    for column, value in expected(label).items():
        assert row[column] == pytest.approx(value), column


def test_rows_are_ranked_by_mean_top1_and_describe_the_configuration(oat):
    board = leaderboard("oat", uri=oat)
    means = {label: expected(label)["top1_mean"] for label in OAT_VALUES}
    assert list(board["label"]) == sorted(means, key=means.get, reverse=True)
    assert list(board["rank"]) == [1, 2, 3, 4]
    assert set(board["model"]) == {"resnet20"} and set(board["study"]) == {"oat"}
    assert board.set_index("label").loc["k_size=5", "factors"] == '{"model.attention_kwargs.k_size": 5}'


def test_pruned_and_failed_runs_are_counted_and_excluded(oat):
    board = leaderboard("oat", uri=oat).set_index("label")
    assert board.loc["k_size=5", ["n_seeds", "n_pruned", "n_failed"]].tolist() == [2, 1, 0]
    assert board.loc["k_size=7", ["n_seeds", "n_pruned", "n_failed"]].tolist() == [2, 0, 1]
    assert board.loc["k_size=5", "top1_mean"] == pytest.approx((71.0 + 72.5) / 2)  # not the pruned 40.0
    # k=3 seed 0 failed in the first sweep and finished in the resumed one: it counts once, finished.
    assert board.loc["k_size=3", ["n_seeds", "n_failed"]].tolist() == [3, 0]
    runs = load_runs("oat", uri=oat)
    assert runs.describe() == (
        "read 13 runs of oat: 10 finished, 1 pruned, 1 failed, 0 running (1 superseded attempts)")


def test_macs_and_gpu_hours_when_logged(oat):
    board = leaderboard("oat", uri=oat).set_index("label")
    assert board.loc["k_size=3", "mmacs"] == pytest.approx(41.0)
    assert math.isnan(board.loc["k_size=5", "mmacs"])
    assert board["device"].to_dict() == {"k_size=3": "gpu", "k_size=5": "cpu", "k_size=7": "cpu",
                                         "baseline": "mixed"}


def test_a_configuration_with_no_finished_seed_keeps_an_unranked_row(store):
    trials = [oat_trial("baseline", seed) for seed in range(3)]
    trials += [oat_trial("k_size=7", seed, outcome="failed") for seed in range(3)]
    log_study(store, oat_spec("all_failed_k7"), trials)
    board = leaderboard("all_failed_k7", uri=store)
    last = board.iloc[-1]
    assert last["label"] == "k_size=7" and pd.isna(last["rank"]) and last["n_seeds"] == 0 and last["n_failed"] == 3


@pytest.fixture(scope="module")
def oat_copy(oat: str) -> str:
    log_oat(oat, "oat_copy")
    return oat


def test_several_studies_make_one_table(oat_copy):
    oat = oat_copy
    board = leaderboard(["oat", "oat_copy"], uri=oat)
    assert len(board) == 8 and board["study"].value_counts().to_dict() == {"oat": 4, "oat_copy": 4}
    # Each configuration and its copy have equal means: they share a rank, and the next rank skips.
    assert list(board["rank"]) == [1, 1, 3, 3, 5, 5, 7, 7]
    assert (board.groupby("rank")["label"].nunique() == 1).all()


def test_group_summary_averages_configuration_means(oat):
    groups = group_summary("oat", "model.attention", uri=oat).set_index("model.attention")
    eca = [expected(label)["top1_mean"] for label in ("k_size=3", "k_size=5", "k_size=7")]
    assert groups.loc["eca", "configs"] == 3 and groups.loc["eca", "runs"] == 7
    assert groups.loc["eca", "top1_mean"] == pytest.approx(np.mean(eca))
    assert groups.loc["eca", "top1_std"] == pytest.approx(np.std(eca, ddof=1))
    renamed = group_summary("oat", "label", uri=oat, mapping={"k_size=3": "eca", "k_size=5": "eca"})
    assert renamed.set_index("label").loc["eca", "configs"] == 2


def test_unknown_study_is_one_error(oat):
    with pytest.raises(OrchestrateError, match="no study named 'missing'"):
        leaderboard("missing", uri=oat)


@pytest.mark.parametrize("fmt, marker", [("md", "| rank | config |"), ("tex", r"\toprule"), ("csv", "rank,study,")])
def test_cli_formats(oat, fmt, marker, tmp_path):
    csv_path = tmp_path / "board.csv"
    result = CliRunner().invoke(main, ["leaderboard", "oat", "--format", fmt, "--csv", str(csv_path),
                                       "--tracking-uri", oat])
    assert result.exit_code == 0, result.output
    assert marker in result.stdout and "read 13 runs of oat" in result.stderr
    assert "1 pruned" in result.stdout or fmt == "csv"
    assert "val split, final epoch" in result.stdout  # a caption, or the CSV's basis column
    assert len(pd.read_csv(csv_path)) == 4


def test_cli_takes_several_studies_and_fails_in_one_line_for_a_missing_one(oat_copy):
    oat = oat_copy
    result = CliRunner().invoke(main, ["leaderboard", "oat", "oat_copy", "--tracking-uri", oat])
    assert result.exit_code == 0 and "oat_copy" in result.stdout
    result = CliRunner().invoke(main, ["leaderboard", "nope", "--tracking-uri", oat])
    assert result.exit_code == 2 and result.stderr.strip() == f"error: no study named 'nope' in {oat}"


def test_with_a_held_out_split_the_headline_is_test_and_the_ranking_validation(store) -> None:
    """Configurations are ranked on validation; the test number at the chosen epoch is shown,
    never used to rank (A validates better, B tests better: A stays first)."""
    trials = [Trial("A", {ATTENTION: "eca"}, seed, top1=60.0, best_top1=80.0 + seed, test_top1=70.0 + seed)
              for seed in range(3)]
    trials += [Trial("B", {ATTENTION: None}, seed, top1=65.0, best_top1=75.0 + seed, test_top1=72.0 + seed)
               for seed in range(3)]
    log_study(store, make_spec("held_out", factors={ATTENTION: ["eca", None]}, kind="grid"), trials)
    board = leaderboard("held_out", uri=store)
    assert list(board["label"]) == ["A", "B"]
    assert list(board["top1_mean"]) == [71.0, 73.0]
    assert list(board["top1_best_epoch_mean"]) == [81.0, 76.0]
    assert board.attrs["basis"] is SELECTED and set(board[BASIS_COLUMN]) == {SELECTED.label}
