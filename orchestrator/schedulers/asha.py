"""ASHA (Li et al., 2020): asynchronous successive halving; stops trials below the top
1/``reduction_factor`` at each rung, after a ``grace_period`` of epochs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Scheduler, register_scheduler

if TYPE_CHECKING:
    from ..search_spec import TrialSchedulerSpec


@register_scheduler
class Asha(Scheduler):
    name = "asha"

    def build(self, choice: TrialSchedulerSpec, *, epochs: int, metric: str, mode: str, seed: int) -> Any:
        from ray.tune.schedulers import ASHAScheduler

        return ASHAScheduler(time_attr="epoch", metric=metric, mode=mode, max_t=epochs,
                             grace_period=min(choice.grace_period, epochs),
                             reduction_factor=choice.reduction_factor, brackets=choice.brackets)

    def describe(self, choice: TrialSchedulerSpec) -> str:
        return f"asha: grace {choice.grace_period} epochs, keep 1/{choice.reduction_factor:g} of trials at each rung"
