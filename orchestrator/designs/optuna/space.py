"""An Optuna study's search space: distributions from the spec, define-by-run with conditions.

Each endpoint of every axis is validated as a trial config before the sweep starts, so an
ill-typed value fails at ``--dry-run``, not in a trial hours later.
"""

from __future__ import annotations

from typing import Any

import optuna

from ...distributions import CONDITION_KEY, optuna_distribution
from ...errors import SpecError
from ...spec.plans import TrialPlan, config_key, factorial, label_for, resolve_config
from ...spec.study import StudySpec


def plan_from_suggestion(spec: StudySpec, suggestion: dict[str, Any]) -> TrialPlan:
    """The plan for one Optuna proposal (``{path: value}``, grid-cell values included)."""
    axes = [*spec.search.grid, *spec.search.space]
    factors = {path: suggestion[path] for path in axes if path in suggestion}
    config = resolve_config(spec, factors, where="search.space")
    return TrialPlan(config_key(config), label_for(factors), factors, spec.train.seed, config)


def axis_distribution(path: str, entry: dict[str, Any]) -> optuna.distributions.BaseDistribution:
    """One axis of ``search.space`` as an Optuna distribution; errors name the path."""
    try:
        return optuna_distribution(entry)
    except ValueError as exc:
        hint = " (and optionally when: {path: value})" if str(exc).startswith("expected") else ""
        raise SpecError(f"search.space.{path}: {exc}{hint}") from None


def _conditions(spec: StudySpec) -> dict[str, dict[str, Any]]:
    """Each axis's ``when`` condition, checked to refer to earlier axes of the space."""
    conditions: dict[str, dict[str, Any]] = {}
    earlier: list[str] = []
    for path, entry in spec.search.space.items():
        condition = entry.get(CONDITION_KEY, {})
        if not isinstance(condition, dict) or any(k not in earlier for k in condition):
            raise SpecError(f"search.space.{path}.when: a mapping of earlier search axes to values "
                            f"(earlier axes: {', '.join(earlier) or 'none'})")
        conditions[path] = condition
        earlier.append(path)
    return conditions


class DefineByRun:
    """Optuna's define-by-run space: axes in spec order, a conditional axis only when its
    condition holds (so ``k_size`` is sampled only for ``attention: eca``), grid values fixed."""

    def __init__(self, space: dict[str, optuna.distributions.BaseDistribution],
                 conditions: dict[str, dict[str, Any]], fixed: dict[str, Any]) -> None:
        self.space = space
        self.conditions = conditions
        self.fixed = fixed

    def __call__(self, trial: optuna.Trial) -> dict[str, Any]:
        chosen: dict[str, Any] = {}
        for path, dist in self.space.items():
            if all(chosen.get(k) == v for k, v in self.conditions[path].items()):
                chosen[path] = _suggest(trial, path, dist)
        return dict(self.fixed)


def _suggest(trial: optuna.Trial, name: str, dist: optuna.distributions.BaseDistribution) -> Any:
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, optuna.distributions.IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high)
    return trial.suggest_float(name, dist.low, dist.high, log=dist.log)


def optuna_space(spec: StudySpec) -> dict[str, optuna.distributions.BaseDistribution]:
    """The Optuna distributions of an ``optuna`` study, each endpoint validated as a config."""
    space = {path: axis_distribution(path, entry) for path, entry in spec.search.space.items()}
    conditions = _conditions(spec)
    for cell in optuna_cells(spec):
        for point in _extreme_points(space, conditions):
            resolve_config(spec, {**cell, **point}, where="search.space")
    return space


def optuna_cells(spec: StudySpec) -> list[dict[str, Any]]:
    """The fixed grid cells of an Optuna study (one empty cell without ``search.grid``)."""
    return factorial(spec.search.grid, key="search.grid") if spec.search.grid else [{}]


def define_by_run(spec: StudySpec, cell: dict[str, Any]) -> DefineByRun:
    return DefineByRun(optuna_space(spec), _conditions(spec), cell)


def _extreme_points(space: dict[str, optuna.distributions.BaseDistribution],
                    conditions: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The low and high ends (every choice) of each axis, with the values its condition needs:
    enough to catch ill-typed values before any trial runs."""
    base = {path: _first(dist) for path, dist in space.items()}
    points: list[dict[str, Any]] = []
    for path, dist in space.items():
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            values = list(dist.choices)
        else:
            values = [dist.low, dist.high]
        points += [_applicable({**base, **conditions[path], path: v}, conditions) for v in values]
    return points


def _applicable(point: dict[str, Any], conditions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``point`` without the axes whose condition it does not meet (as a trial would sample it)."""
    kept: dict[str, Any] = {}
    for path, value in point.items():
        if all(kept.get(k) == v for k, v in conditions[path].items()):
            kept[path] = value
    return kept


def _first(dist: optuna.distributions.BaseDistribution) -> Any:
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return dist.choices[0]
    return dist.low
