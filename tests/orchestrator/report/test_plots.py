"""The figures a reviewer accepts: dots and whiskers, labelled axes with units, no repeated
classes, and no parameters axis when the sizes are one size."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
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


def optuna_board(count: int) -> pd.DataFrame:
    """``count`` configurations named as an Optuna study names them: every searched value."""
    named = board([0.27] * count, [3] * count)
    named["label"] = [f"lr={0.01 + i / 97:.4g},weight_decay={1e-5 + i / 3e4:.4g},batch_size={64 * (1 + i % 3)},"
                      f"label_smoothing={i / 113:.4g}" for i in range(count)]
    return named


@pytest.mark.parametrize("base", [False, True], ids=["same_keys", "with_base_row"])
@pytest.mark.parametrize("count", [2, 8, 20])
def test_long_configuration_names_neither_overlap_nor_push_the_title_off_the_figure(count: int, base: bool) -> None:
    named = optuna_board(count)
    if base:  # names of other keys: wrapped whole, not shortened to their values
        named.loc[count - 1, "label"] = "base"
    figure = plots.top1_intervals(named)
    canvas = FigureCanvasAgg(figure)  # the PNG writer's canvas: drawing lays the figure out as saving does
    canvas.draw()
    renderer = canvas.get_renderer()
    (axes,) = figure.axes
    ticks = sorted((label.get_window_extent(renderer) for label in axes.get_yticklabels()), key=lambda box: box.y0)
    assert all(below.y1 <= above.y0 for below, above in zip(ticks, ticks[1:])), "tick labels overlap"
    page = figure.bbox
    for text in (axes.title, *axes.get_yticklabels()):
        box = text.get_window_extent(renderer)
        assert page.x0 <= box.x0 and box.x1 <= page.x1, f"{text.get_text()[:30]!r} leaves the figure"
    assert axes.get_position().width > 0.4  # the dots keep most of the width


def test_names_of_the_same_keys_show_their_values_and_the_axis_names_the_keys() -> None:
    (axes,) = plots.top1_intervals(optuna_board(3)).axes
    assert axes.get_ylabel() == "lr, weight_decay, batch_size, label_smoothing"
    assert axes.get_yticklabels()[0].get_text() == "0.01, 1e-05, 64, 0"
    (axes,) = plots.top1_intervals(board([0.27, 0.27], [3, 3])).axes  # c0, c1: no keys to take out
    assert axes.get_ylabel() == "configuration" and axes.get_yticklabels()[0].get_text() == "c0"
