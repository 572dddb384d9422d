from __future__ import annotations

import pytest

from orchestrator.designs import get_design
from orchestrator.errors import SpecError
from orchestrator.designs.optuna.space import optuna_space, plan_from_suggestion
from orchestrator.study import parse_spec


def expand(spec):
    return get_design(spec.search.kind).expand(spec)


def spec_with(search: dict, **sections):
    return parse_spec({"name": "s", "search": search, **sections})


def test_grid_is_full_factorial_times_seeds_each_exactly_once() -> None:
    spec = spec_with({"kind": "grid", "repeats": 2,
                      "factors": {"train.optimizer.lr": [0.1, 0.01], "data.batch_size": [32, 64, 128]}})
    plans = expand(spec)
    assert len(plans) == 2 * 3 * 2
    assert len({p.run_key for p in plans}) == len(plans)
    assert {p.seed for p in plans} == {0, 1}
    cells = {(p.config["train"]["optimizer"]["lr"], p.config["data"]["batch_size"]) for p in plans}
    assert cells == {(lr, b) for lr in (0.1, 0.01) for b in (32, 64, 128)}


def test_ablation_adds_the_baseline_once_per_seed() -> None:
    spec = spec_with(
        {"kind": "ablation", "repeats": 3, "baseline": {"model.attention": None},
         "factors": {"model.attention_kwargs.k_size": [3, 5, 7]}},
        model={"name": "resnet20", "attention": "eca", "attention_kwargs": {"k_size": 3}},
    )
    plans = expand(spec)
    assert [(p.label, p.seed) for p in plans] == [
        (label, seed) for label in ("baseline", "k_size=3", "k_size=5", "k_size=7") for seed in (0, 1, 2)
    ]
    baseline = [p for p in plans if p.label == "baseline"]
    assert all(p.config["model"]["attention"] is None for p in baseline)


def test_config_key_depends_on_content_not_on_seed() -> None:
    spec = spec_with({"kind": "grid", "repeats": 2, "factors": {"train.epochs": [1, 2]}})
    plans = expand(spec)
    assert plans[0].config_key == plans[1].config_key
    assert plans[0].config_key != plans[2].config_key
    assert expand(spec)[0].config_key == plans[0].config_key  # stable across expansions


def test_cells_resolving_to_the_same_config_run_once() -> None:
    spec = spec_with({"kind": "ablation", "baseline": {"train.epochs": 10},
                      "factors": {"train.epochs": [10, 20]}})
    assert [p.label for p in expand(spec)] == ["baseline", "train.epochs=20".split(".")[-1]]


def test_factor_paths_outside_the_trial_config_are_refused() -> None:
    with pytest.raises(SpecError, match=r"search.factors \(search.repeats=2\).search.repeats: search keys"):
        expand(spec_with({"kind": "grid", "factors": {"search.repeats": [2]}}))


def test_bad_factor_level_names_the_factor() -> None:
    with pytest.raises(SpecError, match=r"search.factors \(train.optimizer.lr=-1\): train.optimizer.lr"):
        expand(spec_with({"kind": "grid", "factors": {"train.optimizer.lr": [-1]}}))


def test_unknown_factor_key_lists_allowed_keys() -> None:
    with pytest.raises(SpecError, match=r"train.optimzer: unknown key \(allowed: epochs, optimizer"):
        expand(spec_with({"kind": "grid", "factors": {"train.optimzer.lr": [0.1]}}))


def test_optuna_space_distributions_and_errors() -> None:
    spec = spec_with({"kind": "optuna", "space": {
        "train.optimizer.lr": {"loguniform": [1e-3, 0.3]},
        "data.batch_size": {"choice": [32, 64]},
        "train.epochs": {"int": [1, 3]},
    }})
    space = optuna_space(spec)
    assert space["train.optimizer.lr"].log and space["train.optimizer.lr"].low == 1e-3
    plan = plan_from_suggestion(spec, {"train.optimizer.lr": 0.01, "data.batch_size": 64, "train.epochs": 2})
    assert plan.config["data"]["batch_size"] == 64 and plan.seed == 0
    for bad, message in [({"loguniform": [0, 1]}, "loguniform needs low > 0"),
                         ({"uniform": [2, 1]}, "needs low < high"),
                         ({"normal": [0, 1]}, "expected one of"),
                         ({"choice": [-1.0]}, "train.optimizer.lr")]:
        with pytest.raises(SpecError, match=message):
            optuna_space(spec_with({"kind": "optuna", "space": {"train.optimizer.lr": bad}}))


