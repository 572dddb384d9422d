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

from .errors import SpecError
from .spec import TRIAL_SECTIONS, SweepSpec, TrialConfig, format_validation_error

BASELINE_LABEL = "baseline"


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


def config_key(config: dict[str, Any]) -> str:
    """Content hash of a resolved trial config: equal configs share a key across sweeps."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(canonical.encode()).hexdigest()[:10]


def label_for(factors: dict[str, Any]) -> str:
    """Short human name of a configuration: ``k_size=5,lr=0.1``."""
    if not factors:
        return "base"
    return ",".join(f"{path.rsplit('.', 1)[-1]}={json.dumps(v)}" for path, v in factors.items())


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


def configurations(spec: SweepSpec) -> list[tuple[str, dict[str, Any]]]:
    """(label, factors) of every configuration of a grid or ablation study, in run order."""
    search = spec.search
    if search.kind == "grid":
        names = list(search.factors)
        cells = itertools.product(*(search.factors[n] for n in names))
        return [(label_for(f), f) for f in (dict(zip(names, c)) for c in cells)]
    if search.kind == "ablation":
        cells = [] if search.baseline is None else [(BASELINE_LABEL, dict(search.baseline))]
        for name, levels in search.factors.items():
            cells += [(label_for({name: level}), {name: level}) for level in levels]
        return cells or [("base", {})]
    raise ValueError(f"{search.kind} studies have no fixed configurations")


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
    """The plan for one Optuna proposal (``{path: value}``), trained with the base seed."""
    factors = {path: suggestion[path] for path in spec.search.space}
    config = resolve_config(spec, factors, where="search.space")
    return TrialPlan(config_key(config), label_for(factors), factors, spec.train.seed, config)


_DISTRIBUTIONS = ("loguniform", "uniform", "int", "choice")


def optuna_distribution(path: str, entry: dict[str, Any]) -> optuna.distributions.BaseDistribution:
    """``{loguniform: [a, b]}`` and friends -> an Optuna distribution; errors name the path."""
    where = f"search.space.{path}"
    if len(entry) != 1 or next(iter(entry)) not in _DISTRIBUTIONS:
        raise SpecError(f"{where}: expected one of {', '.join(f'{{{d}: ...}}' for d in _DISTRIBUTIONS)}")
    kind, args = next(iter(entry.items()))
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise SpecError(f"{where}: choice takes a non-empty list of values")
        return optuna.distributions.CategoricalDistribution(args)
    if not (isinstance(args, list) and len(args) == 2 and all(isinstance(a, (int, float)) for a in args)):
        raise SpecError(f"{where}: {kind} takes [low, high] numbers")
    low, high = args
    if not low < high:
        raise SpecError(f"{where}: {kind} needs low < high, got [{low}, {high}]")
    if kind == "int":
        if not (float(low).is_integer() and float(high).is_integer()):
            raise SpecError(f"{where}: int takes integer bounds, got [{low}, {high}]")
        return optuna.distributions.IntDistribution(int(low), int(high))
    if kind == "loguniform" and low <= 0:
        raise SpecError(f"{where}: loguniform needs low > 0, got {low}")
    return optuna.distributions.FloatDistribution(float(low), float(high), log=kind == "loguniform")


def optuna_space(spec: SweepSpec) -> dict[str, optuna.distributions.BaseDistribution]:
    """The Optuna distributions of an ``optuna`` study, each endpoint validated as a config."""
    space = {path: optuna_distribution(path, entry) for path, entry in spec.search.space.items()}
    for point in _extreme_points(space):
        resolve_config(spec, point, where="search.space")
    return space


def _extreme_points(space: dict[str, optuna.distributions.BaseDistribution]) -> list[dict[str, Any]]:
    """The low and high ends (every choice) of each axis: enough to catch ill-typed values."""
    points: list[dict[str, Any]] = []
    for path, dist in space.items():
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            values = list(dist.choices)
        else:
            values = [dist.low, dist.high]
        base = {p: _first(d) for p, d in space.items()}
        points += [{**base, path: v} for v in values]
    return points


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
