"""The report's figures, drawn from the report's DataFrames; ``save`` writes them as PNG.

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so drawing needs no
display, keeps no global state between figures and is safe from a notebook or a thread.
Every figure has the same size, so a report's images line up on a page. Each function returns
its figure, so what a reviewer checks (axis labels and units, which classes a panel shows) can
be tested without reading pixels.

Means are dots with their interval as whiskers, never bars from zero: between configurations a
few tenths of a point apart, a bar's length is all zero-to-70 and the difference is invisible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np
import optuna
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from optuna.distributions import BaseDistribution, CategoricalDistribution
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .axis_names import WHOLE_NAMES, config_ticks, tick_points
from .stats import MIN_INFORMATIVE_SEEDS, informative

SIZE_INCHES, DPI = (9.6, 5.4), 100  # 960 x 540 pixels
SIZE_PIXELS = (960, 540)
SIGNIFICANT = 0.05  # Holm-adjusted level at which a forest-plot marker is filled
# Below this largest/smallest ratio the parameter counts are one model size (the quickstart's span
# 0.26972-0.26978 M, an attention kernel's few weights), and a params axis would plot noise.
MIN_PARAMS_RATIO = 1.05
TOP1_LABEL = "validation top-1 (%)"
NO_INTERVAL = f"fewer than {MIN_INFORMATIVE_SEEDS} seeds: no interval"


def _figure(ncols: int = 1) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    return figure, list(np.atleast_1d(figure.subplots(1, ncols)))


def save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=DPI)
    return path


def names(board: pd.DataFrame) -> pd.Series:
    """Configuration names for axes: the label, prefixed by its study when several are shown."""
    if board["study"].nunique() > 1:
        return board["study"] + "/" + board["label"]
    return board["label"].astype(str)


def _error(frame: pd.DataFrame, value: str, low: str, high: str) -> np.ndarray:
    """Asymmetric error bars from interval columns; NaN (one seed) draws no bar. A bounded
    (logit) interval is centred on the mean logit, so near 0 or 100 % the arithmetic mean can
    lie just outside it: that side's whisker is then empty rather than negative."""
    return np.maximum(np.nan_to_num(np.vstack([frame[value] - frame[low], frame[high] - frame[value]])), 0)


def _informative(frame: pd.DataFrame, n: str) -> np.ndarray:
    """Rows whose interval (from the seed or pair count in column ``n``) may be drawn: the tables'
    rule (``stats.informative``), so a figure never shows an interval its table withholds."""
    return np.asarray(informative(frame[n].fillna(0).to_numpy()), dtype=bool)


def top1_intervals(board: pd.DataFrame, *, top: int = 20) -> Figure:
    """Dot-and-whisker: the top-1 mean of the best ``top`` configurations, best at the top, with
    their 95% intervals; a configuration with too few seeds for an informative interval is a
    hollow dot without whiskers."""
    shown = board[board["n_seeds"] > 0].head(top).reset_index(drop=True)
    figure, (axes,) = _figure()
    y = np.arange(len(shown))[::-1]
    ok = _informative(shown, "n_seeds")
    # A legend entry only for what is drawn: an empty errorbar still adds its marker to the legend.
    axes.errorbar(shown["top1_mean"][ok], y[ok], xerr=_error(shown[ok], "top1_mean", "top1_ci_low", "top1_ci_high"),
                  fmt="o", capsize=4, color="tab:blue", label="mean, 95% CI" if ok.any() else None)
    axes.scatter(shown["top1_mean"][~ok], y[~ok], facecolors="white", edgecolors="tab:blue", zorder=3,
                 label=f"mean, {NO_INTERVAL}" if (~ok).any() else None)
    ticks, shown_as = config_ticks(list(names(shown)))
    axes.set_yticks(y, ticks, fontsize=tick_points(ticks, SIZE_PIXELS[1], DPI))
    axes.margins(x=0.08, y=0.1)  # no dot on the frame
    axes.set_xlabel(TOP1_LABEL)
    axes.set_ylabel(shown_as)
    axes.set_title(f"Top-1 of the best {len(shown)} configurations (mean over seeds)")
    axes.legend(loc="best", fontsize=8)
    return figure


def pareto_front(board: pd.DataFrame) -> pd.DataFrame:
    """Configurations no other beats on both top-1 (higher) and parameters (fewer)."""
    ordered = board.dropna(subset=["params_m", "top1_mean"]).sort_values(["params_m", "top1_mean"],
                                                                        ascending=[True, False])
    best, keep = -np.inf, []
    for index, accuracy in ordered["top1_mean"].items():
        if accuracy > best:
            best = accuracy
            keep.append(index)
    return ordered.loc[keep]


