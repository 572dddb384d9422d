"""A study's sections and the bases its plugins' options build on.

:class:`StudySpec` is a whole study with its ``search`` typed by the base every design's options
extend; ``orchestrator.study`` narrows that field to the union of the registered designs.
Designs and trial schedulers read studies through these bases, so they import nothing above them.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from ..errors import OptionError
from ..schema import StrictModel
from ..tracking.names import DEFAULT_METRIC
from ..train.config import TRIAL_SECTIONS, TrialConfig
from ..train.device_plan import check_cuda_graphs
from ..train.metrics import EPOCH_METRICS
from .reported import ReportedSpec
from .resources import ResourcesSpec, TrackingSpec

DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SchedulerOptions(StrictModel):
    """A Ray Tune trial scheduler: each one (``trial_schedulers/``) subclasses this with its own
    options and a literal ``name``, so an option of another scheduler is refused."""

    name: str

    def validate_search(self, search: SearchOptions) -> None:
        """What the scheduler asks of the search section; raise OptionError naming the key."""

    def validate_study(self, spec: StudySpec) -> None:
        """What the scheduler asks of the whole study (recipe, resources)."""

    def build(self, *, epochs: int, metric: str, mode: str, seed: int) -> Any:
        """The Tune scheduler, on one metric with ``epoch`` as its time axis."""
        raise NotImplementedError

    def describe(self) -> str:
        """The dry-run line: what the scheduler will do to the trials."""
        raise NotImplementedError

    def checkpoints_to_keep(self, spec: StudySpec) -> int:
        """The last two: a retried trial restores the newest one even while the next is written."""
        return 2


MAX_REPEATS = 1000  # seeds per configuration; each is a planned trial, made up front


class SearchOptions(StrictModel):
    """The search keys every design takes; each design (``designs/``) adds its own."""

    kind: str
    multi_objective_allowed: ClassVar[bool] = False  # whether the design optimises several metrics at once

    repeats: int = Field(1, ge=1, le=MAX_REPEATS, description="seeds per configuration")
    scheduler: Optional[SchedulerOptions] = None
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
    def _objectives(self) -> SearchOptions:
        for metric in self.metrics:
            if metric not in EPOCH_METRICS:
                raise OptionError("metric", f"unknown metric {metric!r}; allowed: {', '.join(EPOCH_METRICS)}")
        if len(self.modes) != len(self.metrics):
            raise OptionError("mode", f"give one mode per metric ({len(self.metrics)} metrics)")
        if self.multi_objective and not self.multi_objective_allowed:
            raise OptionError("metric", "several metrics need kind: optuna (a multi-objective search)")
        if self.multi_objective and self.scheduler is not None:
            raise OptionError("scheduler", "trial schedulers stop trials on one metric; drop it or use one metric")
        if self.scheduler is not None:
            self.scheduler.validate_search(self)
        return self


class StudySpec(TrialConfig):
    """A whole study: its trial config, name, search, resources and tracking."""

    name: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    search: SearchOptions
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)
    reported: Optional[ReportedSpec] = Field(
        None, description="a published table's numbers per row; keys checked against the planned rows (reported.py)")

    def trial_config(self) -> dict[str, Any]:
        """The base trial config as plain data (what factors patch)."""
        return self.model_dump(include=set(TRIAL_SECTIONS), mode="json")

    @model_validator(mode="after")
    def _graphs_have_cuda(self) -> StudySpec:
        check_cuda_graphs(self.train, self.resources.gpu_share)
        return self

    @model_validator(mode="after")
    def _cuda_has_a_gpu_share(self) -> StudySpec:
        # Ray hides every GPU from a trial given no share: each trial failed at its start.
        if self.train.device == "cuda" and self.resources.gpus_per_trial == 0:
            raise OptionError("train.device", "cuda needs a GPU for each trial, but resources.gpus_per_trial is 0; "
                                              "allowed: train.device auto or cpu, or resources.gpus_per_trial above "
                                              "0 or auto")
        return self

    @model_validator(mode="after")
    def _scheduler_fits_study(self) -> StudySpec:
        if self.search.scheduler is not None:
            self.search.scheduler.validate_study(self)
        return self
