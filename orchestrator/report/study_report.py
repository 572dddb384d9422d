"""``orchestrate report``: every table and figure of one study, in a folder and on its sweep run.

The store is read once; each table is written as CSV (raw numbers), Markdown and LaTeX; each
figure as PNG. What cannot be drawn (no sizes logged, no per-class file) is skipped with a note
in the folder's index, never silently. The folder is then logged to the study's latest sweep run,
so the report travels with the runs it summarises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import pandas as pd

from ..errors import SpecError
from ..tracking.names import BASELINE_LABEL, PERCENT_METRICS, SETTLE_FILE, TOP1
from ..tracking.reader import latest_sweep, metric_history, read_csv_artifact, read_json_artifact, sweep_runs
from ..tracking.writer import log_directory
from . import plots
from .ablation import LoggedDesign, ablation_tables
from .formats import (display_ablation, display_groups, display_importances, display_leaderboard, display_settle,
                      write_table)
from .groups import group_summary
from .importance import study_importances
from .basis import headline_of
from .leaderboard import COLUMNS, leaderboard, load_board_runs, objective, ranking
from .reported import caption as reported_caption
from .reported import display_reported, reported_of
from .runs import StudyRuns
from .sweeps import latest_recipe, sweeps_read

# Assumed contract with the trainer: a CSV artifact with columns ``class`` and ``accuracy``.
PER_CLASS_ARTIFACT = "per_class_accuracy.csv"
CURVE_METRIC = TOP1
CURVES_TOP = 8  # configurations drawn in the curves figure; more is unreadable
CUMULATIVE_NOTE = ("Δ vs prev. is blank for the first step: its previous step is the reference, "
                   "compared once in Δ vs ref.; Holm adjusts all comparisons of the table together.")


@dataclass
class Report:
    out: Path
    runs: StudyRuns
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    logged_to: Optional[str] = None
    sweeps: str = ""  # which sweeps of the study the runs came from


def write_report(
    study: str,
    out: str | Path,
    *,
    uri: Optional[str] = None,
    group_by: Sequence[str] = (),
    log: bool = True,
    echo: Callable[[str], None] = lambda line: None,
    min_effect: Optional[float] = None,
) -> Report:
    """Write the study's report to ``out`` and (``log``) attach it to the latest sweep run.

    ``group_by`` names tags or config options to summarise by; by default the model, when the
    study has several. ``min_effect`` (metric units, e.g. 0.5 top-1 points) adds to each ablation
    comparison the seeds per arm that would detect that difference with 80% power.
    """
    out = Path(out)
    runs = load_board_runs(study, uri=uri, fields=group_by)  # an unknown study fails before out exists
    _check_groups(study, group_by, runs)
    out.mkdir(parents=True, exist_ok=True)
    sweeps = sweep_runs(study, uri=uri)
    report = Report(out, runs, sweeps=sweeps_read(sweeps))
    echo(f"{report.runs.describe()}; {report.sweeps}")
    board = leaderboard(study, uri=uri, runs=report.runs)
    reported = reported_of(board)
    report.files += write_table(out / "leaderboard", board, display_leaderboard(board), title=f"Leaderboard of {study}",
                                note=f"{report.runs.describe()}; {report.sweeps}. {reported_caption(reported)}".strip())
    if not reported.empty:
        report.files += write_table(out / "reported", reported, display_reported(reported),
                                    title=f"{study}: the report's own numbers beside ours", note=reported_caption(reported))
    sweep = latest_sweep(study, uri=uri)
    same_recipe, notes = latest_recipe(report.runs, sweeps)
    report.notes += notes
    _ablations(report, study, LoggedDesign.from_spec(sweep[1]) if sweep else None, same_recipe, uri=uri,
               min_effect=min_effect)
    if sweep:
        _settled(report, study, sweep[0], uri=uri)
    for by in group_by or (["model"] if board["model"].nunique() > 1 else []):
        groups = group_summary(study, by, uri=uri, runs=report.runs)
        report.files += write_table(out / f"groups_{_slug(by)}", groups, display_groups(groups),
                                    title=f"{study}: configurations averaged by {by}")
    _figures(report, board, uri=uri)
    report.files.append(_index(report, study))
    if log and sweep:
        log_directory(sweep[0], out, uri=uri)
        report.logged_to = sweep[0]
    return report


def _check_groups(study: str, group_by: Sequence[str], runs: StudyRuns) -> None:
    """A key no run has (a mistyped option) would be one empty group table among the files."""
    for by in group_by:
        if by not in COLUMNS and not runs.frame.empty and runs.frame[by].isna().all():
            raise SpecError(f"--group-by {by}: no run of {study} has this config option or tag; allowed: a config "
                            "option (model.name, train.optimizer.lr, ...), a run tag or a leaderboard column "
                            "(model, device, ...)")


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")


def _ablations(report: Report, study: str, design: Optional[LoggedDesign], runs: StudyRuns, *,
               uri: Optional[str], min_effect: Optional[float]) -> None:
    if design is not None and design.kind == "optuna":
        report.notes.append("no ablation tables: an optuna study has no fixed factors")
        _importances(report, study, design, uri=uri)
        return
    if design is None or not design.tables:
        report.notes.append("no ablation tables: the study's sweep logged no factors")
        return
    for name, table in ablation_tables(study, uri=uri, runs=runs, min_effect=min_effect).items():
        stem = report.out / f"ablation_{_slug(name)}"
        basis = table.attrs.get("basis")
        metric = f"top-1 (%), {basis.label}" if basis is not None else table.attrs["metric"]
        if name == "cumulative":
            subject, note = f"cumulative ablation of {', '.join(design.factors)}", CUMULATIVE_NOTE
        elif name == "variants":
            reference = table.loc[table["reference"], "level"].iloc[0]
            subject, note = f"{len(design.variants)} variants against {reference}", ""
        else:
            subject, note = f"ablation of {name} ({design.design.replace('_', '-')} design)", ""
        report.files += write_table(stem, table, display_ablation(table),
                                    title=f"{study}: {subject}, {metric}", note=note)
        figure = plots.forest(table, title=f"Δ top-1 against the reference: {subject}")
        report.files.append(plots.save(figure, stem.with_name(stem.name + "_forest.png")))


def _settled(report: Report, study: str, sweep_run: str, *, uri: Optional[str]) -> None:
    """Seeds until settled: each row's verdict against the reference and the seeds it took."""
    record = read_json_artifact(sweep_run, SETTLE_FILE, uri=uri)
    if record is None:
        return
    table = pd.DataFrame(record["rows"])
    report.files += write_table(report.out / "settle", table, display_settle(table),
                                title=f"{study}: seeds until settled, each row against {record['reference']}")