ABLATION = {"model.attention_kwargs.k_size": [5, 7], "train.optimizer.lr": [0.01]}


@pytest.mark.parametrize(
    ("design", "factors", "expected"),
    [
        ("one_at_a_time", ABLATION, [
            ("baseline", {}), ("k_size=5", {"model.attention_kwargs.k_size": 5}),
            ("k_size=7", {"model.attention_kwargs.k_size": 7}), ("lr=0.01", {"train.optimizer.lr": 0.01})]),
        ("factorial", ABLATION, [
            ("baseline", {}), ("k_size=5,lr=0.01", {"model.attention_kwargs.k_size": 5, "train.optimizer.lr": 0.01}),
            ("k_size=7,lr=0.01", {"model.attention_kwargs.k_size": 7, "train.optimizer.lr": 0.01})]),
        ("cumulative", {"train.scheduler.name": ["step"], "train.label_smoothing": [0.1], "data.augment": ["none"]}, [
            ("baseline", {}),
            ('+name="step"', {"train.scheduler.name": "step"}),
            ("+label_smoothing=0.1", {"train.scheduler.name": "step", "train.label_smoothing": 0.1}),
            ('+augment="none"', {"train.scheduler.name": "step", "train.label_smoothing": 0.1, "data.augment": "none"})]),
    ],
)
def test_ablation_designs_expand_to_the_exact_trial_list(design, factors, expected) -> None:
    spec = spec_with({"kind": "ablation", "design": design, "factors": factors, "repeats": 2},
                     model={"name": "resnet20", "attention": "eca", "attention_kwargs": {"k_size": 3}})
    plans = expand(spec)
    assert [(p.label, p.factors, p.seed) for p in plans] == [
        (label, cell, seed) for label, cell in expected for seed in (0, 1)]
    baseline = [p for p in plans if p.label == "baseline"]
    assert len(baseline) == 2 and len({p.config_key for p in baseline}) == 1


def test_cumulative_ablation_takes_one_level_per_factor() -> None:
    with pytest.raises(SpecError, match="cumulative ablation adds one change per step"):
        spec_with({"kind": "ablation", "design": "cumulative", "factors": {"train.epochs": [1, 2]}})


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"kind": "grid", "design": "cumulative"}, "an option of kind: ablation"),
        ({"kind": "grid", "metric": ["val/top1", "model/params"], "mode": ["max", "min"]}, "need kind: optuna"),
        ({"kind": "optuna", "space": {"train.epochs": {"int": [1, 2]}}, "metric": ["val/top1", "model/params"],
          "mode": ["max"]}, "one mode per metric"),
        ({"kind": "optuna", "space": {"train.epochs": {"int": [1, 2]}}, "sampler": "cmaes",
          "metric": ["val/top1", "model/params"], "mode": ["max", "min"]}, "cmaes optimizes one metric"),
        ({"kind": "optuna", "space": {"train.epochs": {"int": [1, 2]}}, "repeats": 3}, "search.confirm"),
        ({"kind": "grid", "time_budget": "soon"}, "a duration is seconds"),
    ],
)
def test_inconsistent_search_sections_are_refused(search, message) -> None:
    with pytest.raises(SpecError, match=message):
        spec_with(search)


def test_conditions_must_name_earlier_axes() -> None:
    spec = spec_with({"kind": "optuna", "space": {
        "model.attention_kwargs.k_size": {"choice": [3], "when": {"model.attention": "eca"}},
        "model.attention": {"choice": ["eca"]}}})
    with pytest.raises(SpecError, match=r"search.space.model.attention_kwargs.k_size.when"):
        optuna_space(spec)
