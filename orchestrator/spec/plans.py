"""Trial plans: one (configuration, seed) each, built by patching the base trial config.

A search key is a dotted path into the trial config (``model.attention_kwargs.k_size``), so any
field can vary. Every resolved configuration is validated like a spec, so a bad level is refused
before the sweep starts, with its key path in the message. Designs (``designs/``) decide which
patches to make; this module makes them.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from pydantic import ValidationError

from ..errors import OptionError, SpecError
from ..labels import short_value
from ..schema import format_validation_error
from ..train.config import TRIAL_SECTIONS, TrialConfig
from ..train.device_plan import check_cuda_graphs

if TYPE_CHECKING:
    from .study import StudySpec

PLAN_KEY = "plan"  # a Tune trial's config holds its plan under this key


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


def resolve_config(spec: StudySpec, factors: dict[str, Any], *, where: str) -> dict[str, Any]:
    """The base trial config patched with ``factors``, validated; errors name ``where``. The
    base config alone was validated with the spec and is taken as it is."""
    config = copy.deepcopy(spec.trial_config())
    if not factors:
        return config
    for path, value in factors.items():
        if path.split(".", 1)[0] not in TRIAL_SECTIONS:
            allowed = ", ".join(f"{s}.*" for s in TRIAL_SECTIONS)
            raise SpecError(f"{where}.{path}: search keys are paths into the trial config ({allowed})")
        set_path(config, path, value)
    try:
        resolved = TrialConfig.model_validate(config)
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, TrialConfig, prefix=f"{where}: ")) from None
    try:  # the spec's own check, on this configuration's recipe (a patch may change the optimizer)
        check_cuda_graphs(resolved.train, spec.resources.gpu_share)
    except OptionError as exc:
        raise SpecError(f"{where}: {exc.subpath}: {exc}") from None
    return resolved.model_dump(mode="json")


MAX_CONFIGURATIONS = 100_000  # combinations a study plans: each is resolved and validated up front


def factorial(factors: dict[str, list[Any]], *, key: str = "search.factors") -> list[dict[str, Any]]:
    """Every combination of the factors' levels, the first factor varying slowest. Counted before
    they are made: a mistyped grid of billions would fill the memory, not fail."""
    count = math.prod(len(levels) for levels in factors.values())
    if count > MAX_CONFIGURATIONS:
        raise SpecError(f"{key}: {count:,} combinations of levels; a study plans at most {MAX_CONFIGURATIONS:,}")
    names = list(factors)
    return [dict(zip(names, cell)) for cell in itertools.product(*(factors[n] for n in names))]


@dataclass(frozen=True)
class Cell:
    """One configuration a design asks for: its label, its patch of the base config, and the
    spec key to name when the patch does not validate."""

    label: str
    factors: dict[str, Any]
    where: str

    @classmethod
    def of(cls, label: str, factors: dict[str, Any], section: str) -> Cell:
        patch = ",".join(f"{k}={json.dumps(v)}" for k, v in factors.items())
        return cls(label, factors, f"{section} ({patch})")


def plans_for(spec: StudySpec, cells: list[Cell], *, seeds: Optional[int] = None) -> list[TrialPlan]:
    """Every (configuration, seed) of ``cells``, each exactly once: ``seeds`` (default ``repeats``)
    seeds each, and two cells that resolve to the same config are one configuration."""
    plans: list[TrialPlan] = []
    seen: set[str] = set()
    for cell in cells:
        config = resolve_config(spec, cell.factors, where=cell.where)
        key = config_key(config)
        if key in seen:
            continue
        seen.add(key)
        plans += [TrialPlan(key, cell.label, cell.factors, spec.train.seed + r, config)
                  for r in range(seeds or spec.search.repeats)]
    return plans


def describe_plans(plans: list[TrialPlan]) -> list[str]:
    """The dry-run listing: one line per trial, in run order."""
    lines = [f"{len(plans)} trials ({len({p.config_key for p in plans})} configurations)"]
    for index, plan in enumerate(plans, 1):
        factors = ", ".join(f"{k}={json.dumps(v)}" for k, v in plan.factors.items()) or "(base config)"
        lines.append(f"{index:4d}  {plan.config_key}  seed={plan.seed}  {plan.label:<24}  {factors}")
    return lines
