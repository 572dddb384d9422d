"""Tune's param space for a stage of whole plans, one trial each, and the lookup from a trial's
config back to its plan.

Tune's grid generator deep-copies the whole unresolved param space for every trial it makes:
with the plans themselves as grid values, N trials cost N^2 plan copies (a minute of the
driver's time before the first of 1,000 trials started, hours at 10,000). The grid here runs
over plan indices; each trial's plan enters its config through ``tune.sample_from``, copied
once, where PBT can mutate it.
"""

from __future__ import annotations

import copy
from typing import Any, Optional

from ray import tune
from ray.tune.experiment import Trial

from ..spec.plans import PLAN_KEY, TrialPlan
from .study_guard import relabel

PLAN_INDEX_KEY = "plan_index"
GROUP_INDEX_KEY = "fused_group_index"
FUSED_PLANS_KEY = "fused_plans"  # a fused trial's config: its members' plans, in order


class PlanByIndex:
    """A trial's plan from its grid index (``tune.sample_from`` calls it with the trial's config)."""

    def __init__(self, plans: list[dict[str, Any]]) -> None:
        self.plans = plans

    def __call__(self, config: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(self.plans[config[PLAN_INDEX_KEY]])  # PBT mutates its copy

    def __deepcopy__(self, memo: dict[int, Any]) -> PlanByIndex:
        return self  # never changed: every copy of the param space may share it


def plan_grid(plans: list[TrialPlan]) -> dict[str, Any]:
    """One trial per plan, in order."""
    return {PLAN_INDEX_KEY: tune.grid_search(list(range(len(plans)))),
            PLAN_KEY: tune.sample_from(PlanByIndex([plan.to_dict() for plan in plans]))}


def fused_grid(groups: list[list[TrialPlan]]) -> dict[str, Any]:
    """One trial per fused group, in order; ``PLAN_KEY`` holds its first member's plan (the
    trial's name), ``FUSED_PLANS_KEY`` all of them."""
    return {GROUP_INDEX_KEY: tune.grid_search(list(range(len(groups)))),
            PLAN_KEY: tune.sample_from(GroupByIndex([[plan.to_dict() for plan in group[:1]] for group in groups], first=True)),
            FUSED_PLANS_KEY: tune.sample_from(GroupByIndex([[plan.to_dict() for plan in group] for group in groups]))}


class GroupByIndex:
    """A fused trial's member plans (or its first one) from its grid index."""

    def __init__(self, groups: list[list[dict[str, Any]]], *, first: bool = False) -> None:
        self.groups = groups
        self.first = first

    def __call__(self, config: dict[str, Any]) -> Any:
        group = copy.deepcopy(self.groups[config[GROUP_INDEX_KEY]])
        return group[0] if self.first else group

    def __deepcopy__(self, memo: dict[int, Any]) -> GroupByIndex:
        return self


class PlanLookup:
    """The plan of a Tune trial from its config: by its index into the current grid stage's
    ``plans`` (Tune names a trial before it resolves the plan into its config), else the plan a
    searcher proposed. ``label_suffix`` sets apart runs added to a study of another recipe."""

    def __init__(self, label_suffix: str) -> None:
        self.label_suffix = label_suffix
        self.plans: list[TrialPlan] = []
        self.groups: list[list[TrialPlan]] = []  # the current fused stage's groups

    def members(self, config: dict[str, Any]) -> list[TrialPlan]:
        """The plans a trial trains: its fused group's, else its one plan."""
        if GROUP_INDEX_KEY in config:
            return self.groups[config[GROUP_INDEX_KEY]]
        return [self(config)]

    def __call__(self, config: dict[str, Any]) -> TrialPlan:
        if GROUP_INDEX_KEY in config:
            return self.groups[config[GROUP_INDEX_KEY]][0]
        if PLAN_INDEX_KEY in config:
            return self.plans[config[PLAN_INDEX_KEY]]
        return relabel(TrialPlan.from_dict(config[PLAN_KEY]), self.label_suffix)


class TrialNames:
    """Tune's trial name and folder: the trial's run key, so any later sweep finds its checkpoints.

    Tune names a trial before it resolves the plan into its config, so the name comes from the
    stage's lookup. Tune also keeps the naming function, pickled, in each trial's saved state,
    which it rewrites every ~10 s: with the lookup, every trial carried all the stage's plans
    (the state grew as trials x plans: 70 MB and 0.4 s of the driver's loop per rewrite at 600
    trials). Pickled, it keeps no lookup and names from the resolved plan, the only config a
    made trial has (``Trial.reset`` copies it)."""

    def __init__(self, lookup: Optional[PlanLookup] = None) -> None:
        self.lookup = lookup

    def __call__(self, trial: Trial) -> str:
        plan = self.lookup(trial.config) if self.lookup is not None else TrialPlan.from_dict(trial.config[PLAN_KEY])
        return plan.run_key

    def __deepcopy__(self, memo: dict[int, Any]) -> TrialNames:
        return self  # Tune copies its experiment's spec, this included, before it makes trials

    def __reduce__(self) -> tuple[type[TrialNames], tuple[()]]:
        return TrialNames, ()