def _importances(report: Report, study: str, design: LoggedDesign, *, uri: Optional[str]) -> None:
    """Which searched axes mattered (two evaluators) and the parallel-coordinates figure."""
    metric, mode = objective(study, uri=uri)
    rank_by = ranking(metric, headline_of(report.runs.frame))
    table, rebuilt, notes = study_importances(report.runs, design.spec, objective=rank_by, mode=mode)
    report.notes += notes
    if table.empty:
        return
    report.files += write_table(report.out / "importance", table, display_importances(table),
                                title=f"{study}: hyperparameter importances for {rank_by}")
    label = plots.TOP1_LABEL if rank_by in PERCENT_METRICS else rank_by
    figure = plots.parallel_coordinates(rebuilt, list(table["parameter"]), objective_label=label)
    report.files.append(plots.save(figure, report.out / "parallel_coordinates.png"))


def _figures(report: Report, board: pd.DataFrame, *, uri: Optional[str]) -> None:
    ranked = board[board["n_seeds"] > 0]
    if ranked.empty:
        report.notes.append("no figures: no configuration has a finished run")
        return
    out = report.out
    report.files.append(plots.save(plots.top1_intervals(ranked), out / "top1_intervals.png"))
    scatter = plots.accuracy_vs_params(ranked)
    sizes = ranked["params_m"].dropna()
    if scatter is not None:
        report.files.append(plots.save(scatter, out / "accuracy_vs_params.png"))
    elif sizes.empty:
        report.notes.append("accuracy-vs-params skipped: no run logged summary/params")
    else:
        report.notes.append(f"accuracy-vs-params skipped: parameter counts span only {sizes.min():.5g}-"
                            f"{sizes.max():.5g} M (less than {plots.MIN_PARAMS_RATIO - 1:.0%} apart)")
    _curves(report, ranked, uri=uri)
    _per_class(report, ranked.iloc[0], uri=uri)


def _curves(report: Report, ranked: pd.DataFrame, *, uri: Optional[str]) -> None:
    """Curves of the best configurations and the baseline; only their runs' histories are read."""
    baseline = ranked[ranked["label"] == BASELINE_LABEL]
    shown = pd.concat([ranked.head(CURVES_TOP), baseline]).drop_duplicates("config_key")
    runs = report.runs.finished[report.runs.finished["config_key"].isin(shown["config_key"])]
    history = metric_history(runs["run_id"], CURVE_METRIC, uri=uri)
    if history.empty:
        report.notes.append(f"curves skipped: no run logged {CURVE_METRIC} per epoch")
        return
    history = history.merge(runs[["run_id", "config_key", "seed"]], on="run_id")
    report.files.append(plots.save(plots.val_curves(history, shown), report.out / "val_top1_curves.png"))


def _per_class(report: Report, best: pd.Series, *, uri: Optional[str]) -> None:
    """Per-class accuracy of the best configuration, averaged over its seeds that logged it."""
    finished = report.runs.finished
    run_ids = finished.loc[finished["config_key"] == best["config_key"], "run_id"]
    tables = [t for t in (read_csv_artifact(r, PER_CLASS_ARTIFACT, uri=uri) for r in run_ids) if t is not None]
    if not tables:
        report.notes.append(f"per-class plot skipped: the best configuration's runs have no {PER_CLASS_ARTIFACT}")
        return
    grouped = pd.concat(tables).groupby("class")["accuracy"]
    accuracy = pd.DataFrame({"accuracy": grouped.mean(), "std": grouped.std(ddof=1)}).reset_index()
    title = f"Per-class accuracy of the best configuration, {best['label']} (mean of {len(tables)} seeds)"
    report.files.append(plots.save(plots.per_class(accuracy, title=title), report.out / "per_class.png"))


def _index(report: Report, study: str) -> Path:
    """``index.md``: what the folder holds and what was skipped."""
    lines = [f"# Report of {study}", "", report.runs.describe(), "", report.sweeps, "", "## Files", ""]
    lines += [f"- [{path.name}]({path.name})" for path in report.files]
    if report.notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in report.notes)]
    path = report.out / "index.md"
    path.write_text("\n".join(lines) + "\n")
    return path
