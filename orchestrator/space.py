"""Search space -> trial plans (grid, ablation) or Optuna distributions, and seeds.

A factor key is a dotted path into the trial config (``model.attention_kwargs.k_size``), so any
field can vary. Every expanded configuration is validated like a spec, so a bad level is refused
before the sweep starts, with the factor's path in the message.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Optional

import optuna
from pydantic import ValidationError

from .distributions import parse_distribution
from .errors import SpecError
from .config import TRIAL_SECTIONS, TrialConfig
from .spec import SweepSpec
from .spec_base import format_validation_error
from .labels import short_value
from .tracking.names import BASELINE_LABEL



@dataclass(frozen=True)
class TrialPlan:
    """One trial: a configuration (its key, label and varied factors) and a seed."""

    config_key: str
    label: str
    factors: dict[str, Any]
    seed: int
    config: dict[str, Any] = field(repr=False)

    @property
    def run_key(self) -> str:
        """Stable identity of the (configuration, seed) pair, stored as an MLflow tag."""
        return f"{self.config_key}-s{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return {"config_key": self.config_key, "label": self.label, "factors": self.factors,
                "seed": self.seed, "config": self.config}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialPlan:
        return cls(**data)


def set_path(config: dict[str, Any], path: str, value: Any) -> None:
    """Set ``a.b.c`` in a nested dict, creating intermediate mappings."""
    *parents, leaf = path.split(".")
    node = config
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


def get_path(config: dict[str, Any], path: str) -> Any:
    """The value at ``a.b.c`` in a nested dict."""
    for part in path.split("."):
        config = config[part]
    return config


def config_key(config: dict[str, Any]) -> str:
    """Content hash of a resolved trial config: equal configs share a key across sweeps."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(canonical.encode()).hexdigest()[:10]


def label_for(factors: dict[str, Any]) -> str:
    """Short human name of a configuration: ``k_size=5,lr=0.1``."""
    if not factors:
        return "base"
    return ",".join(f"{path.rsplit('.', 1)[-1]}={short_value(v)}" for path, v in factors.items())

def resolve_config(spec: SweepSpec, factors: dict[str, Any], *, where: str) -> dict[str, Any]:
    """The base trial config patched with ``factors``, validated; errors name ``where``."""
    config = copy.deepcopy(spec.trial_config())
    for path, value in factors.items():
        if path.split(".", 1)[0] not in TRIAL_SECTIONS:
            allowed = ", ".join(f"{s}.*" for s in TRIAL_SECTIONS)
            raise SpecError(f"{where}.{path}: search keys are paths into the trial config ({allowed})")
        set_path(config, path, value)
    try:
        return TrialConfig.model_validate(config).model_dump(mode="json")
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, TrialConfig, prefix=f"{where}: ")) from None


