"""One rule for every table and figure: an interval from fewer than 3 seeds (or pairs) is not
shown. The one-at-a-time study has two levels with 2 finished seeds each (one pruned, one
failed) beside levels with 3, so each table and figure below has rows on both sides of the rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure

from orchestrator.report import ablation_table, leaderboard, plots
from orchestrator.report.formats import DASH, display_ablation, display_leaderboard, display_settle
from orchestrator.report.stats import MIN_INFORMATIVE_SEEDS

WITHHELD = "not informative"


def whiskers(figure: Figure, axis: int) -> list[float]:
    """Where each drawn interval sits on the other axis (0: a horizontal whisker's y, 1: a
    vertical whisker's x), for every error bar of the figure; zero-length whiskers included."""
    positions = []
    for container in figure.axes[0].containers:
        if isinstance(container, ErrorbarContainer):
            for lines in container.lines[2]:
                positions += [float(segment[0][1 - axis]) for segment in lines.get_segments()]
    return positions


def assert_cells_follow_the_rule(cells: pd.Series, seeds: pd.Series) -> None:
    """An interval cell is withheld exactly where its seed count is below the rule."""
    for cell, n in zip(cells, seeds):
        if pd.isna(n) or n == 0:
            assert cell == DASH
        elif n < MIN_INFORMATIVE_SEEDS:
            assert cell.startswith(WITHHELD), (cell, n)
        else:
            assert cell.startswith("["), (cell, n)


def test_the_study_has_rows_on_both_sides_of_the_rule(oat) -> None:
    seeds = leaderboard("oat", uri=oat)["n_seeds"]
    assert set(seeds) == {2, 3}


def test_tables_withhold_intervals_below_three_seeds(oat) -> None:
    board = leaderboard("oat", uri=oat)
    assert_cells_follow_the_rule(display_leaderboard(board)["95% CI"], board["n_seeds"])
    table = ablation_table("oat", uri=oat)
    shown = display_ablation(table)
    assert_cells_follow_the_rule(shown["95% CI"], table["n"])
    compared = ~table["reference"]
    assert_cells_follow_the_rule(shown["Δ 95% CI (ref.)"][compared], table["delta_n"][compared])
    assert (table.loc[compared, "delta_n"] < MIN_INFORMATIVE_SEEDS).any()  # precondition
    decisions = pd.DataFrame({"row": ["a", "b"], "seeds": [2, 3], "delta": [1.0, 2.0], "ci_low": [-120.0, 1.0],
                              "ci_high": [122.0, 3.0], "verdict": ["undecided", "differs"]})
    assert_cells_follow_the_rule(display_settle(decisions)["interval"], decisions["seeds"])


def test_figures_draw_intervals_only_from_three_seeds(oat) -> None:
    board = leaderboard("oat", uri=oat)
    ok = board["n_seeds"].to_numpy() >= MIN_INFORMATIVE_SEEDS
    y = np.arange(len(board))[::-1]  # best at the top
    assert sorted(whiskers(plots.top1_intervals(board), axis=0)) == sorted(y[ok].tolist())
    params = plots.accuracy_vs_params(board)
    assert sorted(whiskers(params, axis=1)) == sorted(board.loc[ok, "params_m"].tolist())

    table = ablation_table("oat", uri=oat)
    shown = table[~table["reference"]].reset_index(drop=True)
    rows = np.arange(len(shown))[::-1]
    drawn = sorted(whiskers(plots.forest(table, title="t"), axis=0))
    expected = [float(row) for row, n in zip(rows, shown["delta_n"]) if n >= MIN_INFORMATIVE_SEEDS]
    if "delta_prev" in table:  # the second series sits 0.2 below its row
        expected += [row - 0.2 for row, n in zip(rows, shown["delta_n_prev"]) if n >= MIN_INFORMATIVE_SEEDS]
    assert drawn == sorted(expected)
