"""Optuna searches through Ray Tune: pruning, the study on disk, confirm, Pareto fronts, budgets."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pytest

from orchestrator.designs.optuna.design import non_dominated
from orchestrator.designs.optuna.journal import journal_storage, optuna_storage_path
from orchestrator.study import parse_spec
from orchestrator.run.sweep import run_sweep
from orchestrator.tracking.names import BASE_LR

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

    # The six trials ran one after another in reused workers, not one new process each.
    pids = {json.loads(line)["pid"] for path in Path("ray_results").rglob("result.json")
            for line in path.read_text().splitlines()}
    assert 1 <= len(pids) < 6

    journal = optuna_storage_path(outcome.tracking_uri, outcome.study)
    study = optuna.load_study(study_name="search", storage=journal_storage(journal))
    assert len(study.trials) == 6
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.PRUNED) == len(pruned)
    assert states.count(optuna.trial.TrialState.COMPLETE) == 6 - len(pruned)
    assert sorted(t.params["train.optimizer.lr"] for t in study.trials) == pytest.approx(
        sorted(runs["params.train.optimizer.lr"].astype(float)))

    # The dashboard names the objective, draws each trial's learning curve by epoch, and leads
    # from a trial to its MLflow run.
    assert study.metric_names == ["val/top1"]
    by_run = runs.set_index("run_id")
    for trial in study.trials:
        run = by_run.loc[trial.user_attrs["mlflow_run_id"]]
        assert trial.user_attrs["run_key"] == run["tags.orchestrate.run_key"]
        assert sorted(trial.intermediate_values) == list(range(1, int(run["metrics.summary/epochs"]) + 1))

    # Run again: every proposal already ran, so nothing trains and no new, empty parent run opens.
    lines: list[str] = []
    again = run_sweep(parse_spec(raw), echo=lines.append)
    assert again.parent_run_id == "" and "nothing to do" in lines[-1]
    parents = mlflow.search_runs(experiment_names=["search"]).query("`tags.orchestrate.kind` == 'sweep'")
    assert len(parents) == 1 and len(trial_runs(store_uri)) == 6


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


@pytest.mark.slow  # an Optuna sweep of several trials: about 30 s
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


def test_pbt_copies_the_better_member_mutates_its_lr_and_goes_on_without_a_failed_one(ray_local, store_uri) -> None:
    # Two CPUs, three members: the first two wait at the first perturbation for the third, which
    # diverges before it gets there, so the barrier must move on without it. From then on the
    # worse of the two takes the better one's weights and a scaled copy of its LR at every
    # perturbation (resampling off, so the LR is x0.8 or x1.2).
    raw = spec(store_uri, 3, {
        "kind": "grid", "factors": {"train.optimizer.lr": [0.002, 0.05, 1e12]},
        "scheduler": {"name": "pbt", "perturbation_interval": 1, "resample_probability": 0,
                      "mutations": {"train.optimizer.lr": {"loguniform": [1e-4, 0.5]}}},
    }, max_failures=0)

    def hung(signum, frame):
        raise TimeoutError("the population never got past the perturbation barrier")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(300)
    lines: list[str] = []
    try:
        outcome = run_sweep(parse_spec(raw), echo=lines.append)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    runs = trial_runs(store_uri)
    assert sorted(runs["status"]) == ["FAILED", "FINISHED", "FINISHED"]
    assert outcome.tally.finished == 2 and len(outcome.tally.failed) == 1
    assert outcome.tally.failed[0][0] == "lr=1e+12 s0" and "diverged" in outcome.tally.failed[0][1]
    finished = runs[runs["status"] == "FINISHED"]
    assert (finished["metrics.summary/epochs"] == 3).all()

    client = mlflow.MlflowClient(store_uri)
    keys = dict(zip(finished["run_id"], finished["tags.orchestrate.run_key"]))
    copied = finished[finished["tags.orchestrate.pbt_copies"].notna()]
    assert len(copied) >= 1 and any("goes on from the weights of" in line for line in lines)
    for run_id in copied["run_id"]:
        lineage = mlflow.artifacts.load_dict(f"runs:/{run_id}/pbt_lineage.json")["copies"]
        (source,) = [other for other in keys if other != run_id]
        assert lineage and all(copy["copied_from"] == keys[source] for copy in lineage)
        before = {m.step: m.value for m in client.get_metric_history(source, BASE_LR)}
        after = {m.step: m.value for m in client.get_metric_history(run_id, BASE_LR)}
        for copy in lineage:
            ratio = after[copy["after_epoch"] + 1] / before[copy["after_epoch"]]
            assert ratio == pytest.approx(0.8) or ratio == pytest.approx(1.2)
            assert copy["lr"] == pytest.approx(after[copy["after_epoch"] + 1])


class Member:
    """What PBT reads of a Tune trial when it explores: its config and tag."""

    def __init__(self, run_key: str, lr: float) -> None:
        self.experiment_tag = run_key
        self.config = {"plan": {"run_key": run_key, "seed": 0,
                                "config": {"train": {"optimizer": {"lr": lr, "weight_decay": 1e-4}}}}}


def test_pbt_explores_from_the_values_the_source_reported_and_keeps_the_member_identity() -> None:
    from ray.tune.schedulers.pbt import _PBTTrialState

    from orchestrator.trial_schedulers.pbt import Pbt

    choice = Pbt(resample_probability=0, mutations={"train.optimizer.lr": {"loguniform": [1e-4, 1.0]}})
    scheduler = choice.build(epochs=4, metric="val/top1", mode="max", seed=0)
    member, source = Member("a-s0", 0.01), Member("b-s0", 0.1)
    scheduler._trial_state[source] = _PBTTrialState(source)
    # A resumed source trains with its checkpoint's LR, which its Tune config no longer shows.
    scheduler._trial_state[source].last_result = {BASE_LR: 0.2}
    config, _ = scheduler._get_new_config(member, source)
    assert config["plan"]["run_key"] == "a-s0"
    optimizer = config["plan"]["config"]["train"]["optimizer"]
    assert optimizer["weight_decay"] == 1e-4
    assert optimizer["lr"] == pytest.approx(0.16) or optimizer["lr"] == pytest.approx(0.24)


def test_making_the_searchs_study_prints_no_optuna_line(store_uri, tmp_path: Path) -> None:
    """Optuna's "A new study created in Journal ..." would sit among the sweep's progress lines."""
    import logging

    from orchestrator.designs.optuna.searcher import build_searcher

    said: list[str] = []
    listener = logging.Handler()
    listener.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    optuna.logging.get_logger("optuna").addHandler(listener)  # optuna's own logger: it does not propagate
    study = parse_spec(spec(store_uri, 1, {"kind": "optuna", "num_samples": 2,
                                           "space": {"train.optimizer.lr": {"loguniform": [1e-3, 0.1]}}}))
    try:
        searcher = build_searcher(study, lambda trial: None, study_name="quiet",
                                  storage_path=tmp_path / "quiet.journal", deadline=None)
    finally:
        optuna.logging.get_logger("optuna").removeHandler(listener)
    assert searcher._ot_study.study_name == "quiet"
    assert not [line for line in said if "A new study created" in line], said
    assert optuna.logging.get_verbosity() == optuna.logging.INFO  # the library's own setting, restored
