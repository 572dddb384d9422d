"""Decisions a sweep takes from its own finished runs: the confirm stage and the Pareto front."""

from __future__ import annotations

import json

import numpy as np

from .space import TrialPlan, config_key, resolve_config
from .spec import SweepSpec
from .tracking.names import TAG, rank_column
from .tracking.reader import finished_runs
from .tracking.writer import StudyTracker


def confirm_plans(spec: SweepSpec, uri: str) -> list[TrialPlan]:
    """The top-k configurations of an Optuna search, each with ``repeats`` seeds.

    Ranked by each configuration's mean over its finished runs; the seed the search already ran
    is part of the list and is skipped by the caller as finished.
    """
    search = spec.search
    column = rank_column(search.metrics[0])
    runs = finished_runs(spec.name, uri, [column])
    if runs.empty:
        return []
    scores = runs.groupby("config_key")[column].mean()
    best = scores.sort_values(ascending=search.modes[0] == "min").index[: search.confirm.top_k]
    plans: list[TrialPlan] = []
    for key in best:
        factors = json.loads(runs.loc[runs["config_key"] == key, "factors"].iloc[0])
        config = resolve_config(spec, factors, where="search.confirm")
        assert config_key(config) == key, "a configuration must resolve to the key it ran under"
        label = runs.loc[runs["config_key"] == key, "label"].iloc[0]
        plans += [TrialPlan(key, label, factors, spec.train.seed + r, config) for r in range(search.repeats)]
    return plans


def non_dominated(values: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Mask of the rows no other row dominates; ``signs`` is +1 to maximize, -1 to minimize.

    Written here because pandas has no Pareto filter and Optuna's works on its own trial
    objects, not on the MLflow rows the report shows.
    """
    scores = values * signs
    mask = np.ones(len(scores), dtype=bool)
    for i, row in enumerate(scores):
        better_or_equal = np.all(scores >= row, axis=1)
        strictly_better = np.any(scores > row, axis=1)
        mask[i] = not np.any(better_or_equal & strictly_better)
    return mask


def pareto_front(spec: SweepSpec, tracker: StudyTracker) -> list[str]:
    """Tag the finished runs on the Pareto front of the study's objectives; return their names."""
    search = spec.search
    frame = finished_runs(spec.name, tracker.uri, search.metrics)
    signs = np.array([1 if mode == "max" else -1 for mode in search.modes])
    front = frame[non_dominated(frame[search.metrics].to_numpy(float), signs)]
    for run_id in front["run_id"]:
        tracker.client.set_tag(run_id, f"{TAG}pareto", "true")
    return [f"{row.label} s{row.seed}" for row in front.itertuples()]
