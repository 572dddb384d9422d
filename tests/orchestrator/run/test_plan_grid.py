"""A grid stage's param space: one trial per plan, in order, and a param space whose copies
share the plan list (Tune deep-copies the unresolved space once per trial it makes)."""

from __future__ import annotations

import copy
import pickle
from types import SimpleNamespace

from ray.tune.search.variant_generator import generate_variants
from recovery import expand, study

from orchestrator.run.plan_grid import PLAN_INDEX_KEY, PlanLookup, TrialNames, plan_grid
from orchestrator.study import parse_spec
from orchestrator.spec.plans import PLAN_KEY


def test_each_plan_is_one_trial_in_order_and_the_lookup_finds_it_before_tune_resolves_it() -> None:
    spec = parse_spec(study("grid", "sqlite:///unused.db", lrs=[0.1, 0.05, 0.02]))
    plans = expand(spec)
    configs = [config for _, config in generate_variants(plan_grid(plans))]
    assert [config[PLAN_KEY] for config in configs] == [plan.to_dict() for plan in plans]
    lookup = PlanLookup(label_suffix="")
    lookup.plans = plans
    # Tune names a trial while its plan is still a placeholder: only the index is there.
    assert [lookup({PLAN_INDEX_KEY: config[PLAN_INDEX_KEY]}) for config in configs] == plans


def test_copies_of_the_param_space_share_the_plan_list() -> None:
    space = plan_grid(expand(parse_spec(study("grid", "sqlite:///unused.db", lrs=[0.1, 0.05]))))
    # With the plans as grid values, each of N trials copied all N plans: a minute at 1,000.
    assert copy.deepcopy(space)[PLAN_KEY].func.plans is space[PLAN_KEY].func.plans


def test_trial_names_are_run_keys_before_and_after_tune_resolves_the_plan() -> None:
    plans = expand(parse_spec(study("grid", "sqlite:///unused.db", lrs=[0.1, 0.05])))
    lookup = PlanLookup(label_suffix="")
    lookup.plans = plans
    names = TrialNames(lookup)
    configs = [config for _, config in generate_variants(plan_grid(plans))]
    assert [names(SimpleNamespace(config={PLAN_INDEX_KEY: config[PLAN_INDEX_KEY]})) for config in configs] == \
        [plan.run_key for plan in plans]
    assert copy.deepcopy(names) is names  # Tune copies its spec before it makes the trials
    saved = pickle.loads(pickle.dumps(names))  # as Tune saves it in every trial's state
    assert saved.lookup is None
    assert [saved(SimpleNamespace(config=config)) for config in configs] == [plan.run_key for plan in plans]
