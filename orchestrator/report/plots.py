"""The report's figures, drawn from the report's DataFrames and written as PNG.

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so drawing needs no
display, keeps no global state between figures and is safe from a notebook or a thread.
Every figure has the same size, so a report's images line up on a page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

SIZE_INCHES, DPI = (9.6, 5.4), 100  # 960 x 540 pixels
SIZE_PIXELS = (960, 540)
SIGNIFICANT = 0.05  # Holm-adjusted level at which a forest-plot marker is filled


def _figure(ncols: int = 1) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    return figure, list(np.atleast_1d(figure.subplots(1, ncols)))


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=DPI)
    return path


def names(board: pd.DataFrame) -> pd.Series:
    """Configuration names for axes: the label, prefixed by its study when several are shown."""
    if board["study"].nunique() > 1:
        return board["study"] + "/" + board["label"]
    return board["label"].astype(str)


def _error(frame: pd.DataFrame, value: str, low: str, high: str) -> np.ndarray:
    """Asymmetric error bars from interval columns; NaN (one seed) draws no bar."""
    return np.nan_to_num(np.vstack([frame[value] - frame[low], frame[high] - frame[value]]))


def top1_bars(board: pd.DataFrame, path: Path, *, top: int = 20) -> Path:
    """Top-1 mean of the best ``top`` configurations, with their 95% intervals."""
    shown = board[board["n_seeds"] > 0].head(top)
    figure, (axes,) = _figure()
    x = np.arange(len(shown))
    axes.bar(x, shown["top1_mean"], yerr=_error(shown, "top1_mean", "top1_ci_low", "top1_ci_high"),
             capsize=4, color="tab:blue")
    axes.set_xticks(x, names(shown), rotation=30, ha="right")
    axes.set_ylabel("validation top-1 (%)")
    axes.set_title(f"Top-1 accuracy of the best {len(shown)} configurations (mean over seeds, 95% CI)")
    return _save(figure, path)


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


def accuracy_vs_params(board: pd.DataFrame, path: Path) -> Optional[Path]:
    """Top-1 against parameters (log scale) with the Pareto front; None when no size is logged."""
    shown = board.dropna(subset=["params_m", "top1_mean"])
    if shown.empty:
        return None
    figure, (axes,) = _figure()
    axes.errorbar(shown["params_m"], shown["top1_mean"], fmt="o", capsize=3, color="tab:gray",
                  yerr=_error(shown, "top1_mean", "top1_ci_low", "top1_ci_high"), label="configuration")
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
    axes.set_ylabel("validation top-1 (%)")
    axes.set_title("Top-1 vs parameters, Pareto front marked")
    axes.legend(loc="lower right")
    return _save(figure, path)


def val_curves(histories: pd.DataFrame, board: pd.DataFrame, path: Path) -> Path:
    """Validation top-1 per epoch of each configuration in ``board``: mean line, ± std band.

    ``histories`` has columns ``config_key``, ``seed``, ``step``, ``value``.
    """
    figure, (axes,) = _figure()
    for (_, row), name in zip(board.iterrows(), names(board)):
        mine = histories[histories["config_key"] == row["config_key"]]
        if mine.empty:
            continue
        by_epoch = mine.pivot_table(index="step", columns="seed", values="value")
        mean, std = by_epoch.mean(axis=1), by_epoch.std(axis=1, ddof=1)
        (line,) = axes.plot(mean.index, mean, label=f"{name} (n={by_epoch.shape[1]})")
        axes.fill_between(mean.index, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("validation top-1 (%)")
    axes.set_title("Validation top-1 per epoch (mean ± std over seeds)")
    axes.legend(loc="lower right", fontsize=8)
    return _save(figure, path)


def forest(table: pd.DataFrame, path: Path, *, title: str) -> Path:
    """Each level's Δ and its 95% CI against the reference (and the previous step, if tabled)."""
    figure, (axes,) = _figure()
    shown = table[~table["reference"]].reset_index(drop=True)
    y = np.arange(len(shown))[::-1].astype(float)
    series = [("", "tab:blue", "vs reference", 0.0)]
    if "delta_prev" in table:
        series.append(("_prev", "tab:orange", "vs previous step", -0.2))
    for suffix, color, label, offset in series:
        delta = shown[f"delta{suffix}"]
        filled = shown[f"p_holm{suffix}"] < SIGNIFICANT
        err = _error(shown, f"delta{suffix}", f"delta_ci_low{suffix}", f"delta_ci_high{suffix}")
        axes.errorbar(delta, y + offset, xerr=err, fmt="none", ecolor=color, capsize=4)
        axes.scatter(delta[filled], (y + offset)[filled], color=color, zorder=3,
                     label=f"{label}, Holm p < {SIGNIFICANT}")
        axes.scatter(delta[~filled], (y + offset)[~filled], facecolors="white", edgecolors=color, zorder=3,
                     label=f"{label}, not significant")
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_yticks(y, shown["level"])
    axes.set_xlabel("Δ validation top-1 (percentage points), 95% CI")
    axes.set_title(title)
    axes.legend(loc="best", fontsize=8)
    return _save(figure, path)


def per_class(accuracy: pd.DataFrame, path: Path, *, title: str, k: int = 10) -> Path:
    """The ``k`` best and ``k`` worst classes; ``accuracy`` has ``class``, ``accuracy`` (and ``std``)."""
    ordered = accuracy.sort_values("accuracy", ascending=False)
    figure, axes = _figure(ncols=2)
    for ax, part, name, color in ((axes[0], ordered.head(k), "best", "tab:green"),
                                  (axes[1], ordered.tail(k).iloc[::-1], "worst", "tab:red")):
        y = np.arange(len(part))[::-1]
        ax.barh(y, part["accuracy"], xerr=part["std"].fillna(0) if "std" in part else None, color=color)
        ax.set_yticks(y, part["class"].astype(str))
        ax.set_xlabel("accuracy")
        ax.set_title(f"{name} {len(part)} classes")
    axes[1].set_xlim(axes[0].get_xlim())  # one scale, so best and worst compare at a glance
    figure.suptitle(title)
    return _save(figure, path)
