"""The ``search`` section of a spec: study design, Optuna sampler, Tune scheduler, budgets."""

from __future__ import annotations

import re
from typing import Any, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from .errors import OptionError
from .schedulers import get_scheduler
from .spec_base import StrictModel
from .tracking.names import DEFAULT_METRIC
from .train.metrics import EPOCH_METRICS

SAMPLERS = ("tpe", "random", "cmaes", "gp", "qmc", "nsga2")
SINGLE_OBJECTIVE_SAMPLERS = ("cmaes",)  # Optuna's CMA-ES optimizes one objective only
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
class TrialSchedulerSpec(StrictModel):
    """A Ray Tune trial scheduler; options not used by ``name`` are ignored."""

    name: str = Field("asha", description="a registered scheduler: asha, hyperband, median, pbt")
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
                                                 "{loguniform: [a, b]}} of the learning rate or weight decay")

    def describe(self) -> str:
        """The dry-run line: what the scheduler will do to the trials above."""
        return get_scheduler(self.name).describe(self)

    @model_validator(mode="after")
    def _own_options(self) -> TrialSchedulerSpec:
        get_scheduler(self.name).validate(self)
        return self


class ConfirmSpec(StrictModel):
    """After an Optuna search, re-run the ``top_k`` configurations with ``repeats`` seeds."""

    top_k: int = Field(3, ge=1)


class SettleSpec(StrictModel):
    """Seeds until settled: after ``repeats`` seeds, add ``batch`` more at a time to each arm whose
    difference from the reference is undecided (its interval holds 0 and is wider than
    ``width``), until every comparison is decided or the arm has ``max_repeats`` seeds."""

    max_repeats: int = Field(10, ge=3, description="seeds an arm may reach")
    batch: int = Field(2, ge=1, description="seeds added to an undecided arm per round")
    width: float = Field(1.0, gt=0, description="an interval this narrow (in the metric's units, e.g. "
                                                "points of top-1) that holds 0 decides: no difference")
    confidence: float = Field(0.95, gt=0, lt=1)


class SearchSpec(StrictModel):
    kind: str = Field("grid", description="a registered design: grid, ablation, variants, optuna")
    design: Literal["one_at_a_time", "cumulative", "factorial"] = "one_at_a_time"
    factors: dict[str, list[Any]] = Field(default_factory=dict)
    baseline: Optional[dict[str, Any]] = None
    variants: dict[str, dict[str, Any]] = Field(default_factory=dict, description="variants: name -> "
                                                "{dotted.key: value} overrides of data, model and train")
    reference: Optional[str] = Field(None, description="variants: the row the others are compared with")
    space: dict[str, dict[str, Any]] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="optuna: fixed axes, one search per cell")
    repeats: int = Field(1, ge=1, description="seeds per configuration")
    num_samples: int = Field(10, ge=1, description="configurations Optuna proposes (per grid cell)")
    sampler: Literal[SAMPLERS] = "tpe"  # type: ignore[valid-type]
    scheduler: Optional[TrialSchedulerSpec] = None
    confirm: Optional[ConfirmSpec] = None
    settle: Optional[SettleSpec] = None
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
        from .designs import get_design

        self._check_objectives()
        for name, levels in {**self.factors, **self.grid}.items():
            if not levels:
                raise ValueError(f"factor {name!r} has no levels; list at least one value")
        get_design(self.kind).validate(self)
        if self.scheduler is not None:
            get_scheduler(self.scheduler.name).validate_search(self)
        return self

    def _check_objectives(self) -> None:
        for metric in self.metrics:
            if metric not in EPOCH_METRICS:
                raise OptionError("metric", f"unknown metric {metric!r}; allowed: {', '.join(EPOCH_METRICS)}")
        if len(self.modes) != len(self.metrics):
            raise OptionError("mode", f"give one mode per metric ({len(self.metrics)} metrics)")
        if self.multi_objective and self.scheduler is not None:
            raise OptionError("scheduler", "trial schedulers stop trials on one metric; drop it or use one metric")
        if self.multi_objective and self.sampler in SINGLE_OBJECTIVE_SAMPLERS:
            raise OptionError("sampler", f"{self.sampler} optimizes one metric; use nsga2, tpe, random, gp or qmc")
