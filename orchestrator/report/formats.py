"""Tables for people: the numeric DataFrames rendered as text cells, then Markdown and LaTeX.

CSV files keep every raw number (for notebooks and other tools); Markdown and LaTeX show what a
paper shows: mean ± std, the interval in brackets, signed differences, p-values to 3 figures.
An interval from fewer than 3 seeds is not printed as if it meant something: its cell says it is
not informative (``stats.informative`` decides, for every table and figure), and the CSV keeps
the numbers with a ``*_informative`` flag. Every written table carries the caption of its
``basis`` (``raw.attrs``): which split and which epoch rule its numbers use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from ..labels import recipe_of, short_value
from .importance import EVALUATOR_NAMES
from .power import MAX_SEEDS, POWER
from .stats import informative

DASH = "–"  # an empty cell: no value, not zero


def number(value: Any, digits: int = 2, *, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return DASH
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def mean_std(mean: Any, std: Any) -> str:
    return number(mean) if pd.isna(std) else f"{number(mean)} ± {number(std)}"


def interval(low: Any, high: Any, *, signed: bool = False) -> str:
    if pd.isna(low) or pd.isna(high):
        return DASH
    return f"[{number(low, signed=signed)}, {number(high, signed=signed)}]"


def checked_interval(low: Any, high: Any, n: Any, *, signed: bool = False) -> str:
    """The interval from ``n`` seeds (or pairs) when it is informative, else a cell that says why
    it is withheld."""
    if pd.isna(n) or int(n) == 0 or informative(int(n)):
        return interval(low, high, signed=signed)
    return f"not informative ({int(n)} seed{'s' if int(n) != 1 else ''})"


def seeds(value: Any) -> str:
    """A seeds-per-arm figure: an integer, ``> 1000`` past the search, a dash when unknown."""
    if pd.isna(value):
        return DASH
    return f"> {MAX_SEEDS}" if value == float("inf") else str(int(value))


def p_value(value: Any) -> str:
    if pd.isna(value):
        return DASH
    return "<0.001" if value < 0.001 else f"{value:.3g}"


def excluded(row: pd.Series) -> str:
    """``1 pruned, 1 failed``: the seeds of a row that are not in its mean, finished ones that
    lack the table's number (``n_missing``) included."""
    parts = [f"{int(row[f'n_{kind}'])} {kind}" for kind in ("pruned", "failed", "running") if row[f"n_{kind}"]]
    if row.get("n_missing", 0):  # absent from tables built before the column existed
        parts.append(f"{int(row['n_missing'])} finished without a value")
    return ", ".join(parts)


def factors_text(factors: Any, label: Any) -> str:
    """``k_size=5``; the baseline cell says it is the baseline and what it sets."""
    varied = json.loads(factors) if isinstance(factors, str) and factors else {}
    text = ", ".join(f"{path.rsplit('.', 1)[-1]}={short_value(v)}" for path, v in varied.items())
    recipe = recipe_of(str(label))  # runs added to the study with another base recipe
    if str(label).removesuffix(recipe) == "baseline":  # without search.baseline: the base config itself
        return f"baseline: {text or '(base config)'}{recipe}"
    return (text or "(base config)") + recipe


def train_time(hours: Any, device: Any) -> str:
    if pd.isna(hours):
        return DASH
    return f"{hours:.3g} GPU-h" if device == "gpu" else f"{hours:.3g} h ({device})"


