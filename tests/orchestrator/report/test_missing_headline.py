"""A finished run without the table's number enters no mean, and its row says so: it is counted
in ``n_missing`` and shown as excluded, never dropped from both ``n`` and ``excluded``."""

from __future__ import annotations

import numpy as np
import pytest
from report_store import ATTENTION, K_SIZE, Trial, log_study, make_spec
from scipy import stats

from orchestrator.report import ablation_table, leaderboard
from orchestrator.report.formats import display_ablation, display_leaderboard

HELD_OUT = [71.0, 72.5, 70.2]  # test top-1 of the study that held out a validation split
FINAL = [68.0, 69.5, 67.1]  # final-epoch top-1 of the study that did not


def test_a_cross_study_board_counts_the_runs_that_lack_its_headline(store) -> None:
    """One study held out a validation split (headline: test top-1), the other did not: the
    board's headline is the test number, which the second study's finished runs lack."""
    log_study(store, make_spec("with_split", factors={K_SIZE: [3]}),
              [Trial("k_size=3", {K_SIZE: 3}, seed, 60.0, test_top1=v) for seed, v in enumerate(HELD_OUT)])
    log_study(store, make_spec("without_split", factors={K_SIZE: [5]}),
              [Trial("k_size=5", {K_SIZE: 5}, seed, v) for seed, v in enumerate(FINAL)])
    board = leaderboard(["with_split", "without_split"], uri=store).set_index("study")
    assert board.loc["with_split", ["n_seeds", "n_missing"]].tolist() == [3, 0]
    assert board.loc["with_split", "top1_mean"] == pytest.approx(np.mean(HELD_OUT))
    assert board.loc["without_split", ["n_seeds", "n_missing"]].tolist() == [0, 3]
    shown = display_leaderboard(board.reset_index()).set_index("study")
    assert shown.loc["without_split", "excluded"] == "3 finished without a value"
    assert shown.loc["with_split", "excluded"] == ""


def test_an_ablation_row_counts_a_finished_seed_without_the_number(store) -> None:
    """The baseline's seed 2 lacks the test number: the row has n 2 and says why; the level is
    then compared by Welch's test over what each side has, as scipy computes it."""
    baseline = [Trial("baseline", {ATTENTION: None}, seed, 60.0, test_top1=v if seed < 2 else None)
                for seed, v in enumerate(FINAL)]
    level = [Trial("k_size=3", {K_SIZE: 3}, seed, 60.0, test_top1=v) for seed, v in enumerate(HELD_OUT)]
    log_study(store, make_spec("missing_ref", factors={K_SIZE: [3]}, baseline={ATTENTION: None}), baseline + level)
    table = ablation_table("missing_ref", uri=store).set_index("level")
    assert table.loc["baseline", ["n", "n_missing", "n_failed"]].tolist() == [2, 1, 0]
    expected = stats.ttest_ind(HELD_OUT, FINAL[:2], equal_var=False)
    assert table.loc["3", "test"] == "welch" and table.loc["3", "p_value"] == pytest.approx(expected.pvalue)
    shown = display_ablation(table.reset_index()).set_index("level")
    assert shown.loc["baseline", "excluded"] == "1 finished without a value"

