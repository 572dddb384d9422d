"""Optuna search: a sampler proposes configurations while the sweep runs, one study per grid
cell, then optionally the top configurations re-run with ``repeats`` seeds (``confirm``);
several metrics make it multi-objective, and its Pareto front is tagged at the end."""

from __future__ import annotations

import json
from typing import Any, ClassVar, Iterator, Literal, Optional

import numpy as np
from pydantic import Field, field_serializer, model_validator

from ...errors import OptionError
from ...schema import StrictModel
from ...spec.plans import MAX_CONFIGURATIONS, TrialPlan, config_key, label_for, resolve_config
from ...spec.study import StudySpec
from ...tracking.names import TAG, rank_column
from ..base import Design, DesignOptions, Levels, register_design
from ..stages import PlanStage, SearchStage, Stage, StudyState
from .samplers import DEFAULT_SAMPLER, SamplerChoice, SamplerOptions
from .journal import finished_trial_count, optuna_storage_path
from .space import define_by_run, optuna_cells, optuna_space


class ConfirmSpec(StrictModel):
    """After an Optuna search, re-run the ``top_k`` configurations with ``repeats`` seeds."""

    top_k: int = Field(3, ge=1)


class OptunaOptions(DesignOptions):
    kind: Literal["optuna"] = "optuna"
    multi_objective_allowed: ClassVar[bool] = True
    space: dict[str, dict[str, Any]] = Field(default_factory=dict, description="{dotted.key: {loguniform: [a, b]}}")
    grid: Levels = Field(default_factory=dict, description="fixed axes, one search per cell")
    num_samples: int = Field(10, ge=1, le=MAX_CONFIGURATIONS,
                             description="configurations Optuna proposes (per grid cell)")
    sampler: SamplerChoice = Field(DEFAULT_SAMPLER, validate_default=True)  # type: ignore[valid-type]
    confirm: Optional[ConfirmSpec] = None

    @field_serializer("sampler")
    def _sampler_as_written(self, sampler: SamplerOptions) -> Any:
        """Recorded as written (``tpe``), so the parent run's spec reads like the file."""
        return sampler.as_written()

    @model_validator(mode="after")
    def _searchable(self) -> OptunaOptions:
        if not self.space:
            raise OptionError("space", "kind optuna needs search.space: {path: {loguniform: [a, b]}, ...}")
        if self.repeats > 1 and self.confirm is None:
            raise OptionError("repeats", "an optuna search trains each proposal once; add "
                                         "search.confirm: {top_k: K} to re-run the best K with repeats seeds")
        if self.multi_objective and self.sampler.single_objective:
            raise OptionError("sampler", f"{self.sampler.name} optimizes one metric; use nsga2, tpe, random, gp or qmc")
        return self


@register_design
class OptunaDesign(Design):
    name = "optuna"
    options = OptunaOptions

    def expand(self, spec: StudySpec) -> None:
        optuna_space(spec)  # validates every axis's endpoints; trials are proposed while running
        return None

    def trial_count(self, spec: StudySpec, plans: Optional[list[TrialPlan]]) -> int:
        search = spec.search
        confirm = search.confirm.top_k * search.repeats if search.confirm else 0
        return search.num_samples * len(optuna_cells(spec)) + confirm

    def describe(self, spec: StudySpec, plans: Optional[list[TrialPlan]]) -> list[str]:
        search = spec.search
        cells = optuna_cells(spec)
        lines = [f"optuna study ({search.sampler.name}): {search.num_samples} proposals x {len(cells)} grid cells"]
        lines += [f"  {path}: {json.dumps(entry)}" for path, entry in search.space.items()]
        if search.grid:
            lines += [f"  cell {i}: {label_for(cell)}" for i, cell in enumerate(cells)]
        if search.confirm:
            lines.append(f"  then the top {search.confirm.top_k} re-run with {search.repeats} seeds each")
        return lines

    def has_work(self, state: StudyState) -> bool:
        spec = state.spec
        storage = optuna_storage_path(state.uri, spec.name)
        if any(finished_trial_count(storage, name) < spec.search.num_samples for name, _, _ in studies(spec)):
            return True
        return spec.search.confirm is not None and bool(state.pending(confirm_plans(spec, state.uri)))

    def stages(self, state: StudyState, plans: Optional[list[TrialPlan]]) -> Iterator[Stage]:
        spec = state.spec
        storage = optuna_storage_path(state.uri, spec.name)
        state.echo(f"optuna study {spec.name}: {storage} (optuna-dashboard {storage})")
        for name, cell, stage in studies(spec):
            search = search_stage(state, name, cell, stage)
            if search is not None:
                yield search
        if spec.search.confirm is not None:
            confirm = state.pending(confirm_plans(spec, state.uri))
            state.echo(f"confirm: re-running the top {spec.search.confirm.top_k} configurations "
                       f"with {spec.search.repeats} seeds ({len(confirm)} trials)")
            yield PlanStage("confirm", confirm)

    def pareto_front(self, state: StudyState) -> list[str]:
        return tag_pareto_front(state) if state.spec.search.multi_objective else []


def search_stage(state: StudyState, study_name: str, cell: dict[str, Any], stage: str) -> Optional[SearchStage]:
    """One Optuna study (of one grid ``cell``): the rest of its ``num_samples`` proposals.
    Interrupted proposals are asked again first, so they continue from their checkpoints."""
    from .searcher import build_searcher  # Ray's side: only when a sweep searches

    spec = state.spec
    storage = optuna_storage_path(state.uri, spec.name)
    done = finished_trial_count(storage, study_name)
    again = [point for point in state.resumed_factors if all(point.get(k) == v for k, v in cell.items())]
    samples = max(spec.search.num_samples - done, len(again))
    if samples == 0:
        return None
    searcher = build_searcher(spec, define_by_run(spec, cell), study_name=study_name, storage_path=storage,
                              deadline=state.deadline, identities=state.identities,
                              points_to_evaluate=[{k: v for k, v in p.items() if k not in cell} for p in again])
    return SearchStage(stage, samples, searcher)


def studies(spec: StudySpec) -> list[tuple[str, dict, str]]:
    """(Optuna study name, grid cell, Tune stage name) of each grid cell: one study per cell."""
    cells = optuna_cells(spec)
    if len(cells) == 1:
        return [(spec.name, cells[0], "optuna")]
    return [(f"{spec.name}[{label_for(cell)}]", cell, f"optuna-cell{index}") for index, cell in enumerate(cells)]


def confirm_plans(spec: StudySpec, uri: str) -> list[TrialPlan]:
    """The top-k configurations of an Optuna search, each with ``repeats`` seeds.

    Ranked by each configuration's mean over its finished runs; the seed the search already ran
    is part of the list and is skipped by the caller as finished.
    """
    from ...tracking.reader import finished_runs  # MLflow: only when a sweep confirms

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


def tag_pareto_front(state: StudyState) -> list[str]:
    """Tag the finished runs on the Pareto front of the study's objectives; return their names."""
    from ...tracking.reader import finished_runs

    spec = state.spec
    search = spec.search
    frame = finished_runs(spec.name, state.uri, search.metrics)
    signs = np.array([1 if mode == "max" else -1 for mode in search.modes])
    front = frame[non_dominated(frame[search.metrics].to_numpy(float), signs)]
    for run_id in front["run_id"]:
        state.tag(run_id, {f"{TAG}pareto": "true"})
    return [f"{row.label} s{row.seed}" for row in front.itertuples()]
