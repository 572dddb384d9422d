"""The driver's view of a fused trial: each member is shown to the logging and progress
callbacks as a trial of its own, so each member is its own MLflow run, progress line and
tally entry exactly as an unfused trial would be.

A fused trial's report carries each member's result under ``MEMBERS_KEY``; a member that failed
ends (FAILED, with its reason) at that report, the others when the Tune trial does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

from ray.tune import Callback
from ray.tune.experiment import Trial

from ..tracking.names import FAILURE_KEY, MEMBERS_KEY
from .callbacks import TrialPlans
from .plan_grid import GROUP_INDEX_KEY, PlanLookup


@dataclass
class MemberTrial:
    """The attributes of a Tune ``Trial`` the callbacks read, for one member of a fused trial."""

    trial_id: str
    config: dict[str, Any]
    last_result: dict[str, Any] = field(default_factory=dict)
    checkpoint: Optional[Any] = None  # anything with the ``path`` of the member's checkpoint folder
    error_file: Optional[str] = None
    max_failures: int = 0
    ended: bool = False

    def get_error(self) -> None:
        return None


class FusedFanOut(Callback):
    """Passes an unfused trial's events to ``inner`` as they are, and a fused trial's to each of
    its members."""

    def __init__(self, inner: list[Callback], plans: TrialPlans, lookup: PlanLookup) -> None:
        self.inner = inner
        self.plans = plans
        self.lookup = lookup
        self.members: dict[str, dict[str, MemberTrial]] = {}  # trial id -> run key -> member

    def _members(self, trial: Trial) -> Optional[dict[str, MemberTrial]]:
        if GROUP_INDEX_KEY not in trial.config:
            return None
        if trial.trial_id not in self.members:
            found = {}
            for plan in self.lookup.members(trial.config):
                member = MemberTrial(f"{trial.trial_id}/{plan.run_key}", trial.config)
                self.plans.plans[member.trial_id] = plan  # its identity, without looking it up again
                found[plan.run_key] = member
            self.members[trial.trial_id] = found
        return self.members[trial.trial_id]

    def _each(self, hook: str, *args: Any, **kwargs: Any) -> None:
        for callback in self.inner:
            getattr(callback, hook)(*args, **kwargs)

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        members = self._members(trial)
        for one in members.values() if members is not None else [trial]:
            if not getattr(one, "ended", False):
                self._each("on_trial_start", iteration, trials, one, **info)

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any) -> None:
        members = self._members(trial)
        if members is None:
            self._each("on_trial_result", iteration, trials, trial, result, **info)
            return
        for run_key, reported in result.get(MEMBERS_KEY, {}).items():
            member = members[run_key]
            if member.ended:
                continue
            new_epoch = reported["epoch"] > member.last_result.get("epoch", 0)
            member.last_result = {**member.last_result, **reported}
            if new_epoch:
                self._each("on_trial_result", iteration, trials, member, reported, **info)
            if FAILURE_KEY in reported:
                member.ended = True
                self._each("on_trial_error", iteration, trials, member)

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        members = self._members(trial)
        if members is None:
            self._each("on_trial_complete", iteration, trials, trial, **info)
            return
        for run_key, member in members.items():
            if not member.ended:
                member.ended = True
                if trial.checkpoint is not None:
                    member.checkpoint = SimpleNamespace(path=str(Path(trial.checkpoint.path) / run_key))
                self._each("on_trial_complete", iteration, trials, member, **info)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        members = self._members(trial)
        if members is None:
            self._each("on_trial_error", iteration, trials, trial, **info)
            return
        for member in members.values():
            if not member.ended:
                member.ended, member.error_file = True, trial.error_file
                self._each("on_trial_error", iteration, trials, member, **info)

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self._each("on_experiment_end", trials, **info)
