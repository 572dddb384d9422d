"""The ``search`` section of a spec: study design, Optuna sampler, Tune scheduler, budgets."""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from .distributions import parse_distribution
from .errors import OptionError
from .spec_base import StrictModel
from .tracking.names import DEFAULT_METRIC

SAMPLERS = ("tpe", "random", "cmaes", "gp", "qmc", "nsga2")
SINGLE_OBJECTIVE_SAMPLERS = ("cmaes",)  # Optuna's CMA-ES optimizes one objective only
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# What PBT may mutate: the recipe values a trainer can change mid-run without rebuilding (the
# optimizer's param groups and the LR schedule's bases are rescaled in place), each with the
# epoch metric that reports the value a trial trains with.
PBT_MUTABLE = {"train.optimizer.lr": "opt/base_lr", "train.optimizer.weight_decay": "opt/weight_decay"}


def _all_positive(values: list[Any]) -> bool:
    """Numbers above 0: PBT rescales by the ratio to the current value, which 0 has not."""
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values)


class TrialSchedulerSpec(StrictModel):
    """A Ray Tune trial scheduler; options not used by ``name`` are ignored."""

    name: Literal["asha", "hyperband", "median", "pbt"] = "asha"
    grace_period: int = Field(1, ge=1, description="epochs before asha/median may stop a trial")
    reduction_factor: float = Field(3, gt=1, description="asha/hyperband: keep 1/factor per rung")
    brackets: int = Field(1, ge=1, description="asha brackets")
    min_samples_required: int = Field(3, ge=1, description="median: trials needed before stopping")
    perturbation_interval: int = Field(2, ge=1, description="pbt: epochs between exploit/explore steps")
    quantile_fraction: float = Field(0.25, gt=0, le=0.5, description="pbt: share of the population "
                                                                     "that copies the best share")
    resample_probability: float = Field(0.25, ge=0, le=1, description="pbt: chance to resample a "
                                                                       "value instead of scaling it")
    mutations: dict[str, dict[str, Any]] = Field(default_factory=dict, description="pbt: {path: "
                                                 "{loguniform: [a, b]}} for " + ", ".join(PBT_MUTABLE))

    def describe(self) -> str:
        """The dry-run line: what the scheduler will do to the trials above."""
        if self.name == "pbt":
            mutated = ", ".join(f"{path} {json.dumps(entry)}" for path, entry in self.mutations.items())
            return (f"pbt: every {self.perturbation_interval} epochs the worst {self.quantile_fraction:.0%} "
                    f"of members go on from the weights of the best {self.quantile_fraction:.0%}, "
                    f"mutating {mutated}")
        if self.name == "median":
            return (f"median: after {self.grace_period} epochs, stop a trial whose best is below the median "
                    f"of the others' running averages (once {self.min_samples_required} trials report)")
        grace = f"grace {self.grace_period} epochs, " if self.name == "asha" else ""
        return f"{self.name}: {grace}keep 1/{self.reduction_factor:g} of trials at each rung"

    @model_validator(mode="after")
    def _pbt_mutations(self) -> TrialSchedulerSpec:
        if self.name != "pbt":
            if self.mutations:
                raise OptionError("mutations", "only the pbt scheduler mutates hyperparameters")
            return self
        if not self.mutations:
            raise OptionError("mutations", f"pbt needs mutations: {{path: {{loguniform: [a, b]}}}} "
                                           f"for some of {', '.join(PBT_MUTABLE)}")
        for path, entry in self.mutations.items():
            if path not in PBT_MUTABLE:
                raise OptionError(f"mutations.{path}", f"pbt mutates only {', '.join(PBT_MUTABLE)}")
            try:
                kind, args = parse_distribution(entry, kinds=("loguniform", "uniform", "choice"))
            except ValueError as exc:
                raise OptionError(f"mutations.{path}", str(exc)) from None
            if not _all_positive(args if kind == "choice" else args[:1]):
                raise OptionError(f"mutations.{path}", "pbt values must be numbers above 0")
        return self


class ConfirmSpec(StrictModel):
    """After an Optuna search, re-run the ``top_k`` configurations with ``repeats`` seeds."""

    top_k: int = Field(3, ge=1)


