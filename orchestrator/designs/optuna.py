"""Optuna search: a sampler proposes configurations while the sweep runs, one study per grid
cell, then optionally the top configurations re-run with ``repeats`` seeds (``confirm``);
several metrics make it multi-objective, and its Pareto front is tagged at the end."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Optional

import numpy as np

from ..errors import OptionError
from ..plans import TrialPlan, config_key, label_for, resolve_config
from ..tracking.names import TAG, rank_column
from .base import Design, register_design
from .optuna_space import define_by_run, optuna_cells, optuna_space

if TYPE_CHECKING:
    from ..search_spec import SearchSpec
    from ..spec import SweepSpec
    from ..sweep import Sweep, SweepOutcome
    from ..tracking.writer import StudyTracker


@register_design
class OptunaSearch(Design):
    name = "optuna"
    keys = ("space", "grid", "confirm")
    multi_objective = True

    def validate(self, search: SearchSpec) -> None:
        super().validate(search)
        if not search.space:
            raise ValueError("kind optuna needs search.space: {path: {loguniform: [a, b]}, ...}")
        if search.repeats > 1 and search.confirm is None:
            raise OptionError("repeats", "an optuna search trains each proposal once; add "
                                         "search.confirm: {top_k: K} to re-run the best K with repeats seeds")

    def expand(self, spec: SweepSpec) -> None:
        optuna_space(spec)  # validates every axis's endpoints; trials are proposed while running
        return None

    def describe(self, spec: SweepSpec, plans: Optional[list[TrialPlan]]) -> list[str]:
        search = spec.search
        cells = optuna_cells(spec)
        lines = [f"optuna study ({search.sampler}): {search.num_samples} proposals x {len(cells)} grid cells"]
        lines += [f"  {path}: {json.dumps(entry)}" for path, entry in search.space.items()]
        if search.grid:
            lines += [f"  cell {i}: {label_for(cell)}" for i, cell in enumerate(cells)]
        if search.confirm:
            lines.append(f"  then the top {search.confirm.top_k} re-run with {search.repeats} seeds each")
        return lines

    def has_work(self, sweep: Sweep) -> bool:
        from ..search import finished_trial_count  # here: trial workers import designs, not the searcher

        spec = sweep.spec
        if any(finished_trial_count(sweep.optuna_storage, name) < spec.search.num_samples
               for name, _, _ in studies(spec)):
            return True
        return spec.search.confirm is not None and bool(sweep.pending(confirm_plans(spec, sweep.tracker.uri)))

    def run(self, sweep: Sweep, plans: Optional[list[TrialPlan]], outcome: SweepOutcome) -> None:
        spec = sweep.spec
        sweep.echo(f"optuna study {spec.name}: {sweep.optuna_storage} (optuna-dashboard {sweep.optuna_storage})")
        outcome.optuna_storage = sweep.optuna_storage
        for name, cell, stage in studies(spec):
            sweep.run_search(name, cell, define_by_run(spec, cell), stage=stage)
        if spec.search.confirm is not None:
            confirm = sweep.pending(confirm_plans(spec, sweep.tracker.uri))
            sweep.echo(f"confirm: re-running the top {spec.search.confirm.top_k} configurations "
                       f"with {spec.search.repeats} seeds ({len(confirm)} trials)")
            sweep.run_plans(confirm, name="confirm")
        if spec.search.multi_objective:
            outcome.pareto = pareto_front(spec, sweep.tracker)


def studies(spec: SweepSpec) -> list[tuple[str, dict, str]]:
    """(Optuna study name, grid cell, Tune stage name) of each grid cell: one study per cell."""
    cells = optuna_cells(spec)
    if len(cells) == 1:
        return [(spec.name, cells[0], "optuna")]
    return [(f"{spec.name}[{label_for(cell)}]", cell, f"optuna-cell{index}") for index, cell in enumerate(cells)]


def confirm_plans(spec: SweepSpec, uri: str) -> list[TrialPlan]:
    """The top-k configurations of an Optuna search, each with ``repeats`` seeds.

    Ranked by each configuration's mean over its finished runs; the seed the search already ran
    is part of the list and is skipped by the caller as finished.
    """
    from ..tracking.reader import finished_runs  # here: trial workers import this package, not MLflow

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
    from ..tracking.reader import finished_runs

    search = spec.search
    frame = finished_runs(spec.name, tracker.uri, search.metrics)
    signs = np.array([1 if mode == "max" else -1 for mode in search.modes])
    front = frame[non_dominated(frame[search.metrics].to_numpy(float), signs)]
    for run_id in front["run_id"]:
        tracker.set_tags(run_id, {f"{TAG}pareto": "true"})
    return [f"{row.label} s{row.seed}" for row in front.itertuples()]
