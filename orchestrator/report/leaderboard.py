"""Leaderboard: one row per configuration, seeds aggregated, ranked by the study's objective.

Only finished runs enter the means. Pruned, failed and still-running seeds are counted in their
own columns, and a configuration none of whose seeds finished keeps a row (unranked), so nothing
that was tried disappears from the table.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

import pandas as pd

from ..errors import OrchestrateError
from ..tracking.names import (DEFAULT_METRIC, DEFAULT_MODE, OUTCOMES, SUMMARY_METRICS, SUMMARY_TOP1, SUMMARY_TOP5, TOP1,
                              rank_column)
from ..tracking.latest import study_objective
from .basis import BASIS_COLUMN, Basis, headline_of
from .reported import beside_board, compare, reported_numbers
from .runs import StudyRuns, as_studies, load_runs
from .stats import PERCENT, from_logit, informative, t_half_width, to_logit

KEYS = ["study", "config_key"]
IDENTITY = ["label", "model", "factors"]
COLUMNS = [
    "rank", *KEYS, *IDENTITY, "n_seeds", "n_pruned", "n_failed", "n_running", "n_missing",
    "top1_mean", "top1_std", "top1_ci_low", "top1_ci_high", "top1_ci_informative", "top1_best_epoch_mean",
    "top5_mean",
    "best_epoch", "params_m", "mmacs", "train_hours", "device", "efficiency", BASIS_COLUMN,
]


def objective(studies: str | Iterable[str], *, uri: Optional[str] = None) -> tuple[str, str]:
    """(epoch metric, mode) the studies optimise; top-1 when studies disagree."""
    targets = {study_objective(study, uri=uri) for study in as_studies(studies)}
    return targets.pop() if len(targets) == 1 else (DEFAULT_METRIC, DEFAULT_MODE)


def ranking(metric: str, basis: Basis) -> str:
    """The per-run column configurations are ranked by: for top-1 the basis's validation
    number (never the test split's), else the metric's summary."""
    return basis.rank_metric if metric == TOP1 else rank_column(metric)


def load_board_runs(studies: str | Iterable[str], *, uri: Optional[str] = None,
                    fields: Sequence[str] = ()) -> StudyRuns:
    """The runs a leaderboard needs: the summary metrics, the objective's metric and ``fields``."""
    metric, _ = objective(studies, uri=uri)
    return load_runs(studies, uri=uri, metrics=list(dict.fromkeys([*SUMMARY_METRICS, rank_column(metric)])),
                     fields=fields)


def leaderboard(
    studies: str | Iterable[str],
    *,
    uri: Optional[str] = None,
    runs: Optional[StudyRuns] = None,
    fields: Sequence[str] = (),
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per (study, configuration), best first; ``runs`` skips reading the store again.

    ``top1_*`` summarise each seed's headline top-1 (%, the ``basis`` rule's number): mean, sample std (ddof=1) and the
    ``confidence`` interval (a t interval on the logit scale, so inside [0, 100]), flagged
    ``top1_ci_informative`` from 3 seeds on; ``basis`` says which split and epoch rule. ``efficiency`` is top-1 mean / params (M), as in
    the seed reports. ``fields`` (config options or tags) are carried as extra columns. With a
    spec's ``reported`` numbers: ``reported_<rule>``, ``ours_<rule>``, ``delta_<rule>`` per rule
    they use, and ``attrs["reported"]`` (one record per number, see :func:`.reported.reported_of`).
    """
    fields = [name for name in fields if name not in COLUMNS]
    runs = runs if runs is not None else load_board_runs(studies, uri=uri, fields=fields)
    metric, mode = objective(runs.studies, uri=uri)
    basis = headline_of(runs.frame)
    rank_by = ranking(metric, basis)
    if rank_by not in runs.frame.columns:
        raise OrchestrateError(f"these runs lack {rank_by}, the study's objective: read them with load_board_runs")
    if runs.frame.empty:
        empty = pd.DataFrame(columns=[*COLUMNS, *fields])
        empty.attrs["basis"], empty.attrs["reported"] = basis, []
        return empty
    table = _aggregate(runs, basis, rank_by=rank_by, fields=fields, confidence=confidence)
    table = table.sort_values("_score", ascending=mode == "min", na_position="last", kind="stable")
    # Competition ranking (1, 1, 3): configurations whose means are equal share a rank, rather
    # than the order they were read in deciding between them. Rows with no finished seed have no rank.
    score = table["_score"].where(table["n_seeds"] > 0)
    table.insert(0, "rank", score.rank(ascending=mode == "min", method="min").astype("Int64"))
    board = table[[*COLUMNS, *fields]].reset_index(drop=True)
    reported = compare(runs, reported_numbers(runs.studies, uri=uri))
    board = beside_board(board, reported)  # a report's own numbers, each beside ours of its rule
    # Records, not a frame: pandas compares attrs when it concatenates, and frames do not compare.
    board.attrs["basis"], board.attrs["reported"] = basis, reported.to_dict("records")
    return board


def _aggregate(runs: StudyRuns, basis: Basis, *, rank_by: str, fields: Sequence[str],
               confidence: float) -> pd.DataFrame:
    table = runs.frame.groupby(KEYS, sort=False)[[*IDENTITY, *fields]].first()
    outcomes = runs.frame.groupby([*KEYS, "outcome"]).size().unstack(fill_value=0)
    unfinished = outcomes.reindex(columns=list(OUTCOMES[1:]), fill_value=0).add_prefix("n_")
    table = table.join(unfinished)
    finished = runs.finished.groupby(KEYS, sort=False)
    top1 = finished[basis.metric]
    table["n_seeds"] = top1.count().reindex(table.index, fill_value=0)
    # A finished run without the headline number (one study of a cross-study board held out a
    # validation split, the other did not) enters no mean: counted, so its row says so.
    table["n_missing"] = finished.size().reindex(table.index, fill_value=0) - table["n_seeds"]
    stats = pd.DataFrame({
        "top1_mean": top1.mean(),
        "top1_std": top1.std(ddof=1),
        "top1_best_epoch_mean": finished[SUMMARY_TOP1].mean(),  # optimistic: shown beside, never ranked
        "top5_mean": finished[SUMMARY_TOP5].mean(),
        "best_epoch": finished["summary/best_epoch"].mean(),
        "params_m": finished["summary/params"].mean() / 1e6,
        "mmacs": finished["summary/macs"].mean() / 1e6,
        "train_hours": finished["summary/train_seconds"].mean() / 3600,
        "device": finished["device"].agg(_device_kind),
        "_score": finished[rank_by].mean(),
    })
    table = table.join(stats).join(_bounded_ci(runs, basis.metric, confidence))
    table["top1_ci_informative"] = informative(table["n_seeds"])
    table["efficiency"] = table["top1_mean"] / table["params_m"]
    table[BASIS_COLUMN] = basis.label
    return table.reset_index()


def _bounded_ci(runs: StudyRuns, metric: str, confidence: float) -> pd.DataFrame:
    """Each configuration's top-1 interval: a t interval of the mean logit, back-transformed."""
    logits = runs.finished.assign(_logit=to_logit(runs.finished[metric], PERCENT))
    grouped = logits.groupby(KEYS, sort=False)["_logit"]
    centre, n = grouped.mean(), grouped.count()
    half = t_half_width(grouped.std(ddof=1), n, confidence=confidence)
    return pd.DataFrame({"top1_ci_low": from_logit(centre - half, PERCENT),
                         "top1_ci_high": from_logit(centre + half, PERCENT)}, index=centre.index)


def _device_kind(devices: pd.Series) -> str:
    """``gpu``, ``cpu`` or ``mixed`` over a configuration's runs; no device tag means CPU."""
    kinds = {"gpu" if str(d).lower().startswith(("cuda", "gpu")) else "cpu" for d in devices}
    return kinds.pop() if len(kinds) == 1 else "mixed"
