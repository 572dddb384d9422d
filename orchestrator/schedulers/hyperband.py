"""HyperBand (Li et al., 2018), synchronous: brackets of successive halving; it pauses trials at
each rung and resumes the best, so trials restore from their checkpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Scheduler, register_scheduler

if TYPE_CHECKING:
    from ..search_spec import TrialSchedulerSpec


@register_scheduler
class HyperBand(Scheduler):
    name = "hyperband"

    def build(self, choice: TrialSchedulerSpec, *, epochs: int, metric: str, mode: str, seed: int) -> Any:
        from ray.tune.schedulers import HyperBandScheduler

        return HyperBandScheduler(time_attr="epoch", metric=metric, mode=mode, max_t=epochs,
                                  reduction_factor=choice.reduction_factor)

    def describe(self, choice: TrialSchedulerSpec) -> str:
        return f"hyperband: keep 1/{choice.reduction_factor:g} of trials at each rung"
