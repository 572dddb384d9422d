"""Leaderboard: one row per configuration, seeds aggregated, ranked by the study's metric."""

from __future__ import annotations

from typing import Optional

import pandas as pd

from ..results import rank_column
from ..tracking import study_objective, trial_runs

COLUMNS = [
    "rank", "config_key", "label", "model", "factors", "n_seeds", "top1_mean", "top1_std",
    "top5_mean", "params_m", "train_seconds",
]


def leaderboard(study: str, *, uri: Optional[str] = None) -> pd.DataFrame:
    """Finished runs of ``study`` grouped by configuration: mean and std over seeds, best first.

    ``top1_std`` is the sample standard deviation (ddof=1), NaN for a single seed.
    """
    metric, mode = study_objective(study, uri=uri)
    runs = trial_runs(study, uri=uri, statuses=("FINISHED",))
    if runs.empty:
        return pd.DataFrame(columns=COLUMNS)
    # A (configuration, seed) counts once even if several sweeps recorded it: keep the latest.
    runs = runs.sort_values("start_time").drop_duplicates("run_key", keep="last")
    rank_by = rank_column(metric)
    grouped = runs.groupby("config_key", sort=False)
    table = pd.DataFrame({
        "label": grouped["label"].first(),
        "model": grouped["model"].first(),
        "factors": grouped["factors"].first(),
        "n_seeds": grouped["seed"].nunique(),
        "top1_mean": grouped["summary/best_top1"].mean(),
        "top1_std": grouped["summary/best_top1"].std(ddof=1),
        "top5_mean": grouped["summary/top5_at_best"].mean(),
        "params_m": grouped["summary/params"].mean() / 1e6,
        "train_seconds": grouped["summary/train_seconds"].mean(),
        "_score": grouped[rank_by].mean(),
    }).reset_index()
    table = table.sort_values("_score", ascending=mode == "min", kind="stable").reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    return table[COLUMNS]
