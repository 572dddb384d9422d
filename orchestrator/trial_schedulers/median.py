"""Median stopping rule (Golovin et al., 2017, Google Vizier): stop a trial whose best result is
below the median of the other trials' running averages at the same epoch."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..spec.study import SchedulerOptions
from .base import register_scheduler


@register_scheduler
class Median(SchedulerOptions):
    name: Literal["median"] = "median"
    grace_period: int = Field(1, ge=1, description="epochs before a trial may be stopped")
    min_samples_required: int = Field(3, ge=1, description="trials that must report before any is stopped")

    def build(self, *, epochs: int, metric: str, mode: str, seed: int) -> Any:
        from ray.tune.schedulers import MedianStoppingRule

        return MedianStoppingRule(time_attr="epoch", metric=metric, mode=mode, grace_period=self.grace_period,
                                  min_samples_required=self.min_samples_required)

    def describe(self) -> str:
        return (f"median: after {self.grace_period} epochs, stop a trial whose best is below the median "
                f"of the others' running averages (once {self.min_samples_required} trials report)")
