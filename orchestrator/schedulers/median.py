"""Median stopping rule (Golovin et al., 2017, Google Vizier): stop a trial whose best result is
below the median of the other trials' running averages at the same epoch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Scheduler, register_scheduler

if TYPE_CHECKING:
    from ..search_spec import TrialSchedulerSpec


@register_scheduler
class Median(Scheduler):
    name = "median"

    def build(self, choice: TrialSchedulerSpec, *, epochs: int, metric: str, mode: str, seed: int) -> Any:
        from ray.tune.schedulers import MedianStoppingRule

        return MedianStoppingRule(time_attr="epoch", metric=metric, mode=mode, grace_period=choice.grace_period,
                                  min_samples_required=choice.min_samples_required)

    def describe(self, choice: TrialSchedulerSpec) -> str:
        return (f"median: after {choice.grace_period} epochs, stop a trial whose best is below the median "
                f"of the others' running averages (once {choice.min_samples_required} trials report)")
