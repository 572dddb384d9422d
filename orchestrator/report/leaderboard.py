"""Leaderboard: one row per configuration, seeds aggregated, ranked by the study's objective.

Only finished runs enter the means. Pruned, failed and still-running seeds are counted in their
own columns, and a configuration none of whose seeds finished keeps a row (unranked), so nothing
that was tried disappears from the table.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

import pandas as pd

from ..errors import OrchestrateError
from ..tracking.names import DEFAULT_METRIC, DEFAULT_MODE, OUTCOMES, SUMMARY_METRICS, SUMMARY_TOP1, rank_column
from ..tracking.reader import study_objective
from .runs import StudyRuns, as_studies, load_runs
from .stats import t_half_width

KEYS = ["study", "config_key"]
IDENTITY = ["label", "model", "factors"]
COLUMNS = [
    "rank", *KEYS, *IDENTITY, "n_seeds", "n_pruned", "n_failed", "n_running",
    "top1_mean", "top1_std", "top1_ci_low", "top1_ci_high", "top5_mean", "best_epoch",
    "params_m", "mmacs", "train_hours", "device", "efficiency",
]


def objective(studies: str | Iterable[str], *, uri: Optional[str] = None) -> tuple[str, str]:
    """(per-run column, mode) that ranks configurations; top-1 when studies disagree."""
    targets = {study_objective(study, uri=uri) for study in as_studies(studies)}
    metric, mode = targets.pop() if len(targets) == 1 else (DEFAULT_METRIC, DEFAULT_MODE)
    return rank_column(metric), mode


def load_board_runs(studies: str | Iterable[str], *, uri: Optional[str] = None,
                    fields: Sequence[str] = ()) -> StudyRuns:
    """The runs a leaderboard needs: the summary metrics, the objective's metric and ``fields``."""
    rank_by, _ = objective(studies, uri=uri)
    return load_runs(studies, uri=uri, metrics=list(dict.fromkeys([*SUMMARY_METRICS, rank_by])), fields=fields)


def leaderboard(
    studies: str | Iterable[str],
    *,
    uri: Optional[str] = None,
    runs: Optional[StudyRuns] = None,
    fields: Sequence[str] = (),
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per (study, configuration), best first; ``runs`` skips reading the store again.

    ``top1_*`` summarise each seed's best validation top-1 (%): mean, sample std (ddof=1) and the
    t-based ``confidence`` interval of the mean. ``efficiency`` is top-1 mean / params (M), as in
    the seed reports. ``fields`` (config options or tags) are carried as extra columns.
    """
    fields = [name for name in fields if name not in COLUMNS]
    runs = runs if runs is not None else load_board_runs(studies, uri=uri, fields=fields)
    rank_by, mode = objective(runs.studies, uri=uri)
    if rank_by not in runs.frame.columns:
        raise OrchestrateError(f"these runs lack {rank_by}, the study's objective: read them with load_board_runs")
    if runs.frame.empty:
        return pd.DataFrame(columns=[*COLUMNS, *fields])
    table = _aggregate(runs, rank_by=rank_by, fields=fields, confidence=confidence)
    table = table.sort_values("_score", ascending=mode == "min", na_position="last", kind="stable")
    ranked = table["n_seeds"] > 0
    table.insert(0, "rank", ranked.cumsum().where(ranked).astype("Int64"))
    return table[[*COLUMNS, *fields]].reset_index(drop=True)


def _aggregate(runs: StudyRuns, *, rank_by: str, fields: Sequence[str], confidence: float) -> pd.DataFrame:
    table = runs.frame.groupby(KEYS, sort=False)[[*IDENTITY, *fields]].first()
    outcomes = runs.frame.groupby([*KEYS, "outcome"]).size().unstack(fill_value=0)
    unfinished = outcomes.reindex(columns=list(OUTCOMES[1:]), fill_value=0).add_prefix("n_")
    table = table.join(unfinished)
    finished = runs.finished.groupby(KEYS, sort=False)
    top1 = finished[SUMMARY_TOP1]
    table["n_seeds"] = top1.count().reindex(table.index, fill_value=0)
    stats = pd.DataFrame({
        "top1_mean": top1.mean(),
        "top1_std": top1.std(ddof=1),
        "top5_mean": finished["summary/top5_at_best"].mean(),
        "best_epoch": finished["summary/best_epoch"].mean(),
        "params_m": finished["summary/params"].mean() / 1e6,
        "mmacs": finished["summary/macs"].mean() / 1e6,
        "train_hours": finished["summary/train_seconds"].mean() / 3600,
        "device": finished["device"].agg(_device_kind),
        "_score": finished[rank_by].mean(),
    })
    table = table.join(stats)
    half = t_half_width(table["top1_std"], table["n_seeds"], confidence=confidence)
    table["top1_ci_low"] = table["top1_mean"] - half
    table["top1_ci_high"] = table["top1_mean"] + half
    table["efficiency"] = table["top1_mean"] / table["params_m"]
    return table.reset_index()


def _device_kind(devices: pd.Series) -> str:
    """``gpu``, ``cpu`` or ``mixed`` over a configuration's runs; no device tag means CPU."""
    kinds = {"gpu" if str(d).lower().startswith(("cuda", "gpu")) else "cpu" for d in devices}
    return kinds.pop() if len(kinds) == 1 else "mixed"
