"""ASHA (Li et al., 2020): asynchronous successive halving; stops trials below the top
1/``reduction_factor`` at each rung, after a ``grace_period`` of epochs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..spec.study import SchedulerOptions
from .base import register_scheduler


@register_scheduler
class Asha(SchedulerOptions):
    name: Literal["asha"] = "asha"
    grace_period: int = Field(1, ge=1, description="epochs before a trial may be stopped")
    reduction_factor: float = Field(3, gt=1, description="keep 1/factor of the trials at each rung")
    brackets: int = Field(1, ge=1)

    def build(self, *, epochs: int, metric: str, mode: str, seed: int) -> Any:
        from ray.tune.schedulers import ASHAScheduler

        return ASHAScheduler(time_attr="epoch", metric=metric, mode=mode, max_t=epochs,
                             grace_period=min(self.grace_period, epochs),
                             reduction_factor=self.reduction_factor, brackets=self.brackets)

    def describe(self) -> str:
        return f"asha: grace {self.grace_period} epochs, keep 1/{self.reduction_factor:g} of trials at each rung"
