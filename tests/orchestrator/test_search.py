"""Optuna searches through Ray Tune: pruning, the study on disk, confirm, Pareto fronts, budgets."""

from __future__ import annotations

import mlflow
import numpy as np
import optuna
import pytest

from orchestrator.results import non_dominated
from orchestrator.search import journal_storage
from orchestrator.spec import parse_spec
from orchestrator.sweep import run_sweep

DATA = {"dataset": "synthetic", "batch_size": 32,
        "options": {"num_classes": 4, "train_size": 128, "val_size": 64, "image_size": 16}}


def spec(store_uri: str, epochs: int, search: dict, **resources) -> dict:
    return {"name": "search", "data": DATA, "model": {"name": "resnet20"},
            "train": {"epochs": epochs, "optimizer": {"name": "sgd", "lr": 0.05}},
            "search": search, "tracking": {"uri": store_uri}, "resources": resources}


def trial_runs(store_uri: str):
    mlflow.set_tracking_uri(store_uri)
    runs = mlflow.search_runs(experiment_names=["search"])
    return runs[runs["tags.orchestrate.kind"] == "trial"]


def test_tpe_with_asha_prunes_tags_and_keeps_every_trial_in_the_study(ray_local, store_uri) -> None:
    # One trial at a time, seeded TPE, deterministic CPU training: the same trials are pruned on
    # every run, so the assertions below cannot flake.
    raw = spec(store_uri, 3, {
        "kind": "optuna", "sampler": "tpe", "num_samples": 6,
        "space": {"train.optimizer.lr": {"loguniform": [1e-5, 0.1]}},
        "scheduler": {"name": "asha", "grace_period": 1, "reduction_factor": 2},
    }, max_concurrent=1)
    outcome = run_sweep(parse_spec(raw), echo=lambda line: None)
    runs = trial_runs(store_uri)
    pruned = runs[runs["tags.orchestrate.outcome"] == "pruned"]
    assert len(runs) == 6 and outcome.tally.pruned == len(pruned) > 0
    assert (pruned["status"] == "KILLED").all()
    assert (pruned["metrics.summary/epochs"] < 3).all()
    assert (runs.loc[runs["tags.orchestrate.outcome"] == "finished", "status"] == "FINISHED").all()

    study = optuna.load_study(study_name="search", storage=journal_storage(outcome.optuna_storage))
    assert len(study.trials) == 6
    assert sorted(t.params["train.optimizer.lr"] for t in study.trials) == pytest.approx(
        sorted(runs["params.train.optimizer.lr"].astype(float)))


def test_nsga2_reports_a_non_dominated_pareto_front(ray_local, store_uri) -> None:
    raw = spec(store_uri, 1, {
        "kind": "optuna", "sampler": "nsga2", "num_samples": 4,
        "space": {"model.name": {"choice": ["resnet20", "resnet32"]},
                  "train.optimizer.lr": {"loguniform": [1e-3, 0.1]}},
        "metric": ["val/top1", "model/params"], "mode": ["max", "min"],
    })
    outcome = run_sweep(parse_spec(raw), echo=lambda line: None)
    runs = trial_runs(store_uri)
    objectives = runs[["metrics.val/top1", "metrics.model/params"]].to_numpy()
    on_front = (runs["tags.orchestrate.pareto"] == "true").to_numpy()
    assert len(outcome.pareto) == on_front.sum() > 0
    for i, (top1, params) in enumerate(objectives):
        dominated = np.any((objectives[:, 0] >= top1) & (objectives[:, 1] <= params)
                           & ((objectives[:, 0] > top1) | (objectives[:, 1] < params)))
        assert dominated != on_front[i]


def test_conditional_axes_are_sampled_only_when_their_condition_holds(ray_local, store_uri) -> None:
    raw = spec(store_uri, 1, {
        "kind": "optuna", "sampler": "random", "num_samples": 4,
        "space": {"model.attention": {"choice": ["se", "eca"]},
                  "model.attention_kwargs.k_size": {"choice": [3, 5], "when": {"model.attention": "eca"}}},
        "grid": {"train.optimizer.lr": [0.05]},
        "confirm": {"top_k": 1}, "repeats": 2,
    })
    run_sweep(parse_spec(raw), echo=lambda line: None)
    runs = trial_runs(store_uri)
    search_runs = runs[runs["tags.orchestrate.seed"] == "0"]
    for _, run in search_runs.iterrows():
        has_k = "model.attention_kwargs.k_size" in run["tags.orchestrate.factors"]
        assert has_k == (run["params.model.attention"] == "eca")
        assert run["params.train.optimizer.lr"] == "0.05"
    confirmed = runs[runs["tags.orchestrate.seed"] == "1"]
    assert len(confirmed) == 1  # the best configuration's second seed
    best_key = confirmed["tags.orchestrate.config_key"].iloc[0]
    assert (search_runs["tags.orchestrate.config_key"] == best_key).sum() >= 1


def test_a_spent_time_budget_launches_nothing_and_ends_cleanly(ray_local, store_uri) -> None:
    raw = spec(store_uri, 1, {"kind": "grid", "factors": {"train.optimizer.lr": [0.1, 0.01]},
                              "time_budget": "0.001s"})
    outcome = run_sweep(parse_spec(raw), echo=lambda line: None)
    assert outcome.tally.unstarted == 2 and outcome.tally.finished == 0
    assert trial_runs(store_uri).empty


def test_non_dominated_mask() -> None:
    values = np.array([[90.0, 1.0], [80.0, 0.5], [85.0, 2.0], [90.0, 1.0], [70.0, 0.5]])
    assert non_dominated(values, np.array([1, -1])).tolist() == [True, True, False, True, False]