def params_differ(board: pd.DataFrame) -> bool:
    """Whether the configurations' parameter counts span more than ``MIN_PARAMS_RATIO``."""
    sizes = board["params_m"].dropna()
    return not sizes.empty and sizes.max() >= MIN_PARAMS_RATIO * sizes.min()


def accuracy_vs_params(board: pd.DataFrame) -> Optional[Figure]:
    """Top-1 against parameters (log scale) with the Pareto front; None when no size is logged
    or the sizes do not differ meaningfully (``params_differ``)."""
    shown = board.dropna(subset=["params_m", "top1_mean"])
    if shown.empty or not params_differ(shown):
        return None
    figure, (axes,) = _figure()
    ok = _informative(shown, "n_seeds")
    axes.errorbar(shown["params_m"][ok], shown["top1_mean"][ok], fmt="o", capsize=3, color="tab:gray",
                  yerr=_error(shown[ok], "top1_mean", "top1_ci_low", "top1_ci_high"), label="configuration, 95% CI")
    if not ok.all():
        axes.scatter(shown["params_m"][~ok], shown["top1_mean"][~ok], facecolors="white", edgecolors="tab:gray",
                     zorder=3, label=f"configuration, {NO_INTERVAL}")
    front = pareto_front(shown)
    axes.step(front["params_m"], front["top1_mean"], where="post", color="tab:red",
              marker="D", label="Pareto front (fewer params, higher top-1)")
    for x, y, name in zip(shown["params_m"], shown["top1_mean"], names(shown)):
        axes.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    axes.set_xscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")  # 0.27, not 2.7x10^-1
    axes.xaxis.set_major_formatter(plain)
    axes.xaxis.set_minor_formatter(plain)
    axes.set_xlabel("parameters (M, log scale)")
    axes.set_ylabel(TOP1_LABEL)
    axes.set_title("Top-1 vs parameters, Pareto front marked")
    axes.legend(loc="lower right")
    return figure