def display_leaderboard(board: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard as text cells; the study column only when several studies share it."""
    cells = {
        "rank": lambda r: DASH if pd.isna(r["rank"]) else str(int(r["rank"])),
        "study": lambda r: r["study"],
        "config": lambda r: r["config_key"],
        "model": lambda r: r["model"],
        "factors": lambda r: factors_text(r["factors"], r["label"]),
        "n": lambda r: str(int(r["n_seeds"])),
        "excluded": excluded,
        "top-1 (%)": lambda r: mean_std(r["top1_mean"], r["top1_std"]),
        "95% CI": lambda r: checked_interval(r["top1_ci_low"], r["top1_ci_high"], r["n_seeds"]),
        "best-epoch top-1 (%, optimistic)": lambda r: number(r["top1_best_epoch_mean"]),
        "top-5 (%)": lambda r: number(r["top5_mean"]),
        "best epoch": lambda r: number(r["best_epoch"], 1),
        "params (M)": lambda r: number(r["params_m"], 3),
        "MMACs": lambda r: number(r["mmacs"], 1),
        "train time": lambda r: train_time(r["train_hours"], r["device"]),
        "top-1 / M params": lambda r: number(r["efficiency"]),
    }
    if board["study"].nunique() < 2:
        del cells["study"]
    return render(board, cells | _reported_cells(board))


def _reported_cells(board: pd.DataFrame) -> dict[str, Callable[[pd.Series], str]]:
    """A report's own number beside ours of the same epoch rule, per rule (report/reported.py)."""
    cells: dict[str, Callable[[pd.Series], str]] = {}
    for rule in (c.removeprefix("reported_") for c in board.columns if c.startswith("reported_")):
        shown = rule.replace("_", "-")
        cells[f"reported {shown} (%)"] = lambda r, rule=rule: number(r[f"reported_{rule}"])
        cells[f"ours {shown} (%)"] = lambda r, rule=rule: number(r[f"ours_{rule}"])
        cells[f"Δ {shown}"] = lambda r, rule=rule: number(r[f"delta_{rule}"], signed=True)
    return cells


def display_ablation(table: pd.DataFrame) -> pd.DataFrame:
    """An ablation table as text cells; ``ref.`` marks the row the others are compared with."""
    cells: dict[str, Callable[[pd.Series], str]] = {
        "level": lambda r: r["level"],
        "n": lambda r: str(int(r["n"])),
        "excluded": excluded,
        "mean ± std": lambda r: mean_std(r["mean"], r["std"]),
        "95% CI": lambda r: checked_interval(r["ci_low"], r["ci_high"], r["n"]),
    }
    min_effect = table.attrs.get("min_effect")
    cells |= _comparison_cells("", "ref.", min_effect)
    if "delta_prev" in table:
        cells |= _comparison_cells("_prev", "prev.", min_effect)
    return render(table, cells)


def _comparison_cells(suffix: str, against: str, min_effect: Any) -> dict[str, Callable[[pd.Series], str]]:
    """Δ with its interval, the test, both p-values and the seeds 80% power needs, of one family."""
    def delta(row: pd.Series) -> str:
        reference = row["reference"] and not suffix
        return "ref." if reference else number(row[f"delta{suffix}"], signed=True)

    cells = {
        f"Δ vs {against}": delta,
        f"Δ 95% CI ({against})": lambda r: checked_interval(
            r[f"delta_ci_low{suffix}"], r[f"delta_ci_high{suffix}"], r[f"delta_n{suffix}"], signed=True),
        f"test ({against})": lambda r: r[f"test{suffix}"] or DASH,
        f"p ({against})": lambda r: p_value(r[f"p_value{suffix}"]),
        f"p Holm ({against})": lambda r: p_value(r[f"p_holm{suffix}"]),
        f"seeds, {POWER:.0%} power (obs. Δ, {against})": lambda r: seeds(r[f"seeds_needed{suffix}"]),
    }
    if min_effect is not None:
        cells[f"seeds, {POWER:.0%} power (Δ=±{min_effect:g}, {against})"] = (
            lambda r: seeds(r[f"seeds_needed_min_effect{suffix}"]))
    return cells


def display_importances(table: pd.DataFrame) -> pd.DataFrame:
    """Each evaluator's normalised importance (they sum to 1) with its rank."""
    cells: dict[str, Callable[[pd.Series], str]] = {"parameter": lambda r: r["parameter"]}
    for name, shown in EVALUATOR_NAMES.items():
        cells[f"{shown} importance"] = lambda r, name=name: number(r[name], 3)
        cells[f"{shown} rank"] = lambda r, name=name: str(int(r[f"{name}_rank"]))
    return render(table, cells)


def display_groups(groups: pd.DataFrame) -> pd.DataFrame:
    by = groups.columns[0]
    return render(groups, {
        by: lambda r: str(r[by]),
        "configs": lambda r: str(int(r["configs"])),
        "runs": lambda r: str(int(r["runs"])),
        "mean top-1 (%)": lambda r: mean_std(r["top1_mean"], r["top1_std"]),
        "best top-1 (%)": lambda r: number(r["top1_best"]),
        "params (M)": lambda r: number(r["params_m"], 3),
        "train time (h)": lambda r: number(r["train_hours"], 3),
        "configurations": lambda r: r["members"],
    })


def display_settle(table: pd.DataFrame) -> pd.DataFrame:
    """Seeds-until-settled decisions (``row``, ``seeds``, ``delta``, ``ci_low``, ``ci_high``,
    ``verdict``) as text cells, the interval withheld below 3 seeds as in every other table."""
    return render(table, {
        "row": lambda r: r["row"],
        "seeds": lambda r: str(int(r["seeds"])),
        "delta": lambda r: number(r["delta"], signed=True),
        "interval": lambda r: checked_interval(r["ci_low"], r["ci_high"], r["seeds"], signed=True),
        "verdict": lambda r: r["verdict"],
    })


def render(frame: pd.DataFrame, cells: dict[str, Callable[[pd.Series], str]]) -> pd.DataFrame:
    rows = [{name: make(row) for name, make in cells.items()} for _, row in frame.iterrows()]
    return pd.DataFrame(rows, columns=list(cells))


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (pandas needs the optional ``tabulate`` for this)."""
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(list(frame.columns)), line(["---"] * len(frame.columns)),
                      *(line(list(row)) for row in frame.itertuples(index=False))])


LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {"~": r"\textasciitilde{}", "^": r"\^{}", "\\": r"\textbackslash{}"}


def to_latex(frame: pd.DataFrame, *, caption: str) -> str:
    """A booktabs table; symbols become math so the file compiles without extra packages."""
    caption = "".join(LATEX_SPECIAL.get(c, c) for c in caption)  # pandas escapes cells only
    text = frame.to_latex(index=False, escape=True, caption=caption, column_format="l" * len(frame.columns))
    for symbol, math_mode in (("±", r"$\pm$"), ("Δ", r"$\Delta$"), (DASH, "--")):
        text = text.replace(symbol, math_mode)
    return text


def write_table(stem: Path, raw: pd.DataFrame, shown: pd.DataFrame, *, title: str, note: str = "") -> list[Path]:
    """``stem``.csv (raw numbers), .md and .tex (``shown``); returns the paths written."""
    paths = [stem.with_name(stem.name + suffix) for suffix in (".csv", ".md", ".tex")]
    raw.to_csv(paths[0], index=False)
    basis = raw.attrs.get("basis")
    rule = basis.caption if basis is not None else ""
    notes = "".join(f"\n{line}\n" for line in (rule, note) if line)
    paths[1].write_text(f"### {title}\n\n{to_markdown(shown)}\n{notes}")
    caption = " ".join(part for part in (f"{title}.", rule, note) if part)
    paths[2].write_text(to_latex(shown, caption=caption))
    return paths