class SearchSpec(StrictModel):
    kind: Literal["grid", "ablation", "optuna"] = "grid"
    design: Literal["one_at_a_time", "cumulative", "factorial"] = "one_at_a_time"
    factors: dict[str, list[Any]] = Field(default_factory=dict)
    baseline: Optional[dict[str, Any]] = None
    space: dict[str, dict[str, Any]] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="optuna: fixed axes, one search per cell")
    repeats: int = Field(1, ge=1, description="seeds per configuration")
    num_samples: int = Field(10, ge=1, description="configurations Optuna proposes (per grid cell)")
    sampler: Literal[SAMPLERS] = "tpe"  # type: ignore[valid-type]
    scheduler: Optional[TrialSchedulerSpec] = None
    confirm: Optional[ConfirmSpec] = None
    metric: Union[str, list[str]] = DEFAULT_METRIC
    mode: Union[Literal["max", "min"], list[Literal["max", "min"]]] = "max"
    time_budget: Optional[float] = Field(None, gt=0, description="seconds (or '90m', '2h'): stop launching trials after")
    fail_fast: bool = False

    @field_validator("time_budget", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", value)
            if not match:
                raise ValueError("a duration is seconds or a number with s, m, h or d (e.g. 90m)")
            return float(match.group(1)) * DURATION_UNITS[match.group(2)]
        return value

    @property
    def metrics(self) -> list[str]:
        return [self.metric] if isinstance(self.metric, str) else list(self.metric)

    @property
    def modes(self) -> list[str]:
        return [self.mode] if isinstance(self.mode, str) else list(self.mode)

    @property
    def multi_objective(self) -> bool:
        return len(self.metrics) > 1

    @model_validator(mode="after")
    def _consistent(self) -> SearchSpec:
        self._check_objectives()
        for name, levels in {**self.factors, **self.grid}.items():
            if not levels:
                raise ValueError(f"factor {name!r} has no levels; list at least one value")
        if self.kind == "optuna":
            self._check_optuna()
        else:
            self._check_fixed_design()
        if self.scheduler is not None and self.scheduler.name == "pbt":
            self._check_population()
        return self

    def _check_objectives(self) -> None:
        from .train.metrics import EPOCH_METRICS

        for metric in self.metrics:
            if metric not in EPOCH_METRICS:
                raise OptionError("metric", f"unknown metric {metric!r}; allowed: {', '.join(EPOCH_METRICS)}")
        if len(self.modes) != len(self.metrics):
            raise OptionError("mode", f"give one mode per metric ({len(self.metrics)} metrics)")
        if self.multi_objective and self.kind != "optuna":
            raise OptionError("metric", "several metrics need kind: optuna (a multi-objective search)")
        if self.multi_objective and self.scheduler is not None:
            raise OptionError("scheduler", "trial schedulers stop trials on one metric; drop it or use one metric")
        if self.multi_objective and self.sampler in SINGLE_OBJECTIVE_SAMPLERS:
            raise OptionError("sampler", f"{self.sampler} optimizes one metric; use nsga2, tpe, random, gp or qmc")

    def _check_optuna(self) -> None:
        if not self.space:
            raise ValueError("kind optuna needs search.space: {path: {loguniform: [a, b]}, ...}")
        if self.factors or self.baseline:
            raise ValueError("kind optuna takes search.space (and search.grid), not factors or baseline")
        if self.repeats > 1 and self.confirm is None:
            raise OptionError("repeats", "an optuna search trains each proposal once; add "
                                         "search.confirm: {top_k: K} to re-run the best K with repeats seeds")

    def _check_fixed_design(self) -> None:
        if self.space or self.grid or self.confirm:
            raise ValueError(f"kind {self.kind} takes search.factors, not space, grid or confirm")
        if self.kind != "ablation" and (self.baseline is not None or self.design != "one_at_a_time"):
            raise ValueError("search.baseline and search.design are only for kind: ablation")
        if self.kind == "ablation" and self.design == "cumulative":
            multi = [name for name, levels in self.factors.items() if len(levels) != 1]
            if multi:
                raise OptionError("factors", f"a cumulative ablation adds one change per step; "
                                             f"give {multi[0]!r} exactly one level")

    def _check_population(self) -> None:
        """PBT evolves one population: members differ only in seed and the mutated values, so
        any member's checkpoint fits any other and exploiting one never swaps the architecture."""
        if self.kind != "grid":
            raise OptionError("scheduler", "pbt evolves a fixed population; use kind: grid "
                                           "(an Optuna searcher cannot follow mutated configs)")
        mutated = self.scheduler.mutations
        for path in self.factors:
            if path not in mutated:
                raise OptionError(f"factors.{path}", "with pbt, factors may only set the starting values "
                                                     f"of mutated keys ({', '.join(mutated)}); run one "
                                                     "sweep per other setting")
            if not _all_positive(self.factors[path]):
                raise OptionError(f"factors.{path}", "pbt starting values must be numbers above 0")
        size = self.repeats * math.prod(len(levels) for levels in self.factors.values())
        if size < 2:
            raise OptionError("repeats", "pbt needs a population of at least 2 members "
                                         "(repeats x factor levels)")
