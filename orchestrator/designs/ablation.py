"""Ablation: a baseline configuration and changes against it, in one of three designs.

- ``one_at_a_time``: each level of each factor alone (seed 003's tables);
- ``cumulative``: each step keeps the previous steps' changes (seed 000's ablation);
- ``factorial``: every combination of levels.

Factor levels always patch the spec's base config. The baseline is the base config patched with
``search.baseline`` (the base config itself when omitted) and comes first.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, Optional

from pydantic import model_validator

from ..errors import OptionError
from ..spec.plans import Cell, factorial, label_for
from ..spec.study import StudySpec
from ..tracking.names import BASELINE_LABEL
from .base import Design, register_design
from .grid import FactorOptions
from .settle import SettleSpec, check_settle

Factors = dict[str, list[Any]]


def one_at_a_time(factors: Factors) -> list[tuple[str, dict[str, Any]]]:
    return [(label_for({name: level}), {name: level}) for name, levels in factors.items() for level in levels]


def cumulative(factors: Factors) -> list[tuple[str, dict[str, Any]]]:
    steps, changes = [], {}
    for name, (level,) in factors.items():
        changes[name] = level
        steps.append((f"+{label_for({name: level})}", dict(changes)))
    return steps


def every_combination(factors: Factors) -> list[tuple[str, dict[str, Any]]]:
    return [(label_for(cell), cell) for cell in factorial(factors)]


ARMS: dict[str, Callable[[Factors], list[tuple[str, dict[str, Any]]]]] = {
    "one_at_a_time": one_at_a_time, "cumulative": cumulative, "factorial": every_combination,
}


class AblationOptions(FactorOptions):
    kind: Literal["ablation"] = "ablation"
    design: Literal["one_at_a_time", "cumulative", "factorial"] = "one_at_a_time"
    baseline: Optional[dict[str, Any]] = None
    settle: Optional[SettleSpec] = None

    @model_validator(mode="after")
    def _steps(self) -> AblationOptions:
        if self.design == "cumulative":
            multi = [name for name, levels in self.factors.items() if len(levels) != 1]
            if multi:
                raise OptionError("factors", f"a cumulative ablation adds one change per step; "
                                             f"give {multi[0]!r} exactly one level")
        check_settle(self)
        return self


@register_design
class Ablation(Design):
    name = "ablation"
    options = AblationOptions
    compares = True

    def reference(self, spec: StudySpec) -> str:
        return BASELINE_LABEL

    def cells(self, spec: StudySpec) -> list[Cell]:
        search = spec.search
        baseline = Cell(BASELINE_LABEL, dict(search.baseline or {}), "search.baseline")
        arms = ARMS[search.design](search.factors)
        return [baseline, *(Cell.of(label, factors, "search.factors") for label, factors in arms)]