def factorial(factors: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the factors' levels, the first factor varying slowest."""
    names = list(factors)
    return [dict(zip(names, cell)) for cell in itertools.product(*(factors[n] for n in names))]


def configurations(spec: SweepSpec) -> list[tuple[str, dict[str, Any]]]:
    """(label, factors) of every configuration of a grid or ablation study, in run order.

    Factor levels always patch the spec's base config. An ablation's baseline is the base config
    patched with ``search.baseline`` (the base config itself when omitted) and comes first:
    - ``one_at_a_time``: each level of each factor alone (seed 003's tables);
    - ``cumulative``: each step keeps the previous steps' changes (seed 000's ablation);
    - ``factorial``: every combination of levels.
    """
    search = spec.search
    if search.kind == "grid":
        return [(label_for(cell), cell) for cell in factorial(search.factors)]
    cells = [(BASELINE_LABEL, dict(search.baseline or {}))]
    if search.design == "one_at_a_time":
        for name, levels in search.factors.items():
            cells += [(label_for({name: level}), {name: level}) for level in levels]
    elif search.design == "cumulative":
        changes: dict[str, Any] = {}
        for name, (level,) in search.factors.items():
            changes[name] = level
            cells.append((f"+{label_for({name: level})}", dict(changes)))
    else:
        cells += [(label_for(cell), cell) for cell in factorial(search.factors)]
    return cells


def expand(spec: SweepSpec) -> list[TrialPlan]:
    """Every (configuration, seed) of a grid or ablation study, each exactly once."""
    plans: list[TrialPlan] = []
    seen: set[str] = set()
    for label, factors in configurations(spec):
        cell = ",".join(f"{k}={json.dumps(v)}" for k, v in factors.items())
        where = "search.baseline" if label == BASELINE_LABEL else f"search.factors ({cell})"
        config = resolve_config(spec, factors, where=where)
        key = config_key(config)
        if key in seen:
            continue  # two cells that resolve to the same config are one configuration
        seen.add(key)
        for repeat in range(spec.search.repeats):
            seed = spec.train.seed + repeat
            plans.append(TrialPlan(key, label, factors, seed, config))
    return plans


def plan_from_suggestion(spec: SweepSpec, suggestion: dict[str, Any]) -> TrialPlan:
    """The plan for one Optuna proposal (``{path: value}``, grid-cell values included)."""
    axes = [*spec.search.grid, *spec.search.space]
    factors = {path: suggestion[path] for path in axes if path in suggestion}
    config = resolve_config(spec, factors, where="search.space")
    return TrialPlan(config_key(config), label_for(factors), factors, spec.train.seed, config)


CONDITION_KEY = "when"


def optuna_distribution(path: str, entry: dict[str, Any]) -> optuna.distributions.BaseDistribution:
    """``{loguniform: [a, b]}`` and friends -> an Optuna distribution; errors name the path."""
    try:
        kind, args = parse_distribution(entry, ignore=(CONDITION_KEY,))
    except ValueError as exc:
        hint = " (and optionally when: {path: value})" if str(exc).startswith("expected") else ""
        raise SpecError(f"search.space.{path}: {exc}{hint}") from None
    if kind == "choice":
        return optuna.distributions.CategoricalDistribution(args)
    low, high = args
    if kind == "int":
        return optuna.distributions.IntDistribution(int(low), int(high))
    return optuna.distributions.FloatDistribution(float(low), float(high), log=kind == "loguniform")


def _conditions(spec: SweepSpec) -> dict[str, dict[str, Any]]:
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


def optuna_space(spec: SweepSpec) -> dict[str, optuna.distributions.BaseDistribution]:
    """The Optuna distributions of an ``optuna`` study, each endpoint validated as a config."""
    space = {path: optuna_distribution(path, entry) for path, entry in spec.search.space.items()}
    conditions = _conditions(spec)
    for cell in optuna_cells(spec):
        for point in _extreme_points(space, conditions):
            resolve_config(spec, {**cell, **point}, where="search.space")
    return space


def optuna_cells(spec: SweepSpec) -> list[dict[str, Any]]:
    """The fixed grid cells of an Optuna study (one empty cell without ``search.grid``)."""
    return factorial(spec.search.grid) if spec.search.grid else [{}]


def define_by_run(spec: SweepSpec, cell: dict[str, Any]) -> DefineByRun:
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


def describe_plans(plans: list[TrialPlan]) -> list[str]:
    """The dry-run listing: one line per trial, in run order."""
    lines = [f"{len(plans)} trials ({len({p.config_key for p in plans})} configurations)"]
    for index, plan in enumerate(plans, 1):
        factors = ", ".join(f"{k}={json.dumps(v)}" for k, v in plan.factors.items()) or "(base config)"
        lines.append(f"{index:4d}  {plan.config_key}  seed={plan.seed}  {plan.label:<24}  {factors}")
    return lines


def plan_sweep(spec: SweepSpec) -> Optional[list[TrialPlan]]:
    """The fixed trial list of a grid/ablation study (None for Optuna); raises SpecError early."""
    if spec.search.kind == "optuna":
        optuna_space(spec)
        return None
    return expand(spec)


def describe_optuna(spec: SweepSpec) -> list[str]:
    """The dry-run listing of an Optuna study: its axes, grid cells and budget."""
    search = spec.search
    cells = optuna_cells(spec)
    lines = [f"optuna study ({search.sampler}): {search.num_samples} proposals x {len(cells)} grid cells"]
    for path, entry in search.space.items():
        lines.append(f"  {path}: {json.dumps(entry)}")
    if search.grid:
        lines += [f"  cell {i}: {label_for(cell)}" for i, cell in enumerate(cells)]
    if search.confirm:
        lines.append(f"  then the top {search.confirm.top_k} re-run with {search.repeats} seeds each")
    return lines