def val_curves(histories: pd.DataFrame, board: pd.DataFrame) -> Figure:
    """Validation top-1 per epoch of each configuration in ``board``: mean line, ± std band.

    ``histories`` has columns ``config_key``, ``seed``, ``step``, ``value``.
    """
    figure, (axes,) = _figure()
    shown, shown_as = config_ticks(list(names(board)))
    for (_, row), name in zip(board.iterrows(), shown):
        mine = histories[histories["config_key"] == row["config_key"]]
        if mine.empty:
            continue
        by_epoch = mine.pivot_table(index="step", columns="seed", values="value")
        mean, std = by_epoch.mean(axis=1), by_epoch.std(axis=1, ddof=1)
        (line,) = axes.plot(mean.index, mean, label=f"{name} (n={by_epoch.shape[1]})")
        axes.fill_between(mean.index, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(TOP1_LABEL)
    axes.set_title("Validation top-1 per epoch (mean ± std over seeds)")
    axes.legend(loc="lower right", fontsize=8, title=shown_as if shown_as != WHOLE_NAMES else None,
                title_fontsize=8)
    return figure


def forest(table: pd.DataFrame, *, title: str) -> Figure:
    """Each level's Δ and its 95% CI against the reference (and the previous step, if tabled);
    a Δ from fewer than 3 pairs (or seeds on the smaller side) is drawn without its interval."""
    figure, (axes,) = _figure()
    shown = table[~table["reference"]].reset_index(drop=True)
    y = np.arange(len(shown))[::-1].astype(float)
    series = [("", "tab:blue", "vs reference", 0.0)]
    if "delta_prev" in table:
        series.append(("_prev", "tab:orange", "vs previous step", -0.2))
    for suffix, color, label, offset in series:
        delta = shown[f"delta{suffix}"]
        filled = shown[f"p_holm{suffix}"] < SIGNIFICANT
        ok = _informative(shown, f"delta_n{suffix}")
        err = _error(shown[ok], f"delta{suffix}", f"delta_ci_low{suffix}", f"delta_ci_high{suffix}")
        axes.errorbar(delta[ok], (y + offset)[ok], xerr=err, fmt="none", ecolor=color, capsize=4)
        axes.scatter(delta[filled], (y + offset)[filled], color=color, zorder=3,
                     label=f"{label}, Holm p < {SIGNIFICANT}")
        axes.scatter(delta[~filled], (y + offset)[~filled], facecolors="white", edgecolors=color, zorder=3,
                     label=f"{label}, not significant")
    axes.axvline(0.0, color="black", linewidth=0.8)
    withheld = ~_informative(shown, "delta_n")
    axes.set_yticks(y, [f"{level} ({NO_INTERVAL})" if short else str(level)
                        for level, short in zip(shown["level"], withheld)])
    axes.set_xlabel("Δ validation top-1 (percentage points), 95% CI")
    axes.set_ylabel(f"level of {table.attrs.get('factor', 'the factor')}")
    axes.set_title(title)
    axes.legend(loc="best", fontsize=8)
    return figure


def per_class(accuracy: pd.DataFrame, *, title: str, k: int = 10) -> Figure:
    """The ``k`` best and ``k`` worst classes; a dataset with at most ``2 k`` classes gets one
    panel of all of them instead, so no class is drawn twice. ``accuracy`` has ``class``,
    ``accuracy`` in % (and ``std``)."""
    ordered = accuracy.sort_values("accuracy", ascending=False)
    if len(ordered) <= 2 * k:
        figure, (axes,) = _figure()
        _class_panel(axes, ordered, f"all {len(ordered)} classes", "tab:blue")
    else:
        figure, (best, worst) = _figure(ncols=2)
        _class_panel(best, ordered.head(k), f"best {k} classes", "tab:green")
        _class_panel(worst, ordered.tail(k).iloc[::-1], f"worst {k} classes", "tab:red")
        worst.set_xlim(best.get_xlim())  # one scale, so best and worst compare at a glance
    figure.suptitle(title)
    return figure


def _class_panel(axes: Axes, part: pd.DataFrame, name: str, color: str) -> None:
    """Dot-and-whisker per class (± std over seeds), the best at the top."""
    y = np.arange(len(part))[::-1]
    xerr = part["std"].fillna(0).to_numpy() if "std" in part else None
    axes.errorbar(part["accuracy"], y, xerr=xerr, fmt="o", capsize=3, color=color)
    axes.set_yticks(y, part["class"].astype(str))
    axes.set_xlabel("accuracy (%)")
    axes.set_ylabel("class")
    axes.set_title(name)


def parallel_coordinates(study: optuna.Study, order: list[str], *, objective_label: str) -> Figure:
    """One line per configuration through each searched axis (``order``: most important first),
    coloured by the objective, the best drawn on top.

    Drawn here rather than by ``optuna.visualization.matplotlib``, which draws through pyplot's
    global state at its own size; each axis is the searched range scaled to [0, 1] (log axes in
    log scale, choices evenly spaced), its ends or choices written beside it.
    """
    trials = [t for t in study.trials if all(p in t.params for p in order)]
    distributions = {p: trials[0].distributions[p] for p in order} if trials else {}
    figure, (axes,) = _figure()
    values = np.array([t.value for t in trials], dtype=float)
    norm = Normalize(values.min(), values.max()) if len(values) else Normalize(0.0, 1.0)
    cmap = colormaps["viridis"]
    best_last = np.argsort(values if study.direction == optuna.study.StudyDirection.MAXIMIZE else -values)
    for index in best_last:
        row = [_position(trials[index].params[p], distributions[p]) for p in order]
        axes.plot(range(len(order)), row, color=cmap(norm(values[index])), alpha=0.7, linewidth=1.2)
    for x, path in enumerate(order):
        axes.axvline(x, color="black", linewidth=0.8)
        for y, text in _axis_marks(distributions[path]):
            axes.annotate(text, (x, y), textcoords="offset points", xytext=(3, 0), fontsize=7, va="center")
    axes.set_xticks(range(len(order)), [path.rsplit(".", 1)[-1] for path in order])
    axes.set_ylim(-0.05, 1.05)
    axes.set_xlabel("searched parameter (most important first)")
    axes.set_ylabel("position in the searched range (fraction: 0 = low end, 1 = high end)")
    axes.set_title(f"{len(trials)} configurations through the searched space")
    figure.colorbar(ScalarMappable(norm, cmap), ax=axes).set_label(objective_label)
    return figure


def _position(value: Any, distribution: BaseDistribution) -> float:
    """Where ``value`` sits in its axis's range, 0 to 1."""
    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices.index(value) / max(len(distribution.choices) - 1, 1)
    low, high = distribution.low, distribution.high
    if getattr(distribution, "log", False):
        value, low, high = np.log(value), np.log(low), np.log(high)
    return float((value - low) / (high - low))


def _axis_marks(distribution: BaseDistribution) -> list[tuple[float, str]]:
    if isinstance(distribution, CategoricalDistribution):
        return [(_position(c, distribution), str(c)) for c in distribution.choices]
    return [(0.0, f"{distribution.low:g}"), (1.0, f"{distribution.high:g}")]
