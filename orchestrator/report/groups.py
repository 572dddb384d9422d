"""Group summaries: configurations averaged by any tag or config option (seed 003's table 2).

A group's numbers average its configurations' means, each configuration counting once however
many seeds it has, so a family is not dominated by its most-repeated member.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Optional

import pandas as pd

from ..errors import OrchestrateError
from .basis import BASIS_COLUMN
from .leaderboard import COLUMNS, leaderboard
from .runs import StudyRuns

GROUP_COLUMNS = ["configs", "runs", "top1_mean", "top1_std", "top1_best", "params_m", "train_hours", "members",
                 BASIS_COLUMN]


def group_summary(
    studies: str | Iterable[str],
    by: str,
    *,
    uri: Optional[str] = None,
    runs: Optional[StudyRuns] = None,
    mapping: Optional[Mapping[str, str]] = None,
) -> pd.DataFrame:
    """One row per value of ``by``: a leaderboard column (``model``, ``study``, ``device``...),
    a config option (``model.attention``) or a run tag. ``mapping`` renames values into groups,
    e.g. model names into technique families; unmapped values are their own group.

    ``top1_std`` is the spread across the group's configuration means, not across seeds.
    """
    fields = [] if by in COLUMNS else [by]
    if runs is not None and fields and by not in runs.frame:
        raise OrchestrateError(f"group by {by!r}: load the runs with fields=[{by!r}]")
    board = leaderboard(studies, uri=uri, runs=runs, fields=fields)
    board = board[board["n_seeds"] > 0]
    keys = board[by].astype(str).map(lambda value: (mapping or {}).get(value, value))
    grouped = board.groupby(keys.rename(by), sort=False)
    table = pd.DataFrame({
        "configs": grouped.size(),
        "runs": grouped["n_seeds"].sum(),
        "top1_mean": grouped["top1_mean"].mean(),
        "top1_std": grouped["top1_mean"].std(ddof=1),
        "top1_best": grouped["top1_mean"].max(),
        "params_m": grouped["params_m"].mean(),
        "train_hours": grouped["train_hours"].mean(),
        "members": grouped["label"].agg(", ".join),
    }).assign(**{BASIS_COLUMN: board.attrs["basis"].label})
    table = table.sort_values("top1_mean", ascending=False).reset_index()[[by, *GROUP_COLUMNS]]
    table.attrs["basis"] = board.attrs["basis"]
    return table
