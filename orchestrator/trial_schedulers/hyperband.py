"""HyperBand (Li et al., 2018), synchronous: brackets of successive halving; it pauses trials at
each rung and resumes the best, so trials restore from their checkpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..spec.study import SchedulerOptions
from .base import register_scheduler


@register_scheduler
class HyperBand(SchedulerOptions):
    name: Literal["hyperband"] = "hyperband"
    reduction_factor: float = Field(3, gt=1, description="keep 1/factor of the trials at each rung")

    def build(self, *, epochs: int, metric: str, mode: str, seed: int) -> Any:
        from ray.tune.schedulers import HyperBandScheduler

        return HyperBandScheduler(time_attr="epoch", metric=metric, mode=mode, max_t=epochs,
                                  reduction_factor=self.reduction_factor)

    def describe(self) -> str:
        return f"hyperband: keep 1/{self.reduction_factor:g} of trials at each rung"
