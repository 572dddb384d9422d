"""The figures a reviewer accepts: dots and whiskers, labelled axes with units, no repeated
classes, and no parameters axis when the sizes are one size."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from matplotlib.figure import Figure

from orchestrator.report import plots

UNIT = re.compile(r"\((%|M\b|percentage points)")  # a unit in parentheses: %, M (params), points


def board(params: list[float], n_seeds: list[int]) -> pd.DataFrame:
    means = [72.5 - 0.3 * i for i in range(len(params))]
    return pd.DataFrame({
        "study": "s", "label": [f"c{i}" for i in range(len(params))], "config_key": [f"k{i}" for i in range(len(params))],
        "n_seeds": n_seeds, "top1_mean": means, "top1_ci_low": [m - 0.4 for m in means],
        "top1_ci_high": [m + 0.4 for m in means], "top1_ci_informative": [n >= 3 for n in n_seeds],
        "params_m": params,
    })


def forest_table() -> pd.DataFrame:
    table = pd.DataFrame({"level": ["base", "3", "5"], "reference": [True, False, False],
                          "delta": [float("nan"), 0.4, -0.2], "delta_ci_low": [float("nan"), 0.1, -0.6],
                          "delta_ci_high": [float("nan"), 0.7, 0.2], "p_holm": [float("nan"), 0.03, 0.4],
                          "delta_n": [0, 3, 3]})
    table.attrs["factor"] = "model.k_size"
    return table


def classes(count: int) -> pd.DataFrame:
    return pd.DataFrame({"class": [f"c{i}" for i in range(count)], "accuracy": [50 + i for i in range(count)]})


def figures() -> dict[str, Figure]:
    histories = pd.DataFrame({"config_key": "k0", "seed": [0, 0, 1, 1], "step": [1, 2, 1, 2],
                              "value": [60.0, 70.0, 61.0, 71.0]})
    return {
        "top1": plots.top1_intervals(board([0.27, 1.2, 11.0], [3, 3, 2])),
        "params": plots.accuracy_vs_params(board([0.27, 1.2, 11.0], [3, 3, 2])),
        "curves": plots.val_curves(histories, board([0.27], [2])),
        "forest": plots.forest(forest_table(), title="t"),
        "per_class_few": plots.per_class(classes(5), title="t"),
        "per_class_many": plots.per_class(classes(30), title="t"),
    }


@pytest.mark.parametrize("name", list(figures()))
def test_every_axis_is_labelled_and_numeric_axes_name_their_unit(name):
    for axes in figures()[name].axes:
        for label, numeric in ((axes.get_xlabel(), True), (axes.get_ylabel(), name in ("params", "curves"))):
            assert label, f"{name}: an axis without a label"
            if numeric and "epoch" not in label:
                assert UNIT.search(label), f"{name}: {label!r} names no unit"


def test_top1_is_dots_with_whiskers_not_bars_from_zero():
    axes = plots.top1_intervals(board([0.27, 1.2, 11.0], [3, 3, 2])).axes[0]
    assert not axes.patches  # no bars
    low, high = axes.get_xlim()
    assert 70 < low < 72.5 - 0.6 and high < 75  # the axis spans the data, so 0.3 points show


def test_a_few_classes_are_one_panel_each_class_once():
    few = plots.per_class(classes(5), title="t")
    labels = [tick.get_text() for axes in few.axes for tick in axes.get_yticklabels()]
    assert len(few.axes) == 1 and sorted(labels) == sorted(classes(5)["class"])
    many = plots.per_class(classes(30), title="t")
    best, worst = ({tick.get_text() for tick in axes.get_yticklabels()} for axes in many.axes)
    assert len(best) == len(worst) == 10 and not best & worst


def test_params_plot_only_when_sizes_differ():
    assert plots.accuracy_vs_params(board([0.26972, 0.26975, 0.26978], [3, 3, 3])) is None  # the quickstart
    assert plots.accuracy_vs_params(board([0.27, 0.36], [3, 3])) is not None
